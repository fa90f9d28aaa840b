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

/** A policy row on the Policy page. Mirrors `src-tauri/src/policy.rs` `PolicyRow`. */
export interface PolicyRow {
  name: string;
  /** The value in force (or the refused one, for ignored rows); `null` when unset. */
  value: unknown;
  /** `default`, `user`, a file path or registry key, or `signed bundle vN`. */
  source: string;
  level: 'mandatory' | 'recommended' | null;
  status: 'ok' | 'invalid' | 'unknown' | 'below_floor';
  /** Why a value was ignored. */
  detail: string | null;
}

/** Signed policy bundles. Mirrors `bedside_policy::sources::BundleReport`. */
export interface BundleReport {
  trusted_keys: number;
  applied: { version: number; location: string } | null;
  refused: { location: string; reason: string }[];
  last_applied_version: number | null;
}

/** Everything the Policy page shows. Mirrors `PolicyView`. */
export interface PolicyView {
  policies: PolicyRow[];
  ignored: PolicyRow[];
  unreadable: { path: string; reason: string }[];
  bundle: BundleReport;
  /** The minimum version policy requires, when this app is older; visits are refused. */
  update_required: string | null;
}
