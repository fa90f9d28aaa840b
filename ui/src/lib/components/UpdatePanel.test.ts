import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { createApi } from '../api';
import { t } from '../i18n/en';
import type { UpdateStatus } from '../types';
import UpdatePanel from './UpdatePanel.svelte';

/** A shell whose `update_check` / `update_install` answer as src-tauri/src/updater.rs does. */
function shell(check: UpdateStatus | { code: string; message: string }) {
  const calls: string[] = [];
  const api = createApi(async (cmd) => {
    calls.push(cmd);
    if (cmd === 'update_check') {
      if ('code' in check) throw check;
      return check;
    }
    if (cmd === 'update_install') {
      return { status: 'installed', current: '0.1.0', version: '0.2.0', notes: null };
    }
    throw `command ${cmd} not found`;
  });
  return { api, calls };
}

describe('UpdatePanel', () => {
  it('checks, shows the version on offer with its notes, and installs it on request', async () => {
    const user = userEvent.setup();
    const s = shell({ status: 'available', current: '0.1.0', version: '0.2.0', notes: 'Fixes.' });
    render(UpdatePanel, { api: s.api });
    expect(screen.queryByTestId('update-install')).toBeNull();
    await user.click(screen.getByTestId('update-check'));
    await waitFor(() =>
      expect(screen.getByTestId('update-result').textContent).toBe(t.updates.available('0.2.0', '0.1.0')),
    );
    expect(screen.getByTestId('update-notes').textContent).toBe('Fixes.');
    await user.click(screen.getByTestId('update-install'));
    await waitFor(() =>
      expect(screen.getByTestId('update-result').textContent).toBe(t.updates.installed('0.2.0')),
    );
    expect(s.calls).toEqual(['update_check', 'update_install']);
    expect(screen.queryByTestId('update-install')).toBeNull();
  });

  it('says when there is nothing to do: up to date, or no update server in policy', async () => {
    const user = userEvent.setup();
    const upToDate = shell({ status: 'up_to_date', current: '0.1.0', version: null, notes: null });
    const { unmount } = render(UpdatePanel, { api: upToDate.api });
    await user.click(screen.getByTestId('update-check'));
    await waitFor(() => expect(screen.getByTestId('update-result').textContent).toBe(t.updates.upToDate('0.1.0')));
    expect(screen.queryByTestId('update-install')).toBeNull();
    unmount();

    const off = shell({ status: 'off', current: '0.1.0', version: null, notes: null });
    render(UpdatePanel, { api: off.api });
    await user.click(screen.getByTestId('update-check'));
    await waitFor(() => expect(screen.getByTestId('update-result').textContent).toBe(t.updates.off));
  });

  it("shows the shell's message when a signature is refused", async () => {
    const user = userEvent.setup();
    const message = "The update is not signed with your organisation's update key, so it was refused.";
    const s = shell({ code: 'update_signature_invalid', message });
    render(UpdatePanel, { api: s.api });
    await user.click(screen.getByTestId('update-check'));
    await waitFor(() => expect(screen.getByTestId('update-error').textContent).toBe(message));
    expect(screen.getByTestId('update-result').textContent).toBe('');
    expect(screen.queryByTestId('update-install')).toBeNull();
  });
});
