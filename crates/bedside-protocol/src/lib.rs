//! The wire protocol between the clinician app, the relay and the patient
//! page: versioned JSON messages (`{"type": "...", ...}`), one enum per
//! direction, a size-capped decoder that never panics, and the TypeScript
//! types for the patient page and the UI, generated from the same
//! declarations (see [`typescript`] and `generated/protocol.ts`).
//!
//! Flow, patient side: `hello` (with the device's public key) →
//! `challenge` → `prove` (ECDSA P-256 over
//! `bedside_visit::device::proof_message`) → `welcome` → `knock` → `waiting` … →
//! `admitted` → `offer`/`answer`/`ice`. Clinician side: `hello` →
//! `challenge` → `auth` (Ed25519 over [`auth_message`]) → `ready`, then
//! `knock`s arrive and `admit`/`deny`/`message`/`send_back`/`end`/`lock`
//! act on them.
//!
//! **Invariant:** nothing here carries PHI in clear: the knock is sealed in
//! the browser for the clinician alone, clinician messages and deny
//! reasons are sealed by the clinician app for the patient's device, and
//! the relay forwards both untouched.

pub mod ts;

use serde::de::DeserializeOwned;

/// The protocol version carried by every `hello`.
/// Version 2: patient devices prove a key (`hello` carries it, `challenge`
/// → `prove`); clinician messages and deny reasons travel sealed.
/// Version 3: the relay hands the clinician TURN credentials with each
/// forwarded offer, so clinician apps never hold the TURN secret; a patient
/// page that refuses the clinician's answer says so (`call_refused`), and
/// the relay forwards it to the clinicians.
pub const PROTOCOL_VERSION: u32 = 3;

/// The largest message anyone accepts, in bytes.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// The domain label of the clinician's challenge signature.
pub const AUTH_DOMAIN: &[u8] = b"bedside relay auth v1";

/// The domain label of a revocation signature.
pub const REVOKE_DOMAIN: &[u8] = b"bedside revoke v1";

/// What the clinician signs to answer a `challenge`: the domain label
/// followed by the raw nonce bytes (the nonce travels base64url-encoded).
pub fn auth_message(nonce: &[u8]) -> Vec<u8> {
    [AUTH_DOMAIN, nonce].concat()
}

/// What a clinic key signs to revoke an invite: the domain label, the
/// 16-byte visit id and the token id as a 32-bit big-endian integer.
pub fn revoke_message(visit: &[u8; 16], token_id: u32) -> Vec<u8> {
    [REVOKE_DOMAIN, visit, &token_id.to_be_bytes()].concat()
}

/// Why a message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// More than [`MAX_MESSAGE`] bytes.
    #[error("message too large ({0} bytes, at most {MAX_MESSAGE})")]
    TooLarge(usize),
    /// Not JSON, no `type`, or fields missing or of the wrong kind.
    #[error("malformed message")]
    Malformed,
    /// A `type` this side does not know.
    #[error("unknown message type")]
    UnknownType,
}

impl ProtocolError {
    /// The error code to send back in an `error` frame.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge(_) => ErrorCode::TooLarge,
            Self::Malformed => ErrorCode::Malformed,
            Self::UnknownType => ErrorCode::UnknownType,
        }
    }
}

/// Implemented by every message enum (through the `messages!` macro).
pub trait Message: Sized + serde::Serialize + DeserializeOwned {
    /// The `type` values of this enum, in declaration order.
    fn type_names() -> &'static [String];
    /// The Rust name of this value's variant (for logs).
    fn type_name(&self) -> &'static str;
    /// The TypeScript union.
    fn typescript() -> String;
    /// One value of each variant with default fields (for tests).
    fn samples() -> Vec<Self>;
}

/// Decodes one message: refuses more than [`MAX_MESSAGE`] bytes before
/// parsing, then malformed JSON and unknown types. Never panics.
pub fn decode<T: Message>(bytes: &[u8]) -> Result<T, ProtocolError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(ProtocolError::TooLarge(bytes.len()));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| ProtocolError::Malformed)?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or(ProtocolError::Malformed)?;
    if !T::type_names().iter().any(|n| n == kind) {
        return Err(ProtocolError::UnknownType);
    }
    serde_json::from_value(value).map_err(|_| ProtocolError::Malformed)
}

/// Encodes one message as JSON text.
pub fn encode<T: Message>(message: &T) -> String {
    // Serialising these plain enums cannot fail: all keys are strings and
    // no field has a fallible Serialize impl.
    serde_json::to_string(message).unwrap_or_else(|_| String::from("{\"type\":\"error\"}"))
}

