// Typed wrapper over Tauri's `invoke`: one function per app command, errors as `ApiError`.
//
// The invoke function is injected so stores and tests never need a Tauri runtime.

import type {
  AppointmentInput,
  AppointmentView,
  AuditEvent,
  AuditFilter,
  AuditVerdict,
  DeviceList,
  DeviceSlot,
  InviteView,
  MonitorStatus,
  IpcErrorPayload,
  Note,
  Patient,
  PatientInput,
  Settings,
  PasswordPolicy,
  PolicyView,
  ProfileSummary,
  SessionState,
  TotpEnrolment,
  UpdateStatus,
  VisitUpdate,
} from './types';
import type { Commands } from './generated/bindings';

/** What `@tauri-apps/api/core`'s `Channel` offers us: messages pushed from the shell. */
export interface ChannelLike<T> {
  onmessage: (message: T) => void;
}

/** The signature of `@tauri-apps/api/core`'s `invoke`, narrowed to what we use. */
/** The page's start-up, in ms from its navigation start (`performance.now()`). */
export type PageTimings = Commands['ui_painted']['args'];

export type InvokeFn = (cmd: string, args?: Record<string, unknown>) => Promise<unknown>;

/** Error codes the shell or core may return. Unknown codes are passed through as strings. */
export type ErrorCode =
  | 'signin_failed'
  | 'locked_out'
  | 'weak_password'
  | 'profile_exists'
  | 'keychain_unavailable'
  | 'invalid_input'
  | 'not_found'
  | 'no_profile'
  | 'overlap'
  | 'bad_transition'
  | 'not_signed_in'
  | 'totp_not_enrolled'
  | 'internal'
  | 'ipc'
  | (string & {});

/** An error from a command, with a stable `code` to branch on and a message safe to show. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSecs: number | null;
  /** With `overlap`: the id of the appointment the requested time clashes with. */
  readonly conflictWith: number | null;

  constructor(
    code: ErrorCode,
    message: string,
    retryAfterSecs: number | null = null,
    conflictWith: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.retryAfterSecs = retryAfterSecs;
    this.conflictWith = conflictWith;
  }
}

function isPayload(value: unknown): value is IpcErrorPayload {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as IpcErrorPayload).code === 'string' &&
    typeof (value as IpcErrorPayload).message === 'string'
  );
}

/**
 * Turns whatever a rejected `invoke` produced into an `ApiError`.
 *
 * The shell always rejects with `{code, message}`; anything else (a missing command, a
 * permission denial reported by Tauri as a plain string) becomes a generic `ipc` error so
 * raw internals are never shown.
 */
export function toApiError(reason: unknown): ApiError {
  if (reason instanceof ApiError) return reason;
  if (isPayload(reason)) {
    const retry = typeof reason.retry_after_secs === 'number' ? reason.retry_after_secs : null;
    const conflict = typeof reason.conflict_with === 'number' ? reason.conflict_with : null;
    return new ApiError(reason.code, reason.message, retry, conflict);
  }
  return new ApiError('ipc', 'The app could not complete that request.');
}

/** The app's commands, typed. Each rejects with `ApiError`. */
export interface Api {
  profiles(): Promise<ProfileSummary[]>;
  passwordPolicy(): Promise<PasswordPolicy>;
  createProfile(req: {
    username: string;
    displayName: string;
    password: string;
  }): Promise<TotpEnrolment>;
  confirmTotp(req: { username: string; password: string; code: string }): Promise<void>;
  signIn(req: { username: string; password: string; totp: string | null }): Promise<void>;
  /** The TOTP enrolment of a profile whose set-up was interrupted (password required). */
  pendingEnrolment(req: { username: string; password: string }): Promise<TotpEnrolment>;
  lock(): Promise<void>;
  sessionState(): Promise<SessionState>;
  touch(): Promise<void>;
  /** The first screen is painted: the shell logs the start-up time once, with the page's own
   * timings (ms from its navigation start). */
  uiPainted(page: PageTimings): Promise<void>;
  relayOrigin(): Promise<string | null>;

  patientsList(): Promise<Patient[]>;
  patientsSearch(query: string): Promise<Patient[]>;
  patientGet(id: number): Promise<Patient>;
  patientCreate(patient: PatientInput): Promise<Patient>;
  patientUpdate(id: number, patient: PatientInput): Promise<Patient>;

