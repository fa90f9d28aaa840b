import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeAll, describe, expect, it, vi } from 'vitest';

import App from './App.svelte';
import { t } from './lib/i18n/en';
import { LOCKED_EVENT, OPEN_APPOINTMENT_EVENT, POLICY_CHANGED_EVENT, WAITING_EVENT } from './lib/events';
import { createApi } from './lib/api';
import { createAppStore } from './lib/stores/app';
import { ALEX, createFakeCore, createFakeEvents, TINY_PNG_BASE64, VALID_CODE } from './test/fakeCore';

// App loads the signed-in desk with a dynamic import(); transform it once up front so a
// findBy* timeout never includes vite compiling the whole desk on a busy machine.
beforeAll(async () => {
  await import('./lib/components/SignedIn.svelte');
});

function setup(profiles: (typeof ALEX)[] = []) {
  const core = createFakeCore({ profiles });
  const events = createFakeEvents();
  const store = createAppStore({ api: createApi(core.invoke), listen: events.listen });
  const user = userEvent.setup();
  render(App, { store });
  return { core, events, user };
}

describe('App: start-up', () => {
  it('tells the shell once that the first screen is painted, even after the screen changes', async () => {
    const { core, user } = setup([ALEX]);
    await screen.findByTestId('screen-sign-in');
    await waitFor(() => expect(core.calls.filter((c) => c.cmd === 'ui_painted')).toHaveLength(1));
    // With the page's own timings, in order: script, first screen's data, paint.
    const page = core.calls.find((c) => c.cmd === 'ui_painted')?.args as Record<string, number>;
    expect(Object.keys(page).sort()).toEqual(['answeredMs', 'paintedMs', 'scriptMs']);
    expect(page.scriptMs).toBeLessThanOrEqual(page.answeredMs!);
    expect(page.answeredMs).toBeGreaterThan(0);
    expect(page.answeredMs).toBeLessThanOrEqual(page.paintedMs!);
    await user.click(screen.getByTestId('signin-new-profile'));
    await screen.findByTestId('screen-first-run');
    await new Promise((r) => setTimeout(r, 100));
    expect(core.calls.filter((c) => c.cmd === 'ui_painted')).toHaveLength(1);
  });
});

describe('App: first run', () => {
  it('goes from profile creation to TOTP enrolment to signed in, then locks with Ctrl+L', async () => {
    const { core, user } = setup();
    await screen.findByTestId('screen-first-run');

    await user.type(screen.getByLabelText(t.firstRun.displayName), 'Dr Alex Morgan');
    await user.type(screen.getByLabelText(t.firstRun.username), 'amorgan');
    await user.type(screen.getByLabelText(t.firstRun.password), 'violet lantern oxbow');
    await user.type(screen.getByLabelText(t.firstRun.confirmPassword), 'violet lantern oxbow');
    await user.click(screen.getByTestId('first-run-submit'));

    await screen.findByTestId('screen-enrol-totp');
    const qr = screen.getByTestId('totp-qr') as HTMLImageElement;
    expect(qr.getAttribute('src')).toBe(`data:image/png;base64,${TINY_PNG_BASE64}`);
    expect(qr.alt).toBe(t.totp.qrAlt);
    expect(screen.getByTestId('totp-secret').textContent).toBe('JBSW Y3DP EHPK 3PXP');
    expect(screen.getByTestId('totp-uri').textContent).toContain('otpauth://totp/');

    await user.type(screen.getByLabelText(t.totp.codeLabel), '000000');
    await user.click(screen.getByTestId('totp-submit'));
    await waitFor(() => expect(screen.getByTestId('totp-error').textContent).toContain(t.totp.wrongCode));

    await user.type(screen.getByLabelText(t.totp.codeLabel), VALID_CODE);
    await user.click(screen.getByTestId('totp-submit'));
    const home = await screen.findByTestId('screen-signed-in');
    expect(screen.getByTestId('signed-in-as').textContent?.trim()).toBe(t.signedIn.greeting('Dr Alex Morgan'));
    expect(home.textContent).not.toContain('JBSW');

    await user.keyboard('{Control>}l{/Control}');
    const lockScreen = await screen.findByTestId('screen-sign-in');
    expect(lockScreen.dataset.locked).toBe('true');
    expect(core.session).toEqual({ state: 'locked' });
    expect((screen.getByTestId('signin-username') as HTMLSelectElement).value).toBe('amorgan');
  });

  it('does not submit a rejected password and says why', async () => {
    const { core, user } = setup();
    await screen.findByTestId('screen-first-run');
    await user.type(screen.getByLabelText(t.firstRun.displayName), 'Dr Alex Morgan');
    await user.type(screen.getByLabelText(t.firstRun.username), 'amorgan');
    await user.type(screen.getByLabelText(t.firstRun.password), 'short');
    await user.type(screen.getByLabelText(t.firstRun.confirmPassword), 'short');
    await user.click(screen.getByTestId('first-run-submit'));

    expect(screen.getByText(t.validation.passwordRejected)).toBeTruthy();
    expect(screen.getByText(t.strength.tooShort(12, 7))).toBeTruthy();
    expect(screen.getByLabelText(t.firstRun.password).getAttribute('aria-invalid')).toBe('true');
    expect(core.calls.some((c) => c.cmd === 'create_profile')).toBe(false);
    expect(screen.getByTestId('screen-first-run')).toBeTruthy();
  });

  it('requires the two passwords to match', async () => {
    const { core, user } = setup();
    await screen.findByTestId('screen-first-run');
    await user.type(screen.getByLabelText(t.firstRun.displayName), 'Dr Alex Morgan');
    await user.type(screen.getByLabelText(t.firstRun.username), 'amorgan');
    await user.type(screen.getByLabelText(t.firstRun.password), 'violet lantern oxbow');
    await user.type(screen.getByLabelText(t.firstRun.confirmPassword), 'violet lantern oxbow!');
    await user.click(screen.getByTestId('first-run-submit'));
    expect(screen.getByText(t.validation.passwordsDiffer)).toBeTruthy();
    expect(core.calls.some((c) => c.cmd === 'create_profile')).toBe(false);
  });
});

