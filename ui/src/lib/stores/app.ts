// The app's screen state machine: which screen shows, and the actions that move between them.
//
// Framework-light (a Svelte `writable`) and fed an injected `Api` and `listen`, so the whole
// flow runs in tests without Tauri. Secrets typed during first run (the password, needed again
// to confirm the TOTP code) live only in this closure, never in the observable state, and are
// dropped as soon as enrolment ends.

import { get, writable, type Readable } from 'svelte/store';

import { ApiError, type Api } from '../api';
import { LOCKED_EVENT, type ListenFn } from '../events';
import type { ProfileSummary, TotpEnrolment } from '../types';
import { normaliseCode } from '../validation';

/** Which screen the app shows, with just the data that screen needs. */
export type Screen =
  | { name: 'loading' }
  | { name: 'startup_error'; code: string; message: string }
  | { name: 'first_run'; canCancel: boolean }
  | { name: 'enrol_totp'; username: string; displayName: string; enrolment: TotpEnrolment }
  | {
      name: 'sign_in';
      /** True when the session was locked (by the user or idle), not a fresh start. */
      locked: boolean;
      profiles: ProfileSummary[];
      username: string | null;
    }
  | { name: 'signed_in'; username: string; displayName: string };

export interface AppState {
  screen: Screen;
  /** Minimum password length from the core's policy. */
  minPasswordLength: number;
}

export interface AppStoreOptions {
  api: Api;
  listen?: ListenFn;
  /** Minimum gap between activity pings to the core, in ms. */
  touchIntervalMs?: number;
  now?: () => number;
}

export interface AppStore extends Readable<AppState> {
  /** The API the screens use (the same injected one). */
  readonly api: Api;
  /** Shell event subscription, when running in the shell. */
  readonly listen: ListenFn | undefined;
  /** Loads session and profiles, subscribes to the shell's `locked` event. */
  init(): Promise<void>;
  /** Stops listening for shell events. */
  destroy(): void;
  createProfile(input: { username: string; displayName: string; password: string }): Promise<void>;
  confirmTotp(code: string): Promise<void>;
  signIn(input: { username: string; password: string; code: string | null }): Promise<void>;
  /** Resumes an interrupted first run: shows the profile's pending TOTP enrolment. */
  resumeEnrolment(input: { username: string; password: string }): Promise<void>;
  lock(): Promise<void>;
  /** Called when the core reports it locked itself. */
  handleLocked(): Promise<void>;
  /** Records user activity (throttled) so the idle lock does not fire while someone works. */
  activity(): void;
  /** The first real screen (sign-in or first run) is painted: tells the shell, once. */
  painted(): void;
  showFirstRun(): void;
  showSignIn(): Promise<void>;
}

/** Default shown until the core's policy arrives; the core's own default. */
export const DEFAULT_MIN_PASSWORD_LENGTH = 12;