  appointmentsDay(date: string, tz: string): Promise<AppointmentView[]>;
  appointmentsWeek(date: string, tz: string): Promise<AppointmentView[]>;
  appointmentGet(id: number, tz: string): Promise<AppointmentView>;
  /** Rejects with code `overlap` (and `conflictWith`) unless `force`. */
  appointmentCreate(appointment: AppointmentInput): Promise<AppointmentView>;
  appointmentReschedule(req: {
    id: number;
    localStart: string;
    tz: string;
    durationMin: number | null;
    force: boolean;
  }): Promise<AppointmentView>;
  /** Replaces the visit reason; `null` or blank clears it. */
  appointmentSetReason(id: number, reason: string | null, tz: string): Promise<AppointmentView>;
  appointmentCancel(id: number): Promise<void>;
  appointmentNoShow(id: number): Promise<void>;
  appointmentSetStatus(id: number, status: string): Promise<void>;

  noteGet(appointment: number): Promise<Note | null>;
  /** Saves a new version; resolves to its version number. */
  noteSave(appointment: number, text: string): Promise<number>;

  inviteCreate(appointment: number): Promise<InviteView>;
  inviteShow(appointment: number): Promise<InviteView | null>;
  inviteRevoke(appointment: number): Promise<void>;

  auditList(filter: AuditFilter): Promise<AuditEvent[]>;
  auditVerify(): Promise<AuditVerdict>;

  settingsGet(): Promise<Settings>;
  settingsSave(settings: Settings): Promise<Settings>;

  /** Watches today's visits with an active invite; resolves to how many. */
  waitingSync(tz: string): Promise<number>;
  waitingAdmit(visit: string, device: string): Promise<void>;
  waitingDeny(visit: string, device: string, reason: string): Promise<void>;
  waitingMessage(visit: string, device: string, text: string): Promise<void>;
  /** Attaches the visit room's Channels (call updates; the patient's and our own frames as
   *  binary I420); resolves to the appointment id. */
  visitOpen(
    visit: string,
    events: ChannelLike<VisitUpdate>,
    remote: ChannelLike<ArrayBuffer>,
    local: ChannelLike<ArrayBuffer>,
  ): Promise<number>;
  visitClose(visit: string): Promise<void>;
  /** The window painted frame `seq` of `stream` (0 remote, 1 self view). */
  visitFrameAck(visit: string, stream: number, seq: number): Promise<void>;
  visitControls(visit: string, muted: boolean, cameraOff: boolean): Promise<void>;
  /** The patient read the code back: audited. */
  visitConfirmSas(visit: string): Promise<void>;
  /** Ends the call and marks the appointment finished. */
  visitEnd(visit: string): Promise<void>;
  /** Ends the call and puts the patient back in the waiting room. */
  visitSendBack(visit: string): Promise<void>;
  /** A chat message to the patient, on the call's data channel (the line comes back as a `chat` update). */
  visitChatSend(visit: string, text: string): Promise<void>;
  /** Switches a device mid-call (`id` null = the system's default); kept for the app session. */
  visitSetDevice(visit: string, kind: DeviceSlot, id: string | null): Promise<void>;
  /** The microphones, speakers and cameras on this computer, defaults first. */
  devicesList(): Promise<DeviceList>;
  /** Chooses a device for the app session (Settings; a call in progress switches too). */
  devicesChoose(kind: DeviceSlot, id: string | null): Promise<void>;
  /** Starts the Settings checks: the microphone level (dBFS) on `level`, the camera's
   *  picture (binary frames) on `preview`; says what could not start. */
  devicesMonitor(
    microphone: string | null,
    camera: string | null,
    level: ChannelLike<number>,
    preview: ChannelLike<ArrayBuffer>,
  ): Promise<MonitorStatus>;
  /** Stops the Settings checks and releases the devices. */
  devicesMonitorStop(): Promise<void>;
  /** Every policy in force with its source, level and status (the Policy page). */
  policyEffective(): Promise<PolicyView>;
  /** Reads the policy sources again now and returns the result. */
  policyReload(): Promise<PolicyView>;
  /** Asks the update server policy names whether a newer version exists. */
  updateCheck(): Promise<UpdateStatus>;
  /** Downloads, verifies (signature) and installs the newer version; restart to finish. */
  updateInstall(): Promise<UpdateStatus>;
}