describe('App: session', () => {
  it('returns to the lock screen when the core emits `locked`', async () => {
    const { events, user } = setup([{ ...ALEX }]);
    await screen.findByTestId('screen-sign-in');
    await user.type(screen.getByTestId('signin-password'), ALEX.password);
    await user.type(screen.getByTestId('signin-code'), VALID_CODE);
    await user.click(screen.getByTestId('signin-submit'));
    await screen.findByTestId('screen-signed-in');

    events.emit(LOCKED_EVENT);
    const lockScreen = await screen.findByTestId('screen-sign-in');
    expect(lockScreen.dataset.locked).toBe('true');
    expect(screen.getByText(t.signIn.lockedTitle)).toBeTruthy();
  });

  it('locks with the Lock button', async () => {
    const { core, user } = setup([{ ...ALEX }]);
    await screen.findByTestId('screen-sign-in');
    await user.type(screen.getByTestId('signin-password'), ALEX.password);
    await user.type(screen.getByTestId('signin-code'), VALID_CODE);
    await user.click(screen.getByTestId('signin-submit'));
    await screen.findByTestId('screen-signed-in');
    expect(core.calls.filter((c) => c.cmd === 'touch')).toHaveLength(0);

    await user.click(screen.getByTestId('lock-button'));
    await screen.findByTestId('screen-sign-in');
    expect(core.calls.some((c) => c.cmd === 'lock')).toBe(true);
  });

  it('explains a missing keychain instead of showing a form', async () => {
    const core = createFakeCore();
    core.failAllWith = { code: 'keychain_unavailable', message: 'No system keychain is available.' };
    render(App, { store: createAppStore({ api: createApi(core.invoke) }) });
    await screen.findByTestId('screen-startup-error');
    expect(screen.getByTestId('startup-error-message').textContent).toContain('No system keychain is available.');
    expect(screen.getByText(t.startupError.keychainHelp)).toBeTruthy();
    expect(screen.queryByRole('textbox')).toBeNull();

    core.failAllWith = null;
    await fireEvent.click(screen.getByTestId('startup-retry'));
    await screen.findByTestId('screen-first-run');
  });
});

describe('App: appointment links', () => {
  function seed(core: ReturnType<typeof createFakeCore>) {
    core.desk.patients.push({ id: 1, name: 'Ada Lovelace', dob: '1980-12-10', phone: null, email: null, mrn: null });
    core.desk.appointments.push({
      id: 7,
      patient: 1,
      start: '2026-09-21T10:00:00Z',
      tz: 'UTC',
      duration_min: 30,
      reason: null,
      status: 'booked',
      patient_name: 'Ada Lovelace',
      local_start: '2026-09-21T10:00',
    });
  }

  it('opens the linked appointment when signed in, and one sent during sign-in once the desk is up', async () => {
    const { core, events, user } = setup([{ ...ALEX }]);
    seed(core);
    await screen.findByTestId('screen-sign-in');
    // The shell sends the id right after a successful sign-in, before the desk has mounted.
    events.emit(OPEN_APPOINTMENT_EVENT, 7);
    await user.type(screen.getByTestId('signin-password'), ALEX.password);
    await user.type(screen.getByTestId('signin-code'), VALID_CODE);
    await user.click(screen.getByTestId('signin-submit'));
    await screen.findByTestId('screen-appointment');
    await waitFor(() => expect(core.calls.some((c) => c.cmd === 'appointment_get' && c.args?.id === 7)).toBe(true));

    await user.click(screen.getByTestId('nav-patients'));
    await screen.findByTestId('screen-patients');
    events.emit(OPEN_APPOINTMENT_EVENT, 7);
    await screen.findByTestId('screen-appointment');
    events.emit(OPEN_APPOINTMENT_EVENT, 'not an id');
    expect(screen.getByTestId('screen-appointment')).toBeTruthy();
  });
});

