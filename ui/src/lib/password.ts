// Client-side password assessment for the strength meter. Advisory only: the core enforces
// the policy again and is the authority. Pure functions, so they are easy to test.

/** Why a password is rejected; each maps to one line of explanation in the UI. */
export type PasswordProblem =
  | { kind: 'too_short'; min: number; missing: number }
  | { kind: 'contains_name' }
  | { kind: 'too_common' }
  | { kind: 'repetitive' };

export interface PasswordAssessment {
  /** 0 (very weak) to 4 (very strong). */
  score: 0 | 1 | 2 | 3 | 4;
  /** True when no problem rejects the password. */
  acceptable: boolean;
  problems: PasswordProblem[];
}

// A short list of the passwords (and stems) that top every breach corpus, plus words a
// clinician is likely to reach for at work. Checked after stripping digits and symbols.
const COMMON_STEMS = new Set([
  'password', 'passw', 'passwort', 'qwerty', 'qwertz', 'azerty', 'asdf', 'zxcv', 'letmein',
  'welcome', 'iloveyou', 'admin', 'administrator', 'login', 'secret', 'master', 'monkey',
  'dragon', 'football', 'baseball', 'sunshine', 'princess', 'shadow', 'superman', 'trustno',
  'abc', 'abcdef', 'changeme', 'default', 'test', 'guest', 'hello', 'summer', 'winter',
  'spring', 'autumn', 'bedside', 'hospital', 'clinic', 'doctor', 'nurse', 'patient', 'health',
  'medical', 'medicine', 'surgery', 'telehealth',
]);

const KEYBOARD_ROWS = ['1234567890', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm', 'abcdefghijklmnopqrstuvwxyz'];

function normaliseLeet(s: string): string {
  return s
    .replace(/@/g, 'a')
    .replace(/4/g, 'a')
    .replace(/0/g, 'o')
    .replace(/\$/g, 's')
    .replace(/5/g, 's')
    .replace(/3/g, 'e')
    .replace(/1/g, 'i')
    .replace(/!/g, 'i')
    .replace(/7/g, 't');
}

function isCommon(password: string): boolean {
  const lower = password.toLowerCase();
  const lettersOnly = (s: string) => s.replace(/[^\p{L}]/gu, '');
  // Digits and symbols tacked on either end ("Password1234!") do not make a stem uncommon;
  // nor do look-alike substitutions inside it ("p@ssw0rd").
  const trimmed = lower.replace(/^[^\p{L}@$]+|[^\p{L}]+$/gu, '');
  const candidates = [lettersOnly(lower), lettersOnly(normaliseLeet(lower)), lettersOnly(normaliseLeet(trimmed))];
  return candidates[0] === '' || candidates.some((c) => COMMON_STEMS.has(c));
}

/** True when most of the password is one repeated character or a run along a keyboard row. */
function isRepetitive(password: string): boolean {
  const chars = [...password.toLowerCase()];
  if (chars.length === 0) return false;
  const distinct = new Set(chars).size;
  if (distinct <= 2 || distinct * 4 <= chars.length) return true;
  // A password that is entirely a (possibly repeated) run along a row or the alphabet.
  const lower = password.toLowerCase();
  return KEYBOARD_ROWS.some((row) => {
    const reversed = [...row].reverse().join('');
    const full = row + row + row;
    const fullRev = reversed + reversed + reversed;
    return lower.length >= 4 && (full.includes(lower) || fullRev.includes(lower));
  });
}

function containsName(password: string, names: string[]): boolean {
  const lower = password.toLowerCase();
  return names
    .flatMap((n) => n.toLowerCase().split(/[\s._\-]+/))
    .filter((part) => part.length >= 3)
    .some((part) => lower.includes(part));
}

/** Rough entropy estimate in bits from length and the character classes used. */
function estimateBits(password: string): number {
  const chars = [...password];
  let pool = 0;
  if (/[a-z]/.test(password)) pool += 26;
  if (/[A-Z]/.test(password)) pool += 26;
  if (/[0-9]/.test(password)) pool += 10;
  if (/[^A-Za-z0-9]/.test(password)) pool += 33;
  if (pool === 0) return 0;
  // Repeated characters add less than fresh ones.
  const distinct = new Set(chars).size;
  const effectiveLength = distinct + (chars.length - distinct) * 0.5;
  return effectiveLength * Math.log2(pool);
}

/**
 * Assesses a password against the length policy and a few cheap guessability checks.
 *
 * `names` are the username and display name; a password containing them is rejected.
 */
export function assessPassword(
  password: string,
  minLength: number,
  names: string[] = [],
): PasswordAssessment {
  const problems: PasswordProblem[] = [];
  const length = [...password].length;
  if (length < minLength) {
    problems.push({ kind: 'too_short', min: minLength, missing: minLength - length });
  }
  if (length > 0) {
    if (containsName(password, names)) problems.push({ kind: 'contains_name' });
    if (isCommon(password)) problems.push({ kind: 'too_common' });
    else if (isRepetitive(password)) problems.push({ kind: 'repetitive' });
  }

  const bits = estimateBits(password);
  let score: PasswordAssessment['score'] =
    bits < 28 ? 0 : bits < 45 ? 1 : bits < 65 ? 2 : bits < 85 ? 3 : 4;
  const acceptable = problems.length === 0;
  if (!acceptable && score > 1) score = 1;
  return { score, acceptable, problems };
}
