//! A USB camera for `camera_uvc.rs`, on a virtual USB port: a UVC 1.0 device
//! (MJPEG and YUYV, streamed on an isochronous endpoint as most webcams do,
//! or on a bulk endpoint as many others do) served over USB/IP to the
//! kernel's `vhci_hcd`. The kernel sees a high-speed USB device plugged
//! into a root-hub port, enumerates it and binds its real `uvcvideo`
//! driver, which then does to this device what it does to a camera:
//! descriptor parsing, probe and commit, streaming with UVC payload headers
//! (and the isochronous alternate setting), and a USB disconnect when it is
//! unplugged.
//!
//! The device end is this process: [`UsbCamera::plug`] hands one end of a
//! stream socket pair to `vhci_hcd` (its sysfs `attach`, which is what
//! `usbip attach` writes after its TCP handshake) and answers the kernel's
//! USB/IP requests on the other. Pictures are 75 % colour bars (as vivid
//! draws) under a band that carries the frame's number in 24 cells, so a
//! test can tell fresh frames in order. MJPEG frames have no Huffman
//! tables, as many cameras send them, and every frame whose number ends in
//! 7 comes without its first half, as a glitch on the bus leaves one
//! ([`is_corrupt`]).
//!
//! Runs inside the camera VM only (it needs `vhci_hcd` and root).

// Shared by the test binaries that include it; not all use every item.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The first virtual host controller's sysfs directory.
const VHCI: &str = "/sys/devices/platform/vhci_hcd.0";
/// `USB_SPEED_HIGH`.
const HIGH_SPEED: u32 = 3;
/// The most bytes a UVC payload (header and data) carries on the bulk
/// endpoint, and what the device tells the host in `dwMaxPayloadTransferSize`.
const PAYLOAD: usize = 16 * 1024;
/// The isochronous endpoint's packet size (one payload a microframe).
const ISO_PACKET: u16 = 1024;
/// The product string: `uvcvideo` names the V4L2 device after it.
pub const PRODUCT: &str = "Bedside Test Camera";

/// A pixel format the device offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pixels {
    Mjpeg,
    Yuyv,
}

/// How the camera streams video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// One bulk endpoint on the streaming interface.
    Bulk,
    /// Alternate setting 1 of the streaming interface has an isochronous
    /// endpoint; setting 0 has none (no bandwidth while idle).
    Isochronous,
}

/// One size and frame rate of a format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    pub pixels: Pixels,
    pub width: u16,
    pub height: u16,
    pub fps: u32,
}

/// A camera on a virtual USB port; [`UsbCamera::unplug`] pulls it out.
/// Dropped while plugged in (a failed check), it is pulled out: a process
/// must not exit holding an open capture of its own device, since closing
/// the capture waits in the kernel for URBs only this process answers.
pub struct UsbCamera {
    port: u32,
    device: Option<JoinHandle<()>>,
    started: Arc<AtomicU32>,
}

impl UsbCamera {
    /// Plugs a camera offering `modes` (formats in the order they first
    /// appear, as the descriptors list them) into root-hub port `port`.
    /// Every mode the host commits to is pushed onto `commits`.
    pub fn plug(
        port: u32,
        transfer: Transfer,
        modes: &[Mode],
        commits: Arc<Mutex<Vec<Mode>>>,
    ) -> io::Result<Self> {
        let (ours, kernels) = UnixStream::pair()?;
        let device = Device::new(transfer, modes, commits);
        let started = Arc::clone(&device.started);
        let reader = ours.try_clone()?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("usbip-rx".into())
            .spawn(move || read_requests(reader, &tx))?;
        let thread = std::thread::Builder::new()
            .name("usbip-camera".into())
            .spawn(move || device.serve(ours, &rx))?;
        // The kernel takes its own reference to the socket.
        let devid = (1 << 16) | (port + 2);
        std::fs::write(
            format!("{VHCI}/attach"),
            format!("{port} {} {devid} {HIGH_SPEED}", kernels.as_raw_fd()),
        )?;
        drop(kernels);
        Ok(Self {
            port,
            device: Some(thread),
            started,
        })
    }

    /// How many frames the camera has begun to send: it stands still while
    /// no one captures (a closed camera's light is off).
    pub fn frames_started(&self) -> u32 {
        self.started.load(Ordering::Relaxed)
    }

