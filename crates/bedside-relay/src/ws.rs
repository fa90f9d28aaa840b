//! The two WebSocket endpoints. Each connection is one task: it reads
//! frames (decoded by [`bedside_protocol::decode`], capped at
//! [`MAX_MESSAGE`]), applies them to the hub under its lock, and writes
//! whatever the hub queued for it. Anything oversized, malformed or unknown
//! gets an `error` frame and a close; nothing from the network can panic it.
//!
//! Patient: `hello{v, token, device_id, public_key}` within the handshake
//! timeout → `challenge{nonce}` → `prove{signature}` (see
//! [`bedside_visit::device`]) → `welcome` → `knock` … Clinician: `hello{v, public_key}` → `challenge{nonce}`
//! → `auth{signature}` over `"bedside relay auth v1" ‖ nonce` → `ready`.

use std::collections::VecDeque;
use std::time::Duration;

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bedside_protocol::{
    ClinicianToRelay, ErrorCode, MAX_MESSAGE, Message, PROTOCOL_VERSION, PatientToRelay,
    ProtocolError, RelayToClinician, RelayToPatient, decode, encode,
};
use bedside_visit::device;
use bedside_visit::lobby::{Input, LobbyError};
use data_encoding::BASE64URL_NOPAD;
use ring::signature::{ED25519, UnparsedPublicKey};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

use crate::hub::{Command, Out, Signal, VisitKey};
use crate::revocations::parse_visit;
use crate::{AppState, ConnectionSlot, Refused, short_visit};

/// Queue depth of a patient connection before it is a slow reader.
const PATIENT_QUEUE: usize = 256;
/// Queue depth of a clinician connection: it carries every visit of its clinic.
const CLINICIAN_QUEUE: usize = 1024;
/// A frame that cannot be written in this long means a reader that stopped:
/// the connection is dropped (a stuck socket never holds a task forever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from a socket at a time (see [`upgrade`]).
const READ_BUFFER: usize = 4 * 1024;
/// Largest sealed knock, in base64url characters.
const MAX_SEALED: usize = 16 * 1024;
/// Largest sealed clinician text (reason, message) in base64url
/// characters: 12 KiB sealed, room for 2,000 characters of any script.
const MAX_SEALED_TEXT: usize = 16 * 1024;

const CLOSE_NORMAL: u16 = 1000;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
const CLOSE_AGAIN_LATER: u16 = 1013;
/// Close code (private-use range) for a connection that did not read what
/// it was sent fast enough: its queue filled. Clients may reconnect.
pub const CLOSE_SLOW_READER: u16 = 4000;

/// The peer address, when served over a socket (absent under `oneshot`).
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

fn upgrade<F, Fut>(
    state: &AppState,
    ws: WebSocketUpgrade,
    peer: Peer,
    clinician: bool,
    f: F,
) -> Response
where
    F: FnOnce(AppState, WebSocket, ConnectionSlot) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    let slot = match state.try_connection(clinician, peer) {
        Ok(slot) => slot,
        Err(Refused::Busy) => return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        Err(Refused::RateLimited) => {
            return (StatusCode::TOO_MANY_REQUESTS, "too many connections").into_response();
        }
    };
    let state = state.clone();
    // Frames up to twice the protocol limit are read so that an oversized
    // message can be answered with a proper `error`; beyond that the
    // WebSocket layer refuses the frame and the connection just closes.
    //
    // tungstenite's default 128 KiB read buffer is allocated per socket:
    // with thousands of idle waiting patients it is most of the relay's
    // memory (`cargo xtask bench relay`). Messages are small; 4 KiB reads
    // are plenty.
    ws.max_message_size(2 * MAX_MESSAGE)
        .max_frame_size(2 * MAX_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| f(state, socket, slot))
}

/// `GET /ws/patient`.
pub(crate) async fn patient(
    State(state): State<AppState>,
    peer: Peer,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(&state, ws, peer, false, |state, socket, slot| async move {
        patient_session(state, socket).await;
        drop(slot);
    })
}

/// `GET /ws/clinician`.
pub(crate) async fn clinician(
    State(state): State<AppState>,
    peer: Peer,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(&state, ws, peer, true, |state, socket, slot| async move {
        clinician_session(state, socket).await;
        drop(slot);
    })
}

