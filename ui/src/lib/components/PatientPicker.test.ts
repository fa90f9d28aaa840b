import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { createFakeCore } from '../../test/fakeCore';
import { createApi } from '../api';
import { t } from '../i18n/en';
import PatientPicker from './PatientPicker.svelte';

function setup() {
  const core = createFakeCore();
  core.desk.patients.push(
    { id: 1, name: 'Ada Lovelace', dob: '1980-12-10', phone: null, email: null, mrn: null },
    { id: 2, name: 'Adam Smith', dob: '1950-06-05', phone: null, email: null, mrn: null },
    { id: 3, name: 'Alan Turing', dob: '1970-06-23', phone: null, email: null, mrn: null },
  );
  const onPick = vi.fn();
  render(PatientPicker, { api: createApi(core.invoke), selected: null, onPick });
  return { core, onPick, user: userEvent.setup() };
}

describe('PatientPicker', () => {
  it('searches as you type and picks with the keyboard', async () => {
    const { onPick, user } = setup();
    const search = screen.getByRole('combobox', { name: t.picker.search });
    await user.type(search, 'ada');
    const options = await screen.findAllByRole('option');
    expect(options.map((o) => o.textContent?.trim().split(' ')[0])).toEqual(['Ada', 'Adam']);
    expect(options[0]!.getAttribute('aria-selected')).toBe('true');
    await user.keyboard('{ArrowDown}{Enter}');
    expect(onPick).toHaveBeenCalledWith(expect.objectContaining({ id: 2, name: 'Adam Smith' }));
  });

  it('says when nothing matches, and quick-adds a patient who is then picked', async () => {
    const { core, onPick, user } = setup();
    await user.type(screen.getByTestId('picker-search'), 'grace');
    expect((await screen.findByTestId('picker-none')).textContent).toBe(t.picker.none);
    await user.click(screen.getByTestId('quick-add'));
    await user.type(screen.getByLabelText(t.picker.name), 'Grace Hopper');
    await user.type(screen.getByLabelText(t.picker.dob), '1906-12-09');
    await user.click(screen.getByTestId('quick-add-submit'));
    expect(onPick).toHaveBeenCalledWith(expect.objectContaining({ name: 'Grace Hopper', dob: '1906-12-09' }));
    expect(core.desk.patients).toHaveLength(4);
  });

  it('shows the core’s message when quick add is refused', async () => {
    const { onPick, user } = setup();
    await user.click(screen.getByTestId('quick-add'));
    await user.type(screen.getByLabelText(t.picker.name), '   ');
    await user.type(screen.getByLabelText(t.picker.dob), '1906-12-09');
    await user.click(screen.getByTestId('quick-add-submit'));
    expect((await screen.findByTestId('picker-error')).textContent).toContain('name');
    expect(onPick).not.toHaveBeenCalled();
  });
});
