// Names of the events the Tauri shell emits to the window, and the listen signature we inject.

/** Emitted by the shell when the core locks itself (idle timeout). No payload. */
export const LOCKED_EVENT = 'locked';

/** Emitted by the waiting-room connections (payload: `WaitingEvent`). PHI: window only. */
export const WAITING_EVENT = 'waiting';
/** Emitted by the shell when the managed policy changed (files edited, bundle applied). */
export const POLICY_CHANGED_EVENT = 'policy-changed';

/** Subscribe to a shell event; resolves to an unsubscribe function. */
export type ListenFn = (
  event: string,
  handler: (payload: unknown) => void,
) => Promise<() => void>;

/** Emitted by the shell when a `bedside://appointment/<id>` link asks for an appointment, and
 *  only while signed in (a link that came while locked waits in the shell until sign-in).
 *  Payload: the appointment id. */
export const OPEN_APPOINTMENT_EVENT = 'open-appointment';

/** Emitted by the shell while signed in when a microphone, speaker or camera is plugged in or
 *  out, or the system's default changes (payload: `DevicesChanged`, a kind and what happened —
 *  no name): device lists re-list. */
export const DEVICES_CHANGED_EVENT = 'devices-changed';
