//! The `devices` source: the clinician's microphone (Opus), camera (VP8 or
//! H.264) and speaker (the patient's audio from the jitter buffer), with
//! switching mid-call, and the Settings page's previews.
//!
//! The sending threads own the microphone and the camera; a switch
//! (`Peer::set_microphone`, `set_camera`, `set_speaker`) records the wanted
//! device and bumps a generation counter, and the owning thread reopens at
//! its next frame. A device that cannot be opened, or that goes away, is
//! reported once as [`PeerEvent::Device`] and in the stats'
//! [`DeviceReport`]; the call goes on without it:
//!
//! - no camera (or it failed): **audio-only** — the video transceiver stays
//!   `sendrecv` as negotiated but we send no video at all, so the patient's
//!   video keeps arriving and nothing in the SDP changes (a later camera
//!   switch just starts sending, no renegotiation). The page shows no
//!   picture for us; the clinician reads "No camera found" in the room.
//! - no microphone, or one that stalls: silence is sent (20 ms Opus frames
//!   at the same cadence keep the stream and its stats alive, see
//!   `crate::cadence`) and the report says so when it is missing.
//! - no speaker: the patient's audio is decoded (stats stay true) and not played.
//!
//! **Invariant:** as everywhere in this crate, nothing here queues without
//! bound: the capture crate's channels and the speaker buffer are bounded,
//! previews go out through `watch` slots (newest wins).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bedside_capture::{AudioSystem, Camera, Microphone, Speaker};
pub use bedside_capture::{
    CameraFormat, DeviceChange, DeviceError, DeviceId, DeviceInfo, DeviceKind, DeviceWatcher,
    list_devices,
};
use bedside_codec::{I420Frame, OpusEncoder, Vp8Config};
use bytes::Bytes;
use rtc::media::Sample;
use serde::Serialize;
use tokio::sync::watch;

use crate::cadence::{Cadence, FRAME, Step};
use crate::media::{Frame, VideoEncoder};
use crate::peer::{Peer, PeerEvent, PeerShared};
use crate::stats::Counters;

/// Which devices to use (`None` = the system's default of that kind).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSelection {
    /// Microphone.
    pub microphone: Option<DeviceId>,
    /// Speaker.
    pub speaker: Option<DeviceId>,
    /// Camera.
    pub camera: Option<DeviceId>,
}

/// What a `devices` call is using, for the stats and the visit room.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct DeviceReport {
    /// The microphone's name, while one is open.
    pub microphone: Option<String>,
    /// The speaker's name, while one is open.
    pub speaker: Option<String>,
    /// The camera's name, while one is open.
    pub camera: Option<String>,
    /// No camera: we send no video (the patient's still arrives).
    pub audio_only: bool,
    /// The latest problem per kind (cleared when that kind opens again).
    pub notices: Vec<DeviceNotice>,
}

/// A device problem, safe to show (no PHI; device names at most).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct DeviceNotice {
    /// Which kind.
    pub kind: DeviceKind,
    /// Stable code (`no_camera`, `no_microphone`, `device_vanished`, …).
    pub code: String,
    /// What to tell the clinician.
    pub message: String,
}

#[derive(Default)]
struct ReportState {
    used: bool,
    microphone: Option<String>,
    speaker: Option<String>,
    camera: Option<String>,
    audio_only: bool,
    notices: BTreeMap<DeviceKind, DeviceNotice>,
}

/// A peer's device state (inside `PeerShared`).
pub(crate) struct DeviceIo {
    wanted: Mutex<DeviceSelection>,
    mic_gen: AtomicU64,
    speaker_gen: AtomicU64,
    camera_gen: AtomicU64,
    speaker: Mutex<Option<Speaker>>,
    report: Mutex<ReportState>,
}

