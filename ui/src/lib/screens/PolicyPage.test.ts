import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { createFakeEvents } from '../../test/fakeCore';
import { ApiError, createApi } from '../api';
import { POLICY_CHANGED_EVENT } from '../events';
import { t } from '../i18n/en';
import type { PolicyView } from '../types';
import PolicyPage from './PolicyPage.svelte';

const MANAGED = '/etc/bedside/policies/managed/10-org.json';

/** The shape `policy_effective` returns (see src-tauri/src/policy.rs). */
function view(idle: number): PolicyView {
  return {
    policies: [
      { name: 'WaitingRoomEnabled', value: true, source: 'default', level: null, status: 'ok', detail: null },
      { name: 'IdleLockMinutes', value: idle, source: MANAGED, level: 'mandatory', status: 'ok', detail: null },
      { name: 'InviteMaxDevices', value: 2, source: 'signed bundle v7', level: 'mandatory', status: 'ok', detail: null },
      { name: 'RelayUrl', value: null, source: 'default', level: null, status: 'ok', detail: null },
      {
        name: 'TurnServers',
        value: ['turn:turn.example.org:3478'],
        source: '/etc/bedside/policies/recommended/10.json',
        level: 'recommended',
        status: 'ok',
        detail: null,
      },
    ],
    ignored: [
      { name: 'Teleport', value: true, source: MANAGED, level: 'mandatory', status: 'unknown', detail: 'no such policy' },
      {
        name: 'WaitingRoomEnabled',
        value: false,
        source: MANAGED,
        level: 'mandatory',
        status: 'below_floor',
        detail: 'every visit has a waiting room',
      },
      {
        name: 'PasswordMinLength',
        value: 3,
        source: MANAGED,
        level: 'mandatory',
        status: 'invalid',
        detail: 'expected a number from 8 to 128',
      },
    ],
    unreadable: [{ path: '/etc/bedside/policies/managed/20-broken.json', reason: 'not valid JSON (line 1, column 9)' }],
    bundle: {
      trusted_keys: 1,
      applied: { version: 7, location: '/etc/bedside/policies/managed/org.bundle.json' },
      refused: [
        {
          location: '/etc/bedside/policies/managed/old.bundle.json',
          reason: 'bundle version 3 is older than the version in force (7); refused',
        },
      ],
      last_applied_version: 7,
    },
    update_required: null,
  };
}

function fakeShell() {
  let idle = 5;
  const calls: string[] = [];
  const events = createFakeEvents();
  const api = createApi(async (cmd) => {
    calls.push(cmd);
    if (cmd === 'policy_effective' || cmd === 'policy_reload') return view(idle);
    throw `command ${cmd} not found`;
  });
  return {
    api,
    calls,
    events,
    setIdle: (n: number) => {
      idle = n;
    },
  };
}

const row = (name: string) => screen.getByTestId(`policy-row-${name}`);
const cells = (el: HTMLElement) => within(el).getAllByRole('cell').map((c) => c.textContent?.trim());

describe('PolicyPage', () => {
  it('shows every policy with value, source, level and status, like chrome://policy', async () => {
    const shell = fakeShell();
    render(PolicyPage, { api: shell.api });
    await screen.findByTestId('policy-table');
    expect(cells(row('IdleLockMinutes'))).toEqual(['5', MANAGED, 'Mandatory', 'OK']);
    expect(cells(row('InviteMaxDevices'))).toEqual(['2', 'signed bundle v7', 'Mandatory', 'OK']);
    expect(cells(row('WaitingRoomEnabled'))).toEqual(['true', 'Default', '—', 'OK']);
    expect(cells(row('RelayUrl'))[0]).toBe(t.policy.notSet);
    expect(cells(row('TurnServers'))).toEqual([
      '["turn:turn.example.org:3478"]',
      '/etc/bedside/policies/recommended/10.json',
      'Recommended',
      'OK',
    ]);
    // Column headers are real table headers, rows are labelled by the policy name.
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual([
      t.policy.name,
      t.policy.value,
      t.policy.source,
      t.policy.level,
      t.policy.status,
    ]);
  });

  it('lists unknown, invalid and below-floor values as ignored, with the reason', async () => {
    const shell = fakeShell();
    render(PolicyPage, { api: shell.api });
    const unknown = await screen.findByTestId('policy-ignored-Teleport');
    expect(within(unknown).getByTestId('policy-status').dataset.status).toBe('unknown');
    const floor = screen.getByTestId('policy-ignored-WaitingRoomEnabled');
    expect(within(floor).getByTestId('policy-status').textContent).toContain(t.policy.statuses.below_floor);
    expect(within(floor).getByTestId('policy-status').textContent).toContain('every visit has a waiting room');
    const invalid = screen.getByTestId('policy-ignored-PasswordMinLength');
    expect(within(invalid).getByTestId('policy-status').dataset.status).toBe('invalid');
  });

  it('shows the signed bundle in force, refused bundles and unreadable files', async () => {
    const shell = fakeShell();
    render(PolicyPage, { api: shell.api });
    const state = await screen.findByTestId('policy-bundle-state');
    expect(state.textContent).toContain(t.policy.bundleApplied(7, '/etc/bedside/policies/managed/org.bundle.json'));
    expect(state.textContent).toContain(t.policy.bundleKeys(1));
    const problems = screen.getByTestId('policy-problems').textContent ?? '';
    expect(problems).toContain('older than the version in force (7)');
    expect(problems).toContain('20-broken.json');
  });

  it('reloads on the button and refreshes itself when the shell reports a change', async () => {
    const shell = fakeShell();
    const user = userEvent.setup();
    render(PolicyPage, { api: shell.api, listen: shell.events.listen });
    await screen.findByTestId('policy-table');
    shell.setIdle(3);
    await user.click(screen.getByTestId('policy-reload'));
    await waitFor(() => expect(cells(row('IdleLockMinutes'))[0]).toBe('3'));
    expect(shell.calls).toContain('policy_reload');
    expect(screen.getByTestId('policy-notice').textContent).toBe(t.policy.reloaded);

    shell.setIdle(2);
    shell.events.emit(POLICY_CHANGED_EVENT);
    await waitFor(() => expect(cells(row('IdleLockMinutes'))[0]).toBe('2'));
    expect(screen.getByTestId('policy-notice').textContent).toBe(t.policy.changed);
  });

  it('shows a safe message when the shell refuses', async () => {
    const api = {
      policyEffective: () => Promise.reject(new ApiError('internal', 'Something went wrong.')),
      policyReload: () => Promise.reject(new ApiError('internal', 'Something went wrong.')),
    };
    render(PolicyPage, { api });
    await waitFor(() => expect(screen.getByTestId('policy-error').textContent).toBe('Something went wrong.'));
    expect(screen.queryByTestId('policy-table')).toBeNull();
  });
});
