//! Windows camera capture through DirectShow, behind a safe API:
//! [`devices`] lists the video input category (the system device
//! enumerator); [`Capture::open`] opens one as a filter graph — the
//! camera's capture pin, qedit's Sample Grabber (its callback copies each
//! picture out), the Null Renderer — built, run and watched for a lost
//! device on a thread of its own; [`Capture::next`] takes the newest
//! picture. Pixel conversion and the choice of format are the caller's
//! (`bedside-capture`).
//!
//! **Why DirectShow, not Media Foundation:** libwebrtc's own Windows
//! capture (and so Firefox's) is DirectShow; it sees every camera Media
//! Foundation sees plus the DirectShow-only virtual cameras; and it is the
//! API that runs here against a real driver — Wine implements DirectShow
//! capture over V4L2, while its Media Foundation lists no camera at all
//! (`bedside-capture`'s `tests/camera_windows.rs`; ARCHITECTURE.md).
//!
//! **Threads and COM:** every COM call for an open camera is made on its
//! camera thread (multithreaded apartment), so a [`Capture`] holds no COM
//! pointer and moves between threads freely; [`devices`] initialises COM
//! on the calling thread (idempotent).
//!
//! **Boundary:** this is one of the workspace's FFI crates: its private
//! `graph` module (Windows only) holds all its `unsafe` — COM calls through
//! the `windows` crate and the Sample Grabber's interfaces, which the SDK
//! no longer declares (`qedit.h`) — each block with a `// SAFETY:` comment.
//! Everything here is safe and builds on every platform; on others
//! [`devices`] is empty and [`Capture::open`] says [`Error::NoDevices`].

use std::time::Duration;

#[cfg(windows)]
mod graph;

/// A video input device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Stable: the device path (the same across ports and reboots), or for
    /// a source without one (a virtual camera, Wine's) its name and rank
    /// among devices of that name (`Name#0`).
    pub id: String,
    /// The friendly name.
    pub name: String,
}

/// One format a camera offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// `YUYV` (YUY2), `NV12`, `YU12` (I420/IYUV), `MJPG` or `BGR3` (RGB24);
    /// other subtypes are not offered to the chooser.
    pub fourcc: [u8; 4],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The most frames a second this format offers (from its shortest
    /// frame interval), 0 when the camera does not say.
    pub fps: u32,
}

/// Frames a second for a frame interval in DirectShow's 100 ns units,
/// rounded (29.97 is 30); 0 for an interval that is not positive.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn rate_of(interval: i64) -> u32 {
    if interval <= 0 {
        return 0;
    }
    u32::try_from((10_000_000 + interval / 2) / interval).unwrap_or(u32::MAX)
}

/// What an open camera delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// As in [`Format::fourcc`].
    pub fourcc: [u8; 4],
    /// Visible width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per row (of the luma plane for planar formats).
    pub stride: usize,
    /// The last row comes first (an RGB bitmap with a positive height).
    pub bottom_up: bool,
}

/// The step of opening or running a camera that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Listing the devices.
    List,
    /// Binding the device's filter (opening the camera).
    Open,
    /// Reading or setting its formats.
    Formats,
    /// Creating or setting up the graph's other filters.
    Graph,
    /// Connecting the camera to the grabber.
    Connect,
    /// Running the graph.
    Start,
}

impl Step {
    fn what(self) -> &'static str {
        match self {
            Self::List => "list the cameras",
            Self::Open => "open the camera",
            Self::Formats => "set the camera's format",
            Self::Graph => "set up the capture graph",
            Self::Connect => "connect the camera",
            Self::Start => "start the camera",
        }
    }
}

/// Why a camera could not be listed or opened. The text names the step and
/// the HRESULT, never a picture.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A COM call failed.
    #[error("DirectShow could not {} (0x{code:08X})", step.what())]
    Com {
        /// Where.
        step: Step,
        /// The HRESULT.
        code: u32,
    },
    /// No video input device at all.
    #[error("no camera is connected")]
    NoDevices,
    /// No device has the id asked for.
    #[error("the camera is not connected")]
    NotListed,
    /// The camera offers no format the chooser takes.
    #[error("the camera offers no usable format")]
    NoFormat,
    /// The camera thread could not start, or ended before it answered.
    #[error("the camera thread failed: {0}")]
    Thread(String),
}

// Win32 errors as HRESULTs (0x8007xxxx), and COM's own.
const E_ACCESSDENIED: u32 = 0x8007_0005;
const E_FAIL: u32 = 0x8000_4005;
const NO_SYSTEM_RESOURCES: u32 = 0x8007_05AA;
const BUSY: u32 = 0x8007_00AA;
const SHARING_VIOLATION: u32 = 0x8007_0020;
const DEVICE_NOT_CONNECTED: u32 = 0x8007_048F;
const NOT_FOUND: u32 = 0x8007_0490;
const DEVICE_REMOVED: u32 = 0x8007_0651;

