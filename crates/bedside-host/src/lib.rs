//! The clinician's side of a visit over the relay, without a window: the
//! engine behind `bedsidectl visit host` (and later the desktop app's
//! waiting-room connection).
//!
//! It connects to the relay's clinician WebSocket, proves the clinic key by
//! signing the relay's challenge, watches one visit, opens each knock with
//! the invite secret (the relay cannot), reports every state change, and
//! with `auto_admit` admits the first knock.
//!
//! **Boundary:** this crate does network IO; the rules live in
//! `bedside-visit` (sans-IO) and the relay. Knock contents (PHI) go to the
//! caller's event handler only, never to logs.

pub mod call;

use std::future::Future;

mod sealed;
pub use sealed::seal_for_patient;

use bedside_protocol::{ClinicianToRelay, PROTOCOL_VERSION, RelayToClinician};
use bedside_visit::auth;
use data_encoding::{BASE64URL_NOPAD as B64, HEXLOWER};
use futures_util::{SinkExt, StreamExt};
use ring::signature::Ed25519KeyPair;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

pub use call::{MediaOptions, PeerTap};

/// The invite secret, zeroized on drop.
pub type Secret = zeroize::Zeroizing<[u8; 32]>;

/// What the host needs to run a visit.
pub struct HostConfig {
    /// Relay origin: `https://relay.example.org`, or `http://127.0.0.1:PORT` on loopback.
    pub relay_origin: String,
    /// The clinic signing key.
    pub key: std::sync::Arc<Ed25519KeyPair>,
    /// The visit id.
    pub visit: [u8; 16],
    /// The invite secret (opens knocks).
    pub secret: Secret,
    /// Admit the first knock without asking.
    pub auto_admit: bool,
}

/// What happened, for the caller to show (bedsidectl prints JSON lines).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HostEvent {
    /// Authenticated with the relay.
    Ready {
        /// The clinic name the relay holds for this key.
        clinic_name: String,
    },
    /// A patient knocked. `name` and `dob` are PHI, decrypted here.
    Knock {
        /// Device id.
        device: String,
        /// The name the patient typed.
        name: String,
        /// Date of birth, when asked for.
        #[serde(skip_serializing_if = "Option::is_none")]
        dob: Option<String>,
        /// Beyond the invite's device limit.
        extra_device: bool,
        /// Unix seconds.
        waiting_since: u64,
    },
    /// A knock that does not open with this invite's secret (refused).
    UnreadableKnock {
        /// Device id.
        device: String,
    },
    /// The host admitted a device.
    Admitting {
        /// Device id.
        device: String,
    },
    /// A device's state changed.
    DeviceState {
        /// Device id.
        device: String,
        /// New state (`waiting`, `admitted`, `in_call`, `denied`, `left`, `expired`, `ended`).
        state: String,
    },
    /// A device's call offer authenticated and was answered.
    CallAnswered {
        /// Device id.
        device: String,
        /// The short authentication string (the patient page shows the same).
        sas: String,
        /// Our DTLS fingerprint.
        local_fingerprint: String,
        /// The patient's DTLS fingerprint.
        remote_fingerprint: String,
        /// A new offer on an existing call (ICE restart).
        restart: bool,
    },
    /// A device's offer did not authenticate (someone may have tampered with
    /// the call): refused before any media. The caller audits this.
    CallAuthFailed {
        /// Device id.
        device: String,
        /// Plain message.
        message: String,
    },
    /// The patient's page refused our answer: it did not authenticate there
    /// (someone may have tampered with the call). The call to that device is
    /// stopped here too. The caller audits this (`visit.call_refused_by_patient`).
    CallRefusedByPatient {
        /// Device id.
        device: String,
        /// Why, as the page reported it (`answer_tag_mismatch`, `fingerprint_changed`).
        reason: String,
        /// Plain message for the clinician.
        message: String,
    },
    /// A call could not be set up, or an offer came from a device not admitted.
    CallRefused {
        /// Device id.
        device: String,
        /// Plain message.
        reason: String,
    },
    /// The call's connection state (`connecting`, `connected`, `disconnected`, `failed`, `closed`).
    CallState {
        /// Device id.
        device: String,
        /// New state.
        state: String,
    },
    /// The first remote video frame was decoded.
    FirstRemoteFrame {
        /// Device id.
        device: String,
        /// Milliseconds from the answer.
        ms: u64,
    },
    /// Once a second during a call.
    CallStats {
        /// Device id.
        device: String,
        /// The snapshot.
        stats: Box<bedside_media::CallStats>,
    },
    /// A chat message from the patient arrived on the call's data channel (never
    /// through the relay). The text is PHI: the caller shows it and keeps it in
    /// memory at most; `Debug` redacts it.
    Chat {
        /// Device id.
        device: String,
        /// The message.
        message: bedside_media::ChatMessage,
    },
    /// A chat message the caller asked for ([`HostCommand::Chat`]) went out.
    ChatSent {
        /// Device id.
        device: String,
        /// The message as sent (its id and time, for the caller's own list).
        message: bedside_media::ChatMessage,
    },
    /// A chat message was refused: one from the patient (too large, malformed, too
    /// many), or one the caller asked to send (`outgoing`: too long, no open channel).
    ChatRefused {
        /// Device id.
        device: String,
        /// Ours (true) or theirs.
        outgoing: bool,
        /// Why (no content).
        reason: bedside_media::ChatRefusal,
    },
    /// The relay reported an error.
    RelayError {
        /// Its code.
        code: String,
        /// Its message.
        message: String,
    },
}

