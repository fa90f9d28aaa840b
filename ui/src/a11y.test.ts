// Accessibility checks with axe-core on every screen the app shows, rendered in
// jsdom with fake data. axe's `color-contrast` rule needs layout and computed
// colours that jsdom does not have (it reports such checks as "incomplete"),
// so it is off here; src/contrast.test.ts checks the palette's WCAG contrast
// ratios from the CSS variables instead.
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import App from './App.svelte';
import { createApi, type ChannelLike } from './lib/api';
import AppointmentPage from './lib/screens/AppointmentPage.svelte';
import VisitRoom from './lib/components/VisitRoom.svelte';
import WaitingRoom from './lib/components/WaitingRoom.svelte';
import { WAITING_EVENT } from './lib/events';
import { createAppStore } from './lib/stores/app';
import type { MakeChannel } from './lib/stores/visit';
import { createWaitingStore } from './lib/stores/waiting';
import { ALEX, createFakeCore, createFakeEvents, VALID_CODE } from './test/fakeCore';
import JoinApp from './join/JoinApp.svelte';
import { FakeSocket, fakeFetch } from './join/fakes';
import { parseLink } from './join/session';

// App loads the signed-in desk with a dynamic import(); transform it once up front so a
// findBy* timeout never includes vite compiling the whole desk on a busy machine.
beforeAll(async () => {
  await import('./lib/components/SignedIn.svelte');
});

const VISIT = '00112233445566778899aabbccddeeff';

/** The axe violations in `root`, as "rule: target" lines (empty when clean). */
async function violations(root: Element = document.body): Promise<string[]> {
  const result = await axe.run(root, {
    rules: { 'color-contrast': { enabled: false } },
    resultTypes: ['violations'],
  });
  return result.violations.flatMap((v) =>
    v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')} — ${v.help}`),
  );
}

async function expectClean(root?: Element) {
  expect(await violations(root)).toEqual([]);
}

function seed(core: ReturnType<typeof createFakeCore>) {
  core.desk.patients.push({ id: 1, name: 'Ada Lovelace', dob: '1980-12-10', phone: '555 0100', email: 'ada@example.org', mrn: 'MRN-1' });
}

const POLICY_VIEW = {
  policies: [{ name: 'IdleLockMinutes', value: 10, source: 'default', level: null, status: 'ok', detail: null }],
  ignored: [],
  unreadable: [],
  bundle: { trusted_keys: 0, applied: null, refused: [], last_applied_version: null },
  update_required: null,
};

afterEach(() => {
  vi.restoreAllMocks();
  FakeSocket.instances = [];
});

describe('axe in jsdom', () => {
  it('does find violations (the checks below are not vacuous)', async () => {
    const { container } = render(App, { store: createAppStore({ api: createApi(createFakeCore().invoke) }) });
    const bad = document.createElement('div');
    bad.innerHTML = '<img src="x.png"><button></button><input type="text">';
    container.appendChild(bad);
    const found = (await violations(bad)).map((v) => v.split(' ')[0]);
    expect(found).toEqual(expect.arrayContaining(['image-alt', 'button-name', 'label']));
  });
});

describe('axe: the desktop app', () => {
  it('first run has no violations', async () => {
    const core = createFakeCore();
    const store = createAppStore({ api: createApi(core.invoke), listen: createFakeEvents().listen });
    render(App, { store });
    await screen.findByTestId('screen-first-run');
    await expectClean();
  });

  it('sign-in, then every signed-in page (schedule, patients, audit, settings, policy) has none', async () => {
    const core = createFakeCore({ profiles: [{ ...ALEX }] });
    seed(core);
    const events = createFakeEvents();
    const api = createApi(core.invoke);
    const store = createAppStore({ api, listen: events.listen });
    const policyApi = {
      policyEffective: async () => structuredClone(POLICY_VIEW) as never,
      policyReload: async () => structuredClone(POLICY_VIEW) as never,
    };
    const user = userEvent.setup();
    const today = new Date().toISOString().slice(0, 10);
    await api.appointmentCreate({
      patient: 1, local_start: `${today}T10:00`, tz: 'UTC', duration_min: 30, reason: 'sore throat',
    });
    render(App, { store, policyApi, listen: events.listen });
    await screen.findByTestId('screen-sign-in');
    await expectClean();

    await user.type(screen.getByTestId('signin-password'), ALEX.password);
    await user.type(screen.getByTestId('signin-code'), VALID_CODE);
    await user.click(screen.getByTestId('signin-submit'));
    await screen.findByTestId('screen-schedule');
    await screen.findByText('Ada Lovelace');
    await expectClean();

    for (const page of ['patients', 'audit', 'settings', 'policy'] as const) {
      await user.click(screen.getByTestId(`nav-${page}`));
      await screen.findByTestId(`screen-${page}`);
      await expectClean();
      if (page === 'policy') await user.click(screen.getByTestId('policy-back'));
    }
    // Five pages with axe each: over vitest's 5 s default on this loaded 2-core machine.
  }, 20_000);

  it('the appointment page, reading and editing the reason, has none', async () => {
    const core = createFakeCore();
    seed(core);
    const api = createApi(core.invoke);
    const a = await api.appointmentCreate({
      patient: 1, local_start: '2026-09-23T10:00', tz: 'UTC', duration_min: 30, reason: 'sore throat',
    });
    const { container } = render(AppointmentPage, { api, id: a.id, tz: 'UTC', onBack: () => {}, onInviteChanged: () => {} });
    await screen.findByTestId('appointment-reason');
    await expectClean(container);
    await userEvent.click(screen.getByTestId('appointment-reason-edit'));
    await expectClean(container);
  });

  it('the waiting room with a knock has none', async () => {
    const core = createFakeCore();
    core.desk.watching = 1;
    const events = createFakeEvents();
    const store = createWaitingStore({ api: createApi(core.invoke), listen: events.listen, tz: 'UTC' });
    await store.start();
    const { container } = render(WaitingRoom, { store, nowSecs: () => 1_420 });
    events.emit(WAITING_EVENT, {
      appointment: 4, visit: VISIT, kind: 'knock', device: 'd1', name: 'Ada Lovelace', dob: '1980-12-10', waiting_since: 1_000,
    });
    await screen.findByTestId('waiting-entry');
    await expectClean(container);
  });

  it('the visit room has none', async () => {
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation((() => null) as never);
    const invoke = async (cmd: string) => (cmd === 'visit_open' ? 4 : null);
    const channels: ChannelLike<unknown>[] = [];
    const makeChannel: MakeChannel = <T>() => {
      const c: ChannelLike<T> = { onmessage: () => {} };
      channels.push(c as ChannelLike<unknown>);
      return c;
    };
    const { container } = render(VisitRoom, { api: createApi(invoke), visit: VISIT, appointment: 4, makeChannel, onDone: () => {} });
    await vi.waitFor(() => expect(channels.length).toBeGreaterThan(0));
    channels[0]!.onmessage({ kind: 'snapshot', appointment: 4, state: 'connected', sas: '1234', muted: false, camera_off: false, source: 'devices' });
    await screen.findByTestId('visit-remote-video');
    await expectClean(container);
  });
});