impl DeviceIo {
    pub(crate) fn new(selection: &DeviceSelection) -> Self {
        Self {
            wanted: Mutex::new(selection.clone()),
            mic_gen: AtomicU64::new(0),
            speaker_gen: AtomicU64::new(0),
            camera_gen: AtomicU64::new(0),
            speaker: Mutex::new(None),
            report: Mutex::new(ReportState::default()),
        }
    }

    fn wanted(&self, kind: DeviceKind) -> Option<DeviceId> {
        let g = self.wanted.lock().ok()?;
        match kind {
            DeviceKind::Microphone => g.microphone.clone(),
            DeviceKind::Speaker => g.speaker.clone(),
            DeviceKind::Camera => g.camera.clone(),
        }
    }

    fn want(&self, kind: DeviceKind, id: Option<DeviceId>) {
        if let Ok(mut g) = self.wanted.lock() {
            match kind {
                DeviceKind::Microphone => g.microphone = id,
                DeviceKind::Speaker => g.speaker = id,
                DeviceKind::Camera => g.camera = id,
            }
        }
        self.generation(kind).fetch_add(1, Ordering::AcqRel);
    }

    fn generation(&self, kind: DeviceKind) -> &AtomicU64 {
        match kind {
            DeviceKind::Microphone => &self.mic_gen,
            DeviceKind::Speaker => &self.speaker_gen,
            DeviceKind::Camera => &self.camera_gen,
        }
    }

    /// The report, once the `devices` source has started.
    pub(crate) fn report(&self) -> Option<DeviceReport> {
        let g = self.report.lock().ok()?;
        g.used.then(|| DeviceReport {
            microphone: g.microphone.clone(),
            speaker: g.speaker.clone(),
            camera: g.camera.clone(),
            audio_only: g.audio_only,
            notices: g.notices.values().cloned().collect(),
        })
    }

    fn update(&self, f: impl FnOnce(&mut ReportState)) {
        if let Ok(mut g) = self.report.lock() {
            g.used = true;
            f(&mut g);
        }
    }

    fn opened(&self, kind: DeviceKind, name: &str) {
        self.update(|r| {
            let slot = match kind {
                DeviceKind::Microphone => &mut r.microphone,
                DeviceKind::Speaker => &mut r.speaker,
                DeviceKind::Camera => {
                    r.audio_only = false;
                    &mut r.camera
                }
            };
            *slot = Some(name.to_owned());
            r.notices.remove(&kind);
        });
    }

    fn closed(&self, kind: DeviceKind) {
        self.update(|r| match kind {
            DeviceKind::Microphone => r.microphone = None,
            DeviceKind::Speaker => r.speaker = None,
            DeviceKind::Camera => r.camera = None,
        });
    }

    /// Plays decoded remote audio (`channels` interleaved, 48 kHz) on the
    /// speaker, if one is open.
    pub(crate) fn play(&self, pcm: &[i16], channels: usize) {
        let Ok(g) = self.speaker.lock() else { return };
        let Some(speaker) = g.as_ref() else { return };
        let ch = channels.max(1);
        let mono: Vec<i16> = pcm
            .chunks_exact(ch)
            .map(|f| (f.iter().map(|&s| i32::from(s)).sum::<i32>() / ch as i32) as i16)
            .collect();
        speaker.push(&mono);
    }
}

/// Reports a device problem once: into the report and as an event.
fn notice(shared: &PeerShared, kind: DeviceKind, err: &DeviceError) {
    tracing::info!(code = err.code(), %kind, "device problem");
    shared.io.update(|r| {
        r.notices.insert(
            kind,
            DeviceNotice {
                kind,
                code: err.code().to_owned(),
                message: err.to_string(),
            },
        );
        if kind == DeviceKind::Camera {
            r.audio_only = true;
            r.camera = None;
        }
    });
    shared.emit(PeerEvent::Device {
        device: shared.device.clone(),
        kind,
        code: err.code().to_owned(),
        message: err.to_string(),
    });
}

