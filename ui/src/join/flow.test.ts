import { describe, expect, it } from 'vitest';

import type { RelayToPatient } from '../../../crates/bedside-protocol/generated/protocol';
import { initial, inviteEvent, isFinal, mediaStatusFor, reduce, type Event, type Invite, type State } from './flow';

const invite: Invite = { clinicName: 'Riverside Practice', notBefore: 1_800_000_000, expires: 1_800_005_400 };
const relay = (msg: RelayToPatient): Event => ({ type: 'relay', msg });
const run = (events: Event[], from: State = initial) => events.reduce(reduce, from);

const ready: State = { kind: 'ready', invite };
const checkingCamera: State = { kind: 'device_check', invite, media: 'asking' };
const form: State = { kind: 'knock_form', invite, askDob: false, camera: true };
const connecting: State = { kind: 'connecting', invite };
const waiting: State = { kind: 'waiting', invite, messages: [], returned: false };
const admitted: State = { kind: 'admitted', invite, messages: [] };

describe('join flow: the link', () => {
  it('starts by checking the link, then is ready with the invite', () => {
    expect(initial).toEqual({ kind: 'checking' });
    expect(run([{ type: 'invite_ok', invite }])).toEqual(ready);
  });

  it.each([
    ['invalid', undefined],
    ['expired', undefined],
    ['withdrawn', undefined],
    ['incomplete', undefined],
    ['not_yet_open', 1_800_000_000],
  ] as const)('shows a link error: %s', (problem, opensAt) => {
    const s = run([opensAt === undefined ? { type: 'invite_refused', problem } : { type: 'invite_refused', problem, opensAt }]);
    expect(s).toEqual(opensAt === undefined ? { kind: 'link_error', problem } : { kind: 'link_error', problem, opensAt });
    expect(isFinal(s)).toBe(true);
    // Nothing moves a refused link on.
    expect(run([{ type: 'invite_ok', invite }, { type: 'start_device_check' }, { type: 'retry' }], s)).toEqual(s);
  });

  it('an unreachable relay is an error that retries the check', () => {
    const s = run([{ type: 'invite_unreachable' }]);
    expect(s).toEqual({ kind: 'error', failure: 'connection' });
    expect(reduce(s, { type: 'retry' })).toEqual({ kind: 'checking' });
  });

  it('maps the invite API answers to events', () => {
    expect(inviteEvent(200, { clinic_name: 'Riverside Practice', not_before: 1_800_000_000, expires: 1_800_005_400 })).toEqual({
      type: 'invite_ok',
      invite,
    });
    expect(inviteEvent(404, { error: 'not_valid', message: '…' })).toEqual({ type: 'invite_refused', problem: 'invalid' });
    expect(inviteEvent(410, { error: 'expired' })).toEqual({ type: 'invite_refused', problem: 'expired' });
    expect(inviteEvent(410, { error: 'revoked' })).toEqual({ type: 'invite_refused', problem: 'withdrawn' });
    expect(inviteEvent(403, { error: 'not_yet_valid', not_before: 1_800_000_000 })).toEqual({
      type: 'invite_refused',
      problem: 'not_yet_open',
      opensAt: 1_800_000_000,
    });
    expect(inviteEvent(404, null)).toEqual({ type: 'invite_refused', problem: 'invalid' });
    expect(inviteEvent(200, { clinic_name: 3 })).toEqual({ type: 'invite_unreachable' });
    expect(inviteEvent(502, null)).toEqual({ type: 'invite_unreachable' });
    expect(inviteEvent(429, { error: 'rate_limited' })).toEqual({ type: 'invite_unreachable' });
  });
});

describe('join flow: device check', () => {
  it('asks for the camera, then continues to the knock form', () => {
    expect(reduce(ready, { type: 'start_device_check' })).toEqual(checkingCamera);
    const ok = reduce(checkingCamera, { type: 'media', status: 'ok' });
    expect(ok).toEqual({ ...checkingCamera, media: 'ok' });
    expect(reduce(ok, { type: 'continue', askDob: false })).toEqual(form);
    expect(reduce(ok, { type: 'continue', askDob: true })).toEqual({ ...form, askDob: true });
  });

  it.each(['denied', 'missing', 'in_use', 'unsupported'] as const)('%s: cannot continue with the camera, may continue without', (media) => {
    const s = reduce(checkingCamera, { type: 'media', status: media });
    expect(s).toEqual({ ...checkingCamera, media });
    expect(reduce(s, { type: 'continue', askDob: false })).toBe(s);
    expect(reduce(s, { type: 'skip_camera', askDob: false })).toEqual({ ...form, camera: false });
    // Try again.
    expect(reduce(s, { type: 'media', status: 'asking' })).toEqual(checkingCamera);
  });

  it('may skip the camera while the browser is still asking', () => {
    expect(reduce(checkingCamera, { type: 'skip_camera', askDob: true })).toEqual({ ...form, askDob: true, camera: false });
  });

  it('maps getUserMedia errors', () => {
    expect(mediaStatusFor(new DOMException('x', 'NotAllowedError'))).toBe('denied');
    expect(mediaStatusFor({ name: 'SecurityError' })).toBe('denied');
    expect(mediaStatusFor(new DOMException('x', 'NotFoundError'))).toBe('missing');
    expect(mediaStatusFor({ name: 'OverconstrainedError' })).toBe('missing');
    expect(mediaStatusFor(new DOMException('x', 'NotReadableError'))).toBe('in_use');
    expect(mediaStatusFor(new TypeError('no mediaDevices'))).toBe('unsupported');
    expect(mediaStatusFor(null)).toBe('unsupported');
  });

  it('ignores events out of order', () => {
    expect(reduce(initial, { type: 'start_device_check' })).toEqual(initial);
    expect(reduce(ready, { type: 'media', status: 'ok' })).toEqual(ready);
    expect(reduce(ready, { type: 'knock_sent' })).toEqual(ready);
    expect(reduce(form, { type: 'invite_ok', invite })).toEqual(form);
    expect(reduce(ready, relay({ type: 'admitted', turn: null }))).toEqual(ready);
  });
});

