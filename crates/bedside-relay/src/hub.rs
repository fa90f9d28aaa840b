//! The live waiting rooms and who is connected to them. Everything here is
//! synchronous and runs under one mutex: the lobby state machine is fed,
//! its outputs are turned into protocol messages and queued on each
//! connection's channel with `try_send` (never awaiting under the lock).
//!
//! Queue policy: a connection whose queue is full is a slow reader — with
//! patients rate-limited at ingress (`ws.rs`), nothing one patient does can
//! fill a clinician's queue, so a full queue means the reader stopped. It is
//! dropped from the hub and flagged, and its writer closes it with
//! [`CLOSE_SLOW_READER`](crate::ws::CLOSE_SLOW_READER) once it has written
//! what was queued. One slow connection never holds up the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bedside_protocol::{CallRefusal, DeviceStateName, ErrorCode, RelayToClinician, RelayToPatient};
use bedside_visit::lobby::{DeviceState, Input, Lobby, LobbyError, Output, PatientEvent};
use tokio::sync::mpsc;

use crate::AppState;

/// A message for a connection's writer; `Close` is sent, then the socket closes.
#[derive(Debug)]
pub(crate) enum Out<T> {
    Send(T),
    Close(T),
}

pub(crate) type PatientTx = mpsc::Sender<Out<RelayToPatient>>;
pub(crate) type ClinicianTx = mpsc::Sender<Out<RelayToClinician>>;

/// Set by the hub when it drops a connection for not reading; its writer
/// then closes with the slow-reader code rather than the generic one.
pub(crate) type SlowFlag = Arc<AtomicBool>;