impl HostEvent {
    /// The audit action this event stands for, if any: one list for every
    /// caller (bedsidectl, the desktop app) so the same event is recorded
    /// under the same name everywhere. Subjects are the caller's ids.
    pub fn audit_action(&self) -> Option<&'static str> {
        match self {
            Self::Knock { .. } => Some("visit.knock"),
            Self::Admitting { .. } => Some("visit.admit"),
            Self::UnreadableKnock { .. } => Some("visit.knock_refused"),
            Self::CallAnswered { restart: false, .. } => Some("visit.call_started"),
            Self::CallAuthFailed { .. } => Some("visit.call_auth_failed"),
            Self::CallRefusedByPatient { .. } => Some("visit.call_refused_by_patient"),
            _ => None,
        }
    }
}

/// What the clinician is told when the patient's page refused the call.
fn patient_refusal_message(reason: bedside_protocol::CallRefusal) -> String {
    let what = match reason {
        bedside_protocol::CallRefusal::FingerprintChanged => {
            "the call's security certificate changed during a reconnect"
        }
        _ => "our answer did not verify",
    };
    format!(
        "The patient's page stopped the call: {what}. Someone may have tampered with the \
         connection. Call the patient by phone before trying again."
    )
}

/// Why the host stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The relay origin is not usable.
    #[error("relay: {0}")]
    BadRelay(String),
    /// Could not connect.
    #[error("could not reach the relay: {0}")]
    Connect(String),
    /// The relay refused the clinic key.
    #[error("the relay did not accept this clinic's key: {0}; enrol the key with the relay first")]
    Unauthorized(String),
    /// The connection broke.
    #[error("the relay connection closed: {0}")]
    Closed(String),
    /// The relay sent something that is not the protocol.
    #[error("the relay sent a message this version does not understand")]
    Protocol,
    /// No randomness for sealing a message (the system RNG failed).
    #[error("could not seal the message for the patient")]
    Sealing,
}

/// The clinician WebSocket URL for a relay origin.
pub fn clinician_url(origin: &str) -> Result<String, HostError> {
    let origin = origin.trim().trim_end_matches('/');
    if let Some(rest) = origin.strip_prefix("https://") {
        Ok(format!("wss://{rest}/ws/clinician"))
    } else if let Some(rest) = origin.strip_prefix("http://") {
        let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h);
        if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            Ok(format!("ws://{rest}/ws/clinician"))
        } else {
            Err(HostError::BadRelay(
                "plain http is only allowed on this computer; use https".into(),
            ))
        }
    } else {
        Err(HostError::BadRelay("use an https:// origin".into()))
    }
}