impl Error {
    /// The system refused access (Windows' camera privacy settings).
    pub fn is_access_denied(&self) -> bool {
        matches!(self, Self::Com { code, .. } if *code == E_ACCESSDENIED)
    }

    /// The camera is held by another application: the in-use codes, or a
    /// plain `E_FAIL` while binding or starting a camera that was just
    /// listed — the capture filter could not get the device (Wine's fails
    /// exactly so for a camera another process streams from), and another
    /// application holding it is by far the usual reason.
    pub fn is_in_use(&self) -> bool {
        match self {
            Self::Com { step, code } => {
                matches!(*code, NO_SYSTEM_RESOURCES | BUSY | SHARING_VIOLATION)
                    || (*code == E_FAIL && matches!(step, Step::Open | Step::Start))
            }
            _ => false,
        }
    }

    /// The device went away.
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Com { code, .. }
            if matches!(*code, DEVICE_NOT_CONNECTED | NOT_FOUND | DEVICE_REMOVED))
    }
}

/// Why [`Capture::next`] has no picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextError {
    /// None arrived in time.
    Timeout,
    /// The graph reported the device lost or the stream aborted.
    Lost,
}

/// The video input devices, in the enumerator's order.
pub fn devices() -> Result<Vec<Device>, Error> {
    #[cfg(windows)]
    return graph::devices();
    #[cfg(not(windows))]
    Ok(Vec::new())
}

/// An open camera: its graph runs on its own thread until this is dropped
/// (which stops it: the camera's light goes off).
pub struct Capture {
    #[cfg(windows)]
    inner: graph::Running,
    negotiated: Negotiated,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Opens the device `id` (or the first one), asking for `fps` frames a
    /// second, with the format `choose` picks among those the camera offers
    /// (an index into them; `None` refuses them all: [`Error::NoFormat`]).
    pub fn open(
        id: Option<&str>,
        fps: u32,
        choose: impl FnOnce(&[Format]) -> Option<usize> + Send + 'static,
    ) -> Result<(Self, Device), Error> {
        #[cfg(windows)]
        {
            let (inner, negotiated, device) = graph::Running::start(id, fps, choose)?;
            Ok((Self { inner, negotiated }, device))
        }
        #[cfg(not(windows))]
        {
            let _ = (id, fps, choose);
            Err(Error::NoDevices)
        }
    }

    /// What the camera delivers.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// The newest picture not taken yet (older ones were overwritten), as
    /// the camera sent it; waits at most `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Result<Vec<u8>, NextError> {
        #[cfg(windows)]
        return self.inner.next(timeout);
        #[cfg(not(windows))]
        {
            let _ = timeout;
            Err(NextError::Lost)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_intervals_become_whole_rates() {
        assert_eq!(rate_of(333_333), 30);
        assert_eq!(rate_of(333_667), 30); // 29.97
        assert_eq!(rate_of(1_000_000), 10);
        assert_eq!(rate_of(400_000), 25);
        assert_eq!(rate_of(1), 10_000_000);
        assert_eq!(rate_of(0), 0);
        assert_eq!(rate_of(-5), 0);
    }

    #[test]
    fn hresults_say_what_a_person_can_do() {
        let com = |step, code| Error::Com { step, code };
        assert!(com(Step::Start, E_ACCESSDENIED).is_access_denied());
        assert!(com(Step::Start, NO_SYSTEM_RESOURCES).is_in_use());
        assert!(com(Step::Connect, SHARING_VIOLATION).is_in_use());
        // E_FAIL means "in use" only where the device itself is taken.
        assert!(com(Step::Open, E_FAIL).is_in_use());
        assert!(com(Step::Start, E_FAIL).is_in_use());
        assert!(!com(Step::Formats, E_FAIL).is_in_use());
        assert!(com(Step::Start, DEVICE_REMOVED).is_gone());
        assert!(!com(Step::Start, DEVICE_REMOVED).is_in_use());
        assert!(!Error::NotListed.is_gone() && !Error::NoDevices.is_in_use());
        assert_eq!(
            com(Step::Connect, 0x8004_0217).to_string(),
            "DirectShow could not connect the camera (0x80040217)"
        );
    }

    #[cfg(not(windows))]
    #[test]
    fn elsewhere_there_is_no_camera() {
        assert_eq!(devices(), Ok(Vec::new()));
        let err = Capture::open(None, 30, |_| Some(0)).map(|_| ());
        assert_eq!(err, Err(Error::NoDevices));
    }
}
