//! Hot-plug for the window: while a clinician is signed in, `bedside_capture`'s
//! [`DeviceWatcher`] lists the devices once a second, and every change goes to the main
//! window as a `devices-changed` event ([`DevicesChanged`]: what happened and to which kind
//! of device — no name, no id; the window lists the devices again), so Settings → Devices
//! and the visit room's device menu follow what is plugged in. A removed device that a call
//! is using goes to the visit room first ([`crate::visit::VisitRoom::device_removed`]: the
//! call falls back to the system's default and says so).
//!
//! Started at unlock ([`crate::devices::after_unlock`]) and stopped at lock (with the visit
//! room): a locked app does not poll the sound server.

use std::sync::mpsc::Receiver;
use std::time::Duration;

use bedside_media::devices::{DeviceChange, DeviceWatcher};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::devices::{DeviceSlot, slot_of};

/// The event the window listens to.
pub(crate) const DEVICES_EVENT: &str = "devices-changed";

/// How often the watcher lists the devices.
const PERIOD: Duration = Duration::from_secs(1);

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A device appeared.
    Added,
    /// A device went away.
    Removed,
    /// The system's default device of this kind changed.
    DefaultChanged,
}

/// One `devices-changed` event. Carries no device name or id: the window lists again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct DevicesChanged {
    /// What happened.
    pub change: ChangeKind,
    /// To which kind of device.
    pub kind: DeviceSlot,
}

impl DevicesChanged {
    /// The event for a watcher's change (`None` for a kind of change this shell does not know).
    pub(crate) fn from_change(change: &DeviceChange) -> Option<Self> {
        let (what, info) = match change {
            DeviceChange::Added(i) => (ChangeKind::Added, i),
            DeviceChange::Removed(i) => (ChangeKind::Removed, i),
            DeviceChange::DefaultChanged(i) => (ChangeKind::DefaultChanged, i),
            _ => return None,
        };
        Some(Self {
            change: what,
            kind: slot_of(info.kind),
        })
    }
}

/// The running watcher; stops when dropped.
pub(crate) struct Hotplug {
    _watcher: DeviceWatcher,
}

impl std::fmt::Debug for Hotplug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hotplug")
    }
}

/// Starts watching; each change goes to `on_change` on a thread of its own. The thread
/// ends when the watcher is dropped (its channel closes).
pub(crate) fn start(
    period: Duration,
    on_change: impl Fn(&DeviceChange) + Send + 'static,
) -> Hotplug {
    let (watcher, rx) = DeviceWatcher::start(period);
    forward(rx, on_change);
    Hotplug { _watcher: watcher }
}

fn forward(rx: Receiver<DeviceChange>, on_change: impl Fn(&DeviceChange) + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name("bedside-hotplug".into())
        .spawn(move || {
            for change in rx {
                on_change(&change);
            }
        });
    if spawned.is_err() {
        tracing::warn!("could not start the hot-plug forwarder");
    }
}

/// The app's watcher: a removed device reaches the visit room, every change the window.
pub(crate) fn for_app<R: Runtime>(app: AppHandle<R>) -> Hotplug {
    start(PERIOD, move |change| {
        if let DeviceChange::Removed(info) = change {
            app.state::<crate::waiting::WaitingRoom>()
                .visits()
                .device_removed(info);
        }
        let Some(event) = DevicesChanged::from_change(change) else {
            return;
        };
        tracing::info!(change = ?event.change, kind = ?event.kind, "device change");
        if let Err(error) = app.emit_to("main", DEVICES_EVENT, event) {
            tracing::warn!(%error, "could not forward a device change");
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Instant;

    use bedside_capture::testkit;
    use tauri::Listener;

    use super::*;

    #[test]
    fn a_change_becomes_an_event_without_the_device_name() {
        let info = bedside_media::devices::DeviceInfo {
            id: "alsa_output.usb-Headset".into(),
            name: "USB Headset".into(),
            kind: bedside_media::devices::DeviceKind::Speaker,
            is_default: false,
        };
        let e = DevicesChanged::from_change(&DeviceChange::Removed(info)).expect("known");
        assert_eq!(
            serde_json::to_value(e).expect("json"),
            serde_json::json!({"change": "removed", "kind": "speaker"})
        );
    }

    /// The app's watcher against a private PulseAudio (bedside-capture's testkit): loading
    /// a null sink reaches a listener of `devices-changed` as an added speaker, unloading it
    /// as a removed one.
    #[test]
    fn a_null_sink_loaded_and_unloaded_reaches_the_window_as_events() {
        let Some(pulse) = testkit::in_private_pulse(
            "hotplug::tests::a_null_sink_loaded_and_unloaded_reaches_the_window_as_events",
        ) else {
            return;
        };
        let app = tauri::test::mock_app();
        app.manage(crate::waiting::WaitingRoom::default());
        let (tx, rx) = mpsc::channel::<serde_json::Value>();
        app.listen_any(DEVICES_EVENT, move |event| {
            if let Ok(v) = serde_json::from_str(event.payload()) {
                let _ = tx.send(v);
            }
        });
        let watcher = for_app(app.handle().clone());
        // The watcher's first listing is its baseline: let it be taken before the change.
        std::thread::sleep(Duration::from_millis(1500));
        let expect = |want: serde_json::Value| {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut seen = Vec::new();
            while Instant::now() < deadline {
                if let Ok(v) = rx.recv_timeout(Duration::from_millis(200)) {
                    if v == want {
                        return;
                    }
                    seen.push(v);
                }
            }
            panic!("no {want} within 10 s; saw {seen:?}");
        };
        let module = pulse
            .load_module("module-null-sink", "sink_name=bedside_hotplug rate=48000")
            .expect("load a null sink");
        expect(serde_json::json!({"change": "added", "kind": "speaker"}));
        pulse.unload_module(module).expect("unload it");
        expect(serde_json::json!({"change": "removed", "kind": "speaker"}));
        drop(watcher);
    }
}
