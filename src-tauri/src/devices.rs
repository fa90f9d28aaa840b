//! The clinician's devices as the window sees them: the lists behind the visit room's
//! device menu and Settings → Devices (`devices_list`), the kind a device command names
//! ([`DeviceSlot`]), the saved choice (`bedside_core::SavedDevices`, in the profile's
//! encrypted settings: loaded at unlock by [`after_unlock`], checked against the devices
//! present when a call starts by [`resolve`] — a saved device that is not connected gives
//! way to the system's default with a [`DeviceFallback`] the room shows), and the Settings
//! page's live checks ([`Monitor`]: the microphone's level in dBFS through a Channel, about
//! 10 a second, and the camera's picture at half size, at most 10 a second, as the visit
//! room's binary frames). Capture itself is `bedside_capture` through `bedside_media`.
//!
//! Device names and ids are not PHI ("HD Webcam C270", a PulseAudio source name); they may
//! reach the window and the encrypted settings, never the logs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bedside_core::{SavedDevice, SavedDevices};
use bedside_media::devices::{CameraFormat, DeviceError, DeviceId, DeviceInfo, DeviceKind};
use bedside_media::{CameraPreview, DeviceSelection, MicLevel};
use serde::Serialize;
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

/// Which kind of device a command chooses (the core's, so the settings and the commands
/// name kinds alike).
pub use bedside_core::DeviceSlot;

/// The capture layer's kind for a slot.
pub(crate) fn kind_of(slot: DeviceSlot) -> DeviceKind {
    match slot {
        DeviceSlot::Microphone => DeviceKind::Microphone,
        DeviceSlot::Speaker => DeviceKind::Speaker,
        DeviceSlot::Camera => DeviceKind::Camera,
    }
}

/// The slot for a capture kind.
pub(crate) fn slot_of(kind: DeviceKind) -> DeviceSlot {
    match kind {
        DeviceKind::Microphone => DeviceSlot::Microphone,
        DeviceKind::Speaker => DeviceSlot::Speaker,
        DeviceKind::Camera => DeviceSlot::Camera,
    }
}

/// Why a visit uses the system's default instead of the saved device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// The saved device was not connected when the call started.
    Missing,
    /// The saved device was unplugged during the call.
    Removed,
}

/// A saved device the call could not use: it runs on the system's default instead. The
/// window words it ("Your saved microphone 'X' is not connected — using the default").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DeviceFallback {
    /// Which kind.
    pub kind: DeviceSlot,
    /// The saved device's name.
    pub name: String,
    /// Not there at the start, or gone during the call.
    pub reason: FallbackReason,
}

/// The devices a call should use: each saved device that is connected now (`present`),
/// else the system's default with a [`DeviceFallback`] saying so.
pub(crate) fn resolve(
    saved: &SavedDevices,
    present: &[DeviceInfo],
) -> (DeviceSelection, Vec<DeviceFallback>) {
    let mut selection = DeviceSelection::default();
    let mut fallbacks = Vec::new();
    for slot in DeviceSlot::ALL {
        let Some(d) = saved.get(slot) else { continue };
        let kind = kind_of(slot);
        let id = if present
            .iter()
            .any(|p| p.kind == kind && p.id.as_str() == d.id)
        {
            Some(DeviceId(d.id.clone()))
        } else {
            fallbacks.push(DeviceFallback {
                kind: slot,
                name: d.name.clone(),
                reason: FallbackReason::Missing,
            });
            None
        };
        match slot {
            DeviceSlot::Microphone => selection.microphone = id,
            DeviceSlot::Speaker => selection.speaker = id,
            DeviceSlot::Camera => selection.camera = id,
        }
    }
    (selection, fallbacks)
}

/// [`chosen`] against the devices connected now (listed only when a device is named).
pub(crate) fn choose(
    slot: DeviceSlot,
    id: Option<DeviceId>,
) -> Result<Option<SavedDevice>, IpcError> {
    let present = if id.is_some() {
        bedside_media::devices::list_devices()
    } else {
        Vec::new()
    };
    chosen(slot, id, &present)
}

/// After an unlock: the profile's saved device choice goes to the visit room, and the
/// hot-plug watcher starts (it stops at lock, with the room).
pub(crate) fn after_unlock(app: &tauri::AppHandle) {
    use tauri::Manager;
    let saved = app
        .state::<crate::AppState>()
        .call("devices", |core| core.saved_devices())
        .unwrap_or_default();
    let room = app.state::<crate::waiting::WaitingRoom>();
    room.visits().load_devices(saved);
    let handle = app.clone();
    room.visits()
        .start_hotplug(move || crate::hotplug::for_app(handle));
}

