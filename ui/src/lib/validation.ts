// Input checks shared by the forms. The core validates again; these give instant feedback.

/** Usernames, as the core accepts them: 1–64 lowercase ASCII letters, digits, '.', '_' or '-'. */
export const USERNAME_PATTERN = /^[a-z0-9._-]{1,64}$/;

export function isValidUsername(username: string): boolean {
  return USERNAME_PATTERN.test(username);
}

/** A TOTP code as typed: exactly six digits once spaces are removed. */
export function normaliseCode(code: string): string {
  return code.replace(/\s+/g, '');
}

export function isValidCode(code: string): boolean {
  return /^[0-9]{6}$/.test(normaliseCode(code));
}