fn tls() -> tokio_tungstenite::Connector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_roots() {
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    match config {
        Ok(c) => tokio_tungstenite::Connector::Rustls(std::sync::Arc::new(c)),
        Err(_) => tokio_tungstenite::Connector::Plain,
    }
}

fn rustls_native_roots() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    // The OS trust store (Debian's ca-certificates, the macOS keychain, the
    // Windows store), so organisations' own CAs work as they do in browsers.
    let mut out = Vec::new();
    for path in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ] {
        if let Ok(pem) = std::fs::read(path) {
            out.extend(pem_certs(&pem));
            break;
        }
    }
    out
}

fn pem_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// Tells the relay that an invite is withdrawn (`POST /api/revoke`, signed
/// by the clinic key), so the link stops working at once rather than at its
/// expiry. Returns when the relay has persisted it.
pub async fn revoke(
    relay_origin: &str,
    key: &Ed25519KeyPair,
    visit: &[u8; 16],
    token_id: u32,
) -> Result<(), HostError> {
    let sig = key.sign(&bedside_protocol::revoke_message(visit, token_id));
    let body = serde_json::json!({
        "visit": HEXLOWER.encode(visit),
        "token_id": token_id,
        "signature": B64.encode(sig.as_ref()),
    });
    post_json(relay_origin, "/api/revoke", None, &body).await
}

/// Enrols the clinic key with a relay (`POST /api/admin/enroll`), using the
/// relay administrator's token.
pub async fn enroll(
    relay_origin: &str,
    admin_token: &str,
    clinic_name: &str,
    public_key_b64: &str,
) -> Result<(), HostError> {
    let body = serde_json::json!({ "name": clinic_name, "public_key": public_key_b64 });
    post_json(relay_origin, "/api/admin/enroll", Some(admin_token), &body).await
}

/// A small HTTP/1.1 POST to the relay (http on loopback, https elsewhere).
async fn post_json(
    relay_origin: &str,
    path: &str,
    bearer: Option<&str>,
    body: &serde_json::Value,
) -> Result<(), HostError> {
    let ws = clinician_url(relay_origin)?;
    let secure = ws.starts_with("wss://");
    let authority = ws
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .ok_or_else(|| HostError::BadRelay("no host".into()))?
        .to_owned();
    let host = authority
        .rsplit_once(':')
        .map_or(authority.as_str(), |(h, _)| h)
        .to_owned();
    let addr = if authority.contains(':') {
        authority.clone()
    } else {
        format!("{authority}:{}", if secure { 443 } else { 80 })
    };
    let body = body.to_string();
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = zeroize::Zeroizing::new(format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| HostError::Connect(e.to_string()))?;
    let response = if secure {
        let tokio_tungstenite::Connector::Rustls(config) = tls() else {
            return Err(HostError::Connect("TLS is unavailable".into()));
        };
        let name = rustls::pki_types::ServerName::try_from(host)
            .map_err(|_| HostError::BadRelay("bad host name".into()))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| HostError::Connect(e.to_string()))?;
        exchange(stream, request.as_bytes()).await?
    } else {
        exchange(tcp, request.as_bytes()).await?
    };
    let status = response.split(' ').nth(1).unwrap_or("");
    if status.starts_with('2') {
        Ok(())
    } else if status == "401" || status == "403" {
        Err(HostError::Unauthorized(format!(
            "the relay refused the request (HTTP {status})"
        )))
    } else if status == "404" {
        Err(HostError::BadRelay(
            "the relay does not offer this (HTTP 404)".into(),
        ))
    } else {
        Err(HostError::Closed(format!(
            "the relay answered HTTP {status}"
        )))
    }
}

async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> Result<String, HostError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(request)
        .await
        .map_err(|e| HostError::Closed(e.to_string()))?;
    let mut buf = Vec::new();
    // The relay's answer is tiny; cap what we read.
    let mut limited = stream.take(64 * 1024);
    limited
        .read_to_end(&mut buf)
        .await
        .map_err(|e| HostError::Closed(e.to_string()))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Runs the host until the relay closes, an error occurs, or `shutdown` fires.
