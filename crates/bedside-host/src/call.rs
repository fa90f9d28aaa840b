//! The host's side of a call: when an admitted device sends its offer through
//! the relay, answer it with a `bedside-media` [`Call`] and forward trickled
//! ICE both ways; report call state, the SAS, authentication failures and
//! stats as [`HostEvent`]s.
//!
//! TURN: the relay attaches fresh time-limited credentials to every offer it
//! forwards (the clinician never holds the TURN secret). The peers of a call
//! are built with the credentials of the offer that started it; when no peer
//! is live, the next offer starts a fresh call with its own credentials.
//!
//! **Invariant:** an offer is only considered from a device the relay says is
//! admitted (or in a call), and its tag is verified by `bedside-media` before
//! any peer connection exists. A mismatch answers nothing: the patient page
//! times out and shows its warning; the host reports `call_auth_failed`
//! (which the caller audits). The other way round, a page that refuses our
//! answer says `call_refused`: the host hangs that device's peer up and
//! reports `call_refused_by_patient` (audited by the caller too).

use std::collections::HashSet;
use std::sync::Arc;

use bedside_media::{Call, CallAuth, CallError, IcePolicy, Peer, PeerConfig, PeerEvent};
use bedside_protocol::{ClinicianToRelay, TurnCredentials};
use tokio::sync::mpsc;

use crate::HostEvent;

/// How the host runs calls.
#[derive(Clone, Debug, Default)]
pub struct MediaOptions {
    /// Peer settings: bind addresses, ICE policy, source, video size. Its
    /// `turn` is ignored: TURN credentials come from the relay with each offer.
    pub peer: PeerConfig,
    /// Use these TURN URLs instead of the ones the relay names, with the
    /// relay's credentials (a clinic reaching the same coturn at an internal
    /// address; the `TurnServers` policy). Empty: the relay's URLs.
    pub turn_urls: Vec<String>,
}

/// Where the host hands each new peer (device id, peer) as soon as its first offer is
/// answered: the caller subscribes to its frame sinks (`remote_video`, `local_preview`)
/// and drives its switches (`set_muted`, `set_camera_off`). An ICE restart keeps the
/// same peer and sends nothing.
pub type PeerTap = mpsc::UnboundedSender<(String, Arc<Peer>)>;

/// The calls of one watched visit.
pub(crate) struct CallHost {
    /// Built at the first offer (with that offer's TURN credentials).
    call: Option<(Call, mpsc::Receiver<PeerEvent>)>,
    secret: zeroize::Zeroizing<[u8; 32]>,
    visit: [u8; 16],
    opts: MediaOptions,
    visit_hex: String,
    admitted: HashSet<String>,
    /// Devices with a live peer in `call`.
    live: HashSet<String>,
    tap: Option<PeerTap>,
}

/// What handling a relay message produced.
#[derive(Default)]
pub(crate) struct Outcome {
    pub send: Vec<ClinicianToRelay>,
    pub events: Vec<HostEvent>,
}

impl CallHost {
    pub(crate) fn new(
        secret: &[u8; 32],
        visit: [u8; 16],
        visit_hex: String,
        opts: MediaOptions,
        tap: Option<PeerTap>,
    ) -> Self {
        Self {
            call: None,
            secret: zeroize::Zeroizing::new(*secret),
            visit,
            opts,
            visit_hex,
            admitted: HashSet::new(),
            live: HashSet::new(),
            tap,
        }
    }

    /// The peer settings for a call started by an offer carrying `turn`.
    fn peer_config(&self, turn: Option<TurnCredentials>) -> PeerConfig {
        let mut peer = self.opts.peer.clone();
        peer.turn = turn.map(|mut t| {
            if !self.opts.turn_urls.is_empty() {
                t.urls = self.opts.turn_urls.clone();
            }
            t
        });
        peer
    }

    /// Tracks which devices may call; ends the peer of a device that left.
    pub(crate) async fn device_state(&mut self, device: &str, state: &str) {
        match state {
            "admitted" | "in_call" => {
                self.admitted.insert(device.to_owned());
            }
            _ => {
                self.admitted.remove(device);
                self.hang_up(device).await;
            }
        }
    }

    /// Ends one device's peer (it left, or its page refused the call).
    pub(crate) async fn hang_up(&mut self, device: &str) {
        self.live.remove(device);
        if let Some((call, _)) = self.call.as_mut() {
            call.hang_up(device).await;
        }
    }