enum Incoming<T> {
    Msg(T),
    Bad(ProtocolError),
    Closed,
}

async fn next<T: Message>(socket: &mut WebSocket) -> Incoming<T> {
    loop {
        match socket.recv().await {
            None | Some(Ok(WsMessage::Close(_))) => return Incoming::Closed,
            // A read error is a broken connection, a frame beyond the
            // WebSocket limit or invalid UTF-8 in a text frame; either way
            // the connection is done.
            Some(Err(_)) => return Incoming::Bad(ProtocolError::Malformed),
            Some(Ok(WsMessage::Text(t))) => {
                return match decode(t.as_bytes()) {
                    Ok(m) => Incoming::Msg(m),
                    Err(e) => Incoming::Bad(e),
                };
            }
            Some(Ok(WsMessage::Binary(b))) => {
                return match decode(&b) {
                    Ok(m) => Incoming::Msg(m),
                    Err(e) => Incoming::Bad(e),
                };
            }
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
        }
    }
}

async fn send<T: Message>(socket: &mut WebSocket, m: &T) -> bool {
    matches!(
        timeout(
            WRITE_TIMEOUT,
            socket.send(WsMessage::Text(encode(m).into()))
        )
        .await,
        Ok(Ok(()))
    )
}

async fn close(socket: &mut WebSocket, code: u16) {
    let reason = if code == CLOSE_SLOW_READER {
        "not reading fast enough"
    } else {
        ""
    };
    let frame = WsMessage::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = timeout(WRITE_TIMEOUT, socket.send(frame)).await;
}

/// Why a connection's queue was closed by the hub: replaced by a newer
/// connection of the same device (or revoked), or dropped as a slow reader.
fn dropped_code(slow: &crate::hub::SlowFlag) -> u16 {
    if slow.load(std::sync::atomic::Ordering::Relaxed) {
        CLOSE_SLOW_READER
    } else {
        CLOSE_POLICY
    }
}

/// A patient's message budget after the handshake: a token bucket that
/// refills at `rate` a second up to `burst`. Each message costs 1, plus 1
/// per 4 KiB, so big offers count for more than ICE candidates.
struct Budget {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl Budget {
    fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            tokens: burst,
            rate: f64::from(rate),
            burst,
            last: Instant::now(),
        }
    }

    fn take(&mut self, cost: f64) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens < cost {
            return false;
        }
        self.tokens -= cost;
        true
    }
}

/// What a patient message costs against its [`Budget`].
fn cost(m: &PatientToRelay) -> f64 {
    let bytes = match m {
        PatientToRelay::Offer { sdp, tag } => sdp.len() + tag.len(),
        PatientToRelay::Ice { candidate } => candidate.len(),
        PatientToRelay::Knock { sealed } => sealed.len(),
        _ => 0,
    };
    1.0 + (bytes / 4096) as f64
}

/// Sends a final message and closes.
async fn finish<T: Message>(socket: &mut WebSocket, m: &T, code: u16) {
    send(socket, m).await;
    close(socket, code).await;
}

fn close_code(e: &ProtocolError) -> u16 {
    match e {
        ProtocolError::TooLarge(_) => CLOSE_TOO_BIG,
        _ => CLOSE_POLICY,
    }
}

fn patient_error(code: ErrorCode, message: impl Into<String>) -> RelayToPatient {
    RelayToPatient::Error {
        code,
        message: message.into(),
    }
}

fn clinician_error(code: ErrorCode, message: impl Into<String>) -> RelayToClinician {
    RelayToClinician::Error {
        code,
        message: message.into(),
    }
}