pub async fn run(
    cfg: HostConfig,
    on_event: impl FnMut(HostEvent),
    shutdown: impl Future<Output = ()>,
) -> Result<(), HostError> {
    run_loop(cfg, None, None, None, on_event, shutdown).await
}

/// [`run`], answering admitted devices' call offers with `media` (see [`call`]).
pub async fn run_with_media(
    cfg: HostConfig,
    media: Option<MediaOptions>,
    on_event: impl FnMut(HostEvent),
    shutdown: impl Future<Output = ()>,
) -> Result<(), HostError> {
    run_loop(cfg, media, None, None, on_event, shutdown).await
}

/// Like [`run`], but the caller decides: each [`HostCommand`] received on
/// `control` is sent to the relay for this visit. `cfg.auto_admit` is
/// ignored. Knocks that do not open with the invite secret are still denied
/// here, without asking.
pub async fn run_with_control(
    mut cfg: HostConfig,
    on_event: impl FnMut(HostEvent),
    control: tokio::sync::mpsc::UnboundedReceiver<HostCommand>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), HostError> {
    cfg.auto_admit = false;
    run_loop(cfg, None, None, Some(control), on_event, shutdown).await
}

/// [`run_with_control`] and [`run_with_media`] in one loop: the caller admits, denies and
/// messages, and admitted devices' call offers are answered with `media`. Each new peer is
/// handed to `tap` (see [`PeerTap`]) so the caller can show its video and drive its
/// switches; the call's events still arrive through `on_event`.
pub async fn run_with_control_and_media(
    mut cfg: HostConfig,
    media: MediaOptions,
    tap: PeerTap,
    on_event: impl FnMut(HostEvent),
    control: tokio::sync::mpsc::UnboundedReceiver<HostCommand>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), HostError> {
    cfg.auto_admit = false;
    run_loop(
        cfg,
        Some(media),
        Some(tap),
        Some(control),
        on_event,
        shutdown,
    )
    .await
}

/// How often the host pings the relay, well inside the relay's idle timeout.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(20);

