// An in-memory stand-in for the Tauri shell + core, behind the same `invoke` signature.
// It mimics the real commands' argument names and `{code, message}` errors so tests
// exercise the real API wrapper and stores.

import type { InvokeFn } from '../lib/api';
import type {
  AppointmentInput,
  AppointmentView,
  AuditEvent,
  InviteView,
  Note,
  Patient,
  PatientInput,
  ProfileSummary,
  SessionState,
  Settings,
} from '../lib/types';

interface FakeProfile extends ProfileSummary {
  password: string;
}

export const VALID_CODE = '123456';
// A 1x1 transparent PNG, enough for an <img>.
export const TINY_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

export interface FakeCore {
  invoke: InvokeFn;
  calls: { cmd: string; args: Record<string, unknown> | undefined }[];
  profiles: FakeProfile[];
  session: SessionState;
  /** Failed sign-ins before `locked_out`. */
  maxFailures: number;
  failures: number;
  /** Make every command reject with this error (e.g. a missing keychain). */
  failAllWith: { code: string; message: string } | null;
  /** Profiles with a full (password + code) sign-in: the lock screen may omit the code. */
  recentFullSignIn: Set<string>;
  /** The clinician's data behind the desk commands. */
  desk: FakeDesk;
}

export interface FakeDesk {
  patients: Patient[];
  appointments: AppointmentView[];
  notes: Map<number, Note[]>;
  invites: Map<number, InviteView>;
  audit: AuditEvent[];
  settings: Settings;
  watching: number;
}

const NOT_DESK = Symbol('not a desk command');

function overlaps(a: AppointmentView, startMs: number, endMs: number): boolean {
  const s = Date.parse(a.start);
  return (
    ['booked', 'arrived', 'in_progress'].includes(a.status) &&
    s < endMs &&
    s + a.duration_min * 60_000 > startMs
  );
}

