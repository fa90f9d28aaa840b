// Generated from the Rust IPC types by src-tauri/src/bindings.rs. Do not edit:
// regenerate with `BEDSIDE_BLESS=1 cargo test -p bedside-desktop bindings`.

/** The bundle in force. */
export interface AppliedBundle {
  /**
   * The file it came from, or `remembered` when an older file was refused
   * and the remembered bundle stays in force.
   */
  location: string;
  /** Its version. */
  version: number;
}

/** An appointment's row id. */
export type AppointmentId = number;

/** A new appointment as the UI sends it: a local wall-clock start in `tz`. */
export interface AppointmentInput {
  /** Minutes. */
  duration_min: number;
  /** Book even if it overlaps another active appointment. */
  force?: boolean;
  /** Local start, `YYYY-MM-DDTHH:MM` (seconds optional), in `tz`. */
  local_start: string;
  /** The patient. */
  patient: number;
  /** Reason for the visit (PHI; empty = none). */
  reason?: string | null;
  /** The clinician's IANA time zone. */
  tz: string;
}

/** Appointment status. */
export type AppointmentStatus =
  /** Scheduled. */
  | 'booked'
  /** The patient is in the waiting room. */
  | 'arrived'
  /** The visit is under way. */
  | 'in_progress'
  /** Done. */
  | 'finished'
  /** Called off. */
  | 'cancelled'
  /** The patient did not come. */
  | 'no_show';

/** An appointment with the patient's name, for schedule views. */
export interface AppointmentView {
  /** Minutes. */
  duration_min: number;
  /** Id. */
  id: AppointmentId;
  /** Start in the requested time zone, RFC 3339 with offset. */
  local_start: string;
  /** Who. */
  patient: PatientId;
  /** The patient's name (PHI). */
  patient_name: string;
  /** Reason (PHI). */
  reason: string | null;
  /** When (UTC). */
  start: string;
  /** Status. */
  status: AppointmentStatus;
  /** IANA time zone. */
  tz: string;
}

/** One audit event as exported. */
export interface AuditEvent {
  /** What, e.g. `patient.create`. */
  action: string;
  /** Who (the profile's username, or `system`). */
  actor: string;
  /** This event's MAC, hex. */
  mac: string;
  /** The previous event's MAC, hex. */
  prev: string;
  /** 1, 2, 3, ... without gaps. */
  seq: number;
  /** Which records, as a JSON object of ids. */
  subject: unknown;
  /** RFC 3339 UTC with milliseconds. */
  time: string;
}

/** Which audit events to list. */
export interface AuditFilter {
  /** Only actions starting with this (e.g. `patient.` or `invite.create`). */
  action?: string | null;
  /** At most this many, newest first (default 200, at most 5000). */
  limit?: number | null;
}

/** The result of verifying the chain. */
export type AuditVerdict =
  /** Every link holds. */
  | { status: 'ok'; count: number }
  /** The first event whose link does not hold. */
  | { status: 'broken'; seq: number }
  /**
   * The chain holds, but a checkpoint kept outside the database names
   * event `seq`, which the database no longer has as recorded: events were
   * removed from the end, or an older copy of the database was put back
   * (`seq` 0: the checkpoint file itself is unreadable).
   */
  | { status: 'checkpoint_mismatch'; seq: number };

/** What happened to signed bundles, for the Policy page and `policy show`. */
export interface BundleReport {
  /** The bundle in force, if any. */
  applied: AppliedBundle | null;
  /** The highest version ever applied here (from the caller's memory). */
  last_applied_version: number | null;
  /** Bundles refused (bad signature, older than the last applied, superseded). */
  refused: RefusedBundle[];
  /** How many organisation keys are pinned. */
  trusted_keys: number;
}

/**
 * One second of a call, as the UI and `--stats-json` see it. Rates are over
 * the interval since the previous snapshot; totals are since the answer.
 */