names! {
    /// Machine-readable error codes in `error` frames.
    pub enum ErrorCode {
        /// The message exceeded the size limit.
        TooLarge = "too_large",
        /// The message was not valid.
        Malformed = "malformed",
        /// The message type is unknown.
        UnknownType = "unknown_type",
        /// The `hello` carried a protocol version this relay does not speak.
        UnsupportedVersion = "unsupported_version",
        /// The first message must be `hello` (and for clinicians, then `auth`).
        HelloRequired = "hello_required",
        /// The clinician key is not trusted or the signature is wrong.
        Unauthorized = "unauthorized",
        /// The invite link is not valid, expired, not yet open or withdrawn.
        InvalidInvite = "invalid_invite",
        /// No such visit or device for this clinic.
        NotFound = "not_found",
        /// Not possible in the device's current state.
        BadState = "bad_state",
        /// Too many requests; slow down.
        RateLimited = "rate_limited",
        /// The relay is at capacity.
        Busy = "busy",
        /// No message for too long.
        IdleTimeout = "idle_timeout",
    }
}

names! {
    /// A patient device's state, as the clinician sees it.
    pub enum DeviceStateName {
        /// In the lobby.
        Waiting = "waiting",
        /// Let in, call not yet started.
        Admitted = "admitted",
        /// In the call.
        InCall = "in_call",
        /// Turned away.
        Denied = "denied",
        /// The patient left.
        Left = "left",
        /// The invite expired while waiting.
        Expired = "expired",
        /// The call ended.
        Ended = "ended",
    }
}

names! {
    /// Why a patient page refused the clinician's answer (a closed list: the
    /// page sends nothing else about it, and nothing of it is PHI).
    pub enum CallRefusal {
        /// The answer's tag does not verify over its DTLS fingerprint and
        /// ICE ufrag with the invite secret (e.g. a fingerprint swapped in
        /// transit).
        AnswerTagMismatch = "answer_tag_mismatch",
        /// A restart's answer verified but carries another DTLS
        /// fingerprint than the call's first answer.
        FingerprintChanged = "fingerprint_changed",
    }
}

record! {
    /// Time-limited TURN credentials (coturn REST style), sent only after admission.
    pub struct TurnCredentials {
        /// `turn:` / `turns:` URLs.
        pub urls: Vec<String>,
        /// `expiry:id`.
        pub username: String,
        /// base64(HMAC-SHA1(secret, username)).
        pub credential: String,
    }
}

messages! {
    /// Patient page → relay.
    pub enum PatientToRelay {
        /// First message: the protocol version, the invite token and the device id.
        Hello {
            /// [`PROTOCOL_VERSION`].
            v: u32,
            /// The invite token (the path part of the link, never the secret).
            token: String,
            /// base64url(SHA-256(public key)): 43 characters.
            device_id: String,
            /// base64url of the 65-byte uncompressed P-256 public key
            /// (WebCrypto `exportKey("raw")`).
            public_key: String,
        },
        /// Answer to `challenge`: base64url of the 64-byte ECDSA P-256
        /// signature (`r ‖ s`) over the device proof message.
        Prove {
            /// The signature.
            signature: String,
        },
        /// Knock: base64url of the AES-GCM ciphertext made with the knock key.
        Knock {
            /// Opaque to the relay.
            sealed: String,
        },
        /// The WebRTC offer with its authentication tag.
        Offer {
            /// Session description.
            sdp: String,
            /// base64url HMAC tag over the offer.
            tag: String,
        },
        /// A trickled ICE candidate.
        Ice {
            /// The candidate line as JSON text from the browser.
            candidate: String,
        },
        /// The page refused the clinician's answer and stopped the call.
        CallRefused {
            /// Why, from a closed list.
            reason: CallRefusal,
        },
        /// The patient leaves.
        Leave,
        /// Keep-alive.
        Ping,
    }
}

messages! {
    /// Relay → patient page.
    pub enum RelayToPatient {
        /// Prove the device key: sign this nonce (32 bytes, base64url).
        Challenge {
            /// Fresh for every connection.
            nonce: String,
        },
        /// The invite is valid and the device proved its key.
        Welcome {
            /// Shown to the patient.
            clinic_name: String,
            /// Unix seconds.
            not_before: u64,
            /// Unix seconds.
            expires: u64,
        },
        /// In the lobby.
        Waiting,
        /// A message from the clinician.
        Message {
            /// base64url, sealed by the clinician app for this device
            /// (`bedside_visit::sealed`, kind `message`); opaque to the relay.
            sealed: String,
        },
        /// Let in: start the call.
        Admitted {
            /// TURN credentials, if the relay has a TURN server.
            turn: Option<TurnCredentials>,
        },
        /// Turned away.
        Denied {
            /// The clinician's reason, base64url, sealed for this device
            /// (`bedside_visit::sealed`, kind `deny`); opaque to the relay.
            sealed: String,
        },
        /// Moved back to the lobby.
        BackToLobby,
        /// The clinician's answer.
        Answer {
            /// Session description.
            sdp: String,
            /// base64url HMAC tag over the answer.
            tag: String,
        },
        /// A trickled ICE candidate from the clinician.
        Ice {
            /// The candidate.
            candidate: String,
        },
        /// The link expired.
        Expired,
        /// The visit is locked.
        Locked,
        /// The call is over.
        Ended,
        /// Something went wrong.
        Error {
            /// Machine-readable.
            code: ErrorCode,
            /// Plain language, for the patient.
            message: String,
        },
        /// Reply to `ping`.
        Pong,
    }
}

