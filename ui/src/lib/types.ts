// Shapes that cross the IPC boundary. Field names match the Rust side's serde output.
//
// Most are generated from the Rust types into `generated/bindings.ts` (see
// src-tauri/src/bindings.rs; a Rust test fails when that file is stale).

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
  BundleReport,
  CallStats,
  DeviceReport,
  DeviceKind,
  DeviceNotice,
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

