import { get } from 'svelte/store';
import { describe, expect, it } from 'vitest';

import { ALEX, createFakeCore, createFakeEvents, VALID_CODE } from '../../test/fakeCore';
import { createApi } from '../api';
import { LOCKED_EVENT } from '../events';
import { createAppStore } from './app';

function setup(profiles = [{ ...ALEX }], opts: { now?: () => number } = {}) {
  const core = createFakeCore({ profiles });
  const events = createFakeEvents();
  const store = createAppStore({ api: createApi(core.invoke), listen: events.listen, ...opts });
  return { core, events, store, screen: () => get(store).screen };
}

describe('app store: start-up', () => {
  it('goes to first run when there is no profile', async () => {
    const { store, screen } = setup([]);
    expect(screen().name).toBe('loading');
    await store.init();
    expect(screen()).toEqual({ name: 'first_run', canCancel: false });
  });

  it('goes to sign-in with the only profile preselected', async () => {
    const { store, screen } = setup();
    await store.init();
    expect(screen()).toMatchObject({ name: 'sign_in', locked: false, username: 'amorgan' });
  });

  it('reads the minimum password length from the core', async () => {
    const { store } = setup([]);
    await store.init();
    expect(get(store).minPasswordLength).toBe(12);
  });

  it('resumes a session that is still unlocked (e.g. after a webview reload)', async () => {
    const { core, store, screen } = setup();
    core.session = { state: 'unlocked', username: 'amorgan', display_name: 'Dr Alex Morgan' };
    await store.init();
    expect(screen()).toEqual({ name: 'signed_in', username: 'amorgan', displayName: 'Dr Alex Morgan' });
  });

  it('shows the core message when the keychain is unavailable, and retries', async () => {
    const { core, store, screen } = setup();
    core.failAllWith = { code: 'keychain_unavailable', message: 'No system keychain is available.' };
    await store.init();
    expect(screen()).toEqual({
      name: 'startup_error',
      code: 'keychain_unavailable',
      message: 'No system keychain is available.',
    });
    core.failAllWith = null;
    await store.init();
    expect(screen().name).toBe('sign_in');
  });
});

