//! Cameras: listing and capture to I420.
//!
//! Linux uses V4L2 through the `v4l` crate (safe bindings; MMAP streaming);
//! Windows uses DirectShow (the `bedside-dshow` crate). Both list what the
//! camera offers (pixel format, size, best frame rate) and open the offer
//! [`choose_offer`] picks: the frame rate asked for first, then the size,
//! then YUYV, NV12, I420, MJPEG or BGR24 in that order (see
//! [`crate::convert`]). macOS has no backend yet: [`cameras`] is empty and
//! [`Camera::open`] answers [`DeviceError::NoCamera`], so a visit there runs
//! audio-only rather than failing (ARCHITECTURE.md has why not nokhwa).
//!
//! **Boundary:** the unit tests here run without a camera (listing answers
//! empty, opening answers `NoCamera`) and the pixel conversions are
//! unit-tested on known pixels. In a VM (this CI has no camera and its
//! kernel no media or USB drivers), `tests/camera.rs` runs this code
//! against the kernel's `vivid` virtual camera: listing among non-camera
//! nodes, capture in each uncompressed format, a camera busy in another
//! user's hands, and unplugging mid-capture. `tests/camera_uvc.rs` runs it
//! against the real `uvcvideo` driver and a USB camera on a virtual USB
//! port (USB/IP): MJPEG and YUYV over USB, the format choice, a USB
//! disconnect. `tests/camera_windows.rs` runs the DirectShow backend's
//! Windows build against vivid under Wine in that VM. A physical camera has
//! not been seen here.

use crate::convert::Picture;

#[cfg(target_os = "linux")]
use crate::devices::DeviceKind;
use crate::devices::{DeviceError, DeviceId, DeviceInfo};

/// What we ask a camera for (it may answer with another size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CameraFormat {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl Default for CameraFormat {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            fps: 30,
        }
    }
}

/// The pixel formats we take, best first: YUYV (no decode), NV12, I420
/// (`YU12`), MJPEG, then packed BGR (`BGR3`, DirectShow's `RGB24`).
const PREFERENCE: &[[u8; 4]] = &[*b"YUYV", *b"NV12", *b"YU12", *b"MJPG", *b"BGR3"];

/// One size of a pixel format a camera offers, at its best frame rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(any(target_os = "linux", windows)), allow(dead_code))]
struct Offer {
    fourcc: [u8; 4],
    width: u32,
    height: u32,
    /// The most frames a second at this size; 0 when the camera does not say.
    fps: u32,
}

/// The offer to open for `want`:
/// 1. one that keeps the frame rate asked for, or 5/6 of it (25 fps, a
///    PAL camera's, passes for 30): a visit at 10 fps serves worse than a
///    smaller picture that moves (a USB 2 camera often gives 720p at 30 fps
///    in MJPEG only, and 10 fps in YUYV);
/// 2. the size asked for, else the smallest larger one, else the largest
///    smaller one;
/// 3. the most preferred pixel format (YUYV needs no decoding);
/// 4. the higher rate.
///
/// `None` when no offer has a format in `preference`.
#[cfg_attr(not(any(target_os = "linux", windows)), allow(dead_code))]
fn choose_offer(offers: &[Offer], want: CameraFormat, preference: &[[u8; 4]]) -> Option<usize> {
    let wanted = u64::from(want.width) * u64::from(want.height);
    offers
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let rank = preference.iter().position(|p| *p == o.fourcc)?;
            let slow = o.fps != 0 && u64::from(o.fps) * 6 < u64::from(want.fps) * 5;
            let area = u64::from(o.width) * u64::from(o.height);
            let fit = if (o.width, o.height) == (want.width, want.height) {
                (0, 0)
            } else if o.width >= want.width && o.height >= want.height {
                (1, area - wanted)
            } else {
                (2, wanted.saturating_sub(area))
            };
            Some((slow, fit, rank, want.fps.saturating_sub(o.fps), i))
        })
        .min()
        .map(|(.., i)| i)
}

/// How long a camera may send no usable picture before it counts as failed.
/// Webcams take a second or more to start (some several), slow to a few
/// frames a second in the dark, and send a corrupt frame now and then; none
/// of that should end a visit's video.
pub const STALLED: std::time::Duration = std::time::Duration::from_secs(10);

