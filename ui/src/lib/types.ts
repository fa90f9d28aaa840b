// Shapes that cross the IPC boundary. Field names match the Rust side's serde output.
//
// Most are generated from the Rust types into `generated/bindings.ts` (see
// src-tauri/src/bindings.rs; a Rust test fails when that file is stale). Only the types of
// crates that do not derive JSON Schema are kept here by hand.

export type {
  AppointmentId,
  AppointmentInput,
  AppointmentStatus,
  AppointmentView,
  AuditEvent,
  AuditFilter,
  AuditVerdict,
  ChatFrom,
  ChatLine,
  InviteView,
  Note,
  PasswordPolicy,
  Patient,
  PatientId,
  PatientInput,
  PolicyRow,
  PolicyView,
  ProfileSummary,
  SessionState,
  Settings,
  Unreadable,
  UpdateStatus,
  VisitUpdate,
  WaitingEvent,
  ChangeKind,
  DeviceEntry,
  DeviceFallback,
  DeviceList,
  DeviceSlot,
  DevicesChanged,
  FallbackReason,
  MonitorStatus,
  SavedDevice,
  SavedDevices,
} from './generated/bindings';
import type { Enrolment, IpcError, SourceChoice } from './generated/bindings';

/** What the core returns after creating a profile: the TOTP secret to enrol (`Enrolment`). */
export type TotpEnrolment = Enrolment;

/** Every error that crosses IPC has this shape; `message` is safe to show (no PHI, no secrets). */
export type IpcErrorPayload = IpcError;

/** Where the clinician's picture comes from (`SourceChoice` in src-tauri/src/visit.rs). */
export type VideoSource = SourceChoice;

// ---- Kept by hand: their crates (bedside-policy, bedside-media) do not derive JSON Schema.

/** Signed policy bundles. Mirrors `bedside_policy::sources::BundleReport`. */
export interface BundleReport {
  trusted_keys: number;
  applied: { version: number; location: string } | null;
  refused: { location: string; reason: string }[];
  last_applied_version: number | null;
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
  /** The devices in use and what went wrong with them (`null` for the test pattern). */
  devices?: DeviceReport | null;
}

/** What a devices call is using. Mirrors `bedside_media::DeviceReport`. */
export interface DeviceReport {
  microphone: string | null;
  speaker: string | null;
  camera: string | null;
  /** No camera: we send no video (the patient's still arrives). */
  audio_only: boolean;
  /** The latest problem per kind (cleared when that kind opens again). */
  notices: DeviceNotice[];
}

/** What a device is for. Mirrors `bedside_media::DeviceKind`. */
export type DeviceKind = 'microphone' | 'speaker' | 'camera';

/** A device problem, safe to show. Mirrors `bedside_media::DeviceNotice`. */
export interface DeviceNotice {
  kind: DeviceKind;
  /** Stable code (`no_camera`, `no_microphone`, `device_vanished`, …). */
  code: string;
  message: string;
}
