import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { createFakeCore } from '../../test/fakeCore';
import { createApi } from '../api';
import { t } from '../i18n/en';
import InvitePanel from './InvitePanel.svelte';

function setup(active = true) {
  const core = createFakeCore();
  const copy = vi.fn(async (_: string) => {});
  const onChanged = vi.fn();
  render(InvitePanel, {
    api: createApi(core.invoke),
    appointment: 7,
    tz: 'UTC',
    email: 'ada@example.org',
    active,
    onChanged,
    copy,
  });
  return { core, copy, onChanged, user: userEvent.setup() };
}

describe('InvitePanel', () => {
  it('creates a link with its QR code, copies it, and e-mails it without PHI in the subject', async () => {
    const { copy, onChanged, user } = setup();
    await screen.findByTestId('invite-none');
    await user.click(screen.getByTestId('invite-create'));
    const link = (await screen.findByTestId('invite-link')) as HTMLInputElement;
    expect(link.value).toMatch(/^http:\/\/127\.0\.0\.1:4000\/j\/TOKEN01#SECRET01$/);
    expect(screen.getByAltText(t.invite.qrAlt).getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    expect(onChanged).toHaveBeenCalledTimes(1);
    await user.click(screen.getByTestId('invite-copy'));
    expect(copy).toHaveBeenCalledWith(link.value);
    expect(screen.getByTestId('invite-status').textContent).toBe(t.invite.copied);
    const href = screen.getByTestId('invite-email').getAttribute('href')!;
    const url = new URL(href);
    expect(url.protocol).toBe('mailto:');
    expect(decodeURIComponent(url.pathname)).toBe('ada@example.org');
    expect(url.searchParams.get('subject')).toBe(t.invite.mailSubject);
    expect(url.searchParams.get('body')).toContain(link.value);
  });

  it('regenerates (a new link) and withdraws', async () => {
    const { core, onChanged, user } = setup();
    await user.click(await screen.findByTestId('invite-create'));
    const first = ((await screen.findByTestId('invite-link')) as HTMLInputElement).value;
    await user.click(screen.getByTestId('invite-regenerate'));
    await vi.waitFor(() =>
      expect((screen.getByTestId('invite-link') as HTMLInputElement).value).not.toBe(first),
    );
    await user.click(screen.getByTestId('invite-revoke'));
    expect(await screen.findByTestId('invite-none')).toBeTruthy();
    expect(screen.getByTestId('invite-status').textContent).toBe(t.invite.revoked);
    expect(core.calls.at(-1)).toEqual({ cmd: 'invite_revoke', args: { appointment: 7 } });
    expect(onChanged).toHaveBeenCalledTimes(3);
  });

  it('offers no new link for a finished or cancelled appointment', async () => {
    setup(false);
    expect(((await screen.findByTestId('invite-create')) as HTMLButtonElement).disabled).toBe(true);
  });
});