export function createAppStore(options: AppStoreOptions): AppStore {
  const { api, listen } = options;
  const touchIntervalMs = options.touchIntervalMs ?? 10_000;
  const now = options.now ?? (() => Date.now());

  const state = writable<AppState>({
    screen: { name: 'loading' },
    minPasswordLength: DEFAULT_MIN_PASSWORD_LENGTH,
  });

  let pendingPassword: string | null = null;
  let unlisten: (() => void) | null = null;
  let lastTouch = Number.NEGATIVE_INFINITY;
  let destroyed = false;

  function setScreen(screen: Screen): void {
    if (screen.name !== 'enrol_totp') pendingPassword = null;
    state.update((s) => ({ ...s, screen }));
  }

  function startupError(error: unknown): void {
    const e = error instanceof ApiError ? error : new ApiError('internal', String(error));
    setScreen({ name: 'startup_error', code: e.code, message: e.message });
  }

  async function showSignInOrFirstRun(
    locked: boolean,
    username: string | null,
    listed?: ProfileSummary[],
  ): Promise<void> {
    const profiles = listed ?? (await api.profiles());
    if (profiles.length === 0) {
      setScreen({ name: 'first_run', canCancel: false });
      return;
    }
    const known = profiles.find((p) => p.username === username);
    setScreen({
      name: 'sign_in',
      locked,
      profiles,
      username: known ? known.username : (profiles.length === 1 ? profiles[0]!.username : null),
    });
  }

  // Start-up timings for the shell's log line (ms from the page's navigation start): the store
  // is made as the page's script runs; the first screen's data answered.
  const createdAt = performance.now();
  let answeredAt: number | null = null;

  async function init(): Promise<void> {
    setScreen({ name: 'loading' });
    try {
      // One round of IPC, not three in a row: the first screen needs all three answers.
      const [policy, session, profiles] = await Promise.all([
        api.passwordPolicy(),
        api.sessionState(),
        api.profiles(),
      ]);
      answeredAt ??= performance.now();
      state.update((s) => ({ ...s, minPasswordLength: policy.min_length }));
      if (session.state === 'unlocked') {
        setScreen({
          name: 'signed_in',
          username: session.username,
          displayName: session.display_name,
        });
      } else {
        await showSignInOrFirstRun(false, null, profiles);
      }
    } catch (error) {
      startupError(error);
      return;
    }
    if (listen && !unlisten) {
      const off = await listen(LOCKED_EVENT, () => {
        void handleLocked();
      });
      if (destroyed) off();
      else unlisten = off;
    }
  }

  async function createProfile(input: {
    username: string;
    displayName: string;
    password: string;
  }): Promise<void> {
    const enrolment = await api.createProfile(input);
    setScreen({
      name: 'enrol_totp',
      username: input.username,
      displayName: input.displayName,
      enrolment,
    });
    pendingPassword = input.password;
  }

  async function confirmTotp(code: string): Promise<void> {
    const screen = get(state).screen;
    if (screen.name !== 'enrol_totp' || pendingPassword === null) {
      throw new ApiError('invalid_input', 'No enrolment is in progress.');
    }
    await api.confirmTotp({
      username: screen.username,
      password: pendingPassword,
      code: normaliseCode(code),
    });
    await enterSession();
  }

  async function enterSession(): Promise<void> {
    const session = await api.sessionState();
    if (session.state === 'unlocked') {
      lastTouch = now();
      setScreen({ name: 'signed_in', username: session.username, displayName: session.display_name });
    } else {
      await showSignInOrFirstRun(true, null);
    }
  }

  async function signIn(input: {
    username: string;
    password: string;
    code: string | null;
  }): Promise<void> {
    await api.signIn({
      username: input.username,
      password: input.password,
      totp: input.code === null ? null : normaliseCode(input.code),
    });
    await enterSession();
  }

  async function resumeEnrolment(input: { username: string; password: string }): Promise<void> {
    const screen = get(state).screen;
    const profile =
      screen.name === 'sign_in' ? screen.profiles.find((p) => p.username === input.username) : undefined;
    const enrolment = await api.pendingEnrolment(input);
    setScreen({
      name: 'enrol_totp',
      username: input.username,
      displayName: profile?.display_name ?? input.username,
      enrolment,
    });
    pendingPassword = input.password;
  }

  function currentUsername(): string | null {
    const screen = get(state).screen;
    return screen.name === 'signed_in' || screen.name === 'sign_in' ? screen.username : null;
  }

  async function goToLockScreen(): Promise<void> {
    const username = currentUsername();
    try {
      await showSignInOrFirstRun(true, username);
    } catch (error) {
      startupError(error);
    }
  }

  async function lock(): Promise<void> {
    // Show the lock screen even if the call fails: hiding the session is the safe direction.
    try {
      await api.lock();
    } finally {
      await goToLockScreen();
    }
  }

  async function handleLocked(): Promise<void> {
    const screen = get(state).screen;
    if (screen.name === 'signed_in') await goToLockScreen();
  }

  function activity(): void {
    if (get(state).screen.name !== 'signed_in') return;
    const t = now();
    if (t - lastTouch < touchIntervalMs) return;
    lastTouch = t;
    api.touch().catch(() => {
      // A failed ping only means the idle timer was not reset; nothing to show.
    });
  }

  let paintedReported = false;
  function painted(): void {
    if (paintedReported) return;
    paintedReported = true;
    const page = {
      scriptMs: Math.round(createdAt),
      answeredMs: Math.round(answeredAt ?? 0),
      paintedMs: Math.round(performance.now()),
    };
    api.uiPainted(page).catch(() => {
      // Only the start-up log line is lost.
    });
  }

  function showFirstRun(): void {
    setScreen({ name: 'first_run', canCancel: true });
  }

  async function showSignIn(): Promise<void> {
    try {
      await showSignInOrFirstRun(false, null);
    } catch (error) {
      startupError(error);
    }
  }

  function destroy(): void {
    destroyed = true;
    pendingPassword = null;
    unlisten?.();
    unlisten = null;
  }

  return {
    api,
    listen,
    subscribe: state.subscribe,
    init,
    destroy,
    createProfile,
    confirmTotp,
    signIn,
    resumeEnrolment,
    lock,
    handleLocked,
    activity,
    painted,
    showFirstRun,
    showSignIn,
  };
}