describe('App: knock sound', () => {
  it('chimes on a knock', async () => {
    const { events, user } = setup([{ ...ALEX }]);
    const Ctor = vi.fn();
    vi.stubGlobal('AudioContext', Ctor);
    try {
      await screen.findByTestId('screen-sign-in');
      await user.type(screen.getByTestId('signin-password'), ALEX.password);
      await user.type(screen.getByTestId('signin-code'), VALID_CODE);
      await user.click(screen.getByTestId('signin-submit'));
      await screen.findByTestId('screen-signed-in');
      expect(Ctor).not.toHaveBeenCalled();
      events.emit(WAITING_EVENT, { appointment: 7, visit: '00', kind: 'knock', device: 'd1', name: 'Ada', waiting_since: 1 });
      expect(Ctor).toHaveBeenCalledTimes(1);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('App: keyboard', () => {
  it('moves focus to the first field to fix after a rejected submit', async () => {
    const { user } = setup();
    await screen.findByTestId('screen-first-run');
    await user.type(screen.getByLabelText(t.firstRun.displayName), 'Dr Alex Morgan');
    await user.type(screen.getByLabelText(t.firstRun.username), 'amorgan');
    await user.type(screen.getByLabelText(t.firstRun.password), 'short');
    await user.type(screen.getByLabelText(t.firstRun.confirmPassword), 'short{Enter}');
    await waitFor(() => expect(document.activeElement).toBe(screen.getByLabelText(t.firstRun.password)));
  });

  it('returns focus to the cleared password after a failed sign-in', async () => {
    const { user } = setup([{ ...ALEX }]);
    await screen.findByTestId('screen-sign-in');
    await user.type(screen.getByTestId('signin-password'), 'wrong wrong wrong');
    await user.type(screen.getByTestId('signin-code'), `${VALID_CODE}{Enter}`);
    await waitFor(() => expect(screen.getByTestId('signin-error').textContent).toContain(t.signIn.genericError));
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('signin-password')));
  });
});

describe('App: Policy page', () => {
  it('is one click away from the signed-in view, and back', async () => {
    const core = createFakeCore({ profiles: [{ ...ALEX }] });
    const events = createFakeEvents();
    const store = createAppStore({ api: createApi(core.invoke), listen: events.listen });
    const emptyView = {
      policies: [{ name: 'IdleLockMinutes', value: 10, source: 'default', level: null, status: 'ok', detail: null }],
      ignored: [],
      unreadable: [],
      bundle: { trusted_keys: 0, applied: null, refused: [], last_applied_version: null },
      update_required: null as string | null,
    };
    const policyApi = {
      policyEffective: async () => structuredClone(emptyView) as never,
      policyReload: async () => structuredClone(emptyView) as never,
    };
    const user = userEvent.setup();
    render(App, { store, policyApi, listen: events.listen });
    await screen.findByTestId('screen-sign-in');
    await user.type(screen.getByTestId('signin-password'), ALEX.password);
    await user.type(screen.getByTestId('signin-code'), VALID_CODE);
    await user.click(screen.getByTestId('signin-submit'));
    await screen.findByTestId('screen-signed-in');

    await user.click(screen.getByTestId('nav-policy'));
    await screen.findByTestId('policy-row-IdleLockMinutes');
    expect(screen.getByTestId('policy-bundle-state').textContent).toContain(t.policy.bundleNone);
    await user.click(screen.getByTestId('policy-back'));
    await screen.findByTestId('screen-signed-in');
    expect(screen.queryByTestId('update-required-banner')).toBeNull();

    // Policy raises the minimum version: a plain banner appears without a restart.
    emptyView.update_required = '99.0.0';
    events.emit(POLICY_CHANGED_EVENT);
    const banner = await screen.findByTestId('update-required-banner');
    expect(banner.textContent?.trim()).toBe(t.policy.updateRequired('99.0.0'));
    expect(banner.getAttribute('role')).toBe('alert');
  });
});
