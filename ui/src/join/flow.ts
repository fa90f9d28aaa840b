// The patient join page as a pure state machine: events in, state out.
//
// Nothing here touches the network, the camera or the DOM, so every
// transition is tested in flow.test.ts; JoinApp.svelte renders the state and
// session.ts turns the outside world into events.

import type { ErrorCode, RelayToPatient } from '../../../crates/bedside-protocol/generated/protocol';

/** What the relay's invite API said about the link. */
export interface Invite {
  clinicName: string;
  /** Unix seconds. */
  notBefore: number;
  /** Unix seconds. */
  expires: number;
}

/** Why the link cannot be used. `incomplete`: the part after `#` is missing or damaged. */
export type LinkProblem = 'invalid' | 'expired' | 'not_yet_open' | 'withdrawn' | 'incomplete';

/** The outcome of asking for the camera and microphone. */
export type MediaStatus = 'asking' | 'ok' | 'denied' | 'missing' | 'in_use' | 'unsupported';

/** Errors after the link was accepted. `try_later`: rate limited or busy. */
export type FailureKind = 'try_later' | 'connection' | 'reload' | 'generic';

export type State =
  | { kind: 'checking' }
  | { kind: 'link_error'; problem: LinkProblem; opensAt?: number }
  | { kind: 'ready'; invite: Invite }
  | { kind: 'device_check'; invite: Invite; media: MediaStatus }
  | { kind: 'knock_form'; invite: Invite; askDob: boolean; camera: boolean }
  | { kind: 'connecting'; invite: Invite }
  | { kind: 'waiting'; invite: Invite; messages: ClinicText[]; returned: boolean }
  | { kind: 'admitted'; invite: Invite; messages: ClinicText[] }
  | { kind: 'denied'; reason: ClinicText }
  | { kind: 'expired' }
  | { kind: 'locked' }
  | { kind: 'ended' }
  | { kind: 'left' }
  | { kind: 'error'; failure: FailureKind; invite?: Invite };

/** Clinician text as opened in the page; null when it did not open (shown as a notice). */
export type ClinicText = string | null;

export type Event =
  | { type: 'invite_ok'; invite: Invite }
  | { type: 'invite_refused'; problem: LinkProblem; opensAt?: number }
  | { type: 'invite_unreachable' }
  | { type: 'start_device_check' }
  | { type: 'media'; status: MediaStatus }
  | { type: 'continue'; askDob: boolean }
  | { type: 'skip_camera'; askDob: boolean }
  | { type: 'knock_sent' }
  | { type: 'relay'; msg: RelayToPatient }
  | { type: 'clinic_message'; text: ClinicText }
  | { type: 'clinic_denied'; reason: ClinicText }
  | { type: 'socket_closed' }
  /** The connection dropped; the session is re-opening it (the page keeps its state). */
  | { type: 'reconnecting' }
  | { type: 'leave' }
  | { type: 'retry' };

export const initial: State = { kind: 'checking' };

/** States the visit cannot leave (short of reloading the page). */
export function isFinal(s: State): boolean {
  return ['link_error', 'denied', 'expired', 'locked', 'ended', 'left'].includes(s.kind);
}

function inviteOf(s: State): Invite | undefined {
  return 'invite' in s ? s.invite : undefined;
}

function failureFor(code: ErrorCode): FailureKind {
  switch (code) {
    case 'rate_limited':
    case 'busy':
      return 'try_later';
    case 'idle_timeout':
      return 'connection';
    case 'unsupported_version':
      return 'reload';
    default:
      return 'generic';
  }
}

function onRelay(s: State, msg: RelayToPatient): State {
  const invite = inviteOf(s);
  const live = s.kind === 'connecting' || s.kind === 'waiting' || s.kind === 'admitted';
  switch (msg.type) {
    case 'challenge':
    case 'welcome':
    case 'pong':
    case 'answer':
    case 'ice':
      return s;
    case 'error':
      if (isFinal(s)) return s;
      if (msg.code === 'invalid_invite') return { kind: 'link_error', problem: 'invalid' };
      return invite ? { kind: 'error', failure: failureFor(msg.code), invite } : { kind: 'error', failure: failureFor(msg.code) };
  }
  if (!live || !invite) return s;
  switch (msg.type) {
    case 'waiting':
      return s.kind === 'waiting' ? s : { kind: 'waiting', invite, messages: 'messages' in s ? s.messages : [], returned: false };
    // Sealed texts arrive opened, as clinic_message and clinic_denied.
    case 'message':
      return s;
    case 'admitted':
      return { kind: 'admitted', invite, messages: 'messages' in s ? s.messages : [] };
    case 'back_to_lobby':
      return { kind: 'waiting', invite, messages: 'messages' in s ? s.messages : [], returned: true };
    case 'denied':
      return s;
    case 'expired':
      return { kind: 'expired' };
    case 'locked':
      return { kind: 'locked' };
    case 'ended':
      return { kind: 'ended' };
  }
}