impl Peer {
    /// Switches the microphone mid-call (`None` = the system default). The
    /// audio thread reopens at its next frame; a failure comes back as
    /// [`PeerEvent::Device`] and in the stats (silence is sent meanwhile).
    pub fn set_microphone(&self, id: Option<DeviceId>) {
        self.shared.io.want(DeviceKind::Microphone, id);
    }

    /// Switches the speaker mid-call (`None` = the system default).
    pub fn set_speaker(&self, id: Option<DeviceId>) {
        self.shared.io.want(DeviceKind::Speaker, id);
    }

    /// Switches the camera mid-call (`None` = the first camera). With no
    /// camera the call stays audio-only; a camera that appears later can be
    /// chosen here and video starts without renegotiation.
    pub fn set_camera(&self, id: Option<DeviceId>) {
        self.shared.io.want(DeviceKind::Camera, id);
        self.shared.feedback.request_keyframe();
    }

    /// What the `devices` source is using (`None` for the synthetic source
    /// or before media starts).
    pub fn devices(&self) -> Option<DeviceReport> {
        self.shared.io.report()
    }
}

fn write(shared: &PeerShared, video: bool, data: Vec<u8>, duration: Duration, at: Instant) -> bool {
    let sample = Sample {
        data: Bytes::from(data),
        duration,
        ..Sample::new(at)
    };
    let (track, ssrc, pt) = if video {
        (
            &shared.video_track,
            shared.video_ssrc,
            shared.video_pt.load(Ordering::Relaxed),
        )
    } else {
        (
            &shared.audio_track,
            shared.audio_ssrc,
            shared.audio_pt.load(Ordering::Relaxed),
        )
    };
    shared
        .runtime
        .block_on(track.sample_writer(ssrc, pt).write_sample(&sample))
        .is_ok()
}

/// The microphone → Opus sender, and the speaker's owner. Packets keep a
/// 20 ms cadence whatever the microphone does (`crate::cadence`): its frames
/// on the slot clock while it delivers, silence in each slot it misses.
pub(crate) fn audio_sender(shared: &PeerShared) {
    let counters = &shared.counters;
    let io = &shared.io;
    let mut encoder = match OpusEncoder::new(1) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "audio encoder unavailable");
            return;
        }
    };
    io.update(|_| {});
    let audio = AudioSystem::new();
    let mut mic: Option<Microphone> = None;
    let (mut mic_gen, mut speaker_gen) = (u64::MAX, u64::MAX);
    let mut cadence: Cadence<Vec<i16>> = Cadence::new(Instant::now());
    let mut dropped = 0;
    while !shared.stop.load(Ordering::Acquire) {
        let g = io.speaker_gen.load(Ordering::Acquire);
        if g != speaker_gen {
            speaker_gen = g;
            if let Ok(mut slot) = io.speaker.lock() {
                *slot = None; // close the old one first (some devices are exclusive)
            }
            io.closed(DeviceKind::Speaker);
            match Speaker::open(&audio, io.wanted(DeviceKind::Speaker).as_ref()) {
                Ok(s) => {
                    io.opened(DeviceKind::Speaker, &s.info().name);
                    if let Ok(mut slot) = io.speaker.lock() {
                        *slot = Some(s);
                    }
                }
                Err(e) => notice(shared, DeviceKind::Speaker, &e),
            }
        }
        let g = io.mic_gen.load(Ordering::Acquire);
        if g != mic_gen {
            mic_gen = g;
            mic = None;
            cadence.clear();
            io.closed(DeviceKind::Microphone);
            match Microphone::open(&audio, io.wanted(DeviceKind::Microphone).as_ref()) {
                Ok(m) => {
                    io.opened(DeviceKind::Microphone, &m.info().name);
                    mic = Some(m);
                }
                Err(e) => notice(shared, DeviceKind::Microphone, &e),
            }
        }
        let now = Instant::now();
        let mut pcm = match cadence.poll(now) {
            Step::Send(frame) => frame,
            Step::Silence => vec![0; bedside_capture::FRAME_SAMPLES],
            Step::Wait(until) => {
                // Wait for the microphone, at most until something is due.
                let wait = until.saturating_duration_since(now);
                match mic.as_ref().map(|m| m.recv_timeout(wait)) {
                    Some(Ok(Some(frame))) => cadence.push(frame),
                    Some(Ok(None)) => {}
                    Some(Err(e)) => {
                        notice(shared, DeviceKind::Microphone, &e);
                        mic = None;
                        cadence.clear();
                        io.closed(DeviceKind::Microphone);
                    }
                    None => std::thread::sleep(wait),
                }
                if cadence.dropped() != dropped {
                    dropped = cadence.dropped();
                    tracing::debug!(dropped, "microphone backlog trimmed");
                }
                continue;
            }
        };
        if shared.controls.muted.load(Ordering::Relaxed) {
            pcm.iter_mut().for_each(|s| *s = 0);
        }
        if let Ok(packet) = encoder.encode(&pcm) {
            let len = packet.len() as u64;
            if write(shared, false, packet, FRAME, Instant::now()) {
                Counters::add(&counters.audio_packets_sent, 1);
                Counters::add(&counters.audio_bytes_sent, len);
            }
        }
    }
    if let Ok(mut slot) = io.speaker.lock() {
        *slot = None;
    }
}