/// The one clinician loop behind [`run`], [`run_with_media`], [`run_with_control`] and
/// [`run_with_control_and_media`]: authenticate, watch the visit, open knocks, follow
/// the caller's commands, answer call offers, keep the connection alive.
async fn run_loop(
    cfg: HostConfig,
    media: Option<MediaOptions>,
    tap: Option<PeerTap>,
    mut control: Option<tokio::sync::mpsc::UnboundedReceiver<HostCommand>>,
    mut on_event: impl FnMut(HostEvent),
    shutdown: impl Future<Output = ()>,
) -> Result<(), HostError> {
    let mut calls = media
        .map(|m| call::CallHost::new(&cfg.secret, cfg.visit, HEXLOWER.encode(&cfg.visit), m, tap));
    let url = clinician_url(&cfg.relay_origin)?;
    let connector = url.starts_with("wss://").then(tls);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(url.as_str(), None, false, connector)
            .await
            .map_err(|e| HostError::Connect(e.to_string()))?;
    let visit_hex = HEXLOWER.encode(&cfg.visit);
    let send = |m: ClinicianToRelay| Message::text(bedside_protocol::encode(&m));
    let closed = |e: tokio_tungstenite::tungstenite::Error| HostError::Closed(e.to_string());
    let public_key = B64.encode(&bedside_visit::invite::public_key(&cfg.key));
    ws.send(send(ClinicianToRelay::Hello {
        v: PROTOCOL_VERSION,
        public_key,
    }))
    .await
    .map_err(closed)?;
    let mut admitted_one = false;
    let mut keep_alive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    tokio::pin!(shutdown);
    loop {
        let frame = tokio::select! {
            f = ws.next() => f,
            c = async { control.as_mut()?.recv().await }, if control.is_some() => {
                let Some(c) = c else {
                    control = None;
                    continue;
                };
                if let HostCommand::Chat { device, text } = c {
                    // Chat goes on the call's data channel, never to the relay.
                    on_event(call::send_chat(calls.as_ref(), device, &text).await);
                    continue;
                }
                let m = command_message(&cfg, &visit_hex, c, &mut on_event)?;
                ws.send(send(m)).await.map_err(closed)?;
                continue;
            }
            Some(e) = call::next_event(&mut calls) => {
                if let Some(c) = &calls {
                    let out = c.translate(e);
                    out.events.into_iter().for_each(&mut on_event);
                    for m in out.send {
                        ws.send(send(m)).await.map_err(closed)?;
                    }
                }
                continue;
            }
            _ = keep_alive.tick() => {
                ws.send(send(ClinicianToRelay::Ping)).await.map_err(closed)?;
                continue;
            }
            () = &mut shutdown => {
                if let Some(c) = calls.as_mut() {
                    c.close().await;
                }
                let _ = ws.close(None).await;
                return Ok(());
            }
        };
        let bytes = match frame {
            None => return Ok(()),
            Some(Err(e)) => return Err(closed(e)),
            Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
            Some(Ok(Message::Close(c))) => {
                return match c {
                    Some(c) if !c.reason.is_empty() => Err(HostError::Closed(c.reason.to_string())),
                    _ => Ok(()),
                };
            }
            Some(Ok(_)) => continue,
        };
        let msg: RelayToClinician =
            bedside_protocol::decode(&bytes).map_err(|_| HostError::Protocol)?;
        match msg {
            RelayToClinician::Challenge { nonce } => {
                let nonce = B64
                    .decode(nonce.as_bytes())
                    .map_err(|_| HostError::Protocol)?;
                let sig = cfg.key.sign(&bedside_protocol::auth_message(&nonce));
                let signature = B64.encode(sig.as_ref());
                ws.send(send(ClinicianToRelay::Auth { signature }))
                    .await
                    .map_err(closed)?;
            }
            RelayToClinician::Ready { clinic_name } => {
                on_event(HostEvent::Ready { clinic_name });
                let visit = visit_hex.clone();
                ws.send(send(ClinicianToRelay::Watch { visit }))
                    .await
                    .map_err(closed)?;
            }
            RelayToClinician::Knock {
                visit,
                device,
                sealed,
                extra_device,
                waiting_since,
            } if visit == visit_hex => {
                let opened = B64
                    .decode(sealed.as_bytes())
                    .ok()
                    .and_then(|b| auth::open_knock(&cfg.secret, &cfg.visit, &b).ok())
                    .and_then(|plain| serde_json::from_slice::<KnockBody>(&plain).ok());
                let Some(body) = opened else {
                    // Not sealed with this invite's secret: not our patient.
                    tracing::info!(visit = &visit_hex[..8], "unreadable knock refused");
                    on_event(HostEvent::UnreadableKnock {
                        device: device.clone(),
                    });
                    // Sealed with this invite's secret: a page holding another
                    // secret shows only that a message could not be read.
                    let sealed = seal_for_patient(
                        &cfg.secret,
                        &cfg.visit,
                        &device,
                        bedside_visit::sealed::TextKind::Deny,
                        "This request could not be verified. Please use the link your clinic sent.",
                    )?;
                    ws.send(send(ClinicianToRelay::Deny {
                        visit,
                        device,
                        sealed,
                    }))
                    .await
                    .map_err(closed)?;
                    continue;
                };
                on_event(HostEvent::Knock {
                    device: device.clone(),
                    name: body.name,
                    dob: body.dob,
                    extra_device,
                    waiting_since,
                });
                if cfg.auto_admit && !admitted_one && !extra_device {
                    admitted_one = true;
                    on_event(HostEvent::Admitting {
                        device: device.clone(),
                    });
                    ws.send(send(ClinicianToRelay::Admit { visit, device }))
                        .await
                        .map_err(closed)?;
                }
            }
            RelayToClinician::DeviceState {
                visit,
                device,
                state,
            } if visit == visit_hex => {
                if let Some(c) = calls.as_mut() {
                    c.device_state(&device, state.as_str()).await;
                }
                on_event(HostEvent::DeviceState {
                    device,
                    state: state.as_str().to_owned(),
                });
            }
            RelayToClinician::Offer {
                visit,
                device,
                sdp,
                tag,
                turn,
            } if visit == visit_hex => {
                if let Some(c) = calls.as_mut() {
                    let out = c.offer(device, &sdp, &tag, turn).await;
                    out.events.into_iter().for_each(&mut on_event);
                    for m in out.send {
                        ws.send(send(m)).await.map_err(closed)?;
                    }
                }
            }
            RelayToClinician::Ice {
                visit,
                device,
                candidate,
            } if visit == visit_hex => {
                if let Some(c) = calls.as_mut() {
                    c.remote_candidate(&device, &candidate).await;
                }
            }
            RelayToClinician::CallRefused {
                visit,
                device,
                reason,
            } if visit == visit_hex => {
                tracing::warn!(
                    reason = reason.as_str(),
                    "the patient page refused the call"
                );
                if let Some(c) = calls.as_mut() {
                    c.hang_up(&device).await;
                }
                on_event(HostEvent::CallRefusedByPatient {
                    device,
                    reason: reason.as_str().to_owned(),
                    message: patient_refusal_message(reason),
                });
            }
            RelayToClinician::Error { code, message } => {
                let code = code.as_str().to_owned();
                if code == "unauthorized" {
                    return Err(HostError::Unauthorized(message));
                }
                on_event(HostEvent::RelayError { code, message });
            }
            _ => {}
        }
    }
}