    pub(crate) async fn offer(
        &mut self,
        device: String,
        sdp: &str,
        tag: &str,
        turn: Option<TurnCredentials>,
    ) -> Outcome {
        let mut out = Outcome::default();
        if !self.admitted.contains(&device) {
            out.events.push(HostEvent::CallRefused {
                device,
                reason: "an offer from a device that is not admitted".into(),
            });
            return out;
        }
        if self.opts.peer.ice_policy == IcePolicy::Relay && turn.is_none() {
            out.events.push(HostEvent::CallRefused {
                device,
                reason: "relay-only ICE needs TURN, and the relay gave no TURN credentials".into(),
            });
            return out;
        }
        if self.live.is_empty() {
            // No peer is live: start afresh with this offer's credentials.
            let config = self.peer_config(turn);
            let (call, events) = Call::new(CallAuth::new(&self.secret, self.visit), config);
            if let Some((mut old, _)) = self.call.replace((call, events)) {
                old.close().await;
            }
        }
        let Some((call, _)) = self.call.as_mut() else {
            return out;
        };
        match call.offer(&device, sdp, tag).await {
            Ok(answer) => {
                self.live.insert(device.clone());
                if let (false, Some(tap), Some(peer)) =
                    (answer.restart, &self.tap, call.peer(&device))
                {
                    let _ = tap.send((device.clone(), Arc::clone(peer)));
                }
                out.events.push(HostEvent::CallAnswered {
                    device: device.clone(),
                    sas: answer.sas.clone(),
                    local_fingerprint: answer.local_fingerprint.clone(),
                    remote_fingerprint: answer.remote_fingerprint.clone(),
                    restart: answer.restart,
                });
                out.send.push(ClinicianToRelay::Answer {
                    visit: self.visit_hex.clone(),
                    device,
                    sdp: answer.sdp,
                    tag: answer.tag,
                });
            }
            Err(e @ (CallError::Auth(_) | CallError::BadTag)) => {
                tracing::warn!("a call offer failed authentication");
                out.events.push(HostEvent::CallAuthFailed {
                    device,
                    message: e.to_string(),
                });
            }
            Err(e) => out.events.push(HostEvent::CallRefused {
                device,
                reason: e.to_string(),
            }),
        }
        out
    }

    pub(crate) async fn remote_candidate(&mut self, device: &str, candidate: &str) {
        let Some((call, _)) = self.call.as_ref() else {
            return;
        };
        if call.remote_candidate(device, candidate).await.is_err() {
            // Not the error's text: the WebRTC stack's may quote the candidate, an address.
            tracing::debug!("remote candidate ignored");
        }
    }

    /// The next event from the media layer (pending until a call exists).
    pub(crate) async fn next(&mut self) -> Option<PeerEvent> {
        match self.call.as_mut() {
            Some((_, events)) => events.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Turns a media event into what to send and what to report.
    pub(crate) fn translate(&self, e: PeerEvent) -> Outcome {
        let mut out = Outcome::default();
        match e {
            PeerEvent::LocalCandidate { device, candidate } => {
                out.send.push(ClinicianToRelay::Ice {
                    visit: self.visit_hex.clone(),
                    device,
                    candidate,
                });
            }
            PeerEvent::State { device, state } => {
                out.events.push(HostEvent::CallState { device, state });
            }
            PeerEvent::FirstFrame { device, ms } => {
                out.events.push(HostEvent::FirstRemoteFrame { device, ms });
            }
            PeerEvent::Stats { device, stats } => {
                out.events.push(HostEvent::CallStats { device, stats });
            }
            PeerEvent::Chat { device, message } => {
                out.events.push(HostEvent::Chat { device, message });
            }
            PeerEvent::ChatRefused { device, reason } => {
                out.events.push(HostEvent::ChatRefused {
                    device,
                    outgoing: false,
                    reason,
                });
            }
            _ => {}
        }
        out
    }

    pub(crate) async fn close(&mut self) {
        self.live.clear();
        if let Some((call, _)) = self.call.as_mut() {
            call.close().await;
        }
    }
}

/// Sends a chat message to `device` on its call's data channel: the event to report.
pub(crate) async fn send_chat(calls: Option<&CallHost>, device: String, text: &str) -> HostEvent {
    let peer = calls
        .filter(|c| c.live.contains(&device))
        .and_then(|c| c.call.as_ref())
        .and_then(|(call, _)| call.peer(&device));
    let result = match peer {
        Some(p) => p.send_chat(text).await,
        None => Err(bedside_media::ChatRefusal::NotOpen),
    };
    match result {
        Ok(message) => HostEvent::ChatSent { device, message },
        Err(reason) => HostEvent::ChatRefused {
            device,
            outgoing: true,
            reason,
        },
    }
}

/// The next media event of the calls, if any (pending forever without media).
pub(crate) async fn next_event(calls: &mut Option<CallHost>) -> Option<PeerEvent> {
    match calls {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}