describe('join flow: the waiting room', () => {
  it('knocks, waits, receives messages, is admitted, sent back, admitted again, ended', () => {
    let s = reduce(form, { type: 'knock_sent' });
    expect(s).toEqual(connecting);
    s = reduce(s, relay({ type: 'welcome', clinic_name: 'x', not_before: 0, expires: 1 }));
    expect(s).toEqual(connecting);
    s = reduce(s, relay({ type: 'waiting' }));
    expect(s).toEqual(waiting);
    s = reduce(s, { type: 'clinic_message', text: '5 more minutes' });
    s = reduce(s, relay({ type: 'pong' }));
    s = reduce(s, { type: 'clinic_message', text: 'Almost ready' });
    expect(s).toEqual({ ...waiting, messages: ['5 more minutes', 'Almost ready'] });
    s = reduce(s, relay({ type: 'admitted', turn: null }));
    expect(s).toEqual({ ...admitted, messages: ['5 more minutes', 'Almost ready'] });
    s = reduce(s, relay({ type: 'back_to_lobby' }));
    expect(s).toEqual({ ...waiting, messages: ['5 more minutes', 'Almost ready'], returned: true });
    s = reduce(s, relay({ type: 'admitted', turn: null }));
    s = reduce(s, { type: 'clinic_message', text: 'Hello' });
    expect(s.kind === 'admitted' && s.messages.at(-1)).toBe('Hello');
    s = reduce(s, relay({ type: 'ended' }));
    expect(s).toEqual({ kind: 'ended' });
    expect(isFinal(s)).toBe(true);
    expect(reduce(s, { type: 'socket_closed' })).toEqual(s);
  });

  it('a message before the lobby confirmation puts the patient in the waiting room', () => {
    expect(reduce(connecting, { type: 'clinic_message', text: 'Hi' })).toEqual({ ...waiting, messages: ['Hi'] });
  });

  it('keeps a message that did not open as a notice, and ignores sealed frames themselves', () => {
    expect(reduce(waiting, { type: 'clinic_message', text: null })).toEqual({ ...waiting, messages: [null] });
    expect(reduce(waiting, relay({ type: 'message', sealed: 'AAAA' }))).toEqual(waiting);
    expect(reduce(waiting, relay({ type: 'denied', sealed: 'AAAA' }))).toEqual(waiting);
    expect(reduce(waiting, { type: 'clinic_denied', reason: null })).toEqual({ kind: 'denied', reason: null });
    expect(reduce(ready, { type: 'clinic_message', text: 'x' })).toEqual(ready);
  });

  it.each([
    [{ type: 'clinic_denied', reason: 'Please call the front desk' }, { kind: 'denied', reason: 'Please call the front desk' }],
    [relay({ type: 'expired' }), { kind: 'expired' }],
    [relay({ type: 'locked' }), { kind: 'locked' }],
    [relay({ type: 'ended' }), { kind: 'ended' }],
  ] as const)('ends the wait: %j', (event, want) => {
    for (const from of [connecting, waiting, admitted]) {
      const s = reduce(from, event);
      expect(s).toEqual(want);
      expect(isFinal(s)).toBe(true);
      // A later close or message changes nothing.
      expect(reduce(reduce(s, { type: 'socket_closed' }), relay({ type: 'admitted', turn: null }))).toEqual(want);
    }
  });

  it.each([
    ['rate_limited', 'try_later'],
    ['busy', 'try_later'],
    ['idle_timeout', 'connection'],
    ['unsupported_version', 'reload'],
    ['malformed', 'generic'],
    ['bad_state', 'generic'],
  ] as const)('relay error %s → %s, and retry goes back to ready', (code, failure) => {
    const s = reduce(waiting, relay({ type: 'error', code, message: 'text from the relay' }));
    expect(s).toEqual({ kind: 'error', failure, invite });
    expect(reduce(s, { type: 'retry' })).toEqual(ready);
  });

  it('an invite refused over the socket is a link error', () => {
    expect(reduce(connecting, relay({ type: 'error', code: 'invalid_invite', message: 'This link has expired' }))).toEqual({
      kind: 'link_error',
      problem: 'invalid',
    });
  });

  it('a lost connection is an error with retry', () => {
    for (const from of [connecting, waiting, admitted]) {
      const s = reduce(from, { type: 'socket_closed' });
      expect(s).toEqual({ kind: 'error', failure: 'connection', invite });
      expect(reduce(s, { type: 'retry' })).toEqual(ready);
    }
    expect(reduce(form, { type: 'socket_closed' })).toEqual(form);
  });

  it('the patient may leave while waiting', () => {
    expect(reduce(waiting, { type: 'leave' })).toEqual({ kind: 'left' });
    expect(reduce(connecting, { type: 'leave' })).toEqual({ kind: 'left' });
    expect(isFinal({ kind: 'left' })).toBe(true);
    expect(reduce(ready, { type: 'leave' })).toEqual(ready);
  });
});
