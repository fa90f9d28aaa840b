// Generated from crates/bedside-protocol by `BEDSIDE_BLESS=1 cargo test -p bedside-protocol`.
// Do not edit by hand.

/** The protocol version carried by every `hello`. */
export const PROTOCOL_VERSION = 3;

/** The largest message anyone accepts, in bytes. */
export const MAX_MESSAGE = 65536;

/** Machine-readable error codes in `error` frames. */
export type ErrorCode =
  | "too_large"
  | "malformed"
  | "unknown_type"
  | "unsupported_version"
  | "hello_required"
  | "unauthorized"
  | "invalid_invite"
  | "not_found"
  | "bad_state"
  | "rate_limited"
  | "busy"
  | "idle_timeout";

/** A patient device's state, as the clinician sees it. */
export type DeviceStateName =
  | "waiting"
  | "admitted"
  | "in_call"
  | "denied"
  | "left"
  | "expired"
  | "ended";

/**
 * Why a patient page refused the clinician's answer (a closed list: the
 * page sends nothing else about it, and nothing of it is PHI).
 */
export type CallRefusal =
  | "answer_tag_mismatch"
  | "fingerprint_changed";

/** Time-limited TURN credentials (coturn REST style), sent only after admission. */
export interface TurnCredentials {
  /** `turn:` / `turns:` URLs. */
  urls: string[];
  /** `expiry:id`. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)). */
  credential: string;
}

/** Patient page → relay. */
export type PatientToRelay =
  /** First message: the protocol version, the invite token and the device id. */
  | { type: "hello"; v: number; token: string; device_id: string; public_key: string }
  /**
   * Answer to `challenge`: base64url of the 64-byte ECDSA P-256
   * signature (`r ‖ s`) over the device proof message.
   */
  | { type: "prove"; signature: string }
  /** Knock: base64url of the AES-GCM ciphertext made with the knock key. */
  | { type: "knock"; sealed: string }
  /** The WebRTC offer with its authentication tag. */
  | { type: "offer"; sdp: string; tag: string }
  /** A trickled ICE candidate. */
  | { type: "ice"; candidate: string }
  /** The page refused the clinician's answer and stopped the call. */
  | { type: "call_refused"; reason: CallRefusal }
  /** The patient leaves. */
  | { type: "leave" }
  /** Keep-alive. */
  | { type: "ping" }
;

/** Relay → patient page. */
export type RelayToPatient =
  /** Prove the device key: sign this nonce (32 bytes, base64url). */
  | { type: "challenge"; nonce: string }
  /** The invite is valid and the device proved its key. */
  | { type: "welcome"; clinic_name: string; not_before: number; expires: number }
  /** In the lobby. */
  | { type: "waiting" }
  /** A message from the clinician. */
  | { type: "message"; sealed: string }
  /** Let in: start the call. */
  | { type: "admitted"; turn: TurnCredentials | null }
  /** Turned away. */
  | { type: "denied"; sealed: string }
  /** Moved back to the lobby. */
  | { type: "back_to_lobby" }
  /** The clinician's answer. */
  | { type: "answer"; sdp: string; tag: string }
  /** A trickled ICE candidate from the clinician. */
  | { type: "ice"; candidate: string }
  /** The link expired. */
  | { type: "expired" }
  /** The visit is locked. */
  | { type: "locked" }
  /** The call is over. */
  | { type: "ended" }
  /** Something went wrong. */
  | { type: "error"; code: ErrorCode; message: string }
  /** Reply to `ping`. */
  | { type: "pong" }
;

/** Clinician app → relay. */
export type ClinicianToRelay =
  /** First message: the protocol version and the clinic's public key. */
  | { type: "hello"; v: number; public_key: string }
  /** base64url Ed25519 signature over [`auth_message`] of the challenge nonce. */
  | { type: "auth"; signature: string }
  /** Ask for the current waiting list of a visit. */
  | { type: "watch"; visit: string }
  /** Let a device in. */
  | { type: "admit"; visit: string; device: string }
  /** Turn a device away. */
  | { type: "deny"; visit: string; device: string; sealed: string }
  /** Send a message to a device. */
  | { type: "message"; visit: string; device: string; sealed: string }
  /** Move an admitted device back to the lobby. */
  | { type: "send_back"; visit: string; device: string }
  /** End a device's call. */
  | { type: "end"; visit: string; device: string }
  /** Turn away new knocks. */
  | { type: "lock"; visit: string }
  /** Accept knocks again. */
  | { type: "unlock"; visit: string }
  /** The answer to a device's offer. */
  | { type: "answer"; visit: string; device: string; sdp: string; tag: string }
  /** A trickled ICE candidate for a device. */
  | { type: "ice"; visit: string; device: string; candidate: string }
  /** Keep-alive. */
  | { type: "ping" }
;

/** Relay → clinician app. */
export type RelayToClinician =
  /** Sign this nonce (base64url) to prove the key. */
  | { type: "challenge"; nonce: string }
  /** Authenticated. */
  | { type: "ready"; clinic_name: string }
  /** A patient is waiting. */
  | { type: "knock"; visit: string; device: string; sealed: string; extra_device: boolean; waiting_since: number }
  /** A device's state changed. */
  | { type: "device_state"; visit: string; device: string; state: DeviceStateName }
  /** A device's offer. */
  | { type: "offer"; visit: string; device: string; sdp: string; tag: string; turn: TurnCredentials | null }
  /** A trickled ICE candidate from a device. */
  | { type: "ice"; visit: string; device: string; candidate: string }
  /**
   * A device's page refused the answer (it did not authenticate) and
   * stopped the call; the clinician side stops too and audits it.
   */
  | { type: "call_refused"; visit: string; device: string; reason: CallRefusal }
  /** Something went wrong. */
  | { type: "error"; code: ErrorCode; message: string }
  /** Reply to `ping`. */
  | { type: "pong" }
;
