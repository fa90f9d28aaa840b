// Every user-visible string in the UI, in English. Components import `t` from here and
// never hard-code text, so a later locale is a second file with the same shape.

export const en = {
  app: {
    name: 'Bedside',
    loading: 'Starting Bedside…',
  },
  common: {
    continue: 'Continue',
    back: 'Back',
    working: 'Working…',
    required: 'Required',
    showPassword: 'Show password',
    hidePassword: 'Hide password',
  },
  startupError: {
    title: 'Bedside cannot open your data',
    intro: 'Bedside could not start securely. Nothing was saved or changed.',
    keychainHelp:
      'Bedside never stores its keys without the system keychain. When the keychain is running and unlocked, choose Try again.',
    genericHelp: 'If this keeps happening, contact your IT support and tell them the code below.',
    code: (code: string) => `Error code: ${code}`,
    retry: 'Try again',
  },
  firstRun: {
    title: 'Set up Bedside',
    intro:
      'Create the profile you will use to sign in on this computer. Your data is encrypted with your password and a key kept in the system keychain.',
    step: (n: number, of: number) => `Step ${n} of ${of}`,
    displayName: 'Your name',
    displayNameHint: 'Shown to you in the app, for example "Dr Alex Morgan".',
    username: 'Username',
    usernameHint: 'Lowercase letters, digits, dots, dashes or underscores; used to sign in.',
    password: 'Password',
    confirmPassword: 'Confirm password',
    submit: 'Create profile',
    creating: 'Creating your profile…',
    haveProfile: 'Sign in to an existing profile',
  },
  validation: {
    displayNameRequired: 'Enter your name.',
    usernameRequired: 'Enter a username.',
    usernameInvalid: 'Use 1 to 64 lowercase letters, digits, dots, dashes or underscores.',
    passwordsDiffer: 'The two passwords are not the same.',
    passwordRejected: 'Choose a stronger password (see below).',
    codeFormat: 'Enter the 6-digit code from your authenticator app.',
  },
  strength: {
    label: 'Password strength',
    levels: ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'] as const,
    tooShort: (min: number, missing: number) =>
      `Use at least ${min} characters (${missing} more).`,
    containsName: 'Do not use your username or name in the password.',
    tooCommon: 'This password is too common or too easy to guess.',
    repetitive: 'Avoid repeated characters and simple sequences.',
    ok: 'This password meets the requirements.',
    tip: 'Tip: a few unrelated words make a long password that is easy to remember.',
  },
  totp: {
    title: 'Set up two-step sign-in',
    intro:
      'Scan this QR code with an authenticator app on your phone (for example FreeOTP, Aegis or Google Authenticator).',
    qrAlt: 'QR code for your authenticator app',
    manualTitle: 'Cannot scan? Enter this key instead',
    secretLabel: 'Key',
    uriLabel: 'Setup link',
    codeLabel: '6-digit code from the app',
    codeHint: 'Enter the code your app shows now to finish setting up.',
    submit: 'Confirm and sign in',
    confirming: 'Checking the code…',
    wrongCode: 'That code is not correct. Check the time on your phone and try the current code.',
  },
  signIn: {
    title: 'Sign in',
    lockedTitle: 'Bedside is locked',
    lockedIntro: 'Sign in again to continue.',
    profile: 'Profile',
    password: 'Password',
    code: '6-digit code',
    codeHint: 'From your authenticator app.',
    codeOptionalHint:
      'From your authenticator app. You may leave it empty if you signed in with a code recently on this computer.',
    submit: 'Sign in',
    signingIn: 'Signing in…',
    genericError: 'The password or the code is incorrect.',
    lockedOut: 'Too many attempts. Try again later.',
    lockedOutWait: (secs: number) =>
      `Too many attempts. Try again in ${formatWait(secs)}.`,
    newProfile: 'Set up a new profile',
    notEnrolledNote:
      'Two-step sign-in has not been set up for this profile yet. Enter the password to finish setting it up.',
    continueSetup: 'Continue setup',
  },
  signedIn: {
    title: 'Bedside',
    greeting: (name: string) => `Signed in as ${name}`,
    placeholder: 'Your schedule and visits will appear here.',
    lock: 'Lock',
    lockShortcut: 'Ctrl+L',
    lockHint: 'Lock Bedside now (Ctrl+L). It also locks by itself when you are away.',
  },
  policy: {
    nav: 'Policy',
    back: 'Back',
    title: 'Policy',
    intro:
      'Settings your organisation manages on this computer, with where each value comes from. Mandatory values cannot be changed in the app.',
    reload: 'Reload policies',
    reloading: 'Reloading…',
    reloaded: 'Policies reloaded.',
    changed: 'Policy changed on this computer; the page shows the values now in force.',
    loading: 'Loading policies…',
    tableCaption: 'Policies in force and values that were ignored',
    name: 'Policy',
    value: 'Value',
    source: 'Source',
    level: 'Level',
    status: 'Status',
    notSet: '(not set)',
    sourceDefault: 'Default',
    sourceUser: 'Your setting',
    levels: { mandatory: 'Mandatory', recommended: 'Recommended', none: '—' },
    statuses: {
      ok: 'OK',
      invalid: 'Invalid (ignored)',
      unknown: 'Unknown policy (ignored)',
      below_floor: 'Below the security floor (ignored)',
    },
    bundleTitle: 'Signed policy bundle',
    bundleApplied: (version: number, location: string) =>
      `Version ${version} is in force (${location}).`,
    bundleNone: 'No signed policy bundle is in force.',
    bundleKeys: (n: number) =>
      n === 1 ? '1 organisation key is pinned.' : `${n} organisation keys are pinned.`,
    bundleRefused: (location: string, reason: string) => `Refused: ${location}: ${reason}`,
    unreadable: (path: string, reason: string) => `Not used: ${path}: ${reason}`,
    updateRequired: (min: string) =>
      `Update required: your organisation requires Bedside ${min} or later. Visits cannot start until Bedside is updated.`,
  },
  errors: {
    generic: 'Something went wrong. Please try again.',
    ipc: 'The app could not complete that request.',
    profileExists: 'A profile with this username already exists on this computer.',
    weakPassword: 'This password does not meet the requirements.',
  },
} as const;

/** "1 minute 5 seconds"-style wait, rounded up to whole seconds. */
export function formatWait(totalSecs: number): string {
  const secs = Math.max(1, Math.ceil(totalSecs));
  const m = Math.floor(secs / 60);
  const s = secs % 60;
  const parts: string[] = [];
  if (m > 0) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (s > 0) parts.push(`${s} second${s === 1 ? '' : 's'}`);
  return parts.join(' ');
}

export const t = en;
export type Strings = typeof en;