describe('keyboard only', () => {
  /** Presses Tab until the element with `testid` has focus (fails if it never does). */
  async function tabTo(user: ReturnType<typeof userEvent.setup>, testid: string) {
    for (let i = 0; i < 40; i++) {
      if ((document.activeElement as HTMLElement | null)?.dataset.testid === testid) return;
      await user.tab();
    }
    throw new Error(`Tab never reached ${testid}`);
  }

  it('signs in, moves between pages and edits a reason without a pointer', async () => {
    const core = createFakeCore({ profiles: [{ ...ALEX }] });
    seed(core);
    const api = createApi(core.invoke);
    const store = createAppStore({ api, listen: createFakeEvents().listen });
    const today = new Date().toISOString().slice(0, 10);
    await api.appointmentCreate({ patient: 1, local_start: `${today}T10:00`, tz: 'UTC', duration_min: 30, reason: 'sore throat' });
    const user = userEvent.setup();
    render(App, { store });
    await screen.findByTestId('screen-sign-in');
    await tabTo(user, 'signin-password');
    await user.keyboard(ALEX.password);
    await tabTo(user, 'signin-code');
    await user.keyboard(`${VALID_CODE}{Enter}`);
    await screen.findByTestId('screen-schedule');

    await tabTo(user, 'nav-patients');
    await user.keyboard('{Enter}');
    await screen.findByTestId('screen-patients');
    await tabTo(user, 'nav-schedule');
    await user.keyboard('{Enter}');
    await screen.findByText('Ada Lovelace');
    await tabTo(user, 'appointment-open');
    await user.keyboard('{Enter}');
    await screen.findByTestId('screen-appointment');
    await tabTo(user, 'appointment-reason-edit');
    await user.keyboard('{Enter}');
    await tabTo(user, 'appointment-reason-input');
    await user.keyboard('{Control>}a{/Control}fever');
    await tabTo(user, 'appointment-reason-save');
    await user.keyboard('{Enter}');
    expect((await screen.findByTestId('appointment-reason')).textContent).toBe('fever');
  });
});

describe('axe: the patient join page', () => {
  it('has none for a broken link and for a good one before knocking', async () => {
    const broken = render(JoinApp, { link: null, socketUrl: 'wss://relay.example.org/ws/patient', keyStore: null });
    await expectClean(broken.container);
    broken.unmount();

    const f = fakeFetch(200, { clinic_name: 'Riverside Practice', not_before: 1_800_000_000, expires: 1_800_005_400 });
    const token =
      'AqChoqOkpaanqKmqq6ytrq_-gWtJ0gAAWgLerb7vAZLBemMi1Nk80QFNWuqLP7WVig0z1Zn4jzJB8heWTshrytU5gThRmFiPDJbt_CLZ2p4Qa4JE4GrIW_Cr-szZ2gI';
    const { container } = render(JoinApp, {
      link: parseLink(`/j/${token}`, `#${'A'.repeat(43)}`),
      socketUrl: 'wss://relay.example.org/ws/patient',
      keyStore: null,
      fetchFn: f.fn,
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
      getUserMedia: null,
    });
    await screen.findByRole('heading', { name: /Riverside Practice/ });
    await expectClean(container);
  });
});