/// Time since the last usable picture, and why the latest attempt gave none.
#[derive(Debug)]
#[cfg_attr(not(any(target_os = "linux", windows)), allow(dead_code))]
struct Stall {
    since: std::time::Instant,
    problem: Option<String>,
}

#[cfg_attr(not(any(target_os = "linux", windows)), allow(dead_code))]
impl Stall {
    fn new(now: std::time::Instant) -> Self {
        Self {
            since: now,
            problem: None,
        }
    }

    fn picture(&mut self, now: std::time::Instant) {
        self.since = now;
        self.problem = None;
    }

    /// No usable picture this time (`problem` says why, if known): `Ok(None)`
    /// until [`STALLED`] has passed since the last one, then an error.
    fn nothing(
        &mut self,
        problem: Option<String>,
        now: std::time::Instant,
    ) -> Result<Option<Picture>, DeviceError> {
        if problem.is_some() {
            self.problem = problem;
        }
        if now.duration_since(self.since) < STALLED {
            return Ok(None);
        }
        let why = self
            .problem
            .as_deref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        Err(DeviceError::Backend {
            kind: crate::devices::DeviceKind::Camera,
            detail: format!(
                "the camera sent no usable picture for {} s{why}",
                STALLED.as_secs()
            ),
        })
    }

    /// What a backend got from a picture: kept, or a corrupt one skipped
    /// (it counts towards [`STALLED`] like no picture at all).
    fn converted(
        &mut self,
        picture: Result<Picture, crate::convert::ConvertError>,
        now: std::time::Instant,
    ) -> Result<Option<Picture>, DeviceError> {
        match picture {
            Ok(p) => {
                self.picture(now);
                Ok(Some(p))
            }
            Err(e) => self.nothing(Some(e.to_string()), now),
        }
    }

    #[cfg_attr(not(windows), allow(dead_code))]
    fn quiet_for(&self, now: std::time::Instant) -> std::time::Duration {
        now.duration_since(self.since)
    }
}

/// The name to show for a V4L2 card name. `uvcvideo` names a camera
/// "<product>: <terminal>" cut at 31 bytes, and the terminal is usually
/// named after the product ("Integrated Camera: Integrated C"): that
/// becomes "Integrated Camera". Any other name is kept as the driver gave it.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn display_name(card: &str) -> &str {
    match card.split_once(": ") {
        Some((product, rest)) if !rest.is_empty() && product.starts_with(rest) => product,
        _ => card,
    }
}

/// Every camera that can capture video.
pub fn cameras() -> Vec<DeviceInfo> {
    imp::cameras()
}

/// An open camera; [`Camera::next_frame`] blocks until the next picture.
pub struct Camera {
    inner: imp::Inner,
    info: DeviceInfo,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("id", &self.info.id)
            .finish_non_exhaustive()
    }
}

impl Camera {
    /// Opens `id` (or the first camera) asking for `format`.
    /// [`DeviceError::NoCamera`] when there is none at all.
    pub fn open(id: Option<&DeviceId>, format: CameraFormat) -> Result<Self, DeviceError> {
        Self::open_preferring(id, format, PREFERENCE)
    }

    /// Opens `id` taking only the pixel format `fourcc` (`*b"NV12"`, …), to
    /// exercise one conversion against a real driver (feature `testkit`).
    #[cfg(feature = "testkit")]
    pub fn open_with_pixel_format(
        id: Option<&DeviceId>,
        format: CameraFormat,
        fourcc: [u8; 4],
    ) -> Result<Self, DeviceError> {
        Self::open_preferring(id, format, &[fourcc])
    }

    fn open_preferring(
        id: Option<&DeviceId>,
        format: CameraFormat,
        preference: &[[u8; 4]],
    ) -> Result<Self, DeviceError> {
        let (inner, info) = imp::open(id, format, preference)?;
        Ok(Self { inner, info })
    }

    /// The next picture as I420, waiting at most about `wait` for it:
    /// `Ok(None)` when none came (a camera starting, or slow in the dark) or
    /// the one that came was corrupt — it is skipped. An error when the camera
    /// is gone, or has sent no usable picture for [`STALLED`]. The first call
    /// starts the camera and may wait up to [`STALLED`] for its first picture.
    pub fn poll_frame(
        &mut self,
        wait: std::time::Duration,
    ) -> Result<Option<Picture>, DeviceError> {
        self.inner.poll_frame(wait)
    }