export interface CallStats {
  /** Remote audio held in the jitter buffer, ms. */
  audio_buffer_ms: number;
  /** Audio codec (`audio/opus`). */
  audio_codec: string;
  /** Opus packets per second received. */
  audio_pps_received: number;
  /** Opus packets per second sent. */
  audio_pps_sent: number;
  /** The devices in use and what went wrong with them (`devices` source only). */
  devices?: DeviceReport;
  /** Seconds since the answer. */
  elapsed_s: number;
  /** Milliseconds from the answer to the first decoded remote frame. */
  first_frame_ms: number | null;
  /** Remote frames per second decoded. */
  fps_decoded: number;
  /** Frames per second encoded and sent. */
  fps_sent: number;
  /** Jitter the remote reports on our video, ms. */
  jitter_ms: number;
  /** Loss on the remote video we receive (packets missing / expected), 0–1. */
  loss_received: number;
  /** Loss the remote reports on our video, 0–1. */
  loss_sent: number;
  /** Video bitrate we receive, kbit/s. */
  recv_kbps: number;
  /** What we decode: `[width, height]`. */
  recv_resolution: [number, number];
  /** REMB estimate from the remote, kbit/s. */
  remb_kbps: number | null;
  /**
   * Milliseconds from the first remote video packet after the latest
   * reconnection to the first frame decoded after it (keyframe request,
   * the remote's keyframe, reassembly, decode): the part of resuming that
   * is ours; `None` before any reconnection and until that frame.
   */
  resume_decode_ms: number | null;
  /**
   * Milliseconds from the latest reconnection (the connection back to
   * `connected` after a drop or an ICE restart) to the first remote frame
   * decoded after it; `None` before any reconnection and until that frame.
   */
  resume_frame_ms: number | null;
  /** ICE round-trip time of the selected candidate pair, in ms. */
  rtt_ms: number | null;
  /** Video bitrate we send, kbit/s. */
  send_kbps: number;
  /** What we send: `[width, height]`. */
  send_resolution: [number, number];
  /** The peer connection state (`connecting`, `connected`, …). */
  state: string;
  /** Encoder target, kbit/s. */
  target_kbps: number;
  /** Totals since the answer. */
  totals: StatsTotals;
  /** Video codec (`video/VP8`, or `video/H264` when negotiated). */
  video_codec: string;
}

/** What changed. */
export type ChangeKind =
  /** A device appeared. */
  | 'added'
  /** A device went away. */
  | 'removed'
  /** The system's default device of this kind changed. */
  | 'default_changed';

/** Who wrote a chat line. */
export type ChatFrom =
  /** The patient (received on the call's data channel). */
  | 'patient'
  /** The clinician (sent from this window). */
  | 'clinician';

/**
 * One chat line for the window. The text is PHI: `Debug` redacts it, and it is never
 * logged or stored.
 */
export interface ChatLine {
  /** Who wrote it. */
  from: ChatFrom;
  /** The sender's message id. */
  id: string;
  /** When it was sent, by the sender's clock (Unix milliseconds). */
  sent_at: number;
  /** The text. */
  text: string;
}

/** One device in a list. */
export interface DeviceEntry {
  /** The system uses it by default. */
  default: boolean;
  /** Stable id (what `visit_set_device` takes). */
  id: string;
  /** Human name. */
  name: string;
}

/**
 * A saved device the call could not use: it runs on the system's default instead. The
 * window words it ("Your saved microphone 'X' is not connected — using the default").
 */
export interface DeviceFallback {
  /** Which kind. */
  kind: DeviceSlot;
  /** The saved device's name. */
  name: string;
  /** Not there at the start, or gone during the call. */
  reason: FallbackReason;
}

/** What a device is for. */
export type DeviceKind =
  /** Audio input. */
  | 'microphone'
  /** Audio output. */
  | 'speaker'
  /** Video input. */
  | 'camera';

