//! The waiting room: one `bedside_host` connection per visit of today that has an active
//! invite, started when the UI asks (`waiting_sync`, after sign-in and after invite
//! changes) and stopped on lock. Knocks and device states reach the window as `waiting`
//! events; the panel's buttons come back as [`HostCommand`]s.
//!
//! **Invariant:** the decrypted name and date of birth go only into the `waiting` event for
//! the main window. Logs carry truncated visit ids and event kinds; the audit log carries
//! appointment ids; the knock notification carries a name only when policy allows it
//! (`notice.rs`); the tray shows only the count of devices waiting ([`WaitingCount`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bedside_core::WatchedVisit;
use bedside_host::{HostCommand, HostConfig, HostEvent};
use bedside_media::Peer;
use ring::signature::Ed25519KeyPair;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::{mpsc, oneshot};

use crate::{AppState, IpcError};

/// The event the panel listens to.
pub(crate) const WAITING_EVENT: &str = "waiting";

/// How long to wait before reconnecting after the relay connection fails.
const RETRY: Duration = Duration::from_secs(5);

/// One waiting-room update for the panel.
#[derive(Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct WaitingEvent {
    /// The appointment the visit belongs to.
    pub appointment: i64,
    /// The visit id (hex): the panel sends it back with admit/deny/message.
    pub visit: String,
    /// `connected`, `disconnected`, `knock`, `unreadable_knock`, `admitting`, `device_state`,
    /// `relay_error`.
    #[cfg_attr(
        test,
        schemars(extend("enum" = ["connected", "disconnected", "knock", "unreadable_knock", "admitting", "device_state", "relay_error", "other"]))
    )]
    pub kind: &'static str,
    /// Device id, when the update is about a device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The name the patient typed (PHI: for the window only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Date of birth, when the join page asked for it (PHI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dob: Option<String>,
    /// Beyond the invite's device limit: flag it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub extra_device: bool,
    /// Unix seconds the device has been waiting since.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<u64>,
    /// The device's new state, or the relay's error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl std::fmt::Debug for WaitingEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitingEvent")
            .field("appointment", &self.appointment)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl WaitingEvent {
    fn new(appointment: i64, visit: &str, kind: &'static str) -> Self {
        Self {
            appointment,
            visit: visit.to_owned(),
            kind,
            device: None,
            name: None,
            dob: None,
            extra_device: false,
            waiting_since: None,
            state: None,
        }
    }

    /// The panel's view of a host event.
    pub(crate) fn from_host(appointment: i64, visit: &str, e: HostEvent) -> Self {
        let mut w = Self::new(appointment, visit, "relay_error");
        match e {
            HostEvent::Ready { .. } => w.kind = "connected",
            HostEvent::Knock {
                device,
                name,
                dob,
                extra_device,
                waiting_since,
            } => {
                w.kind = "knock";
                w.device = Some(device);
                w.name = Some(name);
                w.dob = dob;
                w.extra_device = extra_device;
                w.waiting_since = Some(waiting_since);
            }
            HostEvent::UnreadableKnock { device } => {
                w.kind = "unreadable_knock";
                w.device = Some(device);
            }
            HostEvent::Admitting { device } => {
                w.kind = "admitting";
                w.device = Some(device);
            }
            HostEvent::DeviceState { device, state } => {
                w.kind = "device_state";
                w.device = Some(device);
                w.state = Some(state);
            }
            HostEvent::RelayError { code, .. } => w.state = Some(code),
            _ => w.kind = "other",
        }
        w
    }
}

/// The devices waiting for the clinician, by (visit, device): what the tray counts.
///
/// A knock adds a device; admitting it, or any device state other than `waiting`, removes it;
/// a dropped connection removes the visit's devices (the relay repeats knocks on reconnect).
#[derive(Debug, Default)]
pub(crate) struct WaitingCount {
    waiting: HashSet<(String, String)>,
}

impl WaitingCount {
    /// Applies one update; returns the new count if it changed.
    pub(crate) fn apply(&mut self, w: &WaitingEvent) -> Option<usize> {
        let before = self.waiting.len();
        let key = |d: &String| (w.visit.clone(), d.clone());
        match (w.kind, &w.device) {
            ("knock", Some(d)) => {
                self.waiting.insert(key(d));
            }
            ("device_state", Some(d)) if w.state.as_deref() == Some("waiting") => {}
            ("admitting" | "device_state", Some(d)) => {
                self.waiting.remove(&key(d));
            }
            ("disconnected", _) => self.waiting.retain(|(v, _)| *v != w.visit),
            _ => {}
        }
        (self.waiting.len() != before).then_some(self.waiting.len())
    }

