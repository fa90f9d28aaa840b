// Maps command errors to the words shown to the user, per screen.
//
// Sign-in never tells which factor failed: every credential-related error (wrong password,
// wrong code, unknown user, malformed input) reads the same.

import { ApiError } from './api';
import { t } from './i18n/en';

/** What the sign-in form shows for a failed attempt. */
export function signInErrorMessage(error: ApiError): string {
  switch (error.code) {
    case 'locked_out':
      return error.retryAfterSecs !== null
        ? t.signIn.lockedOutWait(error.retryAfterSecs)
        : t.signIn.lockedOut;
    case 'keychain_unavailable':
    case 'totp_not_enrolled':
      return error.message;
    case 'internal':
      return t.errors.generic;
    case 'ipc':
      return t.errors.ipc;
    default:
      return t.signIn.genericError;
  }
}

/** What the first-run form shows when creating the profile fails. */
export function createProfileErrorMessage(error: ApiError): string {
  switch (error.code) {
    case 'profile_exists':
      return t.errors.profileExists;
    case 'weak_password':
    case 'invalid_input':
    case 'keychain_unavailable':
      // The core's message says which rule was broken; it never contains the input.
      return error.message;
    case 'ipc':
      return t.errors.ipc;
    default:
      return t.errors.generic;
  }
}

/** What the TOTP enrolment form shows when the confirming code is rejected. */
export function confirmTotpErrorMessage(error: ApiError): string {
  switch (error.code) {
    case 'signin_failed':
    case 'invalid_input':
      return t.totp.wrongCode;
    case 'locked_out':
      return signInErrorMessage(error);
    case 'ipc':
      return t.errors.ipc;
    default:
      return t.errors.generic;
  }
}