/** The devices on this computer, by kind, each list with the default first. */
export interface DeviceList {
  /** Video inputs (empty: the visit is audio only). */
  cameras: DeviceEntry[];
  /** Audio inputs. */
  microphones: DeviceEntry[];
  /** Audio outputs. */
  speakers: DeviceEntry[];
}

/** A device problem, safe to show (no PHI; device names at most). */
export interface DeviceNotice {
  /** Stable code (`no_camera`, `no_microphone`, `device_vanished`, …). */
  code: string;
  /** Which kind. */
  kind: DeviceKind;
  /** What to tell the clinician. */
  message: string;
}

/** What a `devices` call is using, for the stats and the visit room. */
export interface DeviceReport {
  /** No camera: we send no video (the patient's still arrives). */
  audio_only: boolean;
  /** The camera's name, while one is open. */
  camera: string | null;
  /** The microphone's name, while one is open. */
  microphone: string | null;
  /** The latest problem per kind (cleared when that kind opens again). */
  notices: DeviceNotice[];
  /** The speaker's name, while one is open. */
  speaker: string | null;
}

/** A kind of device the clinician chooses. */
export type DeviceSlot =
  /** Audio input. */
  | 'microphone'
  /** Audio output. */
  | 'speaker'
  /** Video input. */
  | 'camera';

/** One `devices-changed` event. Carries no device name or id: the window lists again. */
export interface DevicesChanged {
  /** What happened. */
  change: ChangeKind;
  /** To which kind of device. */
  kind: DeviceSlot;
}

/** A TOTP enrolment as the UI gets it: the QR code PNG as base64 for a `data:` URL. */
export interface Enrolment {
  otpauth_uri: string;
  qr_png_base64: string;
  secret_base32: string;
}

/** Why a visit uses the system's default instead of the saved device. */
export type FallbackReason =
  /** The saved device was not connected when the call started. */
  | 'missing'
  /** The saved device was unplugged during the call. */
  | 'removed';

/** An invite link as the UI shows it, with its QR code. */
export interface InviteView {
  expires: number;
  link: string;
  not_before: number;
  /** `data:image/png;base64,...` (the CSP allows `data:` images only). */
  qr_data_url: string;
}

/**
 * What a command returns to the UI on failure.
 *
 * `code` is stable for the UI to branch on; `message` is the core error's Display, which the
 * core guarantees free of PHI and secrets. Internal errors get a generic message instead, so
 * details of a failure never reach the webview.
 */
export interface IpcError {
  code: string;
  /** With `overlap`: the appointment the new time would clash with, so the UI can show it. */
  conflict_with?: number;
  message: string;
  /** With `locked_out`: seconds until the next attempt, for the UI's countdown. */
  retry_after_secs?: number;
}

/** What the Settings page's checks could start. */
export interface MonitorStatus {
  /** Why there is no camera preview (`null`: frames are on their way). */
  camera_error: string | null;
  /** Why there is no microphone level (`null`: the level is on its way). */
  microphone_error: string | null;
  /** There is no camera at all. */
  no_camera: boolean;
}

/** One version of a visit note. */
export interface Note {
  /** The appointment. */
  appointment: AppointmentId;
  /** When this version was saved. */
  saved_at: string;
  /** The text (PHI). */
  text: string;
  /** 1 for the first save, then +1 per edit. */
  version: number;
}

/** The password rules the UI explains before the core enforces them. */
export interface PasswordPolicy {
  min_length: number;
}

/** A stored patient. */
export interface Patient {
  /** Date of birth. */
  dob: string;
  /** E-mail. */
  email: string | null;
  /** Id. */
  id: PatientId;
  /** Medical record number. */
  mrn: string | null;
  /** Full name. */
  name: string;
  /** Phone. */
  phone: string | null;
}

/** A patient's row id. */
export type PatientId = number;