fn valid_device(d: &str) -> bool {
    d.len() == device::DEVICE_ID_LEN
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `challenge` → `prove`: the device signs a fresh nonce bound to this
/// visit with the key whose hash is its id. A fresh nonce per connection
/// makes an old signature worthless; the id being the key's hash means
/// another key cannot claim a known device. False when refused (the socket
/// is then closed).
async fn prove_device(
    state: &AppState,
    socket: &mut WebSocket,
    visit: &[u8; 16],
    device_id: &str,
    public_key: &[u8],
) -> bool {
    let handshake = Duration::from_secs(state.limits().handshake_timeout_secs);
    let mut nonce = [0u8; 32];
    if !state.random(&mut nonce) {
        let m = patient_error(ErrorCode::Busy, "Please try again in a moment.");
        finish(socket, &m, CLOSE_AGAIN_LATER).await;
        return false;
    }
    let challenge = RelayToPatient::Challenge {
        nonce: BASE64URL_NOPAD.encode(&nonce),
    };
    if !send(socket, &challenge).await {
        return false;
    }
    let signature = match timeout(handshake, next::<PatientToRelay>(socket)).await {
        Ok(Incoming::Msg(PatientToRelay::Prove { signature })) => signature,
        Ok(Incoming::Closed) => return false,
        Ok(Incoming::Bad(e)) => {
            state.metrics().protocol_error();
            let m = patient_error(e.code(), e.to_string());
            finish(socket, &m, close_code(&e)).await;
            return false;
        }
        Ok(Incoming::Msg(_)) | Err(_) => {
            state.metrics().protocol_error();
            let m = patient_error(
                ErrorCode::Unauthorized,
                "This device could not be verified.",
            );
            finish(socket, &m, CLOSE_POLICY).await;
            return false;
        }
    };
    let proved = BASE64URL_NOPAD
        .decode(signature.as_bytes())
        .ok()
        .is_some_and(|sig| {
            device::verify_proof(public_key, device_id, visit, &nonce, &sig).is_ok()
        });
    if !proved {
        state.metrics().protocol_error();
        tracing::warn!(visit = %short_visit(visit), "patient refused: device proof failed");
        let m = patient_error(
            ErrorCode::Unauthorized,
            "This device could not be verified.",
        );
        finish(socket, &m, CLOSE_POLICY).await;
    }
    proved
}

fn valid_b64url(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// At most `limit` events per minute.
struct RateWindow {
    limit: usize,
    seen: VecDeque<Instant>,
}

impl RateWindow {
    fn new(limit: u32) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX).max(1),
            seen: VecDeque::new(),
        }
    }

    fn allow(&mut self) -> bool {
        let now = Instant::now();
        while self
            .seen
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            self.seen.pop_front();
        }
        if self.seen.len() >= self.limit {
            return false;
        }
        self.seen.push_back(now);
        true
    }
}

