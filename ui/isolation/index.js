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
  const isId = (v) => Number.isSafeInteger(v) && v > 0;
  const isText = (v) => isString(v) && v.length <= 65536;
  const isOptShort = (v) => v === undefined || v === null || isShortString(v);
  const isDate = (v) => isString(v) && /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(v);
  const isZone = (v) => isString(v) && /^[A-Za-z0-9_+\-\/]{1,64}$/.test(v);
  const isHex = (v) => isString(v) && /^[0-9a-f]{32}$/.test(v);
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  /** A saved device (`{id, name}`) or null. */
  const isSavedDevice = (d) =>
    d === undefined || d === null || (isObj(d) && only(d, ['id', 'name']) && isShortString(d.id) && isShortString(d.name));
  /** The settings' device choice, sent back as read (the shell does not save it from there). */
  const isSavedDevices = (v) =>
    v === undefined ||
    (isObj(v) &&
      only(v, ['microphone', 'speaker', 'camera']) &&
      isSavedDevice(v.microphone) &&
      isSavedDevice(v.speaker) &&
      isSavedDevice(v.camera));
  const isPatient = (p) =>
    isObj(p) &&
    only(p, ['name', 'dob', 'phone', 'email', 'mrn']) &&
    isShortString(p.name) &&
    isShortString(p.dob) &&
    isOptShort(p.phone) &&
    isOptShort(p.email) &&
    isOptShort(p.mrn);
  const isBooking = (b) =>
    isObj(b) &&
    only(b, ['patient', 'local_start', 'tz', 'duration_min', 'reason', 'force']) &&
    isId(b.patient) &&
    isShortString(b.local_start) &&
    isZone(b.tz) &&
    Number.isSafeInteger(b.duration_min) &&
    (b.reason === undefined || b.reason === null || isText(b.reason)) &&
    (b.force === undefined || typeof b.force === 'boolean');
  const byId = (a) => only(a, ['id']) && isId(a.id);
  const byAppointment = (a) => only(a, ['appointment']) && isId(a.appointment);
  const dayOrWeek = (a) => only(a, ['date', 'tz']) && isDate(a.date) && isZone(a.tz);
  const isChannel = (v) => isString(v) && /^__CHANNEL__:[0-9]{1,10}$/.test(v);
  const visit = (a, extra) => only(a, ['visit', ...extra]) && isHex(a.visit);
  const device = (a, extra) =>
    only(a, ['visit', 'device', ...extra]) && isHex(a.visit) && isShortString(a.device);

  /** Events the UI may subscribe to. */
  const EVENTS = ['locked', 'waiting', 'policy-changed', 'devices-changed', 'open-appointment'];

  /** Command name -> argument check. */
  const ALLOWED = {
    profiles: noArgs,
    password_policy: noArgs,
    session_state: noArgs,
    lock: noArgs,
    touch: noArgs,
    ui_painted: (a) =>
      only(a, ['scriptMs', 'answeredMs', 'paintedMs']) &&
      [a.scriptMs, a.answeredMs, a.paintedMs].every((v) => Number.isSafeInteger(v) && v >= 0 && v <= 0xffffffff),
    relay_origin: noArgs,
    policy_effective: noArgs,
    policy_reload: noArgs,
    update_check: noArgs,
    update_install: noArgs,
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
    patients_list: noArgs,
    patients_search: (a) => only(a, ['query']) && isShortString(a.query),
    patient_get: byId,
    patient_create: (a) => only(a, ['patient']) && isPatient(a.patient),
    patient_update: (a) => only(a, ['id', 'patient']) && isId(a.id) && isPatient(a.patient),
    appointments_day: dayOrWeek,
    appointments_week: dayOrWeek,
    appointment_get: (a) => only(a, ['id', 'tz']) && isId(a.id) && isZone(a.tz),
    appointment_create: (a) => only(a, ['appointment']) && isBooking(a.appointment),
    appointment_reschedule: (a) =>
      only(a, ['id', 'localStart', 'tz', 'durationMin', 'force']) &&
      isId(a.id) &&
      isShortString(a.localStart) &&
      isZone(a.tz) &&
      (a.durationMin === null || Number.isSafeInteger(a.durationMin)) &&
      typeof a.force === 'boolean',
    appointment_set_reason: (a) =>
      only(a, ['id', 'reason', 'tz']) &&
      isId(a.id) &&
      (a.reason === null || isText(a.reason)) &&
      isZone(a.tz),
    appointment_cancel: byId,
    appointment_no_show: byId,
    appointment_set_status: (a) =>
      only(a, ['id', 'status']) && isId(a.id) && /^[a-z_]{1,16}$/.test(String(a.status)),
    note_get: byAppointment,
    note_save: (a) => only(a, ['appointment', 'text']) && isId(a.appointment) && isText(a.text),
    invite_create: byAppointment,
    invite_show: byAppointment,
    invite_revoke: byAppointment,
    audit_list: (a) =>
      only(a, ['filter']) &&
      isObj(a.filter) &&
      only(a.filter, ['action', 'limit']) &&
      isOptShort(a.filter.action) &&
      (a.filter.limit === undefined || a.filter.limit === null || Number.isSafeInteger(a.filter.limit)),
    audit_verify: noArgs,
    settings_get: noArgs,
    settings_save: (a) =>
      only(a, ['settings']) &&
      isObj(a.settings) &&
      only(a.settings, ['relay_url', 'idle_lock_minutes', 'idle_lock_max_minutes', 'devices']) &&
      isOptShort(a.settings.relay_url) &&
      isSavedDevices(a.settings.devices) &&
      Number.isSafeInteger(a.settings.idle_lock_minutes),
    waiting_sync: (a) => only(a, ['tz']) && isZone(a.tz),
    waiting_admit: (a) => device(a, []),
    waiting_deny: (a) => device(a, ['reason']) && isShortString(a.reason),
    waiting_message: (a) => device(a, ['text']) && isShortString(a.text),
    visit_open: (a) =>
      visit(a, ['events', 'remote', 'local']) &&
      isChannel(a.events) &&
      isChannel(a.remote) &&
      isChannel(a.local),
    visit_close: (a) => visit(a, []),
    visit_frame_ack: (a) =>
      visit(a, ['stream', 'seq']) &&
      (a.stream === 0 || a.stream === 1) &&
      Number.isSafeInteger(a.seq) &&
      a.seq >= 0 &&
      a.seq <= 0xffffffff,
    visit_controls: (a) =>
      visit(a, ['muted', 'cameraOff']) &&
      typeof a.muted === 'boolean' &&
      typeof a.cameraOff === 'boolean',
    visit_confirm_sas: (a) => visit(a, []),
    visit_end: (a) => visit(a, []),
    visit_send_back: (a) => visit(a, []),
    visit_chat_send: (a) => visit(a, ['text']) && isText(a.text),
    visit_set_device: (a) =>
      visit(a, ['kind', 'id']) &&
      ['microphone', 'speaker', 'camera'].includes(a.kind) &&
      isOptShort(a.id),
    devices_list: noArgs,
    devices_choose: (a) =>
      only(a, ['kind', 'id']) &&
      ['microphone', 'speaker', 'camera'].includes(a.kind) &&
      isOptShort(a.id),
    devices_monitor: (a) =>
      only(a, ['microphone', 'camera', 'level', 'preview']) &&
      isOptShort(a.microphone) &&
      isOptShort(a.camera) &&
      isChannel(a.level) &&
      isChannel(a.preview),
    devices_monitor_stop: noArgs,
    // Tauri's own request for a Channel message too big to evaluate inline (video frames):
    // it carries no arguments, only a header naming the queued message.
    'plugin:__TAURI_CHANNEL__|fetch': noArgs,
    // The `locked`, `waiting` and `policy-changed` event subscriptions from @tauri-apps/api/event.
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

  // Start-up: Tauri's frame script (above this one) imports its AES-GCM key, then adds its
  // `message` listener, then polls every 50 ms for this hook before it tells the window it is
  // ready; the hook is already here, so that first 50 ms is only a wait, and the first screen's
  // commands sit queued in the window through it. Announce readiness the moment the listener
  // that encrypts them exists. Tauri's own announcement still follows and flushes an empty
  // queue. (If a Tauri update changes this order, the desktop journey's first screen would not
  // load: that test covers it.)
  const addEventListener = window.addEventListener;
  window.addEventListener = function (type, listener, options) {
    addEventListener.call(this, type, listener, options);
    if (type === 'message') {
      window.addEventListener = addEventListener;
      window.parent.postMessage('__TAURI_ISOLATION_READY__', '*');
    }
  };
})();
