//! The host's side of a call: when an admitted device sends its offer through
//! the relay, answer it with a `bedside-media` [`Call`] and forward trickled
//! ICE both ways; report call state, the SAS, authentication failures and
//! stats as [`HostEvent`]s.
//!
//! **Invariant:** an offer is only considered from a device the relay says is
//! admitted (or in a call), and its tag is verified by `bedside-media` before
//! any peer connection exists. A mismatch answers nothing: the patient page
//! times out and shows its warning; the host reports `call_auth_failed`
//! (which the caller audits).

use std::collections::HashSet;
use std::sync::Arc;

use bedside_media::{Call, CallAuth, CallError, Peer, PeerConfig, PeerEvent};
use bedside_protocol::ClinicianToRelay;
use tokio::sync::mpsc;

use crate::HostEvent;

/// How the host runs calls.
#[derive(Clone, Debug, Default)]
pub struct MediaOptions {
    /// Peer settings: bind addresses, TURN, ICE policy, source, video size.
    pub peer: PeerConfig,
}

/// Where the host hands each new peer (device id, peer) as soon as its first offer is
/// answered: the caller subscribes to its frame sinks (`remote_video`, `local_preview`)
/// and drives its switches (`set_muted`, `set_camera_off`). An ICE restart keeps the
/// same peer and sends nothing.
pub type PeerTap = mpsc::UnboundedSender<(String, Arc<Peer>)>;

/// The calls of one watched visit.
pub(crate) struct CallHost {
    call: Call,
    events: mpsc::Receiver<PeerEvent>,
    visit_hex: String,
    admitted: HashSet<String>,
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
        let (call, events) = Call::new(CallAuth::new(secret, visit), opts.peer);
        Self {
            call,
            events,
            visit_hex,
            admitted: HashSet::new(),
            tap,
        }
    }

    /// Tracks which devices may call; ends the peer of a device that left.
    pub(crate) async fn device_state(&mut self, device: &str, state: &str) {
        match state {
            "admitted" | "in_call" => {
                self.admitted.insert(device.to_owned());
            }
            _ => {
                self.admitted.remove(device);
                self.call.hang_up(device).await;
            }
        }
    }

    pub(crate) async fn offer(&mut self, device: String, sdp: &str, tag: &str) -> Outcome {
        let mut out = Outcome::default();
        if !self.admitted.contains(&device) {
            out.events.push(HostEvent::CallRefused {
                device,
                reason: "an offer from a device that is not admitted".into(),
            });
            return out;
        }
        match self.call.offer(&device, sdp, tag).await {
            Ok(answer) => {
                if let (false, Some(tap), Some(peer)) =
                    (answer.restart, &self.tap, self.call.peer(&device))
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
        if let Err(e) = self.call.remote_candidate(device, candidate).await {
            tracing::debug!(error = %e, "remote candidate ignored");
        }
    }

    /// The next event from the media layer.
    pub(crate) async fn next(&mut self) -> Option<PeerEvent> {
        self.events.recv().await
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
            _ => {}
        }
        out
    }

    pub(crate) async fn close(&mut self) {
        self.call.close().await;
    }
}

/// The next media event of the calls, if any (pending forever without media).
pub(crate) async fn next_event(calls: &mut Option<CallHost>) -> Option<PeerEvent> {
    match calls {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}
