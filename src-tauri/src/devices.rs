//! The clinician's devices as the window sees them: the lists behind the visit room's
//! device menu and Settings → Devices (`devices_list`), and the kind a device command names
//! ([`DeviceSlot`]), and the Settings page's live checks ([`Monitor`]: the microphone's
//! level in dBFS through a Channel, about 10 a second, and the camera's picture at half
//! size, at most 10 a second, as the visit room's binary frames). Capture itself is `bedside_capture` through `bedside_media`; the
//! choice is kept for the app session by `visit::VisitRoom`.
//!
//! Device names and ids are not PHI ("HD Webcam C270", a PulseAudio source name); they may
//! reach the window, never the logs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bedside_media::devices::{CameraFormat, DeviceError, DeviceId, DeviceInfo, DeviceKind};
use bedside_media::{CameraPreview, MicLevel};
use serde::{Deserialize, Serialize};
use tauri::ipc::{Channel, InvokeResponseBody};
use tokio::sync::watch;

use crate::IpcError;

/// Longest device id the window may send back.
const MAX_ID: usize = 512;

/// One device in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DeviceEntry {
    /// Stable id (what `visit_set_device` takes).
    pub id: String,
    /// Human name.
    pub name: String,
    /// The system uses it by default.
    pub default: bool,
}

/// The devices on this computer, by kind, each list with the default first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DeviceList {
    /// Audio inputs.
    pub microphones: Vec<DeviceEntry>,
    /// Audio outputs.
    pub speakers: Vec<DeviceEntry>,
    /// Video inputs (empty: the visit is audio only).
    pub cameras: Vec<DeviceEntry>,
}

impl DeviceList {
    /// Sorts `infos` into the three lists, defaults first, then by name.
    pub(crate) fn from_infos(infos: impl IntoIterator<Item = DeviceInfo>) -> Self {
        let mut out = Self::default();
        for d in infos {
            let entry = DeviceEntry {
                id: d.id.as_str().to_owned(),
                name: d.name,
                default: d.is_default,
            };
            match d.kind {
                DeviceKind::Microphone => out.microphones.push(entry),
                DeviceKind::Speaker => out.speakers.push(entry),
                DeviceKind::Camera => out.cameras.push(entry),
            }
        }
        for list in [&mut out.microphones, &mut out.speakers, &mut out.cameras] {
            list.sort_by(|a, b| b.default.cmp(&a.default).then_with(|| a.name.cmp(&b.name)));
        }
        out
    }

    /// The devices present now.
    pub(crate) fn current() -> Self {
        Self::from_infos(bedside_media::devices::list_devices())
    }
}

/// Which kind of device a command chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceSlot {
    /// Audio input.
    Microphone,
    /// Audio output.
    Speaker,
    /// Video input.
    Camera,
}

impl From<DeviceSlot> for DeviceKind {
    fn from(s: DeviceSlot) -> Self {
        match s {
            DeviceSlot::Microphone => Self::Microphone,
            DeviceSlot::Speaker => Self::Speaker,
            DeviceSlot::Camera => Self::Camera,
        }
    }
}

/// A device id from the window: `None` (or empty) for the system's default.
pub(crate) fn parse_id(id: Option<String>) -> Result<Option<DeviceId>, IpcError> {
    match id {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.len() > MAX_ID || s.chars().any(char::is_control) => Err(IpcError::new(
            "invalid_input",
            "That device id is not valid; choose the device again.",
        )),
        Some(s) => Ok(Some(DeviceId(s))),
    }
}

/// The Settings page's live checks: the microphone's level and the camera's picture.
///
/// **Invariant:** at most one runs, and only while the page is open: `devices_monitor`
/// replaces the previous one, `devices_monitor_stop` (the page closing) and locking end it,
/// releasing the devices.
#[derive(Default)]
pub struct Monitor {
    running: Mutex<Option<Running>>,
}

struct Running {
    _microphone: Option<MicLevel>,
    _camera: Option<CameraPreview>,
    alive: Arc<AtomicBool>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
    }
}

/// What the Settings page's checks could start.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct MonitorStatus {
    /// Why there is no microphone level (`null`: the level is on its way).
    pub microphone_error: Option<String>,
    /// Why there is no camera preview (`null`: frames are on their way).
    pub camera_error: Option<String>,
    /// There is no camera at all.
    pub no_camera: bool,
}

/// The preview goes to the window at half size, at most this often.
const PREVIEW_PERIOD: Duration = Duration::from_millis(100);

impl Monitor {
    /// Stops what runs, then starts the level of `microphone` and the preview of `camera`
    /// (`None` = the system's default / the first camera).
    pub(crate) fn start(
        &self,
        microphone: Option<&DeviceId>,
        camera: Option<&DeviceId>,
        level: Channel<f32>,
        preview: Channel<InvokeResponseBody>,
    ) -> MonitorStatus {
        self.stop();
        let alive = Arc::new(AtomicBool::new(true));
        let mut status = MonitorStatus::default();
        let mic = match MicLevel::start(microphone) {
            Ok((mic, rx)) => {
                spawn_level(rx, level, Arc::clone(&alive));
                Some(mic)
            }
            Err(e) => {
                status.microphone_error = Some(e.to_string());
                None
            }
        };
        let cam = match CameraPreview::start(camera, CameraFormat::default()) {
            Ok((cam, rx)) => {
                spawn_preview(rx, preview, Arc::clone(&alive));
                Some(cam)
            }
            Err(e) => {
                status.no_camera = matches!(e, DeviceError::NoCamera);
                status.camera_error = Some(e.to_string());
                None
            }
        };
        if let Ok(mut r) = self.running.lock() {
            *r = Some(Running {
                _microphone: mic,
                _camera: cam,
                alive,
            });
        }
        status
    }