/// Queues `m`; false when the connection must go (its writer is gone, or
/// its queue is full — then it is flagged a slow reader).
fn queue<T>(tx: &mpsc::Sender<Out<T>>, slow: &SlowFlag, m: Out<T>) -> bool {
    match tx.try_send(m) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            slow.store(true, Ordering::Relaxed);
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// A visit is scoped to the clinic whose key signed its token, so a token
/// from another trusted clinic cannot reach into it.
pub(crate) type VisitKey = (usize, [u8; 16]);

struct PatientConn {
    conn: u64,
    token_id: u32,
    tx: PatientTx,
    slow: SlowFlag,
}

struct Visit {
    lobby: Lobby,
    expires: u64,
    patients: HashMap<String, PatientConn>,
    /// The sealed knock and the extra-device flag of each device, replayed
    /// to a clinician on `watch`.
    knocks: HashMap<String, (String, bool)>,
    /// Recent knock times, for the per-visit knock rate.
    knock_times: std::collections::VecDeque<tokio::time::Instant>,
}

struct ClinicianConn {
    clinic: usize,
    tx: ClinicianTx,
    slow: SlowFlag,
}

#[derive(Default)]
pub(crate) struct Hub {
    visits: HashMap<VisitKey, Visit>,
    clinicians: HashMap<u64, ClinicianConn>,
    next_conn: u64,
    turn: Option<crate::TurnConfig>,
}

fn hex(visit: &[u8; 16]) -> String {
    data_encoding::HEXLOWER.encode(visit)
}

fn state_name(s: &DeviceState) -> DeviceStateName {
    match s {
        DeviceState::Knocked { .. } => DeviceStateName::Waiting,
        DeviceState::Admitted => DeviceStateName::Admitted,
        DeviceState::InCall => DeviceStateName::InCall,
        DeviceState::Denied { .. } => DeviceStateName::Denied,
        DeviceState::Left => DeviceStateName::Left,
        DeviceState::Expired => DeviceStateName::Expired,
        DeviceState::Ended => DeviceStateName::Ended,
    }
}

fn patient_message(
    e: PatientEvent,
    turn: Option<&crate::TurnConfig>,
    now: u64,
) -> Out<RelayToPatient> {
    match e {
        PatientEvent::Waiting => Out::Send(RelayToPatient::Waiting),
        // Both texts are sealed by the clinician app for the device; the
        // lobby carries them as opaque strings.
        PatientEvent::Message(sealed) => Out::Send(RelayToPatient::Message { sealed }),
        // TURN credentials only after admission.
        PatientEvent::Admitted => Out::Send(RelayToPatient::Admitted {
            turn: turn.map(|t| t.credentials(now)),
        }),
        PatientEvent::Denied(sealed) => Out::Close(RelayToPatient::Denied { sealed }),
        PatientEvent::BackToLobby => Out::Send(RelayToPatient::BackToLobby),
        PatientEvent::Expired => Out::Close(RelayToPatient::Expired),
        PatientEvent::Locked => Out::Send(RelayToPatient::Locked),
        PatientEvent::Ended => Out::Close(RelayToPatient::Ended),
    }
}

/// Call signalling from an admitted patient device, for the clinicians.
pub(crate) enum Signal {
    Offer { sdp: String, tag: String },
    Ice(String),
    Refused(CallRefusal),
}

/// A clinician command on a device or visit.
pub(crate) enum Command {
    Lobby(Input),
    Answer { sdp: String, tag: String },
    Ice(String),
}

impl Hub {
    pub(crate) fn new(turn: Option<crate::TurnConfig>) -> Self {
        Self {
            turn,
            ..Self::default()
        }
    }

    pub(crate) fn next_conn(&mut self) -> u64 {
        self.next_conn += 1;
        self.next_conn
    }

    /// Registers a patient connection, creating the visit's lobby on first use.
    pub(crate) fn join_patient(
        &mut self,
        state: &AppState,
        key: VisitKey,
        claims: &bedside_visit::invite::Claims,
        device: &str,
        conn: u64,
        (tx, slow): (PatientTx, SlowFlag),
    ) -> Result<(), ErrorCode> {
        if !self.visits.contains_key(&key) {
            let live = self.visits.keys().filter(|(c, _)| *c == key.0).count();
            if live >= state.inner.limits.max_visits_per_clinic {
                return Err(ErrorCode::Busy);
            }
            self.visits.insert(
                key,
                Visit {
                    lobby: Lobby::new(claims.expires(), claims.max_devices),
                    expires: claims.expires(),
                    patients: HashMap::new(),
                    knocks: HashMap::new(),
                    knock_times: std::collections::VecDeque::new(),
                },
            );
        }
        if let Some(v) = self.visits.get_mut(&key) {
            // A second connection for the same device replaces the first,
            // whose writer then sees its channel closed.
            v.patients.insert(
                device.to_owned(),
                PatientConn {
                    conn,
                    token_id: claims.token_id,
                    tx,
                    slow,
                },
            );
        }
        Ok(())
    }

    /// Counts a knock against the visit's per-minute budget; false when
    /// the budget is spent.
    pub(crate) fn allow_knock(&mut self, key: VisitKey, per_minute: u32) -> bool {
        let Some(v) = self.visits.get_mut(&key) else {
            return false;
        };
        let now = tokio::time::Instant::now();
        while v
            .knock_times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= std::time::Duration::from_secs(60))
        {
            v.knock_times.pop_front();
        }
        if v.knock_times.len() >= usize::try_from(per_minute).unwrap_or(usize::MAX) {
            return false;
        }
        v.knock_times.push_back(now);
        true
    }

    /// Feeds a patient's input (knock, leave) to the lobby.
    pub(crate) fn patient_input(&mut self, key: VisitKey, now: u64, input: Input) {
        if let Some(v) = self.visits.get_mut(&key) {
            // Patient inputs are knocks and leaves; their errors (leaving
            // twice) need no answer.
            let _ = v.lobby.handle(now, input);
        }
        self.pump(key, now);
    }

    /// Forwards an offer or candidate from an admitted device. Each offer
    /// goes out with fresh TURN credentials (when the relay has a TURN
    /// server): the clinician answers it with them, so clinician apps never
    /// hold the TURN secret, and nobody gets credentials before admission.
    pub(crate) fn patient_signal(
        &mut self,
        key: VisitKey,
        device: &str,
        now: u64,
        signal: Signal,
    ) -> Result<(), LobbyError> {
        let v = self.visits.get(&key).ok_or(LobbyError::UnknownDevice)?;
        match v.lobby.state(device) {
            Some(DeviceState::Admitted | DeviceState::InCall) => {}
            Some(_) => return Err(LobbyError::BadState("not admitted")),
            None => return Err(LobbyError::UnknownDevice),
        }
        let (visit, device) = (hex(&key.1), device.to_owned());
        let m = match signal {
            Signal::Offer { sdp, tag } => RelayToClinician::Offer {
                visit,
                device,
                sdp,
                tag,
                turn: self.turn.as_ref().map(|t| t.credentials(now)),
            },
            Signal::Ice(candidate) => RelayToClinician::Ice {
                visit,
                device,
                candidate,
            },
            Signal::Refused(reason) => RelayToClinician::CallRefused {
                visit,
                device,
                reason,
            },
        };
        self.broadcast(key.0, m);
        Ok(())
    }

    /// A patient connection ended.
    pub(crate) fn patient_gone(&mut self, key: VisitKey, device: &str, conn: u64, now: u64) {
        let Some(v) = self.visits.get_mut(&key) else {
            return;
        };
        if v.patients.get(device).is_some_and(|p| p.conn == conn) {
            v.patients.remove(device);
            if v.lobby.state(device).is_some_and(|s| !s.is_terminal()) {
                let _ = v.lobby.handle(now, Input::Left(device.to_owned()));
            }
        }
        self.pump(key, now);
    }

    pub(crate) fn add_clinician(
        &mut self,
        conn: u64,
        clinic: usize,
        (tx, slow): (ClinicianTx, SlowFlag),
    ) {
        self.clinicians
            .insert(conn, ClinicianConn { clinic, tx, slow });
    }

    pub(crate) fn remove_clinician(&mut self, conn: u64) {
        self.clinicians.remove(&conn);
    }

    /// The current picture of a visit for a (re)connecting clinician:
    /// every waiting knock, then the state of every other present device.
    pub(crate) fn watch(&self, key: VisitKey) -> Vec<RelayToClinician> {
        let Some(v) = self.visits.get(&key) else {
            return Vec::new();
        };
        let visit = hex(&key.1);
        let mut out = Vec::new();
        for (device, since) in v.lobby.waiting() {
            let (sealed, extra) = v.knocks.get(device).cloned().unwrap_or_default();
            out.push(RelayToClinician::Knock {
                visit: visit.clone(),
                device: device.clone(),
                sealed,
                extra_device: extra,
                waiting_since: since,
            });
        }
        for device in v.knocks.keys() {
            if let Some(s) = v.lobby.state(device)
                && !matches!(s, DeviceState::Knocked { .. })
            {
                out.push(RelayToClinician::DeviceState {
                    visit: visit.clone(),
                    device: device.clone(),
                    state: state_name(s),
                });
            }
        }
        out
    }

    /// Applies a clinician command.
    pub(crate) fn command(
        &mut self,
        key: VisitKey,
        device: Option<&str>,
        now: u64,
        cmd: Command,
    ) -> Result<(), LobbyError> {
        let v = self.visits.get_mut(&key).ok_or(LobbyError::UnknownDevice)?;
        match cmd {
            Command::Lobby(input) => v.lobby.handle(now, input)?,
            Command::Answer { sdp, tag } => {
                let d = device.ok_or(LobbyError::UnknownDevice)?;
                match v.lobby.state(d) {
                    Some(DeviceState::Admitted) => {
                        v.lobby.handle(now, Input::CallStarted(d.to_owned()))?;
                    }
                    Some(DeviceState::InCall) => {}
                    Some(_) => return Err(LobbyError::BadState("not admitted")),
                    None => return Err(LobbyError::UnknownDevice),
                }
                send_patient(v, d, Out::Send(RelayToPatient::Answer { sdp, tag }));
            }
            Command::Ice(candidate) => {
                let d = device.ok_or(LobbyError::UnknownDevice)?;
                if !matches!(
                    v.lobby.state(d),
                    Some(DeviceState::Admitted | DeviceState::InCall)
                ) {
                    return Err(LobbyError::BadState("not admitted"));
                }
                send_patient(v, d, Out::Send(RelayToPatient::Ice { candidate }));
            }
        }
        self.pump(key, now);
        Ok(())
    }

    /// Closes patient connections that joined with a now-revoked token.
    pub(crate) fn kick(&mut self, key: VisitKey, token_id: u32, message: &str, now: u64) {
        let Some(v) = self.visits.get_mut(&key) else {
            return;
        };
        let gone: Vec<String> = v
            .patients
            .iter()
            .filter(|(_, p)| p.token_id == token_id)
            .map(|(d, _)| d.clone())
            .collect();
        for d in gone {
            if let Some(p) = v.patients.remove(&d) {
                let _ = p.tx.try_send(Out::Close(RelayToPatient::Error {
                    code: ErrorCode::InvalidInvite,
                    message: message.to_owned(),
                }));
            }
            if v.lobby.state(&d).is_some_and(|s| !s.is_terminal()) {
                let _ = v.lobby.handle(now, Input::Left(d));
            }
        }
        self.pump(key, now);
    }

    /// Advances every lobby to `now`; forgets expired visits nobody is
    /// connected to.
    pub(crate) fn tick(&mut self, now: u64) {
        let keys: Vec<VisitKey> = self.visits.keys().copied().collect();
        for key in keys {
            if let Some(v) = self.visits.get_mut(&key) {
                let _ = v.lobby.handle(now, Input::Tick);
            }
            self.pump(key, now);
        }
        self.visits
            .retain(|_, v| now < v.expires || !v.patients.is_empty());
    }

    fn broadcast(&mut self, clinic: usize, m: RelayToClinician) {
        let mut dead = Vec::new();
        for (id, c) in &self.clinicians {
            if c.clinic == clinic && !queue(&c.tx, &c.slow, Out::Send(m.clone())) {
                dead.push(*id);
            }
        }
        for id in dead {
            if let Some(c) = self.clinicians.remove(&id)
                && c.slow.load(Ordering::Relaxed)
            {
                tracing::warn!("closing a clinician connection that is not reading");
            }
        }
    }

    /// Delivers the lobby's outputs.
    fn pump(&mut self, key: VisitKey, now: u64) {
        let mut to_clinicians = Vec::new();
        if let Some(v) = self.visits.get_mut(&key) {
            let visit = hex(&key.1);
            while let Some(out) = v.lobby.poll_output() {
                match out {
                    Output::ToPatient(d, e) => {
                        send_patient(v, &d, patient_message(e, self.turn.as_ref(), now));
                    }
                    Output::Changed(device, s) => {
                        to_clinicians.push(RelayToClinician::DeviceState {
                            visit: visit.clone(),
                            device,
                            state: state_name(&s),
                        });
                    }
                    Output::Knocked {
                        device,
                        sealed,
                        extra_device,
                    } => {
                        // The knock arrived as base64url text; it was stored
                        // as those bytes and goes out exactly as it came.
                        let sealed = String::from_utf8(sealed).unwrap_or_default();
                        v.knocks
                            .insert(device.clone(), (sealed.clone(), extra_device));
                        to_clinicians.push(RelayToClinician::Knock {
                            visit: visit.clone(),
                            device,
                            sealed,
                            extra_device,
                            waiting_since: now,
                        });
                    }
                }
            }
        }
        for m in to_clinicians {
            self.broadcast(key.0, m);
        }
    }
}

