// Appointment links (`bedside://appointment/<id>`): the shell checks the link and sends the id
// as an `open-appointment` event once signed in; this store keeps the latest until the desk
// takes it and opens the appointment. Lives for the whole app, so an event sent right after
// sign-in is not lost while the desk mounts.

import { writable, type Readable } from 'svelte/store';

import { OPEN_APPOINTMENT_EVENT, type ListenFn } from '../events';

export interface DeepLinkStore extends Readable<number | null> {
  /** Subscribes to the shell's `open-appointment` event. */
  start(): Promise<void>;
  stop(): void;
  /** The waiting appointment id, once: it is cleared. */
  take(): number | null;
  /** Applies one shell event payload (exported for tests); anything but a positive integer id is ignored. */
  handle(payload: unknown): void;
}

export function createDeepLinkStore(listen?: ListenFn): DeepLinkStore {
  const pending = writable<number | null>(null);
  let current: number | null = null;
  let unlisten: (() => void) | null = null;
  let stopped = false;

  function handle(payload: unknown): void {
    if (typeof payload !== 'number' || !Number.isSafeInteger(payload) || payload <= 0) return;
    current = payload;
    pending.set(payload);
  }

  return {
    subscribe: pending.subscribe,
    handle,
    async start() {
      stopped = false;
      if (!listen || unlisten) return;
      const off = await listen(OPEN_APPOINTMENT_EVENT, handle);
      if (stopped) off();
      else unlisten = off;
    },
    stop() {
      stopped = true;
      unlisten?.();
      unlisten = null;
    },
    take() {
      const id = current;
      current = null;
      pending.set(null);
      return id;
    },
  };
}
