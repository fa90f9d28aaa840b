// Tests the IPC isolation hook in ui/isolation/index.js by running it as the iframe would.
import { beforeAll, describe, expect, it, vi } from 'vitest';

import hookSource from '../isolation/index.js?raw';
import * as shellEvents from './lib/events';

type Message = { cmd: string; callback: number; error: number; payload: unknown; options?: unknown };
type Hook = (m: Message) => Message;

let hook: Hook;

beforeAll(() => {
  new Function(hookSource)();
  hook = (window as unknown as { __TAURI_ISOLATION_HOOK__: Hook }).__TAURI_ISOLATION_HOOK__;
});

const msg = (cmd: string, payload: unknown): Message => ({ cmd, callback: 1, error: 2, payload });

describe('isolation hook', () => {
  it('lets the window listen to every event the shell emits (src/lib/events.ts)', () => {
    const names = Object.entries(shellEvents)
      .filter(([k, v]) => k.endsWith('_EVENT') && typeof v === 'string')
      .map(([, v]) => v as string);
    expect(names).toContain('open-appointment');
    for (const event of names) {
      const listen = msg('plugin:event|listen', { event, target: { kind: 'Any' }, handler: 9 });
      expect(hook(listen), event).toEqual(listen);
      const unlisten = msg('plugin:event|unlisten', { event, eventId: 9 });
      expect(hook(unlisten), event).toEqual(unlisten);
    }
  });

  it('passes the app commands through unchanged', () => {
    const allowed = [
      msg('profiles', {}),
      msg('session_state', {}),
      msg('touch', {}),
      msg('ui_painted', { scriptMs: 120, answeredMs: 180, paintedMs: 240 }),
      msg('lock', {}),
      msg('password_policy', {}),
      msg('create_profile', { username: 'a', displayName: 'A', password: 'p' }),
      msg('confirm_totp', { username: 'a', password: 'p', code: '123456' }),
      msg('sign_in', { username: 'a', password: 'p', totp: null }),
      msg('sign_in', { username: 'a', password: 'p', totp: '000000' }),
      msg('pending_enrolment', { username: 'a', password: 'p' }),
      msg('plugin:event|listen', { event: 'locked', target: { kind: 'Any' }, handler: 3 }),
      msg('plugin:event|unlisten', { event: 'locked', eventId: 3 }),
      msg('plugin:event|listen', { event: 'waiting', target: { kind: 'Any' }, handler: 4 }),
      msg('patients_search', { query: 'ada' }),
      msg('patient_create', { patient: { name: 'A', dob: '1980-12-10', phone: null } }),
      msg('appointments_week', { date: '2026-09-21', tz: 'Europe/London' }),
      msg('appointment_create', {
        appointment: { patient: 1, local_start: '2026-09-21T10:00', tz: 'UTC', duration_min: 30, reason: null, force: false },
      }),
      msg('appointment_reschedule', { id: 1, localStart: '2026-09-21T11:00', tz: 'UTC', durationMin: null, force: false }),
      msg('appointment_set_reason', { id: 1, reason: 'cough', tz: 'UTC' }),
      msg('appointment_set_reason', { id: 1, reason: null, tz: 'UTC' }),
      msg('note_save', { appointment: 1, text: 'note' }),
      msg('invite_create', { appointment: 1 }),
      msg('audit_list', { filter: { action: 'patient.', limit: 200 } }),
      msg('settings_save', { settings: { relay_url: null, idle_lock_minutes: 5, idle_lock_max_minutes: 10 } }),
      msg('settings_save', {
        settings: {
          relay_url: null,
          idle_lock_minutes: 5,
          idle_lock_max_minutes: 10,
          devices: { microphone: { id: 'mic', name: 'USB Headset' }, speaker: null, camera: null },
        },
      }),
      msg('plugin:event|listen', { event: 'devices-changed', target: { kind: 'Any' }, handler: 5 }),
      msg('plugin:event|unlisten', { event: 'devices-changed', eventId: 5 }),
      msg('waiting_admit', { visit: '00112233445566778899aabbccddeeff', device: 'd1' }),
      msg('visit_open', { visit: '00112233445566778899aabbccddeeff', events: '__CHANNEL__:1', remote: '__CHANNEL__:2', local: '__CHANNEL__:3' }),
      msg('visit_frame_ack', { visit: '00112233445566778899aabbccddeeff', stream: 0, seq: 17 }),
      msg('visit_controls', { visit: '00112233445566778899aabbccddeeff', muted: true, cameraOff: false }),
      msg('visit_confirm_sas', { visit: '00112233445566778899aabbccddeeff' }),
      msg('visit_end', { visit: '00112233445566778899aabbccddeeff' }),
      msg('visit_send_back', { visit: '00112233445566778899aabbccddeeff' }),
      msg('visit_close', { visit: '00112233445566778899aabbccddeeff' }),
      msg('visit_set_device', { visit: '00112233445566778899aabbccddeeff', kind: 'camera', id: 'v4l:/dev/video0' }),
      msg('visit_set_device', { visit: '00112233445566778899aabbccddeeff', kind: 'microphone', id: null }),
      msg('devices_list', {}),
      msg('devices_choose', { kind: 'speaker', id: null }),
      msg('devices_monitor', { microphone: 'mic', camera: null, level: '__CHANNEL__:4', preview: '__CHANNEL__:5' }),
      msg('devices_monitor_stop', {}),
      msg('plugin:__TAURI_CHANNEL__|fetch', null),
      msg('policy_effective', {}),
      msg('policy_reload', {}),
      msg('plugin:event|listen', { event: 'policy-changed', target: { kind: 'Any' }, handler: 4 }),
      msg('plugin:event|unlisten', { event: 'policy-changed', eventId: 4 }),
    ];
    for (const m of allowed) expect(hook(m)).toBe(m);
  });

  it('blocks unknown commands and unexpected arguments', () => {
    const blocked = [
      msg('plugin:fs|read_file', { path: '/etc/passwd' }),
      msg('visit_open', { visit: '00112233445566778899aabbccddeeff', events: 'https://x', remote: '__CHANNEL__:2', local: '__CHANNEL__:3' }),
      msg('visit_frame_ack', { visit: '00112233445566778899aabbccddeeff', stream: 2, seq: 1 }),
      msg('visit_controls', { visit: '00112233445566778899aabbccddeeff', muted: 'yes', cameraOff: false }),
      msg('visit_end', { visit: 'not-hex' }),
      msg('visit_set_device', { visit: '00112233445566778899aabbccddeeff', kind: 'screen', id: null }),
      msg('visit_set_device', { visit: '00112233445566778899aabbccddeeff', kind: 'camera', id: 'x'.repeat(2000) }),
      msg('devices_list', { all: true }),
      msg('ui_painted', {}),
      msg('ui_painted', { scriptMs: 1, answeredMs: 2, paintedMs: -3 }),
      msg('ui_painted', { scriptMs: 1, answeredMs: 2, paintedMs: 3, name: 'Ada' }),
      msg('settings_save', {
        settings: { relay_url: null, idle_lock_minutes: 5, idle_lock_max_minutes: 10, devices: { microphone: { id: 'm', name: 'n', extra: 1 } } },
      }),
      msg('settings_save', { settings: { relay_url: null, idle_lock_minutes: 5, idle_lock_max_minutes: 10, devices: 'all' } }),
      msg('devices_choose', { kind: 'screen', id: null }),
      msg('devices_monitor', { microphone: null, camera: null, level: 'https://x', preview: '__CHANNEL__:5' }),
      msg('devices_monitor_stop', { force: true }),
      msg('plugin:__TAURI_CHANNEL__|fetch', { path: '/etc/passwd' }),
      msg('plugin:event|emit', { event: 'locked' }),
      msg('plugin:event|listen', { event: 'tauri://drag-drop', target: { kind: 'Any' }, handler: 3 }),
      msg('sign_in', { username: 'a', password: 'p', totp: '12ab56' }),
      msg('sign_in', { username: 'a', password: 'p', totp: '123456', extra: 1 }),
      msg('create_profile', { username: 'a', displayName: 'A', password: 'x'.repeat(5000) }),
      msg('lock', { anything: true }),
      msg('policy_reload', { path: '/tmp/evil.json' }),
      msg('__proto__', {}),
      msg('patient_get', { id: '1' }),
      msg('patient_get', { id: -1 }),
      msg('patient_create', { patient: { name: 'A', dob: '1980-12-10', ssn: 'x' } }),
      msg('appointments_day', { date: '21/09/2026', tz: 'UTC' }),
      msg('appointment_get', { id: 1, tz: '../../etc' }),
      msg('note_save', { appointment: 1, text: 'x'.repeat(70000) }),
      msg('waiting_admit', { visit: 'not-hex', device: 'd1' }),
      msg('plugin:event|listen', { event: 'waiting-other', target: { kind: 'Any' }, handler: 3 }),
      msg('toString', {}),
    ];
    for (const m of blocked) {
      const out = hook(m);
      expect(out.cmd).toBe('__bedside_blocked_by_isolation__');
      expect(out.payload).toEqual({});
      expect(out.callback).toBe(1);
      expect(out.error).toBe(2);
    }
  });
});

describe('isolation frame start-up', () => {
  it("announces readiness as soon as Tauri's frame script listens for messages, once", () => {
    const posted: unknown[] = [];
    vi.spyOn(window.parent, 'postMessage').mockImplementation((m: unknown) => {
      posted.push(m);
    });
    // Other listeners announce nothing.
    window.addEventListener('focus', () => {});
    expect(posted).toEqual([]);
    // Tauri's frame script adds its `message` listener once its key is imported.
    const received: unknown[] = [];
    window.addEventListener('message', (e) => received.push((e as MessageEvent).data));
    expect(posted).toEqual(['__TAURI_ISOLATION_READY__']);
    // The listener itself was registered, not swallowed.
    window.dispatchEvent(new MessageEvent('message', { data: 'payload' }));
    expect(received).toEqual(['payload']);
    // The frame's own addEventListener is back: a later listener announces nothing again.
    window.addEventListener('message', () => {});
    expect(posted).toHaveLength(1);
  });
});