    /// Keeps only the devices of `visits`; returns the new count if it changed.
    pub(crate) fn retain_visits(&mut self, visits: &HashSet<&String>) -> Option<usize> {
        let before = self.waiting.len();
        self.waiting.retain(|(v, _)| visits.contains(v));
        (self.waiting.len() != before).then_some(self.waiting.len())
    }

    /// The number of devices waiting.
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }
}

/// Told the new count whenever it changes (the tray).
type CountListener = Box<dyn Fn(usize) + Send + Sync>;

struct Watch {
    appointment: i64,
    control: mpsc::UnboundedSender<HostCommand>,
    _stop: oneshot::Sender<()>,
}

/// The running waiting-room connections, by visit id (hex).
#[derive(Default)]
pub struct WaitingRoom {
    watches: Mutex<HashMap<String, Watch>>,
    count: Mutex<WaitingCount>,
    on_count: OnceLock<CountListener>,
    visits: crate::visit::VisitRoom,
}

impl WaitingRoom {
    /// Watches exactly `visits`: starts connections for new ones, stops the others.
    /// Returns the number watched.
    pub(crate) fn sync(
        &self,
        app: &AppHandle,
        key: Arc<Ed25519KeyPair>,
        visits: Vec<WatchedVisit>,
    ) -> usize {
        let Ok(mut watches) = self.watches.lock() else {
            return 0;
        };
        let wanted: HashMap<String, WatchedVisit> = visits
            .into_iter()
            .map(|v| (data_encoding::HEXLOWER.encode(&v.invite.visit_id), v))
            .collect();
        watches.retain(|visit, _| wanted.contains_key(visit));
        let keep: HashSet<&String> = wanted.keys().collect();
        self.count_changed(|c| c.retain_visits(&keep));
        for (visit, v) in wanted {
            if watches.contains_key(&visit) {
                continue;
            }
            let (control, rx) = mpsc::unbounded_channel();
            let (stop, stopped) = oneshot::channel();
            let appointment = v.appointment.0;
            spawn_watch(app.clone(), key.clone(), visit.clone(), v, rx, stopped);
            watches.insert(
                visit,
                Watch {
                    appointment,
                    control,
                    _stop: stop,
                },
            );
        }
        watches.len()
    }

    /// The calls of the watched visits (the visit room).
    pub(crate) fn visits(&self) -> &crate::visit::VisitRoom {
        &self.visits
    }

    /// Stops every connection and call (on lock: nothing PHI-bearing runs while locked).
    pub(crate) fn stop_all(&self) {
        if let Ok(mut w) = self.watches.lock() {
            w.clear();
        }
        self.visits.clear();
        self.count_changed(|c| c.retain_visits(&HashSet::new()));
    }

    /// Sets who hears about count changes (once, at start: the tray).
    pub(crate) fn on_count(&self, listener: CountListener) {
        if self.on_count.set(listener).is_err() {
            tracing::warn!("waiting-count listener set twice");
        }
    }

    /// Counts one update; true if it is a knock from a device not already waiting (a
    /// repeated knock raises no second notification).
    pub(crate) fn record(&self, w: &WaitingEvent) -> bool {
        let changed = self.count_changed(|c| c.apply(w));
        w.kind == "knock" && changed
    }

    /// The number of devices waiting now.
    pub(crate) fn count(&self) -> usize {
        self.count.lock().map_or(0, |c| c.len())
    }

    /// Applies `change`; tells the listener and returns true if the count changed.
    fn count_changed(&self, change: impl FnOnce(&mut WaitingCount) -> Option<usize>) -> bool {
        let changed = match self.count.lock() {
            Ok(mut c) => change(&mut c),
            Err(_) => None,
        };
        if let (Some(n), Some(listener)) = (changed, self.on_count.get()) {
            listener(n);
        }
        changed.is_some()
    }

    /// Sends a command for a device of a watched visit; returns its appointment.
    pub(crate) fn send(&self, visit: &str, command: HostCommand) -> Result<i64, IpcError> {
        let watches = self.watches.lock().map_err(|_| IpcError::internal())?;
        let w = watches.get(visit).ok_or_else(|| {
            IpcError::new(
                "not_found",
                "This visit is not in the waiting room any more.",
            )
        })?;
        w.control.send(command).map_err(|_| {
            IpcError::new(
                "relay_unavailable",
                "The relay connection is closed; try again in a moment.",
            )
        })?;
        Ok(w.appointment)
    }
}