/** The desk commands, in memory. Times are treated as UTC (the fake ignores `tz`). */
function desk(fake: FakeCore, cmd: string, a: Record<string, unknown>): unknown {
  const d = fake.desk;
  const audit = (action: string, subject: Record<string, unknown>) =>
    d.audit.push({ seq: d.audit.length + 1, time: '2026-09-21T09:00:00.000Z', actor: 'amorgan', action, subject, prev: '', mac: '' });
  const patientById = (id: unknown) => {
    const p = d.patients.find((x) => x.id === id);
    if (!p) reject('not_found', `patient ${String(id)} not found`);
    return p;
  };
  const apptById = (id: unknown) => {
    const x = d.appointments.find((y) => y.id === id);
    if (!x) reject('not_found', `appointment ${String(id)} not found`);
    return x;
  };
  switch (cmd) {
    case 'relay_origin':
      return 'http://127.0.0.1:4000';
    case 'patients_list':
      return [...d.patients].sort((x, y) => x.name.localeCompare(y.name));
    case 'patients_search': {
      const q = String(a.query).toLowerCase();
      return d.patients.filter((p) => p.name.toLowerCase().includes(q));
    }
    case 'patient_get':
      audit('patient.view', { patient: a.id });
      return patientById(a.id);
    case 'patient_create':
    case 'patient_update': {
      const input = a.patient as PatientInput;
      if (!input.name.trim()) reject('invalid_input', 'name: is required');
      if (!/^\d{4}-\d{2}-\d{2}$/.test(input.dob)) reject('invalid_input', 'date of birth: is not a valid date; use YYYY-MM-DD');
      const fields = {
        name: input.name.trim(),
        dob: input.dob,
        phone: input.phone || null,
        email: input.email || null,
        mrn: input.mrn || null,
      };
      if (cmd === 'patient_update') {
        const p = patientById(a.id);
        Object.assign(p, fields);
        return p;
      }
      const p: Patient = { id: d.patients.length + 1, ...fields };
      d.patients.push(p);
      audit('patient.create', { patient: p.id });
      return p;
    }
    case 'appointments_day':
    case 'appointments_week': {
      const date = String(a.date);
      if (cmd === 'appointments_day') return d.appointments.filter((x) => x.local_start.startsWith(date));
      const base = new Date(`${date}T00:00:00Z`);
      const monday = new Date(base.getTime() - ((base.getUTCDay() + 6) % 7) * 86_400_000);
      const end = monday.getTime() + 7 * 86_400_000;
      return d.appointments.filter((x) => Date.parse(x.start) >= monday.getTime() && Date.parse(x.start) < end);
    }
    case 'appointment_get':
      return apptById(a.id);
    case 'appointment_create': {
      const input = a.appointment as AppointmentInput;
      const patient = patientById(input.patient);
      const startMs = Date.parse(`${input.local_start}:00Z`);
      if (Number.isNaN(startMs)) reject('invalid_input', 'start: is not a date and time');
      const clash = d.appointments.find((x) => overlaps(x, startMs, startMs + input.duration_min * 60_000));
      if (clash && !input.force) {
        reject('overlap', `overlaps appointment ${clash.id}; choose another time or force it`, { conflict_with: clash.id });
      }
      const iso = new Date(startMs).toISOString().slice(0, 19);
      const view: AppointmentView = {
        id: d.appointments.length + 1,
        patient: patient.id,
        start: `${iso}Z`,
        tz: input.tz,
        duration_min: input.duration_min,
        reason: input.reason ?? null,
        status: 'booked',
        patient_name: patient.name,
        local_start: `${iso}+00:00`,
      };
      d.appointments.push(view);
      audit('appointment.create', { appointment: view.id });
      return view;
    }
    case 'appointment_reschedule': {
      const x = apptById(a.id);
      const startMs = Date.parse(`${String(a.localStart)}:00Z`);
      const dur = (a.durationMin as number | null) ?? x.duration_min;
      const clash = d.appointments.find((y) => y.id !== x.id && overlaps(y, startMs, startMs + dur * 60_000));
      if (clash && !a.force) reject('overlap', `overlaps appointment ${clash.id}`, { conflict_with: clash.id });
      const iso = new Date(startMs).toISOString().slice(0, 19);
      Object.assign(x, { start: `${iso}Z`, local_start: `${iso}+00:00`, duration_min: dur });
      return x;
    }
    case 'appointment_set_reason': {
      const x = apptById(a.id);
      const r = typeof a.reason === 'string' ? a.reason.trim() : '';
      if (r.length > 65536) reject('invalid_input', 'reason is too long');
      const next = r === '' ? null : r;
      if (next !== x.reason) {
        x.reason = next;
        audit('appointment.reason', { appointment: x.id, cleared: next === null });
      }
      return x;
    }
    case 'appointment_cancel':
    case 'appointment_no_show':
    case 'appointment_set_status': {
      const x = apptById(a.id);
      const to = cmd === 'appointment_cancel' ? 'cancelled' : cmd === 'appointment_no_show' ? 'no_show' : (a.status as AppointmentView['status']);
      if (!['booked', 'arrived'].includes(x.status)) reject('bad_transition', `appointment ${x.id} is ${x.status}`);
      x.status = to;
      return null;
    }
    case 'note_get': {
      const versions = d.notes.get(a.appointment as number) ?? [];
      return versions[versions.length - 1] ?? null;
    }
    case 'note_save': {
      const id = a.appointment as number;
      const versions = d.notes.get(id) ?? [];
      const note: Note = { appointment: id, version: versions.length + 1, text: String(a.text), saved_at: '2026-09-21T09:00:00Z' };
      d.notes.set(id, [...versions, note]);
      return note.version;
    }
    case 'invite_create': {
      const id = a.appointment as number;
      const n = (fake.calls.filter((c) => c.cmd === 'invite_create').length).toString(16).padStart(2, '0');
      const invite: InviteView = {
        link: `http://127.0.0.1:4000/j/TOKEN${n}#SECRET${n}`,
        not_before: 1_790_000_000,
        expires: 1_790_010_000,
        qr_data_url: `data:image/png;base64,${TINY_PNG_BASE64}`,
      };
      d.invites.set(id, invite);
      return invite;
    }
    case 'invite_show':
      return d.invites.get(a.appointment as number) ?? null;
    case 'invite_revoke':
      d.invites.delete(a.appointment as number);
      return null;
    case 'audit_list': {
      const f = a.filter as { action?: string | null };
      return [...d.audit].reverse().filter((e) => !f.action || e.action.startsWith(f.action));
    }
    case 'audit_verify':
      return { status: 'ok', count: d.audit.length };
    case 'settings_get':
      return d.settings;
    case 'settings_save': {
      const s = a.settings as Settings;
      if (s.idle_lock_minutes < 1 || s.idle_lock_minutes > d.settings.idle_lock_max_minutes) {
        reject('invalid_input', 'idle lock: out of range');
      }
      d.settings = { ...d.settings, relay_url: s.relay_url, idle_lock_minutes: s.idle_lock_minutes };
      return d.settings;
    }
    case 'devices_list':
      return {
        microphones: [{ id: 'fake-mic', name: 'Fake Microphone', default: true }],
        speakers: [{ id: 'fake-speaker', name: 'Fake Speakers', default: true }],
        cameras: [],
      };
    case 'devices_monitor':
      return { microphone_error: null, camera_error: 'No camera was found.', no_camera: true };
    case 'devices_choose':
    case 'visit_set_device': {
      // Saved with the profile's settings, as the shell does (the name from the list).
      const kind = a.kind as 'microphone' | 'speaker' | 'camera';
      const id = (a.id as string | null) ?? null;
      d.settings = { ...d.settings, devices: { ...d.settings.devices, [kind]: id === null ? null : { id, name: `Fake ${kind}` } } };
      return null;
    }
    case 'devices_monitor_stop':
      return null;
    case 'waiting_sync':
      return d.watching;
    case 'waiting_admit':
    case 'waiting_deny':
    case 'waiting_message':
      return null;
    default:
      return NOT_DESK;
  }
}

function reject(code: string, message: string, extra: Record<string, unknown> = {}): never {
  throw { code, message, ...extra };
}