/// A captured picture as the codec's frame (the planes move, no copy).
fn to_frame(p: bedside_capture::Picture) -> I420Frame {
    I420Frame {
        width: p.width,
        height: p.height,
        y: p.y,
        u: p.u,
        v: p.v,
    }
}

/// Halves a picture (2×2 box filter), for the lowest adaptation step.
fn half(frame: &I420Frame) -> I420Frame {
    let (w, h) = ((frame.width / 2) & !1, (frame.height / 2) & !1);
    if w < 2 || h < 2 {
        return frame.clone();
    }
    let mut out = I420Frame::new_black(w, h);
    let down = |src: &[u8], sw: usize, dst: &mut [u8], dw: usize, dh: usize| {
        for y in 0..dh {
            for x in 0..dw {
                let at =
                    |xx: usize, yy: usize| u16::from(src.get(yy * sw + xx).copied().unwrap_or(0));
                let sum = at(2 * x, 2 * y)
                    + at(2 * x + 1, 2 * y)
                    + at(2 * x, 2 * y + 1)
                    + at(2 * x + 1, 2 * y + 1);
                dst[y * dw + x] = ((sum + 2) / 4) as u8;
            }
        }
    };
    let (sw, sh) = (frame.width as usize, frame.height as usize);
    down(&frame.y, sw, &mut out.y, w as usize, h as usize);
    let (scw, dcw, dch) = (sw.div_ceil(2), (w / 2) as usize, (h / 2) as usize);
    let _ = sh;
    down(&frame.u, scw, &mut out.u, dcw, dch);
    down(&frame.v, scw, &mut out.v, dcw, dch);
    out
}