async fn patient_session(state: AppState, mut socket: WebSocket) {
    let limits = state.limits().clone();
    let handshake = Duration::from_secs(limits.handshake_timeout_secs);
    let idle = Duration::from_secs(limits.idle_timeout_secs);
    let first = match timeout(handshake, next::<PatientToRelay>(&mut socket)).await {
        Ok(m) => m,
        Err(_) => {
            let m = patient_error(ErrorCode::IdleTimeout, "The connection timed out.");
            return finish(&mut socket, &m, CLOSE_POLICY).await;
        }
    };
    let (token, device, public_key) = match first {
        Incoming::Msg(PatientToRelay::Hello {
            v,
            token,
            device_id,
            public_key,
        }) => {
            if v != PROTOCOL_VERSION {
                let m = patient_error(
                    ErrorCode::UnsupportedVersion,
                    "Please reload the page to get the current version.",
                );
                return finish(&mut socket, &m, CLOSE_POLICY).await;
            }
            (token, device_id, public_key)
        }
        Incoming::Msg(_) => {
            state.metrics().protocol_error();
            let m = patient_error(ErrorCode::HelloRequired, "Say hello first.");
            return finish(&mut socket, &m, CLOSE_POLICY).await;
        }
        Incoming::Bad(e) => {
            state.metrics().protocol_error();
            let m = patient_error(e.code(), e.to_string());
            return finish(&mut socket, &m, close_code(&e)).await;
        }
        Incoming::Closed => return,
    };
    let public_key = BASE64URL_NOPAD
        .decode(public_key.as_bytes())
        .ok()
        .filter(|k| k.len() == device::PUBLIC_KEY_LEN);
    let Some(public_key) = public_key.filter(|_| valid_device(&device)) else {
        state.metrics().protocol_error();
        let m = patient_error(ErrorCode::Malformed, "The device id is not valid.");
        return finish(&mut socket, &m, CLOSE_POLICY).await;
    };
    let (claims, clinic) = match state.check_token(&token) {
        Ok(c) => c,
        Err(r) => {
            let m = patient_error(ErrorCode::InvalidInvite, crate::http::refusal_message(r));
            return finish(&mut socket, &m, CLOSE_POLICY).await;
        }
    };
    if !prove_device(&state, &mut socket, &claims.visit.0, &device, &public_key).await {
        return;
    }
    let key: VisitKey = (clinic, claims.visit.0);
    let (tx, mut rx) = mpsc::channel(PATIENT_QUEUE);
    let slow = crate::hub::SlowFlag::default();
    let joined = state.hub().map(|mut hub| {
        let conn = hub.next_conn();
        hub.join_patient(&state, key, &claims, &device, conn, (tx, slow.clone()))
            .map(|()| conn)
    });
    let conn = match joined {
        Some(Ok(conn)) => conn,
        _ => {
            state.metrics().rate_limited();
            let m = patient_error(
                ErrorCode::Busy,
                "The waiting room is busy. Please try again in a few minutes.",
            );
            return finish(&mut socket, &m, CLOSE_AGAIN_LATER).await;
        }
    };
    let clinic_name = state.clinic(clinic).map(|c| c.name).unwrap_or_default();
    let welcome = RelayToPatient::Welcome {
        clinic_name,
        not_before: u64::from(claims.not_before),
        expires: claims.expires(),
    };
    tracing::info!(visit = %short_visit(&key.1), "patient connected");
    if send(&mut socket, &welcome).await {
        let mut knocks = RateWindow::new(limits.knocks_per_minute);
        let mut budget = Budget::new(
            limits.patient_messages_per_second,
            limits.patient_message_burst,
        );
        let mut closing = state.closing();
        loop {
            tokio::select! {
                _ = closing.changed() => {
                    close(&mut socket, CLOSE_GOING_AWAY).await;
                    break;
                }
                out = rx.recv() => match out {
                    Some(Out::Send(m)) => {
                        if !send(&mut socket, &m).await {
                            break;
                        }
                    }
                    Some(Out::Close(m)) => {
                        finish(&mut socket, &m, CLOSE_NORMAL).await;
                        break;
                    }
                    // Replaced by a newer connection of this device, or
                    // dropped for not reading.
                    None => {
                        close(&mut socket, dropped_code(&slow)).await;
                        break;
                    }
                },
                r = timeout(idle, next::<PatientToRelay>(&mut socket)) => match r {
                    Err(_) => {
                        let m = patient_error(ErrorCode::IdleTimeout, "The connection timed out.");
                        finish(&mut socket, &m, CLOSE_POLICY).await;
                        break;
                    }
                    Ok(Incoming::Closed) => break,
                    Ok(Incoming::Bad(e)) => {
                        state.metrics().protocol_error();
                        let m = patient_error(e.code(), e.to_string());
                        finish(&mut socket, &m, close_code(&e)).await;
                        break;
                    }
                    Ok(Incoming::Msg(m)) => {
                        if !budget.take(cost(&m)) {
                            // Over budget: closed, so that no patient can
                            // fill the queues of the clinicians it reaches.
                            state.metrics().rate_limited();
                            tracing::warn!(visit = %short_visit(&key.1), "patient closed: too many messages");
                            let m = patient_error(
                                ErrorCode::RateLimited,
                                "Too many messages. Please reload the page.",
                            );
                            finish(&mut socket, &m, CLOSE_POLICY).await;
                            break;
                        }
                        match on_patient(&state, key, &device, m, &mut knocks) {
                            PatientAction::None => {}
                            PatientAction::Reply(m) => {
                                if !send(&mut socket, &m).await {
                                    break;
                                }
                            }
                            PatientAction::Leave => {
                                close(&mut socket, CLOSE_NORMAL).await;
                                break;
                            }
                        }
                    }
                },
            }
        }
    }
    let now = state.now();
    if let Some(mut hub) = state.hub() {
        hub.patient_gone(key, &device, conn, now);
    }
    tracing::info!(visit = %short_visit(&key.1), "patient disconnected");
}

