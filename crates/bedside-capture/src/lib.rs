//! The clinician's devices: microphones and speakers through cpal, cameras
//! through v4l on Linux and DirectShow on Windows, with stable ids, human
//! names and a default flag; a hot-plug watcher; microphone capture as 48 kHz mono 20 ms frames;
//! speaker playback from a bounded buffer; camera capture converted to I420.
//!
//! - [`devices`]: [`AudioSystem`] (one cpal host: PulseAudio — or PipeWire's
//!   pulse server — when one answers, else ALSA), [`list_devices`], the
//!   [`DeviceInfo`] / [`DeviceId`] / [`DeviceKind`] types and [`DeviceError`].
//! - [`audio`]: [`Microphone`] and [`Speaker`] and the sample conversion
//!   between what a device does and 48 kHz mono `i16`.
//! - [`watch`]: [`DeviceWatcher`], enumeration polled on a thread, diffs
//!   out through a bounded channel.
//! - [`camera`]: [`Camera`] (v4l on Linux, DirectShow on Windows; none on
//!   macOS yet, which reports [`DeviceError::NoCamera`]).
//! - [`convert`]: YUYV, NV12, I420, RGB, BGR24 and MJPEG to I420.
//!
//! **Invariant:** no unbounded queue: captured frames go through a channel of
//! [`audio::CAPTURE_QUEUE_FRAMES`] (newest dropped when full, counted), the
//! speaker holds at most [`audio::PLAYBACK_MAX_MS`] (oldest dropped), the
//! watcher's channel holds [`watch::EVENT_QUEUE`] changes.
//!
//! **Boundary:** no panics on what a device or driver hands over; errors
//! are [`DeviceError`] values whose text is safe to show a person (device
//! names are not PHI, and no sample or pixel is ever logged). No `unsafe`:
//! the Windows camera's COM calls live in `bedside-dshow`.

pub mod audio;
pub mod camera;
pub mod convert;
pub mod devices;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod watch;

pub use audio::{Microphone, Speaker};
pub use camera::{Camera, CameraFormat};
pub use convert::Picture;
pub use devices::{
    AudioBackend, AudioSystem, DeviceError, DeviceId, DeviceInfo, DeviceKind, list_devices,
};
pub use watch::{DeviceChange, DeviceWatcher};

/// Samples per second of every frame this crate produces or takes.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 960;