    /// Pulls the camera out: the kernel disconnects the device, closes its
    /// end of the socket, and the device thread ends.
    pub fn unplug(mut self) -> io::Result<()> {
        std::fs::write(format!("{VHCI}/detach"), self.port.to_string())?;
        self.device
            .take()
            .expect("plugged in")
            .join()
            .map_err(|_| io::Error::other("the device thread panicked"))
    }
}

impl Drop for UsbCamera {
    fn drop(&mut self) {
        if self.device.is_some() {
            let _ = std::fs::write(format!("{VHCI}/detach"), self.port.to_string());
        }
    }
}

/// A request from the host (`vhci_hcd`).
enum Request {
    Submit(Submit),
    Unlink { seqnum: u32, victim: u32 },
}

/// `USBIP_CMD_SUBMIT`: one URB.
struct Submit {
    seqnum: u32,
    devid: u32,
    direction: u32,
    ep: u32,
    length: usize,
    start_frame: u32,
    setup: [u8; 8],
    data: Vec<u8>,
    /// An isochronous URB's packets: (offset, length) in its buffer.
    packets: Vec<(u32, u32)>,
}

const CMD_SUBMIT: u32 = 1;
const CMD_UNLINK: u32 = 2;
const RET_SUBMIT: u32 = 3;
const RET_UNLINK: u32 = 4;
const DIR_OUT: u32 = 0;
const DIR_IN: u32 = 1;
const EPIPE: i32 = -32;
const ECONNRESET: i32 = -104;

fn be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses the host's requests until its end closes (unplugged).
fn read_requests(mut from: UnixStream, to: &Sender<Request>) {
    let mut header = [0u8; 48];
    while from.read_exact(&mut header).is_ok() {
        let (command, seqnum) = (be(&header, 0), be(&header, 4));
        let request = match command {
            CMD_SUBMIT => {
                let direction = be(&header, 12);
                let length = be(&header, 24) as usize;
                let packets = be(&header, 32) as i32;
                let mut data = vec![0; if direction == DIR_OUT { length } else { 0 }];
                if from.read_exact(&mut data).is_err() {
                    return;
                }
                let mut descriptors = vec![0; packets.max(0) as usize * 16];
                if from.read_exact(&mut descriptors).is_err() {
                    return;
                }
                let packets = descriptors
                    .chunks_exact(16)
                    .map(|d| (be(d, 0), be(d, 4)))
                    .collect();
                let mut setup = [0; 8];
                setup.copy_from_slice(&header[40..48]);
                Request::Submit(Submit {
                    seqnum,
                    devid: be(&header, 8),
                    direction,
                    ep: be(&header, 16),
                    length,
                    start_frame: be(&header, 28),
                    setup,
                    data,
                    packets,
                })
            }
            CMD_UNLINK => Request::Unlink {
                seqnum,
                victim: be(&header, 20),
            },
            _ => return,
        };
        if to.send(request).is_err() {
            return;
        }
    }
}

/// The UVC device: its descriptors, probe state and stream.
struct Device {
    transfer: Transfer,
    /// Formats in descriptor order, each with its frames (sizes).
    formats: Vec<(Pixels, Vec<Mode>)>,
    commits: Arc<Mutex<Vec<Mode>>>,
    /// The last probe (26 bytes) and the committed mode.
    probe: [u8; 26],
    committed: Option<Mode>,
    /// Video URBs (bulk or isochronous) waiting for a frame.
    pending: VecDeque<Submit>,
    /// The frame being sent, how much of it has gone, and its FID bit.
    frame: Option<(Vec<u8>, usize)>,
    fid: u8,
    next_frame_at: Instant,
    /// Frames begun, which also numbers the next one (shared with
    /// [`UsbCamera::frames_started`]).
    started: Arc<AtomicU32>,
}