enum PatientAction {
    None,
    Reply(RelayToPatient),
    Leave,
}

fn on_patient(
    state: &AppState,
    key: VisitKey,
    device: &str,
    m: PatientToRelay,
    knocks: &mut RateWindow,
) -> PatientAction {
    let now = state.now();
    let Some(mut hub) = state.hub() else {
        return PatientAction::Reply(patient_error(ErrorCode::Busy, "Please try again."));
    };
    let not_admitted = || {
        PatientAction::Reply(patient_error(
            ErrorCode::BadState,
            "You have not been let in yet.",
        ))
    };
    match m {
        PatientToRelay::Knock { sealed } => {
            if !valid_b64url(&sealed, MAX_SEALED) {
                state.metrics().protocol_error();
                return PatientAction::Reply(patient_error(
                    ErrorCode::Malformed,
                    "The waiting-room request was not valid.",
                ));
            }
            if !knocks.allow() || !hub.allow_knock(key, state.limits().knocks_per_visit_per_minute)
            {
                state.metrics().rate_limited();
                return PatientAction::Reply(patient_error(
                    ErrorCode::RateLimited,
                    "Please wait a moment before trying again.",
                ));
            }
            state.metrics().knock();
            tracing::info!(visit = %short_visit(&key.1), "knock");
            hub.patient_input(
                key,
                now,
                Input::Knock {
                    device: device.to_owned(),
                    sealed: sealed.into_bytes(),
                },
            );
            PatientAction::None
        }
        PatientToRelay::Offer { sdp, tag } => {
            match hub.patient_signal(key, device, now, Signal::Offer { sdp, tag }) {
                Ok(()) => PatientAction::None,
                Err(_) => not_admitted(),
            }
        }
        PatientToRelay::Ice { candidate } => {
            match hub.patient_signal(key, device, now, Signal::Ice(candidate)) {
                Ok(()) => PatientAction::None,
                Err(_) => not_admitted(),
            }
        }
        PatientToRelay::CallRefused { reason } => {
            match hub.patient_signal(key, device, now, Signal::Refused(reason)) {
                Ok(()) => {
                    tracing::warn!(
                        visit = %short_visit(&key.1),
                        reason = reason.as_str(),
                        "the patient page refused the call"
                    );
                    PatientAction::None
                }
                Err(_) => not_admitted(),
            }
        }
        PatientToRelay::Leave => {
            hub.patient_input(key, now, Input::Left(device.to_owned()));
            PatientAction::Leave
        }
        PatientToRelay::Ping => PatientAction::Reply(RelayToPatient::Pong),
        PatientToRelay::Hello { .. } | PatientToRelay::Prove { .. } => {
            PatientAction::Reply(patient_error(ErrorCode::BadState, "Already connected."))
        }
        // A message type added to the protocol but not yet handled here.
        _ => PatientAction::Reply(patient_error(ErrorCode::UnknownType, "Not supported.")),
    }
}