messages! {
    /// Clinician app → relay.
    pub enum ClinicianToRelay {
        /// First message: the protocol version and the clinic's public key.
        Hello {
            /// [`PROTOCOL_VERSION`].
            v: u32,
            /// base64url of the 32-byte Ed25519 public key.
            public_key: String,
        },
        /// base64url Ed25519 signature over [`auth_message`] of the challenge nonce.
        Auth {
            /// The signature.
            signature: String,
        },
        /// Ask for the current waiting list of a visit.
        Watch {
            /// Visit id, 32 hex digits.
            visit: String,
        },
        /// Let a device in.
        Admit {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
        },
        /// Turn a device away.
        Deny {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
            /// The reason shown to the patient, sealed for the device (kind `deny`).
            sealed: String,
        },
        /// Send a message to a device.
        Message {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
            /// The text, sealed for the device (kind `message`).
            sealed: String,
        },
        /// Move an admitted device back to the lobby.
        SendBack {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
        },
        /// End a device's call.
        End {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
        },
        /// Turn away new knocks.
        Lock {
            /// Visit id (hex).
            visit: String,
        },
        /// Accept knocks again.
        Unlock {
            /// Visit id (hex).
            visit: String,
        },
        /// The answer to a device's offer.
        Answer {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
            /// Session description.
            sdp: String,
            /// base64url HMAC tag over the answer.
            tag: String,
        },
        /// A trickled ICE candidate for a device.
        Ice {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
            /// The candidate.
            candidate: String,
        },
        /// Keep-alive.
        Ping,
    }
}

messages! {
    /// Relay → clinician app.
    pub enum RelayToClinician {
        /// Sign this nonce (base64url) to prove the key.
        Challenge {
            /// 32 random bytes, base64url.
            nonce: String,
        },
        /// Authenticated.
        Ready {
            /// The clinic name from the relay's configuration.
            clinic_name: String,
        },
        /// A patient is waiting.
        Knock {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
            /// The sealed knock, exactly as the patient sent it.
            sealed: String,
            /// Beyond the invite's device limit: needs explicit admission.
            extra_device: bool,
            /// Unix seconds.
            waiting_since: u64,
        },
        /// A device's state changed.
        DeviceState {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
            /// The new state.
            state: DeviceStateName,
        },
        /// A device's offer.
        Offer {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
            /// Session description.
            sdp: String,
            /// base64url HMAC tag over the offer.
            tag: String,
            /// Fresh TURN credentials for answering it, if the relay has a
            /// TURN server. Offers only come from admitted devices, so a
            /// clinician gets credentials only after admission.
            turn: Option<TurnCredentials>,
        },
        /// A trickled ICE candidate from a device.
        Ice {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
            /// The candidate.
            candidate: String,
        },
        /// A device's page refused the answer (it did not authenticate) and
        /// stopped the call; the clinician side stops too and audits it.
        CallRefused {
            /// Visit id (hex).
            visit: String,
            /// Device id.
            device: String,
            /// Why, as the page reported it.
            reason: CallRefusal,
        },
        /// Something went wrong.
        Error {
            /// Machine-readable.
            code: ErrorCode,
            /// Plain language.
            message: String,
        },
        /// Reply to `ping`.
        Pong,
    }
}

/// The whole TypeScript module: constants, records, names and the four
/// message unions. Written to `generated/protocol.ts`.
pub fn typescript() -> String {
    let mut s = String::from(
        "// Generated from crates/bedside-protocol by `BEDSIDE_BLESS=1 cargo test -p bedside-protocol`.\n\
         // Do not edit by hand.\n\n",
    );
    s.push_str(&format!(
        "/** The protocol version carried by every `hello`. */\nexport const PROTOCOL_VERSION = {PROTOCOL_VERSION};\n\n"
    ));
    s.push_str(&format!(
        "/** The largest message anyone accepts, in bytes. */\nexport const MAX_MESSAGE = {MAX_MESSAGE};\n"
    ));
    for part in [
        ErrorCode::typescript(),
        DeviceStateName::typescript(),
        CallRefusal::typescript(),
        TurnCredentials::typescript(),
        PatientToRelay::typescript(),
        RelayToPatient::typescript(),
        ClinicianToRelay::typescript(),
        RelayToClinician::typescript(),
    ] {
        s.push('\n');
        s.push_str(&part);
    }
    s
}

#[cfg(test)]
mod tests;
