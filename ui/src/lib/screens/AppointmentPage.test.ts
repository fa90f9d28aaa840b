import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { createFakeCore } from '../../test/fakeCore';
import { createApi } from '../api';
import AppointmentPage from './AppointmentPage.svelte';

async function setup(fail = false) {
  const core = createFakeCore();
  core.desk.patients.push({ id: 1, name: 'Ada Lovelace', dob: '1980-12-10', phone: null, email: null, mrn: null });
  const api = createApi(async (cmd, args) => {
    if (fail && cmd === 'appointment_set_reason') throw { code: 'invalid_input', message: 'reason must be text under 65536 bytes' };
    return core.invoke(cmd, args);
  });
  const booked = await api.appointmentCreate({
    patient: 1, local_start: '2026-09-23T10:00', tz: 'UTC', duration_min: 30, reason: 'sore throat',
  });
  render(AppointmentPage, { api, id: booked.id, tz: 'UTC', onBack: () => {}, onInviteChanged: () => {} });
  await screen.findByTestId('appointment-reason');
  return { core, id: booked.id };
}

describe('AppointmentPage reason edit', () => {
  it('edits the reason, saves it through the shell and shows the new one', async () => {
    const { core, id } = await setup();
    expect(screen.getByTestId('appointment-reason').textContent).toBe('sore throat');
    await userEvent.click(screen.getByTestId('appointment-reason-edit'));
    const input = screen.getByLabelText(/Reason for the visit/) as HTMLTextAreaElement;
    expect(input.value).toBe('sore throat');
    await userEvent.clear(input);
    await userEvent.type(input, 'fever for three days');
    await userEvent.click(screen.getByTestId('appointment-reason-save'));
    expect((await screen.findByTestId('appointment-reason')).textContent).toBe('fever for three days');
    expect(core.calls.find((c) => c.cmd === 'appointment_set_reason')?.args).toEqual({
      id, reason: 'fever for three days', tz: 'UTC',
    });
    // Audited without the text.
    const ev = core.desk.audit.find((e) => e.action === 'appointment.reason');
    expect(JSON.stringify(ev)).not.toContain('fever');
  });

  it('clears the reason when saved blank', async () => {
    const { core } = await setup();
    await userEvent.click(screen.getByTestId('appointment-reason-edit'));
    await userEvent.clear(screen.getByTestId('appointment-reason-input'));
    await userEvent.click(screen.getByTestId('appointment-reason-save'));
    expect((await screen.findByTestId('appointment-reason')).textContent).toBe('—');
    expect(core.calls.find((c) => c.cmd === 'appointment_set_reason')?.args).toMatchObject({ reason: null });
  });

  it('shows a refused save as an alert next to the field and keeps the draft', async () => {
    await setup(true);
    await userEvent.click(screen.getByTestId('appointment-reason-edit'));
    await userEvent.type(screen.getByTestId('appointment-reason-input'), ' and cough');
    await userEvent.click(screen.getByTestId('appointment-reason-save'));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('reason must be text');
    const input = screen.getByTestId('appointment-reason-input') as HTMLTextAreaElement;
    expect(input.value).toBe('sore throat and cough');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    // Cancel leaves the stored reason as it was.
    await userEvent.click(screen.getByTestId('appointment-reason-cancel'));
    expect(screen.getByTestId('appointment-reason').textContent).toBe('sore throat');
  });
});
