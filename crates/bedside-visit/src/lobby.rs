//! The waiting room as a sans-IO state machine. Time is an input; the caller
//! feeds [`Input`]s with the current time and drains [`Output`]s.
//!
//! Per device: `knocked → admitted | denied | left | expired`;
//! `admitted → in_call → ended | back to lobby (knocked)`.
//! The visit can be locked (new knocks are turned away). Devices beyond the
//! invite's limit may knock but are flagged and need explicit admission.

use std::collections::{BTreeMap, VecDeque};

/// A patient device (its public-key fingerprint, chosen by the browser).
pub type DeviceId = String;

/// Where a device stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceState {
    /// Waiting in the lobby since the given time.
    Knocked {
        /// Unix seconds.
        since: u64,
    },
    /// Let in, call not yet started.
    Admitted,
    /// In the call.
    InCall,
    /// Turned away.
    Denied {
        /// Shown to the patient.
        reason: String,
    },
    /// The patient left.
    Left,
    /// The invite expired while waiting.
    Expired,
    /// The call ended.
    Ended,
}

impl DeviceState {
    /// No further transitions.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Denied { .. } | Self::Left | Self::Expired | Self::Ended
        )
    }
}

/// Something that happened, or a command from the clinician.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A device knocked (or reconnected and proved its key).
    Knock {
        /// The device.
        device: DeviceId,
        /// The encrypted knock (name, date of birth): opaque here.
        sealed: Vec<u8>,
    },
    /// Let a waiting device in.
    Admit(DeviceId),
    /// Turn a waiting device away.
    Deny(DeviceId, String),
    /// A message to a waiting or admitted device ("5 more minutes").
    Message(DeviceId, String),
    /// Turn away new knocks.
    Lock,
    /// Accept knocks again.
    Unlock,
    /// Move an admitted or in-call device back to the lobby.
    SendBack(DeviceId),
    /// Media connected.
    CallStarted(DeviceId),
    /// The call ended.
    CallEnded(DeviceId),
    /// The device went away.
    Left(DeviceId),
    /// Nothing happened; time passed.
    Tick,
}

/// What the patient's page should show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatientEvent {
    /// In the lobby.
    Waiting,
    /// A message from the clinician.
    Message(String),
    /// Let in: start the call.
    Admitted,
    /// Turned away, with the clinician's reason.
    Denied(String),
    /// Back in the lobby.
    BackToLobby,
    /// The link expired while waiting.
    Expired,
    /// The visit is locked.
    Locked,
    /// The call is over.
    Ended,
}

/// Output for the caller to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Tell one device.
    ToPatient(DeviceId, PatientEvent),
    /// The clinician's view changed (a device's new state).
    Changed(DeviceId, DeviceState),
    /// A new knock for the clinician to decrypt and show.
    Knocked {
        /// The device.
        device: DeviceId,
        /// The sealed knock.
        sealed: Vec<u8>,
        /// Beyond the invite's device limit: flag it.
        extra_device: bool,
    },
}

/// A refused command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LobbyError {
    /// No such device.
    #[error("no such device in this visit")]
    UnknownDevice,
    /// Not allowed from the device's current state.
    #[error("not possible now: the device is {0}")]
    BadState(&'static str),
}

fn state_name(s: &DeviceState) -> &'static str {
    match s {
        DeviceState::Knocked { .. } => "waiting",
        DeviceState::Admitted => "admitted",
        DeviceState::InCall => "in the call",
        DeviceState::Denied { .. } => "denied",
        DeviceState::Left => "gone",
        DeviceState::Expired => "expired",
        DeviceState::Ended => "finished",
    }
}

/// One visit's waiting room.
#[derive(Clone, Debug)]
pub struct Lobby {
    expires: u64,
    max_devices: usize,
    locked: bool,
    devices: BTreeMap<DeviceId, DeviceState>,
    /// Devices that were ever admitted count against the limit (binding).
    bound: Vec<DeviceId>,
    out: VecDeque<Output>,
}

impl Lobby {
    /// A lobby for an invite expiring at `expires` (Unix seconds).
    pub fn new(expires: u64, max_devices: u8) -> Self {
        Self {
            expires,
            max_devices: usize::from(max_devices.max(1)),
            locked: false,
            devices: BTreeMap::new(),
            bound: Vec::new(),
            out: VecDeque::new(),
        }
    }

    /// A device's state.
    pub fn state(&self, device: &str) -> Option<&DeviceState> {
        self.devices.get(device)
    }

    /// Devices waiting, oldest first.
    pub fn waiting(&self) -> Vec<(&DeviceId, u64)> {
        let mut v: Vec<_> = self
            .devices
            .iter()
            .filter_map(|(d, s)| match s {
                DeviceState::Knocked { since } => Some((d, *since)),
                _ => None,
            })
            .collect();
        v.sort_by_key(|(_, since)| *since);
        v
    }