impl Device {
    fn new(transfer: Transfer, modes: &[Mode], commits: Arc<Mutex<Vec<Mode>>>) -> Self {
        let mut formats: Vec<(Pixels, Vec<Mode>)> = Vec::new();
        for m in modes {
            match formats.iter_mut().find(|(p, _)| *p == m.pixels) {
                Some((_, frames)) => frames.push(*m),
                None => formats.push((m.pixels, vec![*m])),
            }
        }
        let mut device = Self {
            transfer,
            formats,
            commits,
            probe: [0; 26],
            committed: None,
            pending: VecDeque::new(),
            frame: None,
            fid: 0,
            next_frame_at: Instant::now(),
            started: Arc::new(AtomicU32::new(0)),
        };
        device.probe = device.negotiate(&[0; 26]);
        device
    }

    fn serve(mut self, mut out: UnixStream, requests: &Receiver<Request>) {
        loop {
            let wait = if self.pending.is_empty() || self.committed.is_none() {
                Duration::from_millis(200)
            } else if self.frame.is_some() {
                Duration::ZERO
            } else {
                self.next_frame_at.saturating_duration_since(Instant::now())
            };
            let request = match requests.recv_timeout(wait) {
                Ok(r) => Some(r),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let answered = match request {
                Some(Request::Submit(s)) if s.ep == 0 => self.control(&mut out, &s),
                Some(Request::Submit(s)) => {
                    self.pending.push_back(s);
                    Ok(())
                }
                Some(Request::Unlink { seqnum, victim }) => self.unlink(&mut out, seqnum, victim),
                None => Ok(()),
            };
            if answered.and_then(|()| self.stream(&mut out)).is_err() {
                return;
            }
        }
    }

    /// `USBIP_CMD_UNLINK`: the host cancels URB `victim` (it stops streaming).
    fn unlink(&mut self, out: &mut UnixStream, seqnum: u32, victim: u32) -> io::Result<()> {
        let before = self.pending.len();
        self.pending.retain(|s| s.seqnum != victim);
        let status = if self.pending.len() < before {
            ECONNRESET
        } else {
            0 // already answered
        };
        let mut h = [0u8; 48];
        h[0..4].copy_from_slice(&RET_UNLINK.to_be_bytes());
        h[4..8].copy_from_slice(&seqnum.to_be_bytes());
        h[20..24].copy_from_slice(&status.to_be_bytes());
        out.write_all(&h)
    }

    /// Answers the oldest pending video URB once a frame is due: a bulk URB
    /// with one payload, an isochronous one with a payload a packet (empty
    /// packets once the frame is sent and the next is not due).
    fn stream(&mut self, out: &mut UnixStream) -> io::Result<()> {
        if self.pending.is_empty() || !self.frame_ready() {
            return Ok(());
        }
        let urb = self.pending.pop_front().expect("a pending URB");
        if urb.packets.is_empty() {
            let payload = self.next_payload(urb.length.min(PAYLOAD));
            return reply(out, &urb, 0, &payload, &[]);
        }
        let mut data = Vec::new();
        let mut actual = Vec::with_capacity(urb.packets.len());
        for &(_, length) in &urb.packets {
            if !self.frame_ready() {
                actual.push(0);
                continue;
            }
            let payload = self.next_payload(length as usize);
            actual.push(payload.len() as u32);
            data.extend_from_slice(&payload);
        }
        reply(out, &urb, 0, &data, &actual)
    }

    /// Whether a frame is being sent, starting the next one if it is due.
    fn frame_ready(&mut self) -> bool {
        let Some(mode) = self.committed else {
            return false;
        };
        if self.frame.is_some() {
            return true;
        }
        let now = Instant::now();
        if now < self.next_frame_at {
            return false;
        }
        let interval = Duration::from_secs(1) / mode.fps;
        self.next_frame_at = (self.next_frame_at + interval).max(now);
        let sequence = self.started.fetch_add(1, Ordering::Relaxed);
        self.frame = Some((picture(mode, sequence), 0));
        true
    }

    /// The next payload of the current frame, at most `room` bytes: a
    /// 2-byte header (end of header, the frame's FID bit, EOF on its last
    /// payload) and data.
    fn next_payload(&mut self, room: usize) -> Vec<u8> {
        let (data, sent) = self.frame.as_mut().expect("a frame");
        let chunk = (data.len() - *sent).min(room.saturating_sub(2));
        let end = *sent + chunk == data.len();
        let mut payload = vec![2, 0x80 | self.fid | if end { 0x02 } else { 0 }];
        payload.extend_from_slice(&data[*sent..*sent + chunk]);
        *sent += chunk;
        if end {
            self.frame = None;
            self.fid ^= 1;
        }
        payload
    }

    /// A control transfer on endpoint 0.
    fn control(&mut self, out: &mut UnixStream, s: &Submit) -> io::Result<()> {
        let [request_type, request, v0, v1, i0, _i1, l0, l1] = s.setup;
        let (value, length) = (u16::from_le_bytes([v0, v1]), u16::from_le_bytes([l0, l1]));
        let answer: Option<Vec<u8>> = match (request_type, request) {
            // GET_STATUS, GET_CONFIGURATION, GET_INTERFACE.
            (0x80..=0x82, 0x00) => Some(vec![0, 0]),
            (0x80, 0x08) => Some(vec![1]),
            (0x81, 0x0A) => Some(vec![0]),
            // GET_DESCRIPTOR.
            (0x80, 0x06) => self.descriptor(value),
            // SET_CONFIGURATION, SET_FEATURE.
            (0x00, 0x09) | (0x00..=0x02, 0x03) => Some(Vec::new()),
            // SET_INTERFACE: the streaming interface's setting 0 is how a
            // host stops an isochronous stream.
            (0x01, 0x0B) => {
                if value == 0 {
                    self.frame = None;
                }
                Some(Vec::new())
            }
            // CLEAR_FEATURE: on the video endpoint, how a host stops a bulk
            // stream (uvcvideo does what Windows does).
            (0x00..=0x02, 0x01) => {
                self.frame = None;
                Some(Vec::new())
            }
            // UVC requests to the streaming interface (1): probe and commit.
            (0x21, 0x01) if i0 == 1 && s.data.len() == 26 => {
                let negotiated = self.negotiate(&s.data);
                if v1 == 2 {
                    let mode = self.mode_of(&negotiated);
                    self.committed = Some(mode);
                    self.frame = None;
                    self.next_frame_at = Instant::now();
                    self.commits.lock().expect("commits").push(mode);
                } else {
                    self.probe = negotiated;
                }
                Some(Vec::new())
            }
            (0xA1, query) if i0 == 1 && (v1 == 1 || v1 == 2) => match query {
                0x81 => Some(self.probe.to_vec()), // GET_CUR
                0x82 | 0x83 | 0x87 => Some(self.negotiate(&[0; 26]).to_vec()), // MIN, MAX, DEF
                0x85 => Some(vec![26, 0]),         // GET_LEN
                0x86 => Some(vec![3]),             // GET_INFO
                _ => None,
            },
            _ => None,
        };
        match answer {
            Some(mut data) if s.direction == DIR_IN => {
                data.truncate(usize::from(length).min(s.length));
                reply(out, s, 0, &data, &[])
            }
            Some(_) => reply(out, s, 0, &[], &[]),
            None => reply(out, s, EPIPE, &[], &[]),
        }
    }

    /// The probe the device agrees to for a requested one: a format and
    /// frame it has (else its first), at that frame's rate.
    fn negotiate(&self, asked: &[u8]) -> [u8; 26] {
        let format = match usize::from(asked[2]) {
            f @ 1.. if f <= self.formats.len() => f,
            _ => 1,
        };
        let frames = &self.formats[format - 1].1;
        let frame = match usize::from(asked[3]) {
            f @ 1.. if f <= frames.len() => f,
            _ => 1,
        };
        let mode = frames[frame - 1];
        let mut p = [0u8; 26];
        p[2] = format as u8;
        p[3] = frame as u8;
        p[4..8].copy_from_slice(&(10_000_000 / mode.fps).to_le_bytes());
        p[18..22].copy_from_slice(&frame_size(mode).to_le_bytes());
        let payload = match self.transfer {
            Transfer::Bulk => PAYLOAD as u32,
            Transfer::Isochronous => u32::from(ISO_PACKET),
        };
        p[22..26].copy_from_slice(&payload.to_le_bytes());
        p
    }

    fn mode_of(&self, probe: &[u8; 26]) -> Mode {
        self.formats[usize::from(probe[2]) - 1].1[usize::from(probe[3]) - 1]
    }

    fn descriptor(&self, value: u16) -> Option<Vec<u8>> {
        let index = (value & 0xFF) as u8;
        match value >> 8 {
            1 => Some(vec![
                18, 1, 0x00, 0x02, // USB 2.0
                0xEF, 0x02, 0x01, // miscellaneous: interface association
                64, 0x6B, 0x1D, 0x01, 0xBE, // a Linux Foundation id, not a real product
                0x00, 0x01, 1, 2, 3, 1,
            ]),
            2 => Some(self.configuration()),
            3 => {
                let text = match index {
                    0 => return Some(vec![4, 3, 0x09, 0x04]), // US English
                    1 => "Bedside",
                    2 => PRODUCT,
                    3 => "0001",
                    _ => return None,
                };
                let mut d = vec![0, 3];
                for unit in text.encode_utf16() {
                    d.extend_from_slice(&unit.to_le_bytes());
                }
                d[0] = d.len() as u8;
                Some(d)
            }
            _ => None,
        }
    }

    /// Configuration 1: an interface association of video control
    /// (camera → streaming terminal) and video streaming (IN 0x81: bulk on
    /// setting 0, or isochronous on setting 1).
    fn configuration(&self) -> Vec<u8> {
        // Class-specific video control: header, camera terminal (1), output terminal (2).
        let mut vc = vec![13, 0x24, 0x01, 0x00, 0x01, 0, 0];
        vc.extend_from_slice(&48_000_000u32.to_le_bytes());
        vc.extend_from_slice(&[1, 1]); // one streaming interface: 1
        vc.extend_from_slice(&[
            18, 0x24, 0x02, 1, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0,
        ]);
        vc.extend_from_slice(&[9, 0x24, 0x03, 2, 0x01, 0x01, 0, 1, 0]);
        let vc_len = vc.len() as u16;
        vc[5..7].copy_from_slice(&vc_len.to_le_bytes());

        // Class-specific video streaming: input header, then each format and its frames.
        let n = self.formats.len() as u8;
        let mut vs = vec![13 + n, 0x24, 0x01, n, 0, 0, 0x81, 0, 2, 0, 0, 0, 1];
        vs.extend(std::iter::repeat_n(0, usize::from(n)));
        for (index, (pixels, frames)) in self.formats.iter().enumerate() {
            let index = index as u8 + 1;
            let count = frames.len() as u8;
            match pixels {
                Pixels::Mjpeg => {
                    vs.extend_from_slice(&[11, 0x24, 0x06, index, count, 1, 1, 0, 0, 0, 0])
                }
                Pixels::Yuyv => {
                    vs.extend_from_slice(&[27, 0x24, 0x04, index, count]);
                    vs.extend_from_slice(b"YUY2");
                    vs.extend_from_slice(&[
                        0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
                    ]);
                    vs.extend_from_slice(&[16, 1, 0, 0, 0, 0]);
                }
            }
            let subtype = match pixels {
                Pixels::Mjpeg => 0x07,
                Pixels::Yuyv => 0x05,
            };
            for (f, mode) in frames.iter().enumerate() {
                let interval = 10_000_000 / mode.fps;
                let rate = frame_size(*mode) * 8 * mode.fps;
                vs.extend_from_slice(&[30, 0x24, subtype, f as u8 + 1, 0]);
                vs.extend_from_slice(&mode.width.to_le_bytes());
                vs.extend_from_slice(&mode.height.to_le_bytes());
                vs.extend_from_slice(&rate.to_le_bytes());
                vs.extend_from_slice(&rate.to_le_bytes());
                vs.extend_from_slice(&frame_size(*mode).to_le_bytes());
                vs.extend_from_slice(&interval.to_le_bytes());
                vs.push(1);
                vs.extend_from_slice(&interval.to_le_bytes());
            }
        }
        let vs_len = vs.len() as u16;
        vs[4..6].copy_from_slice(&vs_len.to_le_bytes());

        let mut c = vec![9, 2, 0, 0, 2, 1, 0, 0x80, 250];
        c.extend_from_slice(&[8, 0x0B, 0, 2, 0x0E, 0x03, 0, 2]); // association
        c.extend_from_slice(&[9, 4, 0, 0, 0, 0x0E, 0x01, 0, 2]); // video control
        c.extend_from_slice(&vc);
        match self.transfer {
            Transfer::Bulk => {
                c.extend_from_slice(&[9, 4, 1, 0, 1, 0x0E, 0x02, 0, 0]); // video streaming
                c.extend_from_slice(&vs);
                c.extend_from_slice(&[7, 5, 0x81, 0x02, 0x00, 0x02, 0]); // bulk IN, 512 bytes
            }
            Transfer::Isochronous => {
                c.extend_from_slice(&[9, 4, 1, 0, 0, 0x0E, 0x02, 0, 0]); // setting 0: idle
                c.extend_from_slice(&vs);
                c.extend_from_slice(&[9, 4, 1, 1, 1, 0x0E, 0x02, 0, 0]); // setting 1: streaming
                let [lo, hi] = ISO_PACKET.to_le_bytes();
                c.extend_from_slice(&[7, 5, 0x81, 0x05, lo, hi, 1]); // isochronous IN, asynchronous
            }
        }
        let total = c.len() as u16;
        c[2..4].copy_from_slice(&total.to_le_bytes());
        c
    }
}

/// `USBIP_RET_SUBMIT` for `urb`: its status and, for IN, `data`. For an
/// isochronous URB, `data` is its packets' payloads back to back and
/// `packet_lengths` how long each is (USB/IP sends them packed, then a
/// descriptor a packet).
fn reply(
    out: &mut UnixStream,
    urb: &Submit,
    status: i32,
    data: &[u8],
    packet_lengths: &[u32],
) -> io::Result<()> {
    let actual = if urb.direction == DIR_IN {
        data.len()
    } else {
        urb.data.len()
    };
    let mut h = Vec::with_capacity(48 + data.len() + 16 * packet_lengths.len());
    for word in [RET_SUBMIT, urb.seqnum, urb.devid, urb.direction, urb.ep] {
        h.extend_from_slice(&word.to_be_bytes());
    }
    h.extend_from_slice(&status.to_be_bytes());
    h.extend_from_slice(&(actual as u32).to_be_bytes());
    h.extend_from_slice(&urb.start_frame.to_be_bytes());
    h.extend_from_slice(&(urb.packets.len() as u32).to_be_bytes());
    h.resize(48, 0); // error count and padding
    if urb.direction == DIR_IN {
        h.extend_from_slice(data);
    }
    for (&(offset, length), &actual) in urb.packets.iter().zip(packet_lengths) {
        for word in [offset, length, actual, 0] {
            h.extend_from_slice(&word.to_be_bytes());
        }
    }
    out.write_all(&h)
}

/// The most bytes a frame of `mode` takes (YUYV's exact size; MJPEG's bound).
fn frame_size(mode: Mode) -> u32 {
    u32::from(mode.width) * u32::from(mode.height) * 2
}

/// 75 % colour bars in RGB: white, yellow, cyan, green, magenta, red, blue, black.
const BARS: [[u8; 3]; 8] = [
    [191, 191, 191],
    [191, 191, 0],
    [0, 191, 191],
    [0, 191, 0],
    [191, 0, 191],
    [191, 0, 0],
    [0, 0, 191],
    [0, 0, 0],
];

/// The rows of the band that carries the frame number.
pub const BAND: std::ops::Range<usize> = 8..40;
/// The band's cells: 8 alternating (white first), then 24 bits of the frame
/// number, most significant first; white is 1.
pub const CELLS: usize = 32;

/// The frame number a picture's band carries, if its sync cells are there.
pub fn frame_number(p: &bedside_capture::Picture) -> Option<u32> {
    let (w, row) = (p.width as usize, (BAND.start + BAND.end) / 2);
    let cell = w / CELLS;
    let bit = |i: usize| p.y[row * w + i * cell + cell / 2] > 128;
    (0..8)
        .all(|i| bit(i) == i.is_multiple_of(2))
        .then(|| (8..CELLS).fold(0, |n, i| (n << 1) | u32::from(bit(i))))
}

/// Whether the camera sends frame `sequence` corrupt (MJPEG only).
pub fn is_corrupt(sequence: u32) -> bool {
    sequence % 10 == 7
}

/// Frame `sequence` of `mode`, as the camera sends it.
fn picture(mode: Mode, sequence: u32) -> Vec<u8> {
    let (w, h) = (usize::from(mode.width), usize::from(mode.height));
    let cell = w / CELLS;
    // Two kinds of row: the band's and the bars'. Each is made once and
    // copied (this runs per frame, unoptimised, in an emulated VM).
    let band = |x: usize| -> [u8; 3] {
        let i = (x / cell).min(CELLS - 1);
        let one = if i < 8 {
            i.is_multiple_of(2)
        } else {
            (sequence >> (CELLS - 1 - i)) & 1 == 1
        };
        if one { [255; 3] } else { [0; 3] }
    };
    let bars = |x: usize| BARS[(x * 8 / w).min(7)];
    let row = |colour: &dyn Fn(usize) -> [u8; 3]| -> Vec<u8> {
        match mode.pixels {
            Pixels::Yuyv => (0..w)
                .step_by(2)
                .flat_map(|x| {
                    let (a, b) = (ycbcr(colour(x)), ycbcr(colour(x + 1)));
                    let cb = ((u16::from(a[1]) + u16::from(b[1])) / 2) as u8;
                    let cr = ((u16::from(a[2]) + u16::from(b[2])) / 2) as u8;
                    [a[0], cb, b[0], cr]
                })
                .collect(),
            Pixels::Mjpeg => (0..w).flat_map(colour).collect(),
        }
    };
    let (band_row, bars_row) = (row(&band), row(&bars));
    let mut pixels = Vec::with_capacity(h * bars_row.len());
    for y in 0..h {
        pixels.extend_from_slice(if BAND.contains(&y) {
            &band_row
        } else {
            &bars_row
        });
    }
    match mode.pixels {
        Pixels::Yuyv => pixels,
        Pixels::Mjpeg => {
            let mut jpeg = Vec::new();
            jpeg_encoder::Encoder::new(&mut jpeg, 90)
                .encode(
                    &pixels,
                    mode.width,
                    mode.height,
                    jpeg_encoder::ColorType::Rgb,
                )
                .expect("a JPEG of the test picture");
            let jpeg = without_huffman_tables(&jpeg);
            if is_corrupt(sequence) {
                return jpeg[jpeg.len() / 2..].to_vec();
            }
            jpeg
        }
    }
}

/// BT.601 limited-range (Y, Cb, Cr) of an RGB pixel.
fn ycbcr([r, g, b]: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (f64::from(r), f64::from(g), f64::from(b));
    let y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0;
    let cb = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
    let cr = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
    [y.round() as u8, cb.round() as u8, cr.round() as u8]
}

/// `jpeg` without its DHT segments: the encoder uses the standard tables,
/// which an MJPEG decoder must assume when a camera leaves them out.
fn without_huffman_tables(jpeg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&jpeg[..2]); // SOI
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        if marker == 0xDA {
            break; // start of scan: the rest is entropy-coded data
        }
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if marker != 0xC4 {
            out.extend_from_slice(&jpeg[at..at + 2 + len]);
        }
        at += 2 + len;
    }
    out.extend_from_slice(&jpeg[at..]);
    out
}

#[test]
fn the_cameras_pictures_decode_and_carry_their_numbers() {
    for pixels in [Pixels::Mjpeg, Pixels::Yuyv] {
        let mode = Mode {
            pixels,
            width: 640,
            height: 480,
            fps: 30,
        };
        let data = picture(mode, 0x00A5_5A01);
        let p = match pixels {
            Pixels::Mjpeg => {
                assert!(
                    !data.windows(2).any(|m| m == [0xFF, 0xC4]),
                    "Huffman tables left in"
                );
                bedside_capture::convert::mjpeg_to_i420(&data).expect("MJPEG decodes")
            }
            Pixels::Yuyv => bedside_capture::convert::yuyv_to_i420(&data, 640, 480, 1280)
                .expect("YUYV converts"),
        };
        assert_eq!(frame_number(&p), Some(0x00A5_5A01), "{pixels:?}");
    }
    let mjpeg = Mode {
        pixels: Pixels::Mjpeg,
        width: 640,
        height: 480,
        fps: 30,
    };
    assert!(is_corrupt(17) && !is_corrupt(18));
    assert!(bedside_capture::convert::mjpeg_to_i420(&picture(mjpeg, 17)).is_err());
}
