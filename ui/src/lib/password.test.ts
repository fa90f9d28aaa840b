import { describe, expect, it } from 'vitest';

import { assessPassword } from './password';

const kinds = (pw: string, min = 12, names: string[] = []) =>
  assessPassword(pw, min, names).problems.map((p) => p.kind);

describe('assessPassword', () => {
  it('rejects a password shorter than the policy and says how many more characters', () => {
    const a = assessPassword('Tr0ub4dor&3', 12);
    expect(a.acceptable).toBe(false);
    expect(a.problems).toContainEqual({ kind: 'too_short', min: 12, missing: 1 });
  });

  it('counts characters, not UTF-16 units', () => {
    // 12 characters, some outside the BMP.
    const pw = 'ramen🍜tonkotsu'.slice(0, 14);
    expect([...pw].length).toBeGreaterThanOrEqual(12);
    expect(kinds(pw)).not.toContain('too_short');
  });

  it('follows a different minimum from the policy', () => {
    expect(kinds('violet-lantern-ox', 20)).toContainEqual('too_short');
    expect(kinds('violet-lantern-ox', 12)).toEqual([]);
  });

  it('rejects common passwords even when dressed up', () => {
    expect(kinds('Password1234!')).toContain('too_common');
    expect(kinds('P@ssw0rd!!2024')).toContain('too_common');
    expect(kinds('123456789012')).toContain('too_common');
  });

  it('rejects repeated characters and keyboard runs', () => {
    expect(kinds('aaaaaaaaaaaaaa')).toContain('repetitive');
    expect(kinds('ab-ab-ab-ab-ab-ab')).toContain('repetitive');
  });

  it('rejects a password containing the username or name', () => {
    expect(kinds('morgan-river-kettle', 12, ['amorgan', 'Dr Alex Morgan'])).toContain('contains_name');
    expect(kinds('amorgan-river-kettle', 12, ['amorgan', ''])).toContain('contains_name');
    expect(kinds('river-kettle-lamp', 12, ['amorgan', 'Dr Alex Morgan'])).toEqual([]);
  });

  it('scores long, varied passwords higher than short ones, and caps rejected ones', () => {
    const strong = assessPassword('violet lantern oxbow 1987 tundra', 12);
    const fair = assessPassword('violetlantern', 12);
    const weak = assessPassword('Password1234!', 12);
    expect(strong.acceptable).toBe(true);
    expect(strong.score).toBe(4);
    expect(fair.score).toBeLessThan(strong.score);
    expect(weak.score).toBeLessThanOrEqual(1);
  });

  it('reports nothing but length for an empty password', () => {
    const a = assessPassword('', 12);
    expect(a.score).toBe(0);
    expect(a.problems).toEqual([{ kind: 'too_short', min: 12, missing: 12 }]);
  });
});