/// Runs hello → challenge → auth; returns the clinic index.
async fn clinician_handshake(state: &AppState, socket: &mut WebSocket) -> Option<usize> {
    let handshake = Duration::from_secs(state.limits().handshake_timeout_secs);
    let refuse = |code, msg: &str| clinician_error(code, msg);
    let public_key = match timeout(handshake, next::<ClinicianToRelay>(socket)).await {
        Err(_) => {
            finish(
                socket,
                &refuse(ErrorCode::IdleTimeout, "timed out"),
                CLOSE_POLICY,
            )
            .await;
            return None;
        }
        Ok(Incoming::Closed) => return None,
        Ok(Incoming::Bad(e)) => {
            state.metrics().protocol_error();
            finish(socket, &refuse(e.code(), &e.to_string()), close_code(&e)).await;
            return None;
        }
        Ok(Incoming::Msg(ClinicianToRelay::Hello { v, public_key })) => {
            if v != PROTOCOL_VERSION {
                let m = refuse(
                    ErrorCode::UnsupportedVersion,
                    "unsupported protocol version",
                );
                finish(socket, &m, CLOSE_POLICY).await;
                return None;
            }
            public_key
        }
        Ok(Incoming::Msg(_)) => {
            finish(
                socket,
                &refuse(ErrorCode::HelloRequired, "hello first"),
                CLOSE_POLICY,
            )
            .await;
            return None;
        }
    };
    let unauthorized = refuse(
        ErrorCode::Unauthorized,
        "this key is not trusted by the relay",
    );
    let key = BASE64URL_NOPAD.decode(public_key.as_bytes()).ok();
    let Some((clinic, key)) = key.and_then(|k| state.clinic_by_key(&k).map(|c| (c, k))) else {
        tracing::warn!("clinician refused: untrusted key");
        finish(socket, &unauthorized, CLOSE_POLICY).await;
        return None;
    };
    let mut nonce = [0u8; 32];
    if !state.random(&mut nonce) {
        finish(
            socket,
            &refuse(ErrorCode::Busy, "try again"),
            CLOSE_AGAIN_LATER,
        )
        .await;
        return None;
    }
    let challenge = RelayToClinician::Challenge {
        nonce: BASE64URL_NOPAD.encode(&nonce),
    };
    if !send(socket, &challenge).await {
        return None;
    }
    let signature = match timeout(handshake, next::<ClinicianToRelay>(socket)).await {
        Ok(Incoming::Msg(ClinicianToRelay::Auth { signature })) => signature,
        Ok(Incoming::Closed) => return None,
        Ok(Incoming::Bad(e)) => {
            state.metrics().protocol_error();
            finish(socket, &refuse(e.code(), &e.to_string()), close_code(&e)).await;
            return None;
        }
        Ok(Incoming::Msg(_)) | Err(_) => {
            finish(socket, &unauthorized, CLOSE_POLICY).await;
            return None;
        }
    };
    let ok = BASE64URL_NOPAD
        .decode(signature.as_bytes())
        .ok()
        .is_some_and(|sig| {
            UnparsedPublicKey::new(&ED25519, &key)
                .verify(&bedside_protocol::auth_message(&nonce), &sig)
                .is_ok()
        });
    if !ok {
        tracing::warn!("clinician refused: bad signature");
        let m = refuse(ErrorCode::Unauthorized, "the signature does not verify");
        finish(socket, &m, CLOSE_POLICY).await;
        return None;
    }
    Some(clinic)
}

async fn clinician_session(state: AppState, mut socket: WebSocket) {
    let Some(clinic) = clinician_handshake(&state, &mut socket).await else {
        return;
    };
    let clinic_name = state.clinic(clinic).map(|c| c.name).unwrap_or_default();
    let (tx, mut rx) = mpsc::channel(CLINICIAN_QUEUE);
    let slow = crate::hub::SlowFlag::default();
    let Some(conn) = state.hub().map(|mut hub| {
        let conn = hub.next_conn();
        hub.add_clinician(conn, clinic, (tx, slow.clone()));
        conn
    }) else {
        return;
    };
    tracing::info!(clinic, "clinician connected");
    let idle = Duration::from_secs(state.limits().idle_timeout_secs);
    if send(&mut socket, &RelayToClinician::Ready { clinic_name }).await {
        let mut closing = state.closing();
        loop {
            tokio::select! {
                _ = closing.changed() => {
                    close(&mut socket, CLOSE_GOING_AWAY).await;
                    break;
                }
                out = rx.recv() => match out {
                    Some(Out::Send(m)) => {
                        if !send(&mut socket, &m).await {
                            break;
                        }
                    }
                    Some(Out::Close(m)) => {
                        finish(&mut socket, &m, CLOSE_NORMAL).await;
                        break;
                    }
                    None => {
                        close(&mut socket, dropped_code(&slow)).await;
                        break;
                    }
                },
                r = timeout(idle, next::<ClinicianToRelay>(&mut socket)) => match r {
                    Err(_) => {
                        let m = clinician_error(ErrorCode::IdleTimeout, "no message for too long");
                        finish(&mut socket, &m, CLOSE_POLICY).await;
                        break;
                    }
                    Ok(Incoming::Closed) => break,
                    Ok(Incoming::Bad(e)) => {
                        state.metrics().protocol_error();
                        let m = clinician_error(e.code(), e.to_string());
                        finish(&mut socket, &m, close_code(&e)).await;
                        break;
                    }
                    Ok(Incoming::Msg(m)) => {
                        let mut failed = false;
                        for reply in on_clinician(&state, clinic, m) {
                            if !send(&mut socket, &reply).await {
                                failed = true;
                                break;
                            }
                        }
                        if failed {
                            break;
                        }
                    }
                },
            }
        }
    }
    if let Some(mut hub) = state.hub() {
        hub.remove_clinician(conn);
    }
    tracing::info!(clinic, "clinician disconnected");
}