    /// Whether the visit is locked.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// When the caller should next send [`Input::Tick`].
    pub fn next_timeout(&self) -> Option<u64> {
        self.devices
            .values()
            .any(|s| !s.is_terminal())
            .then_some(self.expires)
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn set(&mut self, device: &str, state: DeviceState) {
        self.devices.insert(device.to_owned(), state.clone());
        self.out
            .push_back(Output::Changed(device.to_owned(), state));
    }

    fn tell(&mut self, device: &str, e: PatientEvent) {
        self.out.push_back(Output::ToPatient(device.to_owned(), e));
    }

    fn expire(&mut self, now: u64) {
        if now < self.expires {
            return;
        }
        let waiting: Vec<DeviceId> = self
            .devices
            .iter()
            .filter(|(_, s)| matches!(s, DeviceState::Knocked { .. }))
            .map(|(d, _)| d.clone())
            .collect();
        for d in waiting {
            self.set(&d, DeviceState::Expired);
            self.tell(&d, PatientEvent::Expired);
        }
    }

    /// Applies one input at `now`.
    pub fn handle(&mut self, now: u64, input: Input) -> Result<(), LobbyError> {
        self.expire(now);
        match input {
            Input::Tick => {}
            Input::Knock { device, sealed } => {
                if now >= self.expires {
                    self.tell(&device, PatientEvent::Expired);
                    return Ok(());
                }
                if self.locked {
                    self.tell(&device, PatientEvent::Locked);
                    return Ok(());
                }
                match self.devices.get(&device) {
                    // Already inside: a reconnect keeps its place.
                    Some(DeviceState::Admitted | DeviceState::InCall) => return Ok(()),
                    Some(DeviceState::Knocked { .. }) => {
                        self.tell(&device, PatientEvent::Waiting);
                        return Ok(());
                    }
                    // Turned away stays turned away for this invite.
                    Some(DeviceState::Denied { reason }) => {
                        let r = reason.clone();
                        self.tell(&device, PatientEvent::Denied(r));
                        return Ok(());
                    }
                    _ => {}
                }
                let extra_device =
                    !self.bound.contains(&device) && self.bound.len() >= self.max_devices;
                self.set(&device, DeviceState::Knocked { since: now });
                self.out.push_back(Output::Knocked {
                    device: device.clone(),
                    sealed,
                    extra_device,
                });
                self.tell(&device, PatientEvent::Waiting);
            }
            Input::Admit(d) => {
                self.expect(&d, |s| matches!(s, DeviceState::Knocked { .. }))?;
                if !self.bound.contains(&d) {
                    self.bound.push(d.clone());
                }
                self.set(&d, DeviceState::Admitted);
                self.tell(&d, PatientEvent::Admitted);
            }
            Input::Deny(d, reason) => {
                self.expect(&d, |s| {
                    matches!(s, DeviceState::Knocked { .. } | DeviceState::Admitted)
                })?;
                self.set(
                    &d,
                    DeviceState::Denied {
                        reason: reason.clone(),
                    },
                );
                self.tell(&d, PatientEvent::Denied(reason));
            }
            Input::Message(d, text) => {
                self.expect(&d, |s| !s.is_terminal())?;
                self.tell(&d, PatientEvent::Message(text));
            }
            Input::Lock => self.locked = true,
            Input::Unlock => self.locked = false,
            Input::SendBack(d) => {
                self.expect(&d, |s| {
                    matches!(s, DeviceState::Admitted | DeviceState::InCall)
                })?;
                self.set(&d, DeviceState::Knocked { since: now });
                self.tell(&d, PatientEvent::BackToLobby);
            }
            Input::CallStarted(d) => {
                self.expect(&d, |s| matches!(s, DeviceState::Admitted))?;
                self.set(&d, DeviceState::InCall);
            }
            Input::CallEnded(d) => {
                self.expect(&d, |s| {
                    matches!(s, DeviceState::InCall | DeviceState::Admitted)
                })?;
                self.set(&d, DeviceState::Ended);
                self.tell(&d, PatientEvent::Ended);
            }
            Input::Left(d) => {
                self.expect(&d, |s| !s.is_terminal())?;
                self.set(&d, DeviceState::Left);
            }
        }
        Ok(())
    }

    fn expect(&self, d: &str, ok: impl Fn(&DeviceState) -> bool) -> Result<(), LobbyError> {
        let s = self.devices.get(d).ok_or(LobbyError::UnknownDevice)?;
        if ok(s) {
            Ok(())
        } else {
            Err(LobbyError::BadState(state_name(s)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(l: &mut Lobby) -> Vec<Output> {
        std::iter::from_fn(|| l.poll_output()).collect()
    }

    fn knock(l: &mut Lobby, now: u64, d: &str) {
        l.handle(
            now,
            Input::Knock {
                device: d.into(),
                sealed: vec![1, 2, 3],
            },
        )
        .expect("knock");
    }

    #[test]
    fn knock_admit_call_end() {
        let mut l = Lobby::new(1_000, 1);
        knock(&mut l, 10, "a");
        let out = drain(&mut l);
        assert!(out.contains(&Output::Knocked {
            device: "a".into(),
            sealed: vec![1, 2, 3],
            extra_device: false
        }));
        assert!(out.contains(&Output::ToPatient("a".into(), PatientEvent::Waiting)));
        l.handle(20, Input::Message("a".into(), "5 more minutes".into()))
            .expect("msg");
        l.handle(30, Input::Admit("a".into())).expect("admit");
        l.handle(31, Input::CallStarted("a".into())).expect("call");
        l.handle(40, Input::SendBack("a".into())).expect("back");
        assert_eq!(l.state("a"), Some(&DeviceState::Knocked { since: 40 }));
        l.handle(50, Input::Admit("a".into())).expect("again");
        l.handle(51, Input::CallStarted("a".into())).expect("call");
        l.handle(60, Input::CallEnded("a".into())).expect("end");
        let out = drain(&mut l);
        for e in [
            PatientEvent::Message("5 more minutes".into()),
            PatientEvent::Admitted,
            PatientEvent::BackToLobby,
            PatientEvent::Ended,
        ] {
            assert!(
                out.contains(&Output::ToPatient("a".into(), e.clone())),
                "{e:?}"
            );
        }
        assert_eq!(
            l.handle(70, Input::Admit("a".into())),
            Err(LobbyError::BadState("finished"))
        );
    }

    #[test]
    fn deny_is_sticky_and_lock_turns_away() {
        let mut l = Lobby::new(1_000, 2);
        knock(&mut l, 1, "a");
        l.handle(2, Input::Deny("a".into(), "Wrong clinic".into()))
            .expect("deny");
        knock(&mut l, 3, "a");
        assert!(drain(&mut l).contains(&Output::ToPatient(
            "a".into(),
            PatientEvent::Denied("Wrong clinic".into())
        )));
        l.handle(4, Input::Lock).expect("lock");
        knock(&mut l, 5, "b");
        assert_eq!(
            drain(&mut l),
            vec![Output::ToPatient("b".into(), PatientEvent::Locked)]
        );
        assert_eq!(l.state("b"), None);
        l.handle(6, Input::Unlock).expect("unlock");
        knock(&mut l, 7, "b");
        assert_eq!(l.state("b"), Some(&DeviceState::Knocked { since: 7 }));
    }

    #[test]
    fn waiting_devices_expire_with_simulated_time() {
        let mut l = Lobby::new(100, 1);
        knock(&mut l, 10, "a");
        assert_eq!(l.next_timeout(), Some(100));
        l.handle(99, Input::Tick).expect("tick");
        assert_eq!(l.state("a"), Some(&DeviceState::Knocked { since: 10 }));
        l.handle(100, Input::Tick).expect("tick");
        assert_eq!(l.state("a"), Some(&DeviceState::Expired));
        assert!(drain(&mut l).contains(&Output::ToPatient("a".into(), PatientEvent::Expired)));
        knock(&mut l, 101, "b");
        assert_eq!(
            drain(&mut l),
            vec![Output::ToPatient("b".into(), PatientEvent::Expired)]
        );
        assert_eq!(l.next_timeout(), None);
    }

    #[test]
    fn devices_beyond_the_limit_are_flagged() {
        let mut l = Lobby::new(1_000, 1);
        knock(&mut l, 1, "phone");
        l.handle(2, Input::Admit("phone".into())).expect("admit");
        drain(&mut l);
        knock(&mut l, 3, "laptop");
        assert!(drain(&mut l).contains(&Output::Knocked {
            device: "laptop".into(),
            sealed: vec![1, 2, 3],
            extra_device: true
        }));
        // The bound device reconnecting is not extra.
        l.handle(4, Input::Left("phone".into())).expect("left");
        knock(&mut l, 5, "phone");
        assert!(drain(&mut l).contains(&Output::Knocked {
            device: "phone".into(),
            sealed: vec![1, 2, 3],
            extra_device: false
        }));
    }

    #[test]
    fn unknown_devices_and_bad_states_are_errors_not_panics() {
        let mut l = Lobby::new(1_000, 1);
        assert_eq!(
            l.handle(1, Input::Admit("x".into())),
            Err(LobbyError::UnknownDevice)
        );
        knock(&mut l, 1, "a");
        assert_eq!(
            l.handle(2, Input::CallStarted("a".into())),
            Err(LobbyError::BadState("waiting"))
        );
        assert_eq!(
            l.handle(2, Input::SendBack("a".into())),
            Err(LobbyError::BadState("waiting"))
        );
        l.handle(3, Input::Left("a".into())).expect("left");
        assert_eq!(
            l.handle(4, Input::Message("a".into(), "hi".into())),
            Err(LobbyError::BadState("gone"))
        );
        assert_eq!(l.waiting().len(), 0);
    }
}