fn send_patient(v: &mut Visit, device: &str, m: Out<RelayToPatient>) {
    let failed = v
        .patients
        .get(device)
        .is_some_and(|p| !queue(&p.tx, &p.slow, m));
    if failed
        && let Some(p) = v.patients.remove(device)
        && p.slow.load(Ordering::Relaxed)
    {
        tracing::warn!("closing a patient connection that is not reading");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(capacity: usize) -> (ClinicianTx, SlowFlag, mpsc::Receiver<Out<RelayToClinician>>) {
        let (tx, rx) = mpsc::channel(capacity);
        (tx, SlowFlag::default(), rx)
    }

    /// A clinician that stops reading is dropped and flagged slow; the
    /// others of the clinic keep getting everything.
    #[test]
    fn a_full_queue_drops_only_that_reader_and_flags_it_slow() {
        let mut hub = Hub::new(None);
        let (stuck_tx, stuck_slow, _stuck_rx) = conn(2);
        let (live_tx, live_slow, mut live_rx) = conn(64);
        let (gone_tx, gone_slow, gone_rx) = conn(64);
        hub.add_clinician(1, 0, (stuck_tx, stuck_slow.clone()));
        hub.add_clinician(2, 0, (live_tx, live_slow.clone()));
        hub.add_clinician(3, 0, (gone_tx, gone_slow.clone()));
        drop(gone_rx);
        for _ in 0..3 {
            hub.broadcast(0, RelayToClinician::Pong);
        }
        assert!(stuck_slow.load(Ordering::Relaxed), "flagged slow");
        assert!(!hub.clinicians.contains_key(&1), "and dropped");
        assert!(
            !gone_slow.load(Ordering::Relaxed),
            "a closed writer is not slow"
        );
        assert!(!hub.clinicians.contains_key(&3));
        assert!(hub.clinicians.contains_key(&2));
        assert!(!live_slow.load(Ordering::Relaxed));
        let mut got = 0;
        while live_rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 3);
    }
}