/** A patient as the UI's form sends it (create, or the full record on edit). */
export interface PatientInput {
  /** Date of birth, `YYYY-MM-DD`. */
  dob: string;
  /** E-mail (empty = none). */
  email?: string | null;
  /** Medical record number (empty = none). */
  mrn?: string | null;
  /** Full name. */
  name: string;
  /** Phone (empty = none). */
  phone?: string | null;
}

/** One row of the Policy page. */
export interface PolicyRow {
  /** Why a value was ignored. */
  detail: string | null;
  level: 'mandatory' | 'recommended' | null;
  name: string;
  /** `default`, `user`, a file path or registry key, or `signed bundle vN`. */
  source: string;
  /** `ok`, `invalid`, `unknown` or `below_floor`. */
  status: 'ok' | 'invalid' | 'unknown' | 'below_floor';
  value: unknown;
}

/** What the Policy page shows: like chrome://policy. */
export interface PolicyView {
  /** Signed bundles: the one in force, those refused, pinned keys. */
  bundle: BundleReport;
  /** Values that were ignored: unknown names, invalid values, attempts below a floor. */
  ignored: PolicyRow[];
  /** Every policy with the value in force. */
  policies: PolicyRow[];
  /** Policy files that could not be read. */
  unreadable: Unreadable[];
  /** The minimum version policy requires, when this app is older (visits are refused). */
  update_required: string | null;
}

/** What the UI lists on the sign-in screen. */
export interface ProfileSummary {
  /** Shown name. */
  display_name: string;
  /** Whether TOTP has been confirmed. */
  totp_enabled: boolean;
  /** Sign-in name. */
  username: string;
}

/** A bundle that was not applied. */
export interface RefusedBundle {
  /** The file. */
  location: string;
  /** Why, in admin terms. */
  reason: string;
}

/**
 * One chosen device: the capture layer's stable id and the name it had when it was
 * chosen (for "your saved microphone 'X' is not connected"). Device ids and names are
 * not PHI; they are kept in the encrypted store with the other settings all the same.
 */
export interface SavedDevice {
  /** Stable id (`bedside_capture::DeviceId`). */
  id: string;
  /** Human name when chosen. */
  name: string;
}

/** The devices chosen for visits (`None` = the system's default). */
export interface SavedDevices {
  /** Camera. */
  camera: SavedDevice | null;
  /** Microphone. */
  microphone: SavedDevice | null;
  /** Speaker. */
  speaker: SavedDevice | null;
}

/** Whether someone is signed in. */
export type SessionState =
  /** Nobody is signed in (or the app locked itself). */
  | { state: 'locked' }
  /** Signed in. */
  | { state: 'unlocked'; display_name: string; username: string };

/** The user's own settings (policy may still cap them). */
export interface Settings {
  /**
   * The microphone, speaker and camera chosen for visits. Read-only here:
   * [`Core::save_settings`] leaves them as they are and [`Core::save_device`]
   * changes one kind, so a form that saves the relay and the idle lock never
   * overwrites a device chosen meanwhile.
   */
  devices: SavedDevices;
  /** The most policy allows. */
  idle_lock_max_minutes: number;
  /** Idle minutes before the app locks; never longer than policy allows. */
  idle_lock_minutes: number;
  /** The relay invite links point at; `None` = the app's embedded relay. */
  relay_url: string | null;
}

/** Where the call's picture comes from. */
export type SourceChoice =
  /** Chosen explicitly (`BEDSIDE_VIDEO_SOURCE=test-pattern`): diagnostics and tests. */
  | 'test_pattern'
  /** The clinician's microphone, camera and speaker. */
  | 'devices';