describe('app store: first run', () => {
  const input = { username: 'amorgan', displayName: 'Dr Alex Morgan', password: 'violet lantern oxbow' };

  it('creates the profile, shows the enrolment, then confirms with the same password', async () => {
    const { core, store, screen } = setup([]);
    await store.init();
    await store.createProfile(input);
    const s = screen();
    expect(s.name).toBe('enrol_totp');
    if (s.name !== 'enrol_totp') return;
    expect(s.enrolment.secret_base32).toBe('JBSWY3DPEHPK3PXP');

    await store.confirmTotp(` ${VALID_CODE.slice(0, 3)} ${VALID_CODE.slice(3)} `);
    expect(core.calls.find((c) => c.cmd === 'confirm_totp')?.args).toEqual({
      username: 'amorgan',
      password: 'violet lantern oxbow',
      code: VALID_CODE,
    });
    expect(screen()).toEqual({ name: 'signed_in', username: 'amorgan', displayName: 'Dr Alex Morgan' });
  });

  it('never puts the password in observable state', async () => {
    const { store } = setup([]);
    await store.init();
    const seen: string[] = [];
    const off = store.subscribe((s) => seen.push(JSON.stringify(s)));
    await store.createProfile(input);
    off();
    expect(seen.join('\n')).not.toContain(input.password);
  });

  it('stays on the enrolment screen when the code is wrong', async () => {
    const { store, screen } = setup([]);
    await store.init();
    await store.createProfile(input);
    await expect(store.confirmTotp('000000')).rejects.toMatchObject({ code: 'signin_failed' });
    expect(screen().name).toBe('enrol_totp');
    await store.confirmTotp(VALID_CODE);
    expect(screen().name).toBe('signed_in');
  });

  it('refuses to confirm when no enrolment is in progress', async () => {
    const { store } = setup();
    await store.init();
    await expect(store.confirmTotp(VALID_CODE)).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('stays on first run when the profile already exists', async () => {
    const { store, screen } = setup();
    await store.init();
    store.showFirstRun();
    await expect(store.createProfile({ ...input })).rejects.toMatchObject({ code: 'profile_exists' });
    expect(screen()).toEqual({ name: 'first_run', canCancel: true });
  });
});

describe('app store: sign-in and lock', () => {
  it('signs in, then locks back to the sign-in screen with the same profile', async () => {
    const { core, store, screen } = setup();
    await store.init();
    await store.signIn({ username: 'amorgan', password: ALEX.password, code: VALID_CODE });
    expect(screen()).toMatchObject({ name: 'signed_in', displayName: 'Dr Alex Morgan' });

    await store.lock();
    expect(core.calls.at(-2)?.cmd).toBe('lock');
    expect(screen()).toMatchObject({ name: 'sign_in', locked: true, username: 'amorgan' });
  });

  it('rejects a wrong code and stays on sign-in', async () => {
    const { store, screen } = setup();
    await store.init();
    await expect(
      store.signIn({ username: 'amorgan', password: ALEX.password, code: '999999' }),
    ).rejects.toMatchObject({ code: 'signin_failed' });
    expect(screen().name).toBe('sign_in');
  });

  it('goes to the lock screen when the core emits `locked`', async () => {
    const { events, store, screen } = setup();
    await store.init();
    expect(events.count(LOCKED_EVENT)).toBe(1);
    await store.signIn({ username: 'amorgan', password: ALEX.password, code: VALID_CODE });
    events.emit(LOCKED_EVENT);
    await new Promise((r) => setTimeout(r, 0));
    expect(screen()).toMatchObject({ name: 'sign_in', locked: true, username: 'amorgan' });
  });

  it('ignores `locked` when nobody is signed in, and unsubscribes on destroy', async () => {
    const { events, store, screen } = setup();
    await store.init();
    events.emit(LOCKED_EVENT);
    await new Promise((r) => setTimeout(r, 0));
    expect(screen()).toMatchObject({ name: 'sign_in', locked: false });
    store.destroy();
    expect(events.count(LOCKED_EVENT)).toBe(0);
  });

  it('pings the core on activity while signed in, at most once per interval', async () => {
    let clock = 1_000_000;
    const { core, store } = setup([{ ...ALEX }], { now: () => clock });
    await store.init();
    store.activity();
    expect(core.calls.filter((c) => c.cmd === 'touch')).toHaveLength(0); // not signed in

    await store.signIn({ username: 'amorgan', password: ALEX.password, code: VALID_CODE });
    store.activity(); // just signed in: counts as activity already
    clock += 10_000;
    store.activity();
    store.activity();
    clock += 9_999;
    store.activity();
    clock += 1;
    store.activity();
    expect(core.calls.filter((c) => c.cmd === 'touch')).toHaveLength(2);
  });
});

describe('app store: interrupted first run', () => {
  it('resumes the pending enrolment with the password and finishes it', async () => {
    const { core, store, screen } = setup([{ ...ALEX, totp_enabled: false }]);
    await store.init();
    await expect(
      store.resumeEnrolment({ username: 'amorgan', password: 'wrong password here' }),
    ).rejects.toMatchObject({ code: 'signin_failed' });
    expect(screen().name).toBe('sign_in');

    await store.resumeEnrolment({ username: 'amorgan', password: ALEX.password });
    expect(screen()).toMatchObject({ name: 'enrol_totp', username: 'amorgan', displayName: 'Dr Alex Morgan' });
    await store.confirmTotp(VALID_CODE);
    expect(core.calls.find((c) => c.cmd === 'confirm_totp')?.args).toMatchObject({ password: ALEX.password });
    expect(screen().name).toBe('signed_in');
  });
});
