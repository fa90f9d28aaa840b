// Typed wrapper over Tauri's `invoke`: one function per app command, errors as `ApiError`.
//
// The invoke function is injected so stores and tests never need a Tauri runtime.

import type {
  IpcErrorPayload,
  PasswordPolicy,
  PolicyView,
  ProfileSummary,
  SessionState,
  TotpEnrolment,
} from './types';

/** The signature of `@tauri-apps/api/core`'s `invoke`, narrowed to what we use. */
export type InvokeFn = (cmd: string, args?: Record<string, unknown>) => Promise<unknown>;

/** Error codes the shell or core may return. Unknown codes are passed through as strings. */
export type ErrorCode =
  | 'signin_failed'
  | 'locked_out'
  | 'weak_password'
  | 'profile_exists'
  | 'keychain_unavailable'
  | 'invalid_input'
  | 'not_found'
  | 'no_profile'
  | 'totp_not_enrolled'
  | 'internal'
  | 'ipc'
  | (string & {});

/** An error from a command, with a stable `code` to branch on and a message safe to show. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSecs: number | null;

  constructor(code: ErrorCode, message: string, retryAfterSecs: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.retryAfterSecs = retryAfterSecs;
  }
}

function isPayload(value: unknown): value is IpcErrorPayload {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as IpcErrorPayload).code === 'string' &&
    typeof (value as IpcErrorPayload).message === 'string'
  );
}

/**
 * Turns whatever a rejected `invoke` produced into an `ApiError`.
 *
 * The shell always rejects with `{code, message}`; anything else (a missing command, a
 * permission denial reported by Tauri as a plain string) becomes a generic `ipc` error so
 * raw internals are never shown.
 */
export function toApiError(reason: unknown): ApiError {
  if (reason instanceof ApiError) return reason;
  if (isPayload(reason)) {
    const retry = typeof reason.retry_after_secs === 'number' ? reason.retry_after_secs : null;
    return new ApiError(reason.code, reason.message, retry);
  }
  return new ApiError('ipc', 'The app could not complete that request.');
}

/** The app's commands, typed. Each rejects with `ApiError`. */
export interface Api {
  profiles(): Promise<ProfileSummary[]>;
  passwordPolicy(): Promise<PasswordPolicy>;
  createProfile(req: {
    username: string;
    displayName: string;
    password: string;
  }): Promise<TotpEnrolment>;
  confirmTotp(req: { username: string; password: string; code: string }): Promise<void>;
  signIn(req: { username: string; password: string; totp: string | null }): Promise<void>;
  /** The TOTP enrolment of a profile whose set-up was interrupted (password required). */
  pendingEnrolment(req: { username: string; password: string }): Promise<TotpEnrolment>;
  lock(): Promise<void>;
  sessionState(): Promise<SessionState>;
  touch(): Promise<void>;
  /** Every policy in force with its source, level and status (the Policy page). */
  policyEffective(): Promise<PolicyView>;
  /** Reads the policy sources again now and returns the result. */
  policyReload(): Promise<PolicyView>;
}

/** Builds the API over an invoke function (Tauri's in the app, a mock in tests). */
export function createApi(invoke: InvokeFn): Api {
  async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
    try {
      return (await invoke(cmd, args)) as T;
    } catch (reason) {
      throw toApiError(reason);
    }
  }

  // Tauri maps camelCase argument names to the Rust commands' snake_case parameters.
  return {
    profiles: () => call<ProfileSummary[]>('profiles'),
    passwordPolicy: () => call<PasswordPolicy>('password_policy'),
    createProfile: ({ username, displayName, password }) =>
      call<TotpEnrolment>('create_profile', { username, displayName, password }),
    confirmTotp: ({ username, password, code }) =>
      call<void>('confirm_totp', { username, password, code }),
    signIn: ({ username, password, totp }) => call<void>('sign_in', { username, password, totp }),
    pendingEnrolment: ({ username, password }) =>
      call<TotpEnrolment>('pending_enrolment', { username, password }),
    lock: () => call<void>('lock'),
    sessionState: () => call<SessionState>('session_state'),
    touch: () => call<void>('touch'),
    policyEffective: () => call<PolicyView>('policy_effective'),
    policyReload: () => call<PolicyView>('policy_reload'),
  };
}