/** Totals since the answer. */
export interface StatsTotals {
  /** Audio bytes received. */
  audio_bytes_received: number;
  /** Audio bytes sent. */
  audio_bytes_sent: number;
  /** Remote audio frames concealed (lost or late). */
  audio_frames_concealed: number;
  /** Remote audio frames decoded. */
  audio_frames_decoded: number;
  /** Remote audio packets refused as late or duplicate. */
  audio_packets_late: number;
  /** Opus packets received. */
  audio_packets_received: number;
  /** Opus packets sent. */
  audio_packets_sent: number;
  /** Keyframe requests (PLI/FIR) received from the remote. */
  keyframe_requests_received: number;
  /** Keyframes sent. */
  keyframes_sent: number;
  /** PLIs sent. */
  plis_sent: number;
  /** Remote video bytes received. */
  video_bytes_received: number;
  /** Video bytes sent. */
  video_bytes_sent: number;
  /** Remote frames the decoder refused. */
  video_decode_errors: number;
  /** Remote video frames decoded. */
  video_frames_decoded: number;
  /** Video frames sent. */
  video_frames_sent: number;
}

/** A file that could not be used. */
export interface Unreadable {
  path: string;
  reason: string;
}

/** What `update_check` and `update_install` report. */
export interface UpdateStatus {
  /** The running version. */
  current: string;
  /** The release notes, with `available`. */
  notes: string | null;
  /**
   * `off` (policy names no update server), `up_to_date`, `available` or `installed`
   * (restart to finish).
   */
  status: 'off' | 'up_to_date' | 'available' | 'installed';
  /** The version offered, with `available` and `installed`. */
  version: string | null;
}

/** One update for the room (JSON over the events Channel). */
export type VisitUpdate =
  /** Sent first on `visit_open`: what is known so far. */
  | { kind: 'snapshot'; appointment: number; camera_off: boolean; chat: ChatLine[]; fallbacks: DeviceFallback[]; muted: boolean; sas: string | null; source: SourceChoice; state: string }
  /**
   * A saved device is not connected (at the start) or was unplugged (during the call):
   * the call uses the system's default of that kind.
   */
  | { kind: 'device_fallback'; device: DeviceFallback }
  /** The call was answered (again, after an ICE restart): the SAS to read out. */
  | { kind: 'answered'; sas: string }
  /** The call's connection state. */
  | { kind: 'state'; state: string }
  /** Once a second. */
  | { kind: 'stats'; stats: CallStats }
  /** An offer did not authenticate: the call was refused. */
  | { kind: 'auth_failed' }
  /** A chat line: the patient's, or ours once sent. */
  | { kind: 'chat'; line: ChatLine }
  /**
   * A chat message was refused: ours (`outgoing`: too long, too many, no open
   * channel) or the patient's (too large, malformed, too many).
   */
  | { kind: 'chat_refused'; outgoing: boolean; reason: string };

/** One waiting-room update for the panel. */
export interface WaitingEvent {
  /** The appointment the visit belongs to. */
  appointment: number;
  /** Device id, when the update is about a device. */
  device?: string;
  /** Date of birth, when the join page asked for it (PHI). */
  dob?: string;
  /** Beyond the invite's device limit: flag it. */
  extra_device?: boolean;
  /**
   * `connected`, `disconnected`, `knock`, `unreadable_knock`, `admitting`, `device_state`,
   * `relay_error`.
   */
  kind: 'connected' | 'disconnected' | 'knock' | 'unreadable_knock' | 'admitting' | 'device_state' | 'relay_error' | 'other';
  /** The name the patient typed (PHI: for the window only). */
  name?: string;
  /** The device's new state, or the relay's error code. */
  state?: string;
  /** The visit id (hex): the panel sends it back with admit/deny/message. */
  visit: string;
  /** Unix seconds the device has been waiting since. */
  waiting_since?: number;
}