/// The ids of the saved devices, unchecked (`None` = the system's default).
pub(crate) fn selection_of(saved: &SavedDevices) -> DeviceSelection {
    let id = |s: DeviceSlot| saved.get(s).map(|d| DeviceId(d.id.clone()));
    DeviceSelection {
        microphone: id(DeviceSlot::Microphone),
        speaker: id(DeviceSlot::Speaker),
        camera: id(DeviceSlot::Camera),
    }
}

/// The device the window chose, with the name it has now (for the saved setting and for
/// a later "not connected" notice). `None` = the system's default. A device that is not
/// connected (any more) cannot be chosen.
pub(crate) fn chosen(
    slot: DeviceSlot,
    id: Option<DeviceId>,
    present: &[DeviceInfo],
) -> Result<Option<SavedDevice>, IpcError> {
    let Some(id) = id else { return Ok(None) };
    let kind = kind_of(slot);
    let info = present
        .iter()
        .find(|p| p.kind == kind && p.id == id)
        .ok_or_else(|| {
            IpcError::new(
                "device_missing",
                "That device is not connected any more; choose another.",
            )
        })?;
    SavedDevice::new(id.as_str(), &info.name)
        .map(Some)
        .map_err(IpcError::from)
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
        assert_eq!(kind_of(kind), DeviceKind::Camera);
        assert_eq!(slot_of(DeviceKind::Speaker), DeviceSlot::Speaker);
        assert!(serde_json::from_str::<DeviceSlot>("\"screen\"").is_err());
    }

    fn saved(id: &str, name: &str) -> Option<SavedDevice> {
        Some(SavedDevice {
            id: id.into(),
            name: name.into(),
        })
    }

    #[test]
    fn a_saved_device_that_is_not_connected_falls_back_to_the_default_with_a_notice() {
        let present = [
            info("mic-usb", "USB Headset", DeviceKind::Microphone, false),
            info(
                "mic-int",
                "Built-in Microphone",
                DeviceKind::Microphone,
                true,
            ),
            info("spk", "Speakers", DeviceKind::Speaker, true),
        ];
        let all = SavedDevices {
            microphone: saved("mic-usb", "USB Headset"),
            speaker: saved("spk-bt", "Bluetooth Earbuds"),
            camera: saved("v4l:/dev/video0", "HD Webcam"),
        };
        let (selection, fallbacks) = resolve(&all, &present);
        assert_eq!(selection.microphone, Some(DeviceId::from("mic-usb")));
        assert_eq!((selection.speaker, selection.camera), (None, None));
        assert_eq!(
            fallbacks,
            vec![
                DeviceFallback {
                    kind: DeviceSlot::Speaker,
                    name: "Bluetooth Earbuds".into(),
                    reason: FallbackReason::Missing,
                },
                DeviceFallback {
                    kind: DeviceSlot::Camera,
                    name: "HD Webcam".into(),
                    reason: FallbackReason::Missing,
                },
            ]
        );
        // The same id under another kind is not the saved device.
        let odd = SavedDevices {
            speaker: saved("mic-usb", "USB Headset"),
            ..SavedDevices::default()
        };
        assert_eq!(resolve(&odd, &present).1.len(), 1);
        // Nothing saved: the defaults, no notice.
        let (selection, fallbacks) = resolve(&SavedDevices::default(), &present);
        assert_eq!(selection, DeviceSelection::default());
        assert!(fallbacks.is_empty());
        assert_eq!(
            selection_of(&all).speaker,
            Some(DeviceId::from("spk-bt")),
            "unchecked ids for the connection's options"
        );
        assert_eq!(
            serde_json::to_value(fallbacks_json()).expect("json"),
            serde_json::json!({"kind": "camera", "name": "HD Webcam", "reason": "removed"})
        );
        // Choosing: the name comes from the list; a device that went cannot be chosen.
        assert_eq!(
            chosen(
                DeviceSlot::Microphone,
                Some(DeviceId::from("mic-int")),
                &present
            )
            .expect("present"),
            saved("mic-int", "Built-in Microphone")
        );
        assert_eq!(
            chosen(DeviceSlot::Camera, None, &present).expect("default"),
            None
        );
        assert_eq!(
            chosen(
                DeviceSlot::Speaker,
                Some(DeviceId::from("spk-bt")),
                &present
            )
            .expect_err("gone")
            .code(),
            "device_missing"
        );
    }

    fn fallbacks_json() -> DeviceFallback {
        DeviceFallback {
            kind: DeviceSlot::Camera,
            name: "HD Webcam".into(),
            reason: FallbackReason::Removed,
        }
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