    /// The next picture as I420: waits until one comes, or an error (at
    /// most [`STALLED`] without a usable picture).
    pub fn next_frame(&mut self) -> Result<Picture, DeviceError> {
        loop {
            if let Some(p) = self.poll_frame(std::time::Duration::from_millis(500))? {
                return Ok(p);
            }
        }
    }

    /// The size the camera delivers.
    pub fn size(&self) -> (u32, u32) {
        self.inner.size()
    }

    /// The pixel format the camera delivers before conversion to I420
    /// (`*b"YUYV"`, `*b"NV12"`, `*b"YU12"`, `*b"MJPG"` or `*b"BGR3"`).
    pub fn pixel_format(&self) -> [u8; 4] {
        self.inner.pixel_format()
    }

    /// The device.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use v4l::buffer::Type;
    use v4l::capability::Flags;
    use v4l::io::traits::CaptureStream;
    use v4l::prelude::MmapStream;
    use v4l::video::Capture;
    use v4l::{Device, FourCC};

    use super::*;
    use crate::convert;

    const KIND: DeviceKind = DeviceKind::Camera;

    /// `/dev/v4l/by-id/<name>` links for a node, if any (stable ids).
    fn by_id(node: &Path) -> Option<PathBuf> {
        let dir = std::fs::read_dir("/dev/v4l/by-id").ok()?;
        let target = std::fs::canonicalize(node).ok()?;
        dir.filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| std::fs::canonicalize(p).ok().as_deref() == Some(target.as_path()))
    }

    fn is_capture(path: &Path) -> Option<String> {
        let dev = Device::with_path(path).ok()?;
        let caps = dev.query_caps().ok()?;
        // Device caps of the node, not of the whole driver: metadata nodes
        // of UVC cameras report VIDEO_CAPTURE for the driver only.
        let flags = caps.capabilities;
        if !flags.contains(Flags::VIDEO_CAPTURE) || !flags.contains(Flags::STREAMING) {
            return None;
        }
        // A node that lists no format is a metadata node.
        if dev.enum_formats().map(|f| f.is_empty()).unwrap_or(true) {
            return None;
        }
        Some(caps.card)
    }

    pub(super) fn cameras() -> Vec<DeviceInfo> {
        let mut nodes = v4l::context::enum_devices();
        nodes.sort_by_key(v4l::context::Node::index);
        let mut out = Vec::new();
        for node in nodes {
            let path = node.path().to_path_buf();
            let Some(card) = is_capture(&path) else {
                continue;
            };
            let stable = by_id(&path).unwrap_or(path);
            out.push(DeviceInfo {
                id: DeviceId(format!("v4l:{}", stable.display())),
                name: display_name(&card).to_owned(),
                kind: KIND,
                is_default: out.is_empty(),
            });
        }
        out
    }

    fn io_error(e: &std::io::Error) -> DeviceError {
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => DeviceError::Blocked { kind: KIND },
            std::io::ErrorKind::NotFound => DeviceError::Vanished { kind: KIND },
            _ if e.raw_os_error() == Some(16) => DeviceError::Busy { kind: KIND }, // EBUSY
            _ if e.raw_os_error() == Some(19) => DeviceError::Vanished { kind: KIND }, // ENODEV
            _ => DeviceError::Backend {
                kind: KIND,
                detail: e.to_string(),
            },
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Pixels {
        Yuyv,
        Mjpeg,
        Nv12,
        I420,
        Bgr24,
    }

    impl Pixels {
        fn of(f: FourCC) -> Option<Self> {
            match &f.repr {
                b"YUYV" => Some(Self::Yuyv),
                b"MJPG" | b"JPEG" => Some(Self::Mjpeg),
                b"NV12" => Some(Self::Nv12),
                b"YU12" => Some(Self::I420),
                b"BGR3" => Some(Self::Bgr24),
                _ => None,
            }
        }
    }

    /// What `dev` offers in the formats of `preference`: each size with its
    /// best rate. A range of sizes offers the size asked for, fitted to the
    /// range; a driver that lists no sizes offers the size asked for at an
    /// unknown rate (the driver then settles on what it can do).
    fn offers(
        dev: &Device,
        want: CameraFormat,
        preference: &[[u8; 4]],
    ) -> std::io::Result<Vec<Offer>> {
        use v4l::frameinterval::FrameIntervalEnum;
        use v4l::framesize::FrameSizeEnum;

        let mut out = Vec::new();
        for format in dev.enum_formats()? {
            let fourcc = format.fourcc;
            if !preference.contains(&fourcc.repr) {
                continue;
            }
            let sizes: Vec<(u32, u32)> = match dev.enum_framesizes(fourcc) {
                Ok(sizes) if !sizes.is_empty() => sizes
                    .into_iter()
                    .map(|s| match s.size {
                        FrameSizeEnum::Discrete(d) => (d.width, d.height),
                        FrameSizeEnum::Stepwise(r) => (
                            fit_range(want.width, r.min_width, r.max_width, r.step_width),
                            fit_range(want.height, r.min_height, r.max_height, r.step_height),
                        ),
                    })
                    .collect(),
                _ => vec![(want.width, want.height)],
            };
            for (width, height) in sizes {
                let fps = dev
                    .enum_frameintervals(fourcc, width, height)
                    .map(|intervals| {
                        intervals
                            .iter()
                            .map(|i| match &i.interval {
                                FrameIntervalEnum::Discrete(f) => rate(f.numerator, f.denominator),
                                FrameIntervalEnum::Stepwise(s) => {
                                    rate(s.min.numerator, s.min.denominator)
                                }
                            })
                            .max()
                            .unwrap_or(0)
                    })
                    .unwrap_or(0);
                out.push(Offer {
                    fourcc: fourcc.repr,
                    width,
                    height,
                    fps,
                });
            }
        }
        Ok(out)
    }

    /// `want` within `min..=max`, on a `step` from `min`.
    fn fit_range(want: u32, min: u32, max: u32, step: u32) -> u32 {
        let v = want.clamp(min, max.max(min));
        if step <= 1 {
            return v;
        }
        min + (v - min) / step * step
    }

    /// Frames a second for a frame interval of `numerator / denominator`
    /// seconds, rounded (29.97 is 30); 0 when the interval is not one.
    fn rate(numerator: u32, denominator: u32) -> u32 {
        if numerator == 0 {
            return 0;
        }
        ((u64::from(denominator) + u64::from(numerator) / 2) / u64::from(numerator))
            .try_into()
            .unwrap_or(u32::MAX)
    }

    pub(super) struct Inner {
        stream: MmapStream<'static>,
        handle: std::sync::Arc<v4l::device::Handle>,
        started: bool,
        stall: Stall,
        _dev: Device,
        pixels: Pixels,
        width: u32,
        height: u32,
        stride: usize,
    }

    pub(super) fn open(
        id: Option<&DeviceId>,
        want: CameraFormat,
        preference: &[[u8; 4]],
    ) -> Result<(Inner, DeviceInfo), DeviceError> {
        let all = cameras();
        let info = match id {
            None => all.into_iter().next().ok_or(DeviceError::NoCamera)?,
            Some(id) => {
                if all.is_empty() {
                    return Err(DeviceError::NoCamera);
                }
                all.into_iter()
                    .find(|d| &d.id == id)
                    .ok_or(DeviceError::NotFound { kind: KIND })?
            }
        };
        let path = info
            .id
            .as_str()
            .strip_prefix("v4l:")
            .ok_or(DeviceError::NotFound { kind: KIND })?
            .to_owned();
        let dev = Device::with_path(&path).map_err(|e| io_error(&e))?;
        let offers = offers(&dev, want, preference).map_err(|e| io_error(&e))?;
        let chosen = choose_offer(&offers, want, preference)
            .map(|i| offers[i])
            .ok_or(DeviceError::Unsupported { kind: KIND })?;
        let mut fmt = dev.format().map_err(|e| io_error(&e))?;
        fmt.width = chosen.width;
        fmt.height = chosen.height;
        fmt.fourcc = FourCC::new(&chosen.fourcc);
        // The current format's bytes per line belong to its pixel format
        // (YUYV: 2 a pixel); 0 lets the driver choose for the new one, which
        // it may still pad — every conversion honours the stride it answers.
        fmt.stride = 0;
        fmt.size = 0;
        let got = dev.set_format(&fmt).map_err(|e| io_error(&e))?;
        let pixels = Pixels::of(got.fourcc).ok_or(DeviceError::Unsupported { kind: KIND })?;
        // The frame rate is a wish: not every driver takes it.
        let _ = dev.set_params(&v4l::video::capture::Parameters::with_fps(want.fps.max(1)));
        let mut stream =
            MmapStream::with_buffers(&dev, Type::VideoCapture, 4).map_err(|e| io_error(&e))?;
        // Only the first picture is waited for inside `v4l` (see `poll_frame`).
        stream.set_timeout(STALLED);
        Ok((
            Inner {
                stream,
                handle: dev.handle(),
                started: false,
                stall: Stall::new(Instant::now()),
                _dev: dev,
                pixels,
                width: got.width,
                height: got.height,
                stride: got.stride as usize,
            },
            info,
        ))
    }

    impl Inner {
        pub(super) fn size(&self) -> (u32, u32) {
            (self.width, self.height)
        }

        pub(super) fn pixel_format(&self) -> [u8; 4] {
            match self.pixels {
                Pixels::Yuyv => *b"YUYV",
                Pixels::Mjpeg => *b"MJPG",
                Pixels::Nv12 => *b"NV12",
                Pixels::I420 => *b"YU12",
                Pixels::Bgr24 => *b"BGR3",
            }
        }

        /// `v4l` 0.14's stream cannot go on after its own wait times out (it
        /// would queue the held buffer twice), so after the first picture we
        /// wait with `poll` and only then take the picture; the first call
        /// starts the stream and waits inside `v4l`, up to [`STALLED`].
        pub(super) fn poll_frame(
            &mut self,
            wait: Duration,
        ) -> Result<Option<Picture>, DeviceError> {
            /// `POLLIN` (Linux's value; this module is Linux-only).
            const POLLIN: i16 = 0x001;
            if self.started {
                let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
                if self.handle.poll(POLLIN, ms).map_err(|e| io_error(&e))? == 0 {
                    return self.stall.nothing(None, Instant::now());
                }
            }
            self.started = true;
            let (buf, meta) = match self.stream.next() {
                Ok(next) => next,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Err(DeviceError::Backend {
                        kind: KIND,
                        detail: format!(
                            "the camera sent no picture within {} s of starting",
                            STALLED.as_secs()
                        ),
                    });
                }
                Err(e) => return Err(io_error(&e)),
            };
            let used = (meta.bytesused as usize).min(buf.len());
            let data = if used == 0 { buf } else { &buf[..used] };
            let (w, h, stride) = (self.width, self.height, self.stride);
            let frame = match self.pixels {
                Pixels::Yuyv => convert::yuyv_to_i420(data, w, h, stride),
                Pixels::Nv12 => convert::nv12_to_i420(data, w, h, stride),
                Pixels::I420 => convert::i420_copy(data, w, h, stride),
                Pixels::Mjpeg => convert::mjpeg_to_i420(data),
                Pixels::Bgr24 => convert::bgr24_to_i420(data, w, h, stride, false),
            };
            // A corrupt frame (a glitch on the USB bus) is skipped.
            self.stall.converted(frame, Instant::now())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{fit_range, rate};

        #[test]
        fn size_ranges_and_frame_intervals() {
            assert_eq!(fit_range(640, 16, 1920, 1), 640);
            assert_eq!(fit_range(641, 16, 1920, 8), 640);
            assert_eq!(fit_range(4000, 16, 1920, 8), 1920);
            assert_eq!(fit_range(8, 16, 1920, 8), 16);
            assert_eq!(fit_range(640, 20, 1920, 0), 640);
            assert_eq!(rate(1, 30), 30);
            assert_eq!(rate(1001, 30_000), 30); // 29.97
            assert_eq!(rate(1, 25), 25);
            assert_eq!(rate(2, 15), 8);
            assert_eq!(rate(0, 30), 0);
        }
    }
}

