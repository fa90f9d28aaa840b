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
  /** Present with `overlap`: the appointment the requested time clashes with. */
  conflict_with?: number | null;
}

// ---- The clinician's working data (mirrors bedside-store / bedside-core serde output).

/** A patient record (PHI). `dob` is `YYYY-MM-DD`. */
export interface Patient {
  id: number;
  name: string;
  dob: string;
  phone: string | null;
  email: string | null;
  mrn: string | null;
}

/** What the patient form sends (create, or the full record on edit). Empty = none. */
export interface PatientInput {
  name: string;
  dob: string;
  phone?: string | null;
  email?: string | null;
  mrn?: string | null;
}

export type AppointmentStatus =
  | 'booked'
  | 'arrived'
  | 'in_progress'
  | 'finished'
  | 'cancelled'
  | 'no_show';

/** An appointment with its patient's name; `local_start` is RFC 3339 in the asked zone. */
export interface AppointmentView {
  id: number;
  patient: number;
  /** UTC instant, RFC 3339. */
  start: string;
  tz: string;
  duration_min: number;
  reason: string | null;
  status: AppointmentStatus;
  patient_name: string;
  local_start: string;
}

/** A booking as the schedule form sends it: wall-clock start in the clinician's zone. */
export interface AppointmentInput {
  patient: number;
  /** `YYYY-MM-DDTHH:MM` */
  local_start: string;
  tz: string;
  duration_min: number;
  reason?: string | null;
  force?: boolean;
}

/** One saved version of a visit note. */
export interface Note {
  appointment: number;
  version: number;
  text: string;
  saved_at: string;
}

/** An invite link with its QR code as a `data:` URL. */
export interface InviteView {
  link: string;
  not_before: number;
  expires: number;
  qr_data_url: string;
}

export interface AuditEvent {
  seq: number;
  time: string;
  actor: string;
  action: string;
  subject: Record<string, unknown>;
  prev: string;
  mac: string;
}

export interface AuditFilter {
  action?: string | null;
  limit?: number | null;
}

export type AuditVerdict =
  | { status: 'ok'; count: number }
  | { status: 'broken'; seq: number }
  /** A checkpoint kept outside the database names an event that is gone or changed (seq 0: the checkpoint file is damaged). */
  | { status: 'checkpoint_mismatch'; seq: number };

export interface Settings {
  relay_url: string | null;
  idle_lock_minutes: number;
  idle_lock_max_minutes: number;
}

/** A waiting-room update from the shell (`waiting` event). `name`/`dob` are PHI. */
export interface WaitingEvent {
  appointment: number;
  visit: string;
  kind:
    | 'connected'
    | 'disconnected'
    | 'knock'
    | 'unreadable_knock'
    | 'admitting'
    | 'device_state'
    | 'relay_error'
    | 'other';
  device?: string;
  name?: string;
  dob?: string;
  extra_device?: boolean;
  waiting_since?: number;
  state?: string;
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

/** What `update_check` / `update_install` report. Mirrors `UpdateStatus` in src-tauri/src/updater.rs. */
export interface UpdateStatus {
  /** `off`: policy names no update server; `installed`: restart to finish. */
  status: 'off' | 'up_to_date' | 'available' | 'installed';
  current: string;
  version: string | null;
  notes: string | null;
}
/** Call statistics once a second. Mirrors `bedside_media::CallStats` (the fields the room shows). */
export interface CallStats {
  state: string;
  rtt_ms: number | null;
  loss_sent: number;
  loss_received: number;
  jitter_ms: number;
  send_kbps: number;
  recv_kbps: number;
  fps_sent: number;
  fps_decoded: number;
  recv_resolution: [number, number];
  send_resolution: [number, number];
}

/** Where the clinician's picture comes from. Mirrors `src-tauri/src/visit.rs` `SourceChoice`. */
export type VideoSource = 'test_pattern' | 'no_camera';

/** One update on the visit room's events Channel. Mirrors `src-tauri/src/visit.rs` `VisitUpdate`. */
export type VisitUpdate =
  | {
      kind: 'snapshot';
      appointment: number;
      state: string;
      sas: string | null;
      muted: boolean;
      camera_off: boolean;
      source: VideoSource;
    }
  | { kind: 'answered'; sas: string }
  | { kind: 'state'; state: string }
  | { kind: 'stats'; stats: CallStats }
  | { kind: 'auth_failed' };