fn spawn_watch(
    app: AppHandle,
    key: Arc<Ed25519KeyPair>,
    visit: String,
    v: WatchedVisit,
    mut control: mpsc::UnboundedReceiver<HostCommand>,
    mut stopped: oneshot::Receiver<()>,
) {
    let appointment = v.appointment.0;
    tauri::async_runtime::spawn(async move {
        let short = visit[..8].to_owned();
        loop {
            // The secret is copied into a zeroizing buffer for each connection.
            let cfg = HostConfig {
                relay_origin: v.invite.relay_origin.clone(),
                key: key.clone(),
                visit: v.invite.visit_id,
                secret: bedside_host::Secret::new(v.invite.secret),
                auto_admit: false,
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let (tap, mut peers) = mpsc::unbounded_channel::<(String, Arc<Peer>)>();
            // Policy in force when this connection starts: media limits and TURN URLs.
            let media = crate::visit::media_options(
                &app.state::<crate::policy::PolicyState>()
                    .current()
                    .effective,
                crate::visit::SourceChoice::current(),
                app.state::<WaitingRoom>().visits().selection(),
            );
            let forward = async {
                let app = app.clone();
                let visit = visit.clone();
                let on_event = move |e: HostEvent| {
                    let room = app.state::<WaitingRoom>();
                    match room.visits().host_event(appointment, &visit, &e) {
                        Some("visit.call_start") => {
                            let _ = app.state::<AppState>().call("visit", |core| {
                                core.start_visit(appointment)?;
                                core.audit_visit("visit.sas_shown", appointment)
                            });
                        }
                        Some(action) => {
                            let _ = app
                                .state::<AppState>()
                                .call("visit", |core| core.audit_visit(action, appointment));
                        }
                        None => {}
                    }
                    if let HostEvent::CallState { state, .. } = &e {
                        tracing::info!(visit = %&visit[..8], state = %state, "call");
                    }
                    let w = WaitingEvent::from_host(appointment, &visit, e);
                    if w.kind == "other" {
                        return;
                    }
                    let audit = match w.kind {
                        "knock" => Some("visit.knock"),
                        "admitting" => Some("visit.admit"),
                        "unreadable_knock" => Some("visit.knock_refused"),
                        _ => None,
                    };
                    if let Some(action) = audit {
                        let _ = app
                            .state::<AppState>()
                            .call("waiting", |core| core.audit_visit(action, appointment));
                    }
                    tracing::info!(visit = %&visit[..8], kind = w.kind, "waiting room");
                    if app.state::<WaitingRoom>().record(&w) {
                        let policy = crate::notice::NoticePolicy::from_effective(
                            &app.state::<crate::policy::PolicyState>()
                                .current()
                                .effective,
                        );
                        crate::notice::knock(&app, policy, w.name.as_deref());
                    }
                    if let Err(error) = app.emit_to("main", WAITING_EVENT, w) {
                        tracing::warn!(%error, "could not forward a waiting-room update");
                    }
                };
                bedside_host::run_with_control_and_media(cfg, media, tap, on_event, rx, async {
                    let _ = (&mut stopped).await;
                })
                .await
            };
            // Each new call's peer goes to the visit room (frames, switches).
            let calls = async {
                while let Some((device, peer)) = peers.recv().await {
                    app.state::<WaitingRoom>().visits().peer_ready(
                        appointment,
                        &visit,
                        device,
                        peer,
                    );
                }
                std::future::pending::<()>().await;
            };
            // Commands from the panel go to the current connection.
            let relay = async {
                while let Some(c) = control.recv().await {
                    if tx.send(c).is_err() {
                        break;
                    }
                }
                std::future::pending::<()>().await;
            };
            let result = tokio::select! {
                r = forward => r,
                () = relay => Ok(()),
                () = calls => Ok(()),
            };
            if stopped.try_recv() != Err(oneshot::error::TryRecvError::Empty) {
                tracing::info!(visit = %short, "waiting room closed");
                return;
            }
            let mut w = WaitingEvent::new(appointment, &visit, "disconnected");
            if let Err(e) = result {
                tracing::info!(visit = %short, error = %e, "waiting room connection failed");
                w.state = Some("unreachable".into());
            }
            let _ = app.state::<WaitingRoom>().record(&w);
            let _ = app.emit_to("main", WAITING_EVENT, w);
            tokio::select! {
                () = tokio::time::sleep(RETRY) => {}
                _ = &mut stopped => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_knock_carries_the_name_to_the_window_but_not_to_debug_output() {
        let w = WaitingEvent::from_host(
            4,
            "00112233445566778899aabbccddeeff",
            HostEvent::Knock {
                device: "d1".into(),
                name: "Ada Lovelace".into(),
                dob: None,
                extra_device: false,
                waiting_since: 1_790_000_000,
            },
        );
        let json = serde_json::to_value(&w).expect("json");
        assert_eq!(json["kind"], "knock");
        assert_eq!(json["name"], "Ada Lovelace");
        assert_eq!(json["appointment"], 4);
        assert!(json.get("dob").is_none());
        assert!(json.get("extra_device").is_none());
        assert!(!format!("{w:?}").contains("Ada"));
    }

    fn knock(visit: &str, device: &str) -> WaitingEvent {
        WaitingEvent::from_host(
            1,
            visit,
            HostEvent::Knock {
                device: device.into(),
                name: "Ada".into(),
                dob: None,
                extra_device: false,
                waiting_since: 1,
            },
        )
    }

    fn state(visit: &str, device: &str, state: &str) -> WaitingEvent {
        WaitingEvent::from_host(
            1,
            visit,
            HostEvent::DeviceState {
                device: device.into(),
                state: state.into(),
            },
        )
    }

    #[test]
    fn the_count_follows_knocks_admissions_departures_and_drops() {
        let mut c = WaitingCount::default();
        assert_eq!(c.apply(&knock("v1", "d1")), Some(1));
        assert_eq!(
            c.apply(&knock("v1", "d1")),
            None,
            "a repeated knock counts once"
        );
        assert_eq!(c.apply(&knock("v1", "d2")), Some(2));
        assert_eq!(c.apply(&knock("v2", "d1")), Some(3));
        assert_eq!(c.apply(&state("v1", "d2", "waiting")), None);
        assert_eq!(c.apply(&state("v1", "d2", "left")), Some(2));
        let admitting = WaitingEvent::from_host(
            1,
            "v1",
            HostEvent::Admitting {
                device: "d1".into(),
            },
        );
        assert_eq!(c.apply(&admitting), Some(1));
        assert_eq!(c.apply(&knock("v1", "d3")), Some(2));
        assert_eq!(
            c.apply(&WaitingEvent::new(1, "v1", "disconnected")),
            Some(1),
            "a dropped visit's devices go"
        );
        let keep = HashSet::new();
        assert_eq!(c.retain_visits(&keep), Some(0));
        assert_eq!(c.retain_visits(&keep), None);
    }

    #[test]
    fn count_changes_reach_the_listener_and_stop_all_clears_them() {
        let room = WaitingRoom::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        room.on_count(Box::new(move |n| s.lock().expect("lock").push(n)));
        assert!(room.record(&knock("v1", "d1")), "a new knock notifies");
        assert!(
            !room.record(&knock("v1", "d1")),
            "a repeated knock does not"
        );
        assert!(room.record(&knock("v2", "d1")));
        assert!(!room.record(&state("v2", "d1", "left")));
        assert!(
            room.record(&knock("v2", "d1")),
            "a device that came back does"
        );
        assert_eq!(room.count(), 2);
        room.stop_all();
        assert_eq!(room.count(), 0);
        assert_eq!(*seen.lock().expect("lock"), vec![1, 2, 1, 2, 0]);
    }

    #[test]
    fn device_states_and_relay_errors_carry_no_name() {
        let s = WaitingEvent::from_host(
            1,
            "00",
            HostEvent::DeviceState {
                device: "d".into(),
                state: "admitted".into(),
            },
        );
        assert_eq!(
            (s.kind, s.state.as_deref()),
            ("device_state", Some("admitted"))
        );
        let e = WaitingEvent::from_host(
            1,
            "00",
            HostEvent::RelayError {
                code: "rate_limited".into(),
                message: "slow down".into(),
            },
        );
        assert_eq!(
            (e.kind, e.state.as_deref(), e.name),
            ("relay_error", Some("rate_limited"), None)
        );
    }
}