/** Every command: its arguments (camelCase, as Tauri maps them) and what it resolves to. */
export interface Commands {
  profiles: { args: Record<string, never>; returns: ProfileSummary[] };
  password_policy: { args: Record<string, never>; returns: PasswordPolicy };
  create_profile: { args: { username: string; displayName: string; password: string }; returns: Enrolment };
  confirm_totp: { args: { username: string; password: string; code: string }; returns: void };
  sign_in: { args: { username: string; password: string; totp: string | null }; returns: void };
  pending_enrolment: { args: { username: string; password: string }; returns: Enrolment };
  lock: { args: Record<string, never>; returns: void };
  session_state: { args: Record<string, never>; returns: SessionState };
  ui_painted: { args: { scriptMs: number; answeredMs: number; paintedMs: number }; returns: void };
  touch: { args: Record<string, never>; returns: void };
  relay_origin: { args: Record<string, never>; returns: string | null };
  patients_list: { args: Record<string, never>; returns: Patient[] };
  patients_search: { args: { query: string }; returns: Patient[] };
  patient_get: { args: { id: number }; returns: Patient };
  patient_create: { args: { patient: PatientInput }; returns: Patient };
  patient_update: { args: { id: number; patient: PatientInput }; returns: Patient };
  appointments_day: { args: { date: string; tz: string }; returns: AppointmentView[] };
  appointments_week: { args: { date: string; tz: string }; returns: AppointmentView[] };
  appointment_get: { args: { id: number; tz: string }; returns: AppointmentView };
  appointment_create: { args: { appointment: AppointmentInput }; returns: AppointmentView };
  appointment_reschedule: { args: { id: number; localStart: string; tz: string; durationMin: number | null; force: boolean }; returns: AppointmentView };
  appointment_set_reason: { args: { id: number; reason: string | null; tz: string }; returns: AppointmentView };
  appointment_cancel: { args: { id: number }; returns: void };
  appointment_no_show: { args: { id: number }; returns: void };
  appointment_set_status: { args: { id: number; status: string }; returns: void };
  note_get: { args: { appointment: number }; returns: Note | null };
  note_save: { args: { appointment: number; text: string }; returns: number };
  invite_create: { args: { appointment: number }; returns: InviteView };
  invite_show: { args: { appointment: number }; returns: InviteView | null };
  invite_revoke: { args: { appointment: number }; returns: void };
  audit_list: { args: { filter: AuditFilter }; returns: AuditEvent[] };
  audit_verify: { args: Record<string, never>; returns: AuditVerdict };
  settings_get: { args: Record<string, never>; returns: Settings };
  settings_save: { args: { settings: Settings }; returns: Settings };
  waiting_sync: { args: { tz: string }; returns: number };
  waiting_admit: { args: { visit: string; device: string }; returns: void };
  waiting_deny: { args: { visit: string; device: string; reason: string }; returns: void };
  waiting_message: { args: { visit: string; device: string; text: string }; returns: void };
  visit_open: { args: { visit: string; events: unknown; remote: unknown; local: unknown }; returns: number };
  visit_close: { args: { visit: string }; returns: void };
  visit_frame_ack: { args: { visit: string; stream: number; seq: number }; returns: void };
  visit_controls: { args: { visit: string; muted: boolean; cameraOff: boolean }; returns: void };
  devices_list: { args: Record<string, never>; returns: DeviceList };
  devices_choose: { args: { kind: DeviceSlot; id: string | null }; returns: void };
  devices_monitor: { args: { microphone: string | null; camera: string | null; level: unknown; preview: unknown }; returns: MonitorStatus };
  devices_monitor_stop: { args: Record<string, never>; returns: void };
  visit_set_device: { args: { visit: string; kind: DeviceSlot; id: string | null }; returns: void };
  visit_chat_send: { args: { visit: string; text: string }; returns: void };
  visit_confirm_sas: { args: { visit: string }; returns: void };
  visit_end: { args: { visit: string }; returns: void };
  visit_send_back: { args: { visit: string }; returns: void };
  policy_effective: { args: Record<string, never>; returns: PolicyView };
  policy_reload: { args: Record<string, never>; returns: PolicyView };
  update_check: { args: Record<string, never>; returns: UpdateStatus };
  update_install: { args: Record<string, never>; returns: UpdateStatus };
}
