// An in-memory stand-in for the Tauri shell + core, behind the same `invoke` signature.
// It mimics the real commands' argument names and `{code, message}` errors so tests
// exercise the real API wrapper and stores.

import type { InvokeFn } from '../lib/api';
import type { ProfileSummary, SessionState } from '../lib/types';

interface FakeProfile extends ProfileSummary {
  password: string;
}

export const VALID_CODE = '123456';
// A 1x1 transparent PNG, enough for an <img>.
export const TINY_PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

export interface FakeCore {
  invoke: InvokeFn;
  calls: { cmd: string; args: Record<string, unknown> | undefined }[];
  profiles: FakeProfile[];
  session: SessionState;
  /** Failed sign-ins before `locked_out`. */
  maxFailures: number;
  failures: number;
  /** Make every command reject with this error (e.g. a missing keychain). */
  failAllWith: { code: string; message: string } | null;
  /** Profiles with a full (password + code) sign-in: the lock screen may omit the code. */
  recentFullSignIn: Set<string>;
}

function reject(code: string, message: string, extra: Record<string, unknown> = {}): never {
  throw { code, message, ...extra };
}

export function createFakeCore(initial: Partial<Pick<FakeCore, 'profiles' | 'maxFailures'>> = {}): FakeCore {
  const fake: FakeCore = {
    calls: [],
    profiles: initial.profiles ?? [],
    session: { state: 'locked' },
    maxFailures: initial.maxFailures ?? 5,
    failures: 0,
    failAllWith: null,
    recentFullSignIn: new Set(),
    invoke: async (cmd, args) => {
      fake.calls.push({ cmd, args });
      if (fake.failAllWith) reject(fake.failAllWith.code, fake.failAllWith.message);
      const a = (args ?? {}) as Record<string, string | null>;
      switch (cmd) {
        case 'password_policy':
          return { min_length: 12 };
        case 'profiles':
          return fake.profiles.map(({ username, display_name, totp_enabled }) => ({
            username,
            display_name,
            totp_enabled,
          }));
        case 'session_state':
          return fake.session;
        case 'create_profile': {
          if (fake.profiles.some((p) => p.username === a.username)) {
            reject('profile_exists', 'A profile with this username already exists.');
          }
          if ((a.password ?? '').length < 12) reject('weak_password', 'The password is too short.');
          fake.profiles.push({
            username: a.username!,
            display_name: a.displayName!,
            password: a.password!,
            totp_enabled: false,
          });
          return {
            otpauth_uri: `otpauth://totp/Bedside:${a.username}?secret=JBSWY3DPEHPK3PXP&issuer=Bedside`,
            secret_base32: 'JBSWY3DPEHPK3PXP',
            qr_png_base64: TINY_PNG_BASE64,
          };
        }
        case 'confirm_totp': {
          const p = fake.profiles.find((x) => x.username === a.username);
          if (!p || p.password !== a.password || a.code !== VALID_CODE) {
            reject('signin_failed', 'Sign-in failed.');
          }
          p.totp_enabled = true;
          fake.recentFullSignIn.add(p.username);
          fake.session = { state: 'unlocked', username: p.username, display_name: p.display_name };
          return null;
        }
        case 'sign_in': {
          if (fake.failures >= fake.maxFailures) {
            reject('locked_out', 'Too many attempts; wait before trying again.', {
              retry_after_secs: 30,
            });
          }
          const p = fake.profiles.find((x) => x.username === a.username);
          const codeOk =
            p &&
            (a.totp === VALID_CODE || (a.totp === null && fake.recentFullSignIn.has(p.username)));
          if (!p || p.password !== a.password || !codeOk) {
            fake.failures += 1;
            reject('signin_failed', 'Sign-in failed.');
          }
          if (!p.totp_enabled) reject('totp_not_enrolled', 'Two-step sign-in is not set up yet.');
          fake.failures = 0;
          if (a.totp !== null) fake.recentFullSignIn.add(p.username);
          fake.session = { state: 'unlocked', username: p.username, display_name: p.display_name };
          return null;
        }
        case 'pending_enrolment': {
          const p = fake.profiles.find((x) => x.username === a.username);
          if (!p || p.password !== a.password) reject('signin_failed', 'Sign-in failed.');
          if (p.totp_enabled) reject('totp_already_enabled', 'Already set up.');
          return {
            otpauth_uri: `otpauth://totp/Bedside:${p.username}?secret=JBSWY3DPEHPK3PXP&issuer=Bedside`,
            secret_base32: 'JBSWY3DPEHPK3PXP',
            qr_png_base64: TINY_PNG_BASE64,
          };
        }
        case 'lock':
          fake.session = { state: 'locked' };
          return null;
        case 'touch':
          return null;
        default:
          // What Tauri does for an unknown or forbidden command: a bare string.
          throw `command ${cmd} not found`;
      }
    },
  };
  return fake;
}

/** A `listen` that records handlers so a test can emit shell events. */
export function createFakeEvents() {
  const handlers = new Map<string, Set<() => void>>();
  return {
    listen: async (event: string, handler: () => void) => {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event)!.add(handler);
      return () => handlers.get(event)?.delete(handler);
    },
    emit(event: string) {
      handlers.get(event)?.forEach((h) => h());
    },
    count(event: string) {
      return handlers.get(event)?.size ?? 0;
    },
  };
}

export const ALEX: FakeProfile = {
  username: 'amorgan',
  display_name: 'Dr Alex Morgan',
  totp_enabled: true,
  password: 'correct horse battery staple',
};