export function reduce(s: State, e: Event): State {
  switch (e.type) {
    case 'invite_ok':
      return s.kind === 'checking' ? { kind: 'ready', invite: e.invite } : s;
    case 'invite_refused':
      if (s.kind !== 'checking') return s;
      return e.opensAt === undefined
        ? { kind: 'link_error', problem: e.problem }
        : { kind: 'link_error', problem: e.problem, opensAt: e.opensAt };
    case 'invite_unreachable':
      return s.kind === 'checking' ? { kind: 'error', failure: 'connection' } : s;
    case 'start_device_check':
      return s.kind === 'ready' ? { kind: 'device_check', invite: s.invite, media: 'asking' } : s;
    case 'media':
      return s.kind === 'device_check' ? { ...s, media: e.status } : s;
    case 'continue':
      if (s.kind !== 'device_check' || s.media !== 'ok') return s;
      return { kind: 'knock_form', invite: s.invite, askDob: e.askDob, camera: true };
    case 'skip_camera':
      if (s.kind !== 'device_check') return s;
      return { kind: 'knock_form', invite: s.invite, askDob: e.askDob, camera: false };
    case 'knock_sent':
      return s.kind === 'knock_form' ? { kind: 'connecting', invite: s.invite } : s;
    case 'relay':
      return onRelay(s, e.msg);
    case 'clinic_message':
      if (s.kind === 'connecting') return { kind: 'waiting', invite: s.invite, messages: [e.text], returned: false };
      if (s.kind === 'waiting' || s.kind === 'admitted') return { ...s, messages: [...s.messages, e.text] };
      return s;
    case 'clinic_denied':
      return s.kind === 'connecting' || s.kind === 'waiting' || s.kind === 'admitted' ? { kind: 'denied', reason: e.reason } : s;
    case 'reconnecting':
      return s;
    case 'socket_closed':
      if (s.kind === 'connecting' || s.kind === 'waiting' || s.kind === 'admitted') {
        return { kind: 'error', failure: 'connection', invite: s.invite };
      }
      return s;
    case 'leave':
      return s.kind === 'connecting' || s.kind === 'waiting' ? { kind: 'left' } : s;
    case 'retry':
      if (s.kind !== 'error') return s;
      return s.invite ? { kind: 'ready', invite: s.invite } : { kind: 'checking' };
  }
}

/** Maps the invite API's answer (status and JSON body) to an event. */
export function inviteEvent(status: number, body: unknown): Event {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (status === 200 && typeof b.clinic_name === 'string' && typeof b.not_before === 'number' && typeof b.expires === 'number') {
    return { type: 'invite_ok', invite: { clinicName: b.clinic_name, notBefore: b.not_before, expires: b.expires } };
  }
  switch (b.error) {
    case 'expired':
      return { type: 'invite_refused', problem: 'expired' };
    case 'revoked':
      return { type: 'invite_refused', problem: 'withdrawn' };
    case 'not_yet_valid':
      return typeof b.not_before === 'number'
        ? { type: 'invite_refused', problem: 'not_yet_open', opensAt: b.not_before }
        : { type: 'invite_refused', problem: 'not_yet_open' };
    case 'not_valid':
      return { type: 'invite_refused', problem: 'invalid' };
  }
  if (status === 404) return { type: 'invite_refused', problem: 'invalid' };
  return { type: 'invite_unreachable' };
}

/** Maps a getUserMedia failure to what the patient is told. */
export function mediaStatusFor(err: unknown): MediaStatus {
  const name = typeof err === 'object' && err !== null && 'name' in err ? String((err as { name: unknown }).name) : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'denied';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'missing';
    case 'NotReadableError':
    case 'AbortError':
      return 'in_use';
    default:
      return 'unsupported';
  }
}
