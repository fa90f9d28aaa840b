import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';

import { t } from '../i18n/en';
import PasswordStrength from './PasswordStrength.svelte';

describe('PasswordStrength', () => {
  it('explains why a short password is rejected, with the number missing', () => {
    render(PasswordStrength, { password: 'short', minLength: 12 });
    const problems = screen.getAllByTestId('password-problem');
    expect(problems.map((p) => p.textContent)).toContain(t.strength.tooShort(12, 7));
    expect(screen.queryByTestId('password-ok')).toBeNull();
  });

  it('lists every problem at once', () => {
    render(PasswordStrength, { password: 'amorgan', minLength: 12, names: ['amorgan'] });
    const kinds = screen.getAllByTestId('password-problem').map((p) => p.dataset.kind);
    expect(kinds).toEqual(['too_short', 'contains_name']);
  });

  it('accepts a long passphrase and shows a strong score', () => {
    render(PasswordStrength, { password: 'violet lantern oxbow 1987', minLength: 12 });
    expect(screen.queryAllByTestId('password-problem')).toHaveLength(0);
    expect(screen.getByTestId('password-ok').textContent).toBe(t.strength.ok);
    const meter = screen.getByRole('meter', { name: t.strength.label });
    expect(Number(meter.getAttribute('aria-valuenow'))).toBeGreaterThanOrEqual(3);
    expect(meter.getAttribute('aria-valuetext')).toMatch(/strong/i);
  });

  it('updates as the password changes', async () => {
    const { rerender } = render(PasswordStrength, { password: 'Password1234', minLength: 12 });
    expect(screen.getAllByTestId('password-problem')[0]!.dataset.kind).toBe('too_common');
    await rerender({ password: 'quiet harbour lamp', minLength: 12 });
    expect(screen.queryAllByTestId('password-problem')).toHaveLength(0);
  });

  it('respects the policy minimum it is given', () => {
    render(PasswordStrength, { password: 'quiet harbour lamp', minLength: 20 });
    expect(screen.getAllByTestId('password-problem')[0]!.textContent).toBe(t.strength.tooShort(20, 2));
  });
});