/// The camera → video encoder sender.
pub(crate) fn video_sender(shared: &PeerShared) {
    let base = shared.config.video;
    let counters = &shared.counters;
    let io = &shared.io;
    counters
        .target_kbps
        .store(base.bitrate_kbps, Ordering::Relaxed);
    io.update(|_| {});
    let want = CameraFormat {
        width: base.width,
        height: base.height,
        fps: base.fps,
    };
    let mut camera: Option<Camera> = None;
    let mut tried_gen = u64::MAX;
    let mut encoder: Option<(VideoEncoder, u32, u32)> = None;
    let mut bitrate = base.bitrate_kbps;
    let mut served = shared.feedback.keyframe_requests();
    let mut force = true;
    let mut counter = 0u64;
    let started = Instant::now();
    let mut last: Option<Instant> = None;
    while !shared.stop.load(Ordering::Acquire) {
        let gen_now = io.camera_gen.load(Ordering::Acquire);
        let off = shared.controls.camera_off.load(Ordering::Relaxed);
        if gen_now != tried_gen && camera.is_some() {
            camera = None; // a switch: close the old camera first
            io.closed(DeviceKind::Camera);
        }
        if off {
            if camera.take().is_some() {
                io.closed(DeviceKind::Camera); // camera off turns the device (and its light) off
            }
            tried_gen = u64::MAX; // reopen when turned back on
        } else if camera.is_none() && gen_now != tried_gen {
            tried_gen = gen_now;
            match Camera::open(io.wanted(DeviceKind::Camera).as_ref(), want) {
                Ok(c) => {
                    io.opened(DeviceKind::Camera, &c.info().name);
                    camera = Some(c);
                    force = true;
                }
                Err(e) => notice(shared, DeviceKind::Camera, &e),
            }
        }
        let frame = match camera.as_mut() {
            // Waiting briefly, so a switch, camera off or hang-up is seen
            // while a camera is slow to start or skips a corrupt frame.
            Some(c) => match c.poll_frame(Duration::from_millis(250)) {
                Ok(Some(p)) => to_frame(p),
                Ok(None) => continue,
                Err(e) => {
                    notice(shared, DeviceKind::Camera, &e);
                    camera = None;
                    continue;
                }
            },
            None if off => {
                // As the synthetic source: a black picture once a second.
                std::thread::sleep(Duration::from_millis(250));
                if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                    continue;
                }
                let (w, h) = encoder
                    .as_ref()
                    .map_or((base.width, base.height), |e| (e.1, e.2));
                I420Frame::new_black(w, h)
            }
            None => {
                // Audio-only: send nothing (see the module doc).
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        counter += 1;
        let level = shared.video_level.load(Ordering::Relaxed).min(2);
        if level >= 1 && counter.is_multiple_of(2) && !off {
            continue; // half frame rate
        }
        let frame = if level == 2 { half(&frame) } else { frame };
        if encoder
            .as_ref()
            .is_none_or(|e| (e.1, e.2) != (frame.width, frame.height))
        {
            let cfg = Vp8Config {
                width: frame.width,
                height: frame.height,
                fps: base.fps,
                bitrate_kbps: bitrate,
            };
            match VideoEncoder::new(shared.video_codec, &cfg) {
                Ok(e) => encoder = Some((e, frame.width, frame.height)),
                Err(e) => {
                    tracing::warn!(error = %e, "video encoder unavailable");
                    return;
                }
            }
            counters.local_width.store(frame.width, Ordering::Relaxed);
            counters.local_height.store(frame.height, Ordering::Relaxed);
            counters.local_fps.store(base.fps, Ordering::Relaxed);
            force = true;
        }
        let Some((enc, _, _)) = encoder.as_mut() else {
            return;
        };
        let target = counters.target_kbps.load(Ordering::Relaxed);
        if target != bitrate && enc.set_bitrate(target).is_ok() {
            bitrate = target;
        }
        let requests = shared.feedback.keyframe_requests();
        if requests != served {
            served = requests;
            force = true;
        }
        let captured = Instant::now();
        let duration = last
            .map_or(Duration::from_millis(33), |t| captured.duration_since(t))
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        last = Some(captured);
        let pts = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
        match enc.encode(&frame, pts, force) {
            Ok(out) => {
                force = false;
                for ef in out {
                    let len = ef.data.len() as u64;
                    if ef.keyframe {
                        Counters::add(&counters.keyframes_sent, 1);
                    }
                    if write(shared, true, ef.data, duration, captured) {
                        Counters::add(&counters.video_frames_sent, 1);
                        Counters::add(&counters.video_bytes_sent, len);
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "encode failed"),
        }
        shared.local_preview.send_replace(Some(Arc::new(frame)));
    }
}

/// The Settings page's microphone meter: RMS dBFS of the last 100 ms, ten
/// times a second, through a `watch` (newest wins). Stops when dropped.
pub struct MicLevel {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MicLevel {
    /// Opens `id` (or the default microphone) and starts measuring.
    pub fn start(id: Option<&DeviceId>) -> Result<(Self, watch::Receiver<f32>), DeviceError> {
        let mic = Microphone::open(&AudioSystem::new(), id)?;
        let (tx, rx) = watch::channel(-100.0f32);
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("bedside-mic-level".into())
            .spawn(move || {
                let mut window: Vec<i16> = Vec::with_capacity(4_800);
                while !s.load(Ordering::Acquire) {
                    match mic.recv_timeout(Duration::from_millis(200)) {
                        Ok(Some(frame)) => {
                            window.extend_from_slice(&frame);
                            if window.len() >= 4_800 {
                                tx.send_replace(bedside_capture::audio::rms_dbfs(&window));
                                window.clear();
                            }
                        }
                        Ok(None) => {}
                        Err(_) => {
                            tx.send_replace(-100.0);
                            break;
                        }
                    }
                }
            })
            .map_err(|e| DeviceError::Backend {
                kind: DeviceKind::Microphone,
                detail: e.to_string(),
            })?;
        Ok((
            Self {
                stop,
                thread: Some(thread),
            },
            rx,
        ))
    }
}

impl Drop for MicLevel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The Settings page's camera preview: I420 frames through a `watch` slot,
/// the same newest-frame-wins sink the visit's self view uses. Stops (and
/// releases the camera) when dropped.
pub struct CameraPreview {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CameraPreview {
    /// Opens `id` (or the first camera); [`DeviceError::NoCamera`] when none.
    pub fn start(
        id: Option<&DeviceId>,
        format: CameraFormat,
    ) -> Result<(Self, watch::Receiver<Option<Frame>>), DeviceError> {
        let mut camera = Camera::open(id, format)?;
        let (tx, rx) = watch::channel(None);
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("bedside-camera-preview".into())
            .spawn(move || {
                while !s.load(Ordering::Acquire) {
                    match camera.poll_frame(Duration::from_millis(250)) {
                        Ok(Some(p)) => {
                            tx.send_replace(Some(Arc::new(to_frame(p))));
                        }
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
            })
            .map_err(|e| DeviceError::Backend {
                kind: DeviceKind::Camera,
                detail: e.to_string(),
            })?;
        Ok((
            Self {
                stop,
                thread: Some(thread),
            },
            rx,
        ))
    }
}

impl Drop for CameraPreview {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halving_averages_2x2_blocks() {
        let mut f = I420Frame::new_black(4, 4);
        f.y = (0..16).map(|i| (i * 10) as u8).collect();
        f.u = vec![100, 110, 120, 130];
        f.v = vec![10, 20, 30, 40];
        let h = half(&f);
        assert_eq!((h.width, h.height), (2, 2));
        // Top-left block: 0, 10, 40, 50 → 25.
        assert_eq!(h.y, vec![25, 45, 105, 125]);
        assert_eq!((h.u, h.v), (vec![115], vec![25]));
    }

    #[test]
    fn the_report_keeps_the_latest_notice_per_kind_and_clears_it_on_open() {
        let io = DeviceIo::new(&DeviceSelection::default());
        assert_eq!(
            io.report(),
            None,
            "nothing before the devices source starts"
        );
        io.update(|r| {
            r.audio_only = true;
            r.notices.insert(
                DeviceKind::Camera,
                DeviceNotice {
                    kind: DeviceKind::Camera,
                    code: "no_camera".into(),
                    message: DeviceError::NoCamera.to_string(),
                },
            );
        });
        io.opened(DeviceKind::Microphone, "Mic");
        let r = io.report().expect("report");
        assert!(r.audio_only);
        assert_eq!(r.microphone.as_deref(), Some("Mic"));
        assert_eq!(r.notices.len(), 1);
        io.opened(DeviceKind::Camera, "Cam");
        let r = io.report().expect("report");
        assert!(!r.audio_only && r.notices.is_empty());
    }
}
