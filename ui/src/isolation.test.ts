// Tests the IPC isolation hook in ui/isolation/index.js by running it as the iframe would.
import { beforeAll, describe, expect, it } from 'vitest';

import hookSource from '../isolation/index.js?raw';

type Message = { cmd: string; callback: number; error: number; payload: unknown; options?: unknown };
type Hook = (m: Message) => Message;

let hook: Hook;

beforeAll(() => {
  new Function(hookSource)();
  hook = (window as unknown as { __TAURI_ISOLATION_HOOK__: Hook }).__TAURI_ISOLATION_HOOK__;
});

const msg = (cmd: string, payload: unknown): Message => ({ cmd, callback: 1, error: 2, payload });

describe('isolation hook', () => {
  it('passes the app commands through unchanged', () => {
    const allowed = [
      msg('profiles', {}),
      msg('session_state', {}),
      msg('touch', {}),
      msg('lock', {}),
      msg('password_policy', {}),
      msg('create_profile', { username: 'a', displayName: 'A', password: 'p' }),
      msg('confirm_totp', { username: 'a', password: 'p', code: '123456' }),
      msg('sign_in', { username: 'a', password: 'p', totp: null }),
      msg('sign_in', { username: 'a', password: 'p', totp: '000000' }),
      msg('pending_enrolment', { username: 'a', password: 'p' }),
      msg('plugin:event|listen', { event: 'locked', target: { kind: 'Any' }, handler: 3 }),
      msg('plugin:event|unlisten', { event: 'locked', eventId: 3 }),
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
      msg('plugin:event|emit', { event: 'locked' }),
      msg('plugin:event|listen', { event: 'tauri://drag-drop', target: { kind: 'Any' }, handler: 3 }),
      msg('sign_in', { username: 'a', password: 'p', totp: '12ab56' }),
      msg('sign_in', { username: 'a', password: 'p', totp: '123456', extra: 1 }),
      msg('create_profile', { username: 'a', displayName: 'A', password: 'x'.repeat(5000) }),
      msg('lock', { anything: true }),
      msg('policy_reload', { path: '/tmp/evil.json' }),
      msg('__proto__', {}),
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
