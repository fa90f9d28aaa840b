import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { createApi } from '../api';
import { t } from '../i18n/en';
import type { AuditVerdict } from '../types';
import AuditPage from './AuditPage.svelte';

/** A shell whose `audit_verify` answers `verdict` (the serde shape of bedside_store::AuditVerdict). */
function shell(verdict: AuditVerdict) {
  return createApi(async (cmd) => {
    if (cmd === 'audit_list') return [];
    if (cmd === 'audit_verify') return verdict;
    throw `command ${cmd} not found`;
  });
}

async function verifyWith(verdict: AuditVerdict): Promise<HTMLElement> {
  render(AuditPage, { api: shell(verdict) });
  await userEvent.click(screen.getByTestId('audit-verify'));
  const out = screen.getByTestId('audit-verdict');
  await expect.poll(() => out.textContent?.trim()).not.toBe('');
  return out;
}

describe('AuditPage verify', () => {
  it('says the chain is intact', async () => {
    const out = await verifyWith({ status: 'ok', count: 12 });
    expect(out.textContent).toContain(t.audit.ok(12));
    expect(out.classList.contains('bad')).toBe(false);
  });

  it('says plainly when checkpointed events are gone, and marks it as a problem', async () => {
    const out = await verifyWith({ status: 'checkpoint_mismatch', seq: 41 });
    expect(out.textContent).toContain('event 41');
    expect(out.textContent).toMatch(/missing/i);
    expect(out.classList.contains('bad')).toBe(true);
  });

  it('says when the checkpoint file itself is damaged', async () => {
    const out = await verifyWith({ status: 'checkpoint_mismatch', seq: 0 });
    expect(out.textContent).toContain(t.audit.checkpointMismatch(0));
  });
});