    /// Stops the checks and releases the devices.
    pub(crate) fn stop(&self) {
        let running = self.running.lock().ok().and_then(|mut r| r.take());
        drop(running);
    }

    #[cfg(test)]
    fn is_running(&self) -> bool {
        self.running.lock().map(|r| r.is_some()).unwrap_or(false)
    }
}

fn spawn_level(mut rx: watch::Receiver<f32>, channel: Channel<f32>, alive: Arc<AtomicBool>) {
    tauri::async_runtime::spawn(async move {
        while rx.changed().await.is_ok() && alive.load(Ordering::Acquire) {
            let db = *rx.borrow_and_update();
            if channel.send(db).is_err() {
                break;
            }
        }
    });
}

fn spawn_preview(
    mut rx: watch::Receiver<Option<bedside_media::Frame>>,
    channel: Channel<InvokeResponseBody>,
    alive: Arc<AtomicBool>,
) {
    tauri::async_runtime::spawn(async move {
        let mut seq: u32 = 0;
        let mut last = Instant::now()
            .checked_sub(PREVIEW_PERIOD)
            .unwrap_or_else(Instant::now);
        while rx.changed().await.is_ok() && alive.load(Ordering::Acquire) {
            let Some(frame) = rx.borrow_and_update().clone() else {
                continue;
            };
            if last.elapsed() < PREVIEW_PERIOD {
                continue;
            }
            last = Instant::now();
            seq = seq.wrapping_add(1);
            let small = crate::visit::decimate(&frame, 2);
            let Some(bytes) = crate::visit::encode_frame(crate::visit::Stream::Local, seq, &small)
            else {
                continue;
            };
            if channel.send(InvokeResponseBody::Raw(bytes)).is_err() {
                break;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, name: &str, kind: DeviceKind, is_default: bool) -> DeviceInfo {
        DeviceInfo {
            id: DeviceId::from(id),
            name: name.into(),
            kind,
            is_default,
        }
    }

    #[test]
    fn devices_are_listed_by_kind_with_the_default_first() {
        let list = DeviceList::from_infos([
            info("m1", "Built-in Microphone", DeviceKind::Microphone, false),
            info("c1", "HD Webcam", DeviceKind::Camera, false),
            info("m2", "Headset Microphone", DeviceKind::Microphone, true),
            info("s1", "Speakers", DeviceKind::Speaker, true),
            info("m3", "Array Microphone", DeviceKind::Microphone, false),
        ]);
        let ids = |l: &[DeviceEntry]| l.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&list.microphones), ["m2", "m3", "m1"]);
        assert_eq!(ids(&list.speakers), ["s1"]);
        assert_eq!(ids(&list.cameras), ["c1"]);
        assert!(list.microphones[0].default && !list.microphones[1].default);
        assert_eq!(
            serde_json::to_value(&list.cameras[0]).expect("json"),
            serde_json::json!({"id": "c1", "name": "HD Webcam", "default": false})
        );
        assert_eq!(DeviceList::from_infos([]), DeviceList::default());
    }

    #[test]
    fn ids_from_the_window_are_checked() {
        assert_eq!(parse_id(None).expect("default"), None);
        assert_eq!(parse_id(Some(String::new())).expect("default"), None);
        assert_eq!(
            parse_id(Some("alsa_input.usb-headset".into())).expect("id"),
            Some(DeviceId::from("alsa_input.usb-headset"))
        );
        assert_eq!(
            parse_id(Some("x".repeat(MAX_ID + 1)))
                .expect_err("too long")
                .code(),
            "invalid_input"
        );
        assert!(parse_id(Some("a\nb".into())).is_err());
        let kind: DeviceSlot = serde_json::from_str("\"camera\"").expect("kind");
        assert_eq!(DeviceKind::from(kind), DeviceKind::Camera);
        assert!(serde_json::from_str::<DeviceSlot>("\"screen\"").is_err());
    }

    #[test]
    fn the_monitor_stops_and_says_why_nothing_runs() {
        let monitor = Monitor::default();
        assert!(!monitor.is_running());
        monitor.stop();
        assert!(!monitor.is_running(), "stopping nothing is fine");
        let status = MonitorStatus {
            microphone_error: Some(DeviceError::NoMicrophone.to_string()),
            camera_error: Some(DeviceError::NoCamera.to_string()),
            no_camera: true,
        };
        let json = serde_json::to_value(&status).expect("json");
        assert_eq!(json["no_camera"], true);
        assert!(json["camera_error"].as_str().is_some_and(|m| !m.is_empty()));
    }
}