fn lobby_error(e: LobbyError) -> RelayToClinician {
    match e {
        LobbyError::UnknownDevice => {
            clinician_error(ErrorCode::NotFound, "no such visit or device")
        }
        other => clinician_error(ErrorCode::BadState, other.to_string()),
    }
}

fn on_clinician(state: &AppState, clinic: usize, m: ClinicianToRelay) -> Vec<RelayToClinician> {
    let now = state.now();
    let bad_visit = || {
        vec![clinician_error(
            ErrorCode::Malformed,
            "visit must be 32 hex digits",
        )]
    };
    let bad_text = || {
        vec![clinician_error(
            ErrorCode::Malformed,
            "sealed text missing, not base64url or too long",
        )]
    };
    let (visit, device, cmd) = match m {
        ClinicianToRelay::Ping => return vec![RelayToClinician::Pong],
        ClinicianToRelay::Hello { .. } | ClinicianToRelay::Auth { .. } => {
            return vec![clinician_error(
                ErrorCode::BadState,
                "already authenticated",
            )];
        }
        ClinicianToRelay::Watch { visit } => {
            let Some(v) = parse_visit(&visit) else {
                return bad_visit();
            };
            return state
                .hub()
                .map(|hub| hub.watch((clinic, v)))
                .unwrap_or_default();
        }
        ClinicianToRelay::Admit { visit, device } => (
            visit,
            Some(device.clone()),
            Command::Lobby(Input::Admit(device)),
        ),
        ClinicianToRelay::Deny {
            visit,
            device,
            sealed,
        } => {
            if !valid_b64url(&sealed, MAX_SEALED_TEXT) {
                return bad_text();
            }
            (
                visit,
                Some(device.clone()),
                Command::Lobby(Input::Deny(device, sealed)),
            )
        }
        ClinicianToRelay::Message {
            visit,
            device,
            sealed,
        } => {
            if !valid_b64url(&sealed, MAX_SEALED_TEXT) {
                return bad_text();
            }
            (
                visit,
                Some(device.clone()),
                Command::Lobby(Input::Message(device, sealed)),
            )
        }
        ClinicianToRelay::SendBack { visit, device } => (
            visit,
            Some(device.clone()),
            Command::Lobby(Input::SendBack(device)),
        ),
        ClinicianToRelay::End { visit, device } => (
            visit,
            Some(device.clone()),
            Command::Lobby(Input::CallEnded(device)),
        ),
        ClinicianToRelay::Lock { visit } => (visit, None, Command::Lobby(Input::Lock)),
        ClinicianToRelay::Unlock { visit } => (visit, None, Command::Lobby(Input::Unlock)),
        ClinicianToRelay::Answer {
            visit,
            device,
            sdp,
            tag,
        } => (visit, Some(device), Command::Answer { sdp, tag }),
        ClinicianToRelay::Ice {
            visit,
            device,
            candidate,
        } => (visit, Some(device), Command::Ice(candidate)),
        // A message type added to the protocol but not yet handled here.
        _ => return vec![clinician_error(ErrorCode::UnknownType, "not supported")],
    };
    let Some(v) = parse_visit(&visit) else {
        return bad_visit();
    };
    let Some(mut hub) = state.hub() else {
        return vec![clinician_error(ErrorCode::Busy, "try again")];
    };
    match hub.command((clinic, v), device.as_deref(), now, cmd) {
        Ok(()) => {
            tracing::info!(visit = %short_visit(&v), "clinician command");
            Vec::new()
        }
        Err(e) => vec![lobby_error(e)],
    }
}
