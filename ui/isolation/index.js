// Bedside IPC isolation hook (Tauri isolation pattern).
//
// Runs in a sandboxed iframe that sees every IPC message from the UI before Tauri encrypts
// and delivers it. It passes through only the commands the UI is meant to send, with
// arguments of the expected shape; anything else is redirected to a command that does not
// exist, so it fails with an ordinary IPC error instead of reaching the core. The Rust side
// (capabilities, permissions and command argument types) checks everything again.
(function () {
  'use strict';

  const isString = (v) => typeof v === 'string';
  const isShortString = (v) => isString(v) && v.length <= 1024;
  const isCode = (v) => isString(v) && /^[0-9]{6}$/.test(v);
  const noArgs = (a) => a === undefined || a === null || Object.keys(a).length === 0;
  const only = (a, keys) =>
    a !== null && typeof a === 'object' && Object.keys(a).every((k) => keys.includes(k));

  /** Events the UI may subscribe to. */
  const EVENTS = ['locked', 'policy-changed'];

  /** Command name -> argument check. */
  const ALLOWED = {
    profiles: noArgs,
    password_policy: noArgs,
    session_state: noArgs,
    lock: noArgs,
    touch: noArgs,
    relay_origin: noArgs,
    policy_effective: noArgs,
    policy_reload: noArgs,
    create_profile: (a) =>
      only(a, ['username', 'displayName', 'password']) &&
      isShortString(a.username) &&
      isShortString(a.displayName) &&
      isShortString(a.password),
    confirm_totp: (a) =>
      only(a, ['username', 'password', 'code']) &&
      isShortString(a.username) &&
      isShortString(a.password) &&
      isCode(a.code),
    sign_in: (a) =>
      only(a, ['username', 'password', 'totp']) &&
      isShortString(a.username) &&
      isShortString(a.password) &&
      (a.totp === null || isCode(a.totp)),
    pending_enrolment: (a) =>
      only(a, ['username', 'password']) && isShortString(a.username) && isShortString(a.password),
    // The `locked` and `policy-changed` event subscriptions from @tauri-apps/api/event.
    'plugin:event|listen': (a) =>
      only(a, ['event', 'target', 'handler']) && EVENTS.includes(a.event),
    'plugin:event|unlisten': (a) => only(a, ['event', 'eventId']) && EVENTS.includes(a.event),
  };

  /** Not a registered command: Tauri rejects it before any app code runs. */
  const BLOCKED = '__bedside_blocked_by_isolation__';

  window.__TAURI_ISOLATION_HOOK__ = (message) => {
    const check = Object.prototype.hasOwnProperty.call(ALLOWED, message.cmd)
      ? ALLOWED[message.cmd]
      : null;
    if (check !== null && check(message.payload)) return message;
    return { ...message, cmd: BLOCKED, payload: {} };
  };
})();