export function createFakeCore(initial: Partial<Pick<FakeCore, 'profiles' | 'maxFailures'>> = {}): FakeCore {
  const fake: FakeCore = {
    calls: [],
    profiles: initial.profiles ?? [],
    session: { state: 'locked' },
    maxFailures: initial.maxFailures ?? 5,
    failures: 0,
    failAllWith: null,
    recentFullSignIn: new Set(),
    desk: {
      patients: [],
      appointments: [],
      notes: new Map(),
      invites: new Map(),
      audit: [],
      settings: {
        relay_url: null,
        idle_lock_minutes: 10,
        idle_lock_max_minutes: 10,
        devices: { microphone: null, speaker: null, camera: null },
      },
      watching: 0,
    },
    invoke: async (cmd, args) => {
      fake.calls.push({ cmd, args });
      if (fake.failAllWith) reject(fake.failAllWith.code, fake.failAllWith.message);
      const a = (args ?? {}) as Record<string, string | null>;
      switch (cmd) {
        case 'password_policy':
          return { min_length: 12 };
        case 'profiles':
          return fake.profiles.map(({ username, display_name, totp_enabled }) => ({
            username,
            display_name,
            totp_enabled,
          }));
        case 'session_state':
          return fake.session;
        case 'create_profile': {
          if (fake.profiles.some((p) => p.username === a.username)) {
            reject('profile_exists', 'A profile with this username already exists.');
          }
          if ((a.password ?? '').length < 12) reject('weak_password', 'The password is too short.');
          fake.profiles.push({
            username: a.username!,
            display_name: a.displayName!,
            password: a.password!,
            totp_enabled: false,
          });
          return {
            otpauth_uri: `otpauth://totp/Bedside:${a.username}?secret=JBSWY3DPEHPK3PXP&issuer=Bedside`,
            secret_base32: 'JBSWY3DPEHPK3PXP',
            qr_png_base64: TINY_PNG_BASE64,
          };
        }
        case 'confirm_totp': {
          const p = fake.profiles.find((x) => x.username === a.username);
          if (!p || p.password !== a.password || a.code !== VALID_CODE) {
            reject('signin_failed', 'Sign-in failed.');
          }
          p.totp_enabled = true;
          fake.recentFullSignIn.add(p.username);
          fake.session = { state: 'unlocked', username: p.username, display_name: p.display_name };
          return null;
        }
        case 'sign_in': {
          if (fake.failures >= fake.maxFailures) {
            reject('locked_out', 'Too many attempts; wait before trying again.', {
              retry_after_secs: 30,
            });
          }
          const p = fake.profiles.find((x) => x.username === a.username);
          const codeOk =
            p &&
            (a.totp === VALID_CODE || (a.totp === null && fake.recentFullSignIn.has(p.username)));
          if (!p || p.password !== a.password || !codeOk) {
            fake.failures += 1;
            reject('signin_failed', 'Sign-in failed.');
          }
          if (!p.totp_enabled) reject('totp_not_enrolled', 'Two-step sign-in is not set up yet.');
          fake.failures = 0;
          if (a.totp !== null) fake.recentFullSignIn.add(p.username);
          fake.session = { state: 'unlocked', username: p.username, display_name: p.display_name };
          return null;
        }
        case 'pending_enrolment': {
          const p = fake.profiles.find((x) => x.username === a.username);
          if (!p || p.password !== a.password) reject('signin_failed', 'Sign-in failed.');
          if (p.totp_enabled) reject('totp_already_enabled', 'Already set up.');
          return {
            otpauth_uri: `otpauth://totp/Bedside:${p.username}?secret=JBSWY3DPEHPK3PXP&issuer=Bedside`,
            secret_base32: 'JBSWY3DPEHPK3PXP',
            qr_png_base64: TINY_PNG_BASE64,
          };
        }
        case 'lock':
          fake.session = { state: 'locked' };
          return null;
        case 'touch':
          return null;
        case 'ui_painted':
          return null;
        default: {
          const handled = desk(fake, cmd, (args ?? {}) as Record<string, unknown>);
          if (handled !== NOT_DESK) return handled;
          // What Tauri does for an unknown or forbidden command: a bare string.
          throw `command ${cmd} not found`;
        }
      }
    },
  };
  return fake;
}

/** A `listen` that records handlers so a test can emit shell events. */
export function createFakeEvents() {
  const handlers = new Map<string, Set<(payload: unknown) => void>>();
  return {
    listen: async (event: string, handler: (payload: unknown) => void) => {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event)!.add(handler);
      return () => handlers.get(event)?.delete(handler);
    },
    emit(event: string, payload?: unknown) {
      handlers.get(event)?.forEach((h) => h(payload));
    },
    count(event: string) {
      return handlers.get(event)?.size ?? 0;
    },
  };
}

export const ALEX: FakeProfile = {
  username: 'amorgan',
  display_name: 'Dr Alex Morgan',
  totp_enabled: true,
  password: 'correct horse battery staple',
};
