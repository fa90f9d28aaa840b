import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { get } from 'svelte/store';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { ALEX, createFakeCore, VALID_CODE } from '../../test/fakeCore';
import { createApi } from '../api';
import { t } from '../i18n/en';
import { createAppStore } from '../stores/app';
import SignIn from './SignIn.svelte';

const BOB = { username: 'bkhan', display_name: 'Nurse Bo Khan', totp_enabled: true, password: 'amber quarry violin' };

async function setup(
  options: { maxFailures?: number; locked?: boolean; profiles?: (typeof ALEX)[] } = {},
) {
  const core = createFakeCore({
    profiles: options.profiles ?? [{ ...ALEX }, { ...BOB }],
    ...(options.maxFailures !== undefined ? { maxFailures: options.maxFailures } : {}),
  });
  const store = createAppStore({ api: createApi(core.invoke) });
  await store.init();
  const s = get(store).screen;
  if (s.name !== 'sign_in') throw new Error(`unexpected screen ${s.name}`);
  const user = userEvent.setup();
  render(SignIn, { store, profiles: s.profiles, username: 'amorgan', locked: options.locked ?? false });
  return { core, store, user };
}

async function attempt(user: ReturnType<typeof userEvent.setup>, password: string, code: string) {
  await user.clear(screen.getByTestId('signin-password'));
  await user.type(screen.getByTestId('signin-password'), password);
  await user.clear(screen.getByTestId('signin-code'));
  await user.type(screen.getByTestId('signin-code'), code);
  await user.click(screen.getByTestId('signin-submit'));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SignIn', () => {
  it('lists the existing profiles by name and labels every input', async () => {
    await setup();
    const select = screen.getByLabelText(t.signIn.profile) as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(['amorgan', 'bkhan']);
    expect(select.value).toBe('amorgan');
    expect(screen.getByLabelText(t.signIn.password)).toBe(screen.getByTestId('signin-password'));
    expect(screen.getByLabelText(t.signIn.code)).toBe(screen.getByTestId('signin-code'));
  });

  it('shows the same generic message for a wrong password and for a wrong code', async () => {
    const { user } = await setup();
    const error = screen.getByTestId('signin-error');
    expect(error.textContent?.trim()).toBe('');

    await attempt(user, 'not the password', VALID_CODE);
    await waitFor(() => expect(error.textContent?.trim()).toBe(t.signIn.genericError));
    const afterWrongPassword = error.innerHTML;

    await attempt(user, ALEX.password, '000000');
    await waitFor(() => expect(error.textContent?.trim()).toBe(t.signIn.genericError));
    expect(error.innerHTML).toBe(afterWrongPassword);
    expect(error.getAttribute('role')).toBe('alert');
  });

  it('uses the generic message for a malformed code too, without calling the core', async () => {
    const { core, user } = await setup();
    await attempt(user, ALEX.password, '12ab');
    expect(screen.getByTestId('signin-error').textContent?.trim()).toBe(t.signIn.genericError);
    expect(core.calls.some((c) => c.cmd === 'sign_in')).toBe(false);
  });

  it('clears the password and code after a failure', async () => {
    const { user } = await setup();
    await attempt(user, 'wrong wrong wrong', VALID_CODE);
    await waitFor(() =>
      expect((screen.getByTestId('signin-password') as HTMLInputElement).value).toBe(''),
    );
    expect((screen.getByTestId('signin-code') as HTMLInputElement).value).toBe('');
  });

  it('signs in the selected profile', async () => {
    const { core, store, user } = await setup();
    await user.selectOptions(screen.getByTestId('signin-username'), 'bkhan');
    await attempt(user, BOB.password, VALID_CODE);
    await waitFor(() => expect(get(store).screen.name).toBe('signed_in'));
    expect(core.calls.find((c) => c.cmd === 'sign_in')?.args).toMatchObject({ username: 'bkhan' });
  });

  it('shows the lockout wait, disables the button, and counts down', async () => {
    const { user } = await setup({ maxFailures: 0 });
    await attempt(user, ALEX.password, VALID_CODE);
    const error = screen.getByTestId('signin-error');
    await waitFor(() => expect(error.textContent?.trim()).toBe(t.signIn.lockedOutWait(30)));
    expect(error.textContent).not.toContain(t.signIn.genericError);
    expect((screen.getByTestId('signin-submit') as HTMLButtonElement).disabled).toBe(true);
    // Counting down: the next second or two (a loaded machine can render
    // 28 before the test sees 29; CI did once).
    const next = [29, 28].map((s) => t.signIn.lockedOutWait(s));
    await waitFor(() => expect(next).toContain(error.textContent?.trim()), { timeout: 3500 });
  });

  it('requires the code on a fresh sign-in', async () => {
    const { core, user } = await setup();
    await user.type(screen.getByTestId('signin-password'), ALEX.password);
    await user.click(screen.getByTestId('signin-submit'));
    expect(screen.getByTestId('signin-error').textContent?.trim()).toBe(t.signIn.genericError);
    expect(core.calls.some((c) => c.cmd === 'sign_in')).toBe(false);
  });

  it('lets the lock screen send no code, and the core decides', async () => {
    const { core, store, user } = await setup({ locked: true });
    expect(screen.getByText(t.signIn.codeOptionalHint)).toBeTruthy();
    core.recentFullSignIn.add('amorgan');
    await user.type(screen.getByTestId('signin-password'), ALEX.password);
    await user.click(screen.getByTestId('signin-submit'));
    await waitFor(() => expect(get(store).screen.name).toBe('signed_in'));
    expect(core.calls.find((c) => c.cmd === 'sign_in')?.args).toMatchObject({ totp: null });
  });

  it('offers to finish setting up a profile whose TOTP was never confirmed', async () => {
    const { core, store, user } = await setup({ profiles: [{ ...ALEX, totp_enabled: false }] });
    expect(screen.getByTestId('signin-not-enrolled').textContent).toBe(t.signIn.notEnrolledNote);
    expect(screen.queryByTestId('signin-code')).toBeNull();
    expect(screen.getByTestId('signin-submit').textContent?.trim()).toBe(t.signIn.continueSetup);
    await user.type(screen.getByTestId('signin-password'), ALEX.password);
    await user.click(screen.getByTestId('signin-submit'));
    await waitFor(() => expect(get(store).screen.name).toBe('enrol_totp'));
    expect(core.calls.some((c) => c.cmd === 'sign_in')).toBe(false);
  });
});