/// The relay message for a caller's command; deny reasons and messages are
/// sealed for the patient with the invite secret.
fn command_message(
    cfg: &HostConfig,
    visit_hex: &str,
    c: HostCommand,
    on_event: &mut impl FnMut(HostEvent),
) -> Result<ClinicianToRelay, HostError> {
    use bedside_visit::sealed::TextKind;
    let visit = visit_hex.to_owned();
    Ok(match c {
        HostCommand::Admit { device } => {
            on_event(HostEvent::Admitting {
                device: device.clone(),
            });
            ClinicianToRelay::Admit { visit, device }
        }
        HostCommand::Deny { device, reason } => {
            let sealed =
                seal_for_patient(&cfg.secret, &cfg.visit, &device, TextKind::Deny, &reason)?;
            ClinicianToRelay::Deny {
                visit,
                device,
                sealed,
            }
        }
        HostCommand::Message { device, text } => {
            let sealed =
                seal_for_patient(&cfg.secret, &cfg.visit, &device, TextKind::Message, &text)?;
            ClinicianToRelay::Message {
                visit,
                device,
                sealed,
            }
        }
        HostCommand::SendBack { device } => ClinicianToRelay::SendBack { visit, device },
        HostCommand::End { device } => ClinicianToRelay::End { visit, device },
        // Handled by the loop (the data channel); never reaches the relay.
        HostCommand::Chat { .. } => return Err(HostError::Protocol),
    })
}

#[derive(serde::Deserialize)]
struct KnockBody {
    name: String,
    #[serde(default)]
    dob: Option<String>,
}

/// What the caller of [`run_with_control`] asks the host to do for a device
/// of the watched visit (the desktop app's waiting-room buttons).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostCommand {
    /// Let the device in.
    Admit {
        /// Device id.
        device: String,
    },
    /// Turn it away; `reason` is shown to the patient.
    Deny {
        /// Device id.
        device: String,
        /// Shown to the patient.
        reason: String,
    },
    /// A short message shown in the patient's waiting room ("5 more minutes").
    Message {
        /// Device id.
        device: String,
        /// Plain text.
        text: String,
    },
    /// Move an admitted device back to the waiting room (its call ends; it may be
    /// admitted again).
    SendBack {
        /// Device id.
        device: String,
    },
    /// End the device's call: the relay tells the patient page the visit is over.
    End {
        /// Device id.
        device: String,
    },
    /// A chat message to the device, on its call's data channel (not the relay).
    /// Answered by [`HostEvent::ChatSent`] or [`HostEvent::ChatRefused`].
    Chat {
        /// Device id.
        device: String,
        /// The text (PHI; at most 2,000 characters).
        text: String,
    },
}
