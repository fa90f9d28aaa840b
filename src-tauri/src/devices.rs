//! The clinician's devices as the window sees them: the lists behind the visit room's
//! device menu and Settings → Devices (`devices_list`), and the kind a device command names
//! ([`DeviceSlot`]). Capture itself is `bedside_capture` through `bedside_media`; the
//! choice is kept for the app session by `visit::VisitRoom`.
//!
//! Device names and ids are not PHI ("HD Webcam C270", a PulseAudio source name); they may
//! reach the window, never the logs.

use bedside_media::devices::{DeviceId, DeviceInfo, DeviceKind};
use serde::{Deserialize, Serialize};

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
}