#[cfg(windows)]
mod imp {
    //! DirectShow through `bedside-dshow` (its own crate: the COM calls are
    //! `unsafe`): the format chosen by [`choose_offer`], pictures converted
    //! here.
    use std::time::{Duration, Instant};

    use bedside_dshow::{Capture, Error, Format, NextError};

    use super::*;
    use crate::convert;
    use crate::devices::DeviceKind;

    const KIND: DeviceKind = DeviceKind::Camera;
    /// Our ids are `dshow:` and the device's own.
    const PREFIX: &str = "dshow:";

    pub(super) fn cameras() -> Vec<DeviceInfo> {
        match bedside_dshow::devices() {
            Ok(devices) => devices
                .into_iter()
                .enumerate()
                .map(|(i, d)| DeviceInfo {
                    id: DeviceId(format!("{PREFIX}{}", d.id)),
                    name: d.name,
                    kind: KIND,
                    is_default: i == 0,
                })
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, "could not list cameras");
                Vec::new()
            }
        }
    }

    fn device_error(e: Error) -> DeviceError {
        match e {
            Error::NoDevices => DeviceError::NoCamera,
            Error::NotListed => DeviceError::NotFound { kind: KIND },
            Error::NoFormat => DeviceError::Unsupported { kind: KIND },
            e if e.is_access_denied() => DeviceError::Blocked { kind: KIND },
            e if e.is_in_use() => DeviceError::Busy { kind: KIND },
            e if e.is_gone() => DeviceError::Vanished { kind: KIND },
            e => DeviceError::Backend {
                kind: KIND,
                detail: e.to_string(),
            },
        }
    }

    pub(super) struct Inner {
        capture: Capture,
        id: DeviceId,
        stall: Stall,
        /// When a quiet camera's listing is next checked.
        next_listing: Instant,
    }

    /// How long a camera may be quiet before we look whether it is still
    /// listed, and how often we look again (listing is not free, and takes
    /// the enumerator lock the watcher also needs).
    const LISTING_EVERY: Duration = Duration::from_secs(2);

    pub(super) fn open(
        id: Option<&DeviceId>,
        want: CameraFormat,
        preference: &[[u8; 4]],
    ) -> Result<(Inner, DeviceInfo), DeviceError> {
        let raw = match id {
            None => None,
            Some(id) => Some(
                id.as_str()
                    .strip_prefix(PREFIX)
                    .ok_or(DeviceError::NotFound { kind: KIND })?,
            ),
        };
        let preference = preference.to_vec();
        let choose = move |formats: &[Format]| {
            let offers: Vec<Offer> = formats
                .iter()
                .map(|f| Offer {
                    fourcc: f.fourcc,
                    width: f.width,
                    height: f.height,
                    fps: f.fps,
                })
                .collect();
            choose_offer(&offers, want, &preference)
        };
        let (capture, device) = Capture::open(raw, want.fps, choose).map_err(device_error)?;
        let id = DeviceId(format!("{PREFIX}{}", device.id));
        let info = DeviceInfo {
            id: id.clone(),
            name: device.name,
            kind: KIND,
            is_default: cameras().first().is_some_and(|c| c.id == id),
        };
        Ok((
            Inner {
                capture,
                id,
                stall: Stall::new(Instant::now()),
                next_listing: Instant::now() + LISTING_EVERY,
            },
            info,
        ))
    }

    impl Inner {
        pub(super) fn size(&self) -> (u32, u32) {
            let n = self.capture.negotiated();
            (n.width, n.height)
        }

        pub(super) fn pixel_format(&self) -> [u8; 4] {
            self.capture.negotiated().fourcc
        }

        pub(super) fn poll_frame(
            &mut self,
            wait: Duration,
        ) -> Result<Option<Picture>, DeviceError> {
            let data = match self.capture.next(wait) {
                Ok(data) => data,
                Err(NextError::Lost) => return Err(DeviceError::Vanished { kind: KIND }),
                Err(NextError::Timeout) => {
                    // Quiet for a while: a camera no longer listed was
                    // unplugged (not every driver posts a device-lost event).
                    let now = Instant::now();
                    if self.stall.quiet_for(now) >= LISTING_EVERY && now >= self.next_listing {
                        self.next_listing = now + LISTING_EVERY;
                        if !cameras().iter().any(|c| c.id == self.id) {
                            return Err(DeviceError::Vanished { kind: KIND });
                        }
                    }
                    return self.stall.nothing(None, now);
                }
            };
            let n = self.capture.negotiated();
            let (w, h, stride) = (n.width, n.height, n.stride);
            let picture = match &n.fourcc {
                b"YUYV" => convert::yuyv_to_i420(&data, w, h, stride),
                b"NV12" => convert::nv12_to_i420(&data, w, h, stride),
                b"YU12" => convert::i420_copy(&data, w, h, stride),
                b"MJPG" => convert::mjpeg_to_i420(&data),
                _ => convert::bgr24_to_i420(&data, w, h, stride, n.bottom_up),
            };
            // A corrupt frame is skipped.
            self.stall.converted(picture, Instant::now())
        }
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
mod imp {
    use super::*;

    pub(super) fn cameras() -> Vec<DeviceInfo> {
        Vec::new()
    }

    /// No camera backend on this platform yet.
    pub(super) enum Inner {}

    pub(super) fn open(
        _id: Option<&DeviceId>,
        _want: CameraFormat,
        _preference: &[[u8; 4]],
    ) -> Result<(Inner, DeviceInfo), DeviceError> {
        Err(DeviceError::NoCamera)
    }

    impl Inner {
        pub(super) fn size(&self) -> (u32, u32) {
            match *self {}
        }

        pub(super) fn pixel_format(&self) -> [u8; 4] {
            match *self {}
        }

        pub(super) fn poll_frame(
            &mut self,
            _wait: std::time::Duration,
        ) -> Result<Option<Picture>, DeviceError> {
            match *self {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_is_failed_only_after_ten_quiet_seconds() {
        let start = std::time::Instant::now();
        let at = |s: u64| start + std::time::Duration::from_secs(s);
        let mut stall = Stall::new(start);
        assert_eq!(stall.nothing(None, at(3)), Ok(None));
        assert_eq!(stall.nothing(Some("bad JPEG".into()), at(9)), Ok(None));
        stall.picture(at(9));
        assert_eq!(stall.quiet_for(at(12)), std::time::Duration::from_secs(3));
        assert_eq!(stall.nothing(None, at(18)), Ok(None));
        // A problem is kept for the report, until a picture comes.
        assert_eq!(stall.nothing(Some("bad JPEG".into()), at(18)), Ok(None));
        assert_eq!(
            stall.nothing(None, at(19)),
            Err(DeviceError::Backend {
                kind: crate::devices::DeviceKind::Camera,
                detail: "the camera sent no usable picture for 10 s (bad JPEG)".into()
            })
        );
        stall.picture(at(20));
        assert_eq!(
            stall.nothing(None, at(30)),
            Err(DeviceError::Backend {
                kind: crate::devices::DeviceKind::Camera,
                detail: "the camera sent no usable picture for 10 s".into()
            })
        );
    }

    #[test]
    fn a_uvc_card_name_is_shown_as_its_product() {
        assert_eq!(
            display_name("Integrated Camera: Integrated C"),
            "Integrated Camera"
        );
        assert_eq!(
            display_name("HD Pro Webcam C920: HD Pro Webc"),
            "HD Pro Webcam C920"
        );
        // Not uvcvideo's pattern: kept whole.
        assert_eq!(display_name("vivid: capture"), "vivid: capture");
        assert_eq!(display_name("Camera: "), "Camera: ");
        assert_eq!(display_name("Vivid Camera"), "Vivid Camera");
    }

    fn offer(fourcc: &[u8; 4], width: u32, height: u32, fps: u32) -> Offer {
        Offer {
            fourcc: *fourcc,
            width,
            height,
            fps,
        }
    }

    #[test]
    fn the_nearest_size_then_the_preferred_format_is_chosen() {
        let want = CameraFormat::default(); // 640×480 at 30
        let offers = [
            offer(b"MJPG", 1920, 1080, 30),
            offer(b"YUYV", 1280, 720, 30),
            offer(b"YUYV", 320, 240, 30),
            offer(b"YUYV", 800, 600, 30),
            offer(b"H264", 640, 480, 30),
            offer(b"MJPG", 640, 480, 30),
            offer(b"YUYV", 640, 480, 30),
        ];
        // The exact size, and YUYV over MJPEG there.
        assert_eq!(choose_offer(&offers, want, PREFERENCE), Some(6));
        assert_eq!(choose_offer(&offers[..6], want, PREFERENCE), Some(5));
        // No exact size: the smallest larger one, whatever its format.
        assert_eq!(choose_offer(&offers[..4], want, PREFERENCE), Some(3));
        assert_eq!(choose_offer(&offers[..3], want, PREFERENCE), Some(1));
        // Only smaller sizes: the largest of them.
        let small = [offer(b"NV12", 160, 120, 30), offer(b"NV12", 320, 240, 30)];
        assert_eq!(choose_offer(&small, want, PREFERENCE), Some(1));
        // Nothing usable is None; a preference of one format takes only it.
        assert_eq!(choose_offer(&offers[4..5], want, PREFERENCE), None);
        assert_eq!(choose_offer(&offers, want, &[*b"MJPG"]), Some(5));
    }

    #[test]
    fn the_frame_rate_asked_for_comes_before_size_and_format() {
        // A USB 2 webcam: 720p at 30 fps in MJPEG only.
        let webcam = [
            offer(b"MJPG", 640, 480, 30),
            offer(b"MJPG", 1280, 720, 30),
            offer(b"YUYV", 640, 480, 30),
            offer(b"YUYV", 1280, 720, 10),
        ];
        let hd = CameraFormat {
            width: 1280,
            height: 720,
            fps: 30,
        };
        assert_eq!(choose_offer(&webcam, hd, PREFERENCE), Some(1));
        assert_eq!(
            choose_offer(&webcam, CameraFormat::default(), PREFERENCE),
            Some(2)
        );
        // 10 fps is enough when that is what is asked for.
        let slow = CameraFormat { fps: 10, ..hd };
        assert_eq!(choose_offer(&webcam, slow, PREFERENCE), Some(3));
        // No offer keeps 30 fps at 720p in YUYV: a smaller size that does.
        assert_eq!(choose_offer(&webcam, hd, &[*b"YUYV"]), Some(2));
        // 25 fps keeps 30 (vivid's VGA; PAL cameras), 20 does not.
        let pal = [offer(b"YUYV", 640, 360, 30), offer(b"YUYV", 640, 480, 25)];
        assert_eq!(
            choose_offer(&pal, CameraFormat::default(), PREFERENCE),
            Some(1)
        );
        let twenty = [offer(b"YUYV", 640, 360, 30), offer(b"YUYV", 640, 480, 20)];
        assert_eq!(
            choose_offer(&twenty, CameraFormat::default(), PREFERENCE),
            Some(0)
        );
        // When nothing keeps the rate, the size comes first again, then the
        // higher rate; a rate the camera does not say (0) is not held against it.
        let dim = [offer(b"YUYV", 640, 480, 15), offer(b"YUYV", 1280, 720, 5)];
        assert_eq!(choose_offer(&dim, hd, PREFERENCE), Some(1));
        let same = [offer(b"YUYV", 640, 480, 15), offer(b"YUYV", 640, 480, 25)];
        assert_eq!(
            choose_offer(&same, CameraFormat::default(), PREFERENCE),
            Some(1)
        );
        let unsaid = [offer(b"YUYV", 640, 480, 15), offer(b"BGR3", 640, 480, 0)];
        assert_eq!(
            choose_offer(&unsaid, CameraFormat::default(), PREFERENCE),
            Some(1)
        );
    }

    #[test]
    fn no_camera_is_a_typed_outcome() {
        // This CI has no /dev/video*: listing is empty and opening says so.
        if !cameras().is_empty() {
            eprintln!("note: a camera is present; the no-camera outcome is not exercised here");
            return;
        }
        let err = Camera::open(None, CameraFormat::default()).map(|_| ());
        assert_eq!(err, Err(DeviceError::NoCamera));
        assert_eq!(
            Camera::open(
                Some(&DeviceId::from("v4l:/dev/video99")),
                CameraFormat::default()
            )
            .map(|_| ()),
            Err(DeviceError::NoCamera)
        );
        assert_eq!(DeviceError::NoCamera.code(), "no_camera");
    }
}
