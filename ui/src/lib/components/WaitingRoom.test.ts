import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { createFakeCore, createFakeEvents } from '../../test/fakeCore';
import { createApi } from '../api';
import { WAITING_EVENT } from '../events';
import { t } from '../i18n/en';
import { createWaitingStore } from '../stores/waiting';
import WaitingRoom from './WaitingRoom.svelte';

const VISIT = '00112233445566778899aabbccddeeff';

async function setup(onOpenVisit?: (e: { visit: string; appointment: number }) => void) {
  const core = createFakeCore();
  core.desk.watching = 1;
  const events = createFakeEvents();
  const store = createWaitingStore({ api: createApi(core.invoke), listen: events.listen, tz: 'UTC' });
  await store.start();
  render(WaitingRoom, { store, nowSecs: () => 1_000 + 7 * 60, onOpenVisit });
  const knock = (device: string, name: string) =>
    events.emit(WAITING_EVENT, { appointment: 4, visit: VISIT, kind: 'knock', device, name, dob: '1980-12-10', waiting_since: 1_000 });
  return { core, events, knock, user: userEvent.setup() };
}

describe('WaitingRoom', () => {
  it('shows each knock with name, date of birth and time waiting, and admits', async () => {
    const { core, knock, user } = await setup();
    expect(screen.getByTestId('waiting-empty').textContent).toBe(t.waiting.empty);
    expect(screen.getByTestId('waiting-watching').textContent).toBe(t.waiting.watching(1));
    knock('d1', 'Ada Lovelace');
    const entry = await screen.findByTestId('waiting-entry');
    expect(within(entry).getByTestId('waiting-name').textContent).toBe('Ada Lovelace');
    expect(entry.textContent).toContain('1980-12-10');
    expect(entry.textContent).toContain('7 min');
    expect(screen.getByTestId('waiting-count').textContent).toBe('1');
    expect(screen.getByRole('complementary', { name: /Waiting room/ })).toBeTruthy();
    await user.click(screen.getByTestId('waiting-admit'));
    expect(core.calls.at(-1)).toEqual({ cmd: 'waiting_admit', args: { visit: VISIT, device: 'd1' } });
  });

  it('denies with a reason the clinician can edit, and sends a message', async () => {
    const { core, knock, user } = await setup();
    knock('d1', 'Ada Lovelace');
    await user.click(await screen.findByTestId('waiting-message'));
    await user.click(screen.getByTestId('waiting-message-send'));
    expect(core.calls.at(-1)).toEqual({
      cmd: 'waiting_message',
      args: { visit: VISIT, device: 'd1', text: t.waiting.messageDefault },
    });
    await user.click(screen.getByTestId('waiting-deny'));
    const reason = screen.getByLabelText(t.waiting.denyReason);
    await user.clear(reason);
    await user.type(reason, 'Please call the clinic.');
    await user.click(screen.getByTestId('waiting-deny-confirm'));
    expect(core.calls.at(-1)).toEqual({
      cmd: 'waiting_deny',
      args: { visit: VISIT, device: 'd1', reason: 'Please call the clinic.' },
    });
    expect(await screen.findByTestId('waiting-empty')).toBeTruthy();
  });

  it('opens the visit room after admitting, and again from an admitted entry', async () => {
    const opened: { visit: string; appointment: number }[] = [];
    const { events, knock, user } = await setup((e) => opened.push({ visit: e.visit, appointment: e.appointment }));
    knock('d1', 'Ada Lovelace');
    await user.click(await screen.findByTestId('waiting-admit'));
    expect(opened).toEqual([{ visit: VISIT, appointment: 4 }]);
    events.emit(WAITING_EVENT, { appointment: 4, visit: VISIT, kind: 'device_state', device: 'd1', state: 'in_call' });
    await user.click(await screen.findByTestId('waiting-open-visit'));
    expect(opened.length).toBe(2);
  });
});
