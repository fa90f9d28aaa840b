// Shapes that cross the IPC boundary. Field names match the Rust side's serde output.

/** A local clinician profile, as listed on the sign-in screen. */
export interface ProfileSummary {
  username: string;
  display_name: string;
  totp_enabled: boolean;
}

/** Whether anyone is signed in. Mirrors `bedside_core::SessionState` (serde tag = "state"). */
export type SessionState =
  | { state: 'locked' }
  | { state: 'unlocked'; username: string; display_name: string };

/** What the core returns after creating a profile: the TOTP secret to enrol. */
export interface TotpEnrolment {
  otpauth_uri: string;
  secret_base32: string;
  /** The QR code as a PNG, base64 (standard alphabet, padded). */
  qr_png_base64: string;
}

/** The password rules the core enforces, so the UI can explain them up front. */
export interface PasswordPolicy {
  min_length: number;
}

/** Every error that crosses IPC has this shape; `message` is safe to show (no PHI, no secrets). */
export interface IpcErrorPayload {
  code: string;
  message: string;
  /** Present with `locked_out`: seconds until the next attempt is allowed. */
  retry_after_secs?: number | null;
}
