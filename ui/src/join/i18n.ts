// Every string on the patient join page, in English. Plain words, short
// sentences: patients may be unwell, on a phone, or reading a second language.

export const t = {
  brand: 'Bedside',
  title: 'Video visit',
  safety:
    'Bedside never asks for a password, a payment or an account. If a page asks for any of these, close it and call your clinic.',
  checking: 'Checking your link…',
  linkError: {
    title: 'This link cannot be used',
    invalid: 'This link is not valid. Check that you opened the whole link, or ask your clinic for a new one.',
    expired: 'This link has expired. Ask your clinic for a new one.',
    notYetOpen: 'This link is not open yet. Please come back then.',
    opensAt: (when: string) => `It opens at ${when}.`,
    withdrawn: 'This link was withdrawn by your clinic. If you still need a visit, please call them.',
    incomplete:
      'Part of this link is missing. Open the link exactly as your clinic sent it, or ask them to send it again.',
  },
  ready: {
    title: (clinic: string) => `Video visit with ${clinic}`,
    window: (from: string, to: string) => `This link works from ${from} until ${to} (your local time).`,
    next: 'First we will check your camera and microphone. Then you wait in the waiting room until your clinic lets you in.',
    start: 'Check camera and microphone',
  },
  device: {
    title: 'Camera and microphone',
    asking: 'Your browser may ask to use your camera and microphone. Choose Allow.',
    ok: 'We can see and hear you. This preview is only on your device.',
    previewLabel: 'Your camera preview',
    denied: 'Your browser is not allowing the camera or microphone.',
    deniedHelp:
      'To allow them, tap the camera or lock icon next to the address, choose Allow for camera and microphone, then choose Try again.',
    missing: 'We could not find a camera or microphone on this device.',
    inUse: 'Another app is using your camera or microphone. Close it, then choose Try again.',
    unsupported: 'This browser cannot use a camera here. Try an up-to-date Chrome, Edge, Firefox or Safari.',
    retry: 'Try again',
    continue: 'Continue',
    skip: 'Continue without camera',
  },
  knock: {
    title: 'Tell your clinic who is here',
    intro: 'Only your clinic can read this. It is encrypted on this device.',
    name: 'Your full name',
    dob: 'Date of birth',
    submit: 'Enter the waiting room',
    nameRequired: 'Please enter your name.',
    dobRequired: 'Please enter your date of birth.',
    noCamera: 'You are joining without a camera. Your clinic will still be able to talk with you.',
  },
  connecting: 'Connecting to the waiting room…',
  waiting: {
    title: 'You are in the waiting room',
    body: 'Your clinic knows you are here and will let you in soon. Please keep this page open.',
    returned: 'Your clinic moved you back to the waiting room. Please keep this page open.',
    messagesTitle: 'Messages from your clinic',
    unreadable: 'A message from your clinic could not be shown on this device.',
    leave: 'Leave the waiting room',
  },
  admitted: {
    title: 'Your clinic has let you in',
    body: 'Your call is starting. Please keep this page open.',
  },
  denied: {
    title: 'Your clinic could not let you in',
    reason: (r: string) => `Reason given: ${r}`,
    unreadable: 'Your clinic gave a reason, but it could not be shown on this device.',
    help: 'If you think this is a mistake, please call your clinic.',
  },
  expired: { title: 'This visit has ended', body: 'The link has expired. Ask your clinic for a new one if you still need a visit.' },
  locked: { title: 'The waiting room is closed', body: 'Your clinic is not letting anyone else in right now. Please call them.' },
  ended: { title: 'The visit has ended', body: 'Thank you. You can close this page.' },
  left: { title: 'You left the waiting room', body: 'You can close this page, or open your link again to come back.' },
  error: {
    title: 'Something went wrong',
    tryLater: 'The waiting room is busy. Please try again shortly.',
    connection: 'The connection to the waiting room was lost. Check your internet connection and try again.',
    reload: 'This page is out of date. Please reload it.',
    generic: 'Something went wrong on our side. Please try again shortly.',
    retry: 'Try again',
  },
};
