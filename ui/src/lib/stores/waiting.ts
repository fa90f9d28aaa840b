// The waiting room: devices knocking on today's visits, fed by the shell's `waiting` events.
// Names (PHI) live only in this store and the panel that shows them.

import { writable, type Readable } from 'svelte/store';

import type { Api } from '../api';
import { WAITING_EVENT, type ListenFn } from '../events';
import type { WaitingEvent } from '../types';

export interface WaitingEntry {
  appointment: number;
  visit: string;
  device: string;
  name: string;
  dob: string | null;
  extraDevice: boolean;
  /** Unix seconds. */
  waitingSince: number;
  /** `waiting`, `admitted`, `in_call`, … */
  state: string;
}

export interface WaitingState {
  entries: WaitingEntry[];
  /** Visits watched (today's appointments with a link). */
  watching: number;
  /** Visits whose relay connection is down. */
  unreachable: string[];
  error: string | null;
}

export interface WaitingStore extends Readable<WaitingState> {
  /** Subscribes to the shell's events and starts watching today's visits. */
  start(): Promise<void>;
  /** Re-reads today's visits (after an invite is created or withdrawn). */
  sync(): Promise<void>;
  stop(): void;
  /** Applies one shell event (exported for tests). */
  handle(event: WaitingEvent): void;
  admit(entry: WaitingEntry): Promise<void>;
  deny(entry: WaitingEntry, reason: string): Promise<void>;
  message(entry: WaitingEntry, text: string): Promise<void>;
}

/** States in which a device no longer needs the clinician's attention. */
const GONE = new Set(['denied', 'left', 'expired', 'ended']);

function isWaitingEvent(v: unknown): v is WaitingEvent {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as WaitingEvent).visit === 'string' &&
    typeof (v as WaitingEvent).kind === 'string'
  );
}

export function createWaitingStore(options: {
  api: Api;
  listen?: ListenFn;
  tz: string;
  /** Called on a new knock, for a sound or attention cue. Never given the name. */
  onKnock?: () => void;
}): WaitingStore {
  const { api, listen, tz } = options;
  const state = writable<WaitingState>({ entries: [], watching: 0, unreachable: [], error: null });
  let unlisten: (() => void) | null = null;
  let stopped = false;

  function handle(e: WaitingEvent): void {
    state.update((s) => {
      const key = (x: { visit: string; device: string }) => x.visit === e.visit && x.device === e.device;
      let entries = s.entries;
      let unreachable = s.unreachable.filter((v) => v !== e.visit);
      switch (e.kind) {
        case 'knock':
          if (e.device && e.name !== undefined) {
            entries = [
              ...entries.filter((x) => !key({ visit: x.visit, device: x.device })),
              {
                appointment: e.appointment,
                visit: e.visit,
                device: e.device,
                name: e.name,
                dob: e.dob ?? null,
                extraDevice: e.extra_device ?? false,
                waitingSince: e.waiting_since ?? Math.floor(Date.now() / 1000),
                state: 'waiting',
              },
            ];
          }
          break;
        case 'admitting':
          entries = entries.map((x) => (key(x) ? { ...x, state: 'admitted' } : x));
          break;
        case 'device_state':
          if (e.state && GONE.has(e.state)) entries = entries.filter((x) => !key(x));
          else if (e.state) entries = entries.map((x) => (key(x) ? { ...x, state: e.state! } : x));
          break;
        case 'disconnected':
          if (e.state === 'unreachable') unreachable = [...unreachable, e.visit];
          break;
        default:
          break;
      }
      return { ...s, entries, unreachable };
    });
    if (e.kind === 'knock') options.onKnock?.();
  }

  async function sync(): Promise<void> {
    try {
      const watching = await api.waitingSync(tz);
      state.update((s) => ({ ...s, watching, error: null }));
    } catch (error) {
      state.update((s) => ({ ...s, error: error instanceof Error ? error.message : String(error) }));
    }
  }

  async function start(): Promise<void> {
    stopped = false;
    if (listen && !unlisten) {
      const off = await listen(WAITING_EVENT, (payload) => {
        if (isWaitingEvent(payload)) handle(payload);
      });
      if (stopped) off();
      else unlisten = off;
    }
    await sync();
  }

  function stop(): void {
    stopped = true;
    unlisten?.();
    unlisten = null;
    state.set({ entries: [], watching: 0, unreachable: [], error: null });
  }

  async function admit(entry: WaitingEntry): Promise<void> {
    await api.waitingAdmit(entry.visit, entry.device);
  }

  async function deny(entry: WaitingEntry, reason: string): Promise<void> {
    await api.waitingDeny(entry.visit, entry.device, reason);
    state.update((s) => ({
      ...s,
      entries: s.entries.filter((x) => !(x.visit === entry.visit && x.device === entry.device)),
    }));
  }

  async function message(entry: WaitingEntry, text: string): Promise<void> {
    await api.waitingMessage(entry.visit, entry.device, text);
  }

  return { subscribe: state.subscribe, start, sync, stop, handle, admit, deny, message };
}