/** Builds the API over an invoke function (Tauri's in the app, a mock in tests). */
export function createApi(invoke: InvokeFn): Api {
  // Each command's name, arguments and result are checked against `Commands`, generated
  // from the Rust command signatures (src-tauri/src/bindings.rs).
  async function call<K extends keyof Commands>(
    cmd: K,
    ...args: Commands[K]['args'] extends Record<string, never> ? [] : [Commands[K]['args']]
  ): Promise<Commands[K]['returns']> {
    try {
      const result = await invoke(cmd, args[0] as Record<string, unknown> | undefined);
      return result as Commands[K]['returns'];
    } catch (reason) {
      throw toApiError(reason);
    }
  }

  // Tauri maps camelCase argument names to the Rust commands' snake_case parameters.
  return {
    profiles: () => call('profiles'),
    passwordPolicy: () => call('password_policy'),
    createProfile: ({ username, displayName, password }) =>
      call('create_profile', { username, displayName, password }),
    confirmTotp: ({ username, password, code }) =>
      call('confirm_totp', { username, password, code }),
    signIn: ({ username, password, totp }) => call('sign_in', { username, password, totp }),
    pendingEnrolment: ({ username, password }) =>
      call('pending_enrolment', { username, password }),
    lock: () => call('lock'),
    sessionState: () => call('session_state'),
    touch: () => call('touch'),
    uiPainted: (page) => call('ui_painted', page),
    relayOrigin: () => call('relay_origin'),

    patientsList: () => call('patients_list'),
    patientsSearch: (query) => call('patients_search', { query }),
    patientGet: (id) => call('patient_get', { id }),
    patientCreate: (patient) => call('patient_create', { patient }),
    patientUpdate: (id, patient) => call('patient_update', { id, patient }),

    appointmentsDay: (date, tz) => call('appointments_day', { date, tz }),
    appointmentsWeek: (date, tz) => call('appointments_week', { date, tz }),
    appointmentGet: (id, tz) => call('appointment_get', { id, tz }),
    appointmentCreate: (appointment) =>
      call('appointment_create', { appointment }),
    appointmentReschedule: ({ id, localStart, tz, durationMin, force }) =>
      call('appointment_reschedule', { id, localStart, tz, durationMin, force }),
    appointmentSetReason: (id, reason, tz) => call('appointment_set_reason', { id, reason, tz }),
    appointmentCancel: (id) => call('appointment_cancel', { id }),
    appointmentNoShow: (id) => call('appointment_no_show', { id }),
    appointmentSetStatus: (id, status) => call('appointment_set_status', { id, status }),

    noteGet: (appointment) => call('note_get', { appointment }),
    noteSave: (appointment, text) => call('note_save', { appointment, text }),

    inviteCreate: (appointment) => call('invite_create', { appointment }),
    inviteShow: (appointment) => call('invite_show', { appointment }),
    inviteRevoke: (appointment) => call('invite_revoke', { appointment }),

    auditList: (filter) => call('audit_list', { filter }),
    auditVerify: () => call('audit_verify'),

    settingsGet: () => call('settings_get'),
    settingsSave: (settings) => call('settings_save', { settings }),

    waitingSync: (tz) => call('waiting_sync', { tz }),
    waitingAdmit: (visit, device) => call('waiting_admit', { visit, device }),
    waitingDeny: (visit, device, reason) => call('waiting_deny', { visit, device, reason }),
    waitingMessage: (visit, device, text) =>
      call('waiting_message', { visit, device, text }),
    visitOpen: (visit, events, remote, local) =>
      call('visit_open', { visit, events, remote, local }),
    visitClose: (visit) => call('visit_close', { visit }),
    visitFrameAck: (visit, stream, seq) => call('visit_frame_ack', { visit, stream, seq }),
    visitControls: (visit, muted, cameraOff) =>
      call('visit_controls', { visit, muted, cameraOff }),
    visitConfirmSas: (visit) => call('visit_confirm_sas', { visit }),
    visitEnd: (visit) => call('visit_end', { visit }),
    visitSendBack: (visit) => call('visit_send_back', { visit }),
    visitChatSend: (visit, text) => call('visit_chat_send', { visit, text }),
    visitSetDevice: (visit, kind, id) => call('visit_set_device', { visit, kind, id }),
    devicesList: () => call('devices_list'),
    devicesChoose: (kind, id) => call('devices_choose', { kind, id }),
    devicesMonitor: (microphone, camera, level, preview) =>
      call('devices_monitor', { microphone, camera, level, preview }),
    devicesMonitorStop: () => call('devices_monitor_stop'),
    policyEffective: () => call('policy_effective'),
    policyReload: () => call('policy_reload'),
    updateCheck: () => call('update_check'),
    updateInstall: () => call('update_install'),
  };
}
