// The clinician's device choice and the lists to choose from.
//
// The choice is saved by the shell in the profile's encrypted settings (`devices_choose`,
// `visit_set_device`); `loadSavedDevices` reads it at sign-in so Settings → Devices and the
// visit room's menu show it. The lists follow hot-plug: `watchDeviceChanges` listens for
// the shell's `devices-changed` event and bumps `deviceChanges`; every `DeviceLists` store
// re-lists when it moves (once per burst: a headset adds a microphone and a speaker).

import { writable, type Readable } from 'svelte/store';

import { ApiError, type Api } from '../api';
import { DEVICES_CHANGED_EVENT, type ListenFn } from '../events';
import { t } from '../i18n/en';
import type { DeviceEntry, DeviceList, DeviceSlot, SavedDevices } from '../types';

/** The chosen device id per kind; null = the system's default. */
export type DeviceChoice = Record<DeviceSlot, string | null>;

const NONE: DeviceChoice = { microphone: null, speaker: null, camera: null };

export const chosenDevices = writable<DeviceChoice>({ ...NONE });

/** The saved devices' names, by kind (to show a saved device that is not connected). */
export const chosenNames = writable<DeviceChoice>({ ...NONE });

export const DEVICE_SLOTS: DeviceSlot[] = ['microphone', 'speaker', 'camera'];

/** The list of one kind. */
export function listOf(list: DeviceList, kind: DeviceSlot): DeviceEntry[] {
  return kind === 'microphone' ? list.microphones : kind === 'speaker' ? list.speakers : list.cameras;
}

/** Takes the saved choice (from the settings). */
export function applySaved(saved: SavedDevices | null | undefined): void {
  const ids = { ...NONE };
  const names = { ...NONE };
  for (const kind of DEVICE_SLOTS) {
    const d = saved?.[kind] ?? null;
    ids[kind] = d?.id ?? null;
    names[kind] = d?.name ?? null;
  }
  chosenDevices.set(ids);
  chosenNames.set(names);
}

/** Records a choice the shell has saved (`name` from the list it was chosen in). */
export function choose(kind: DeviceSlot, id: string | null, name: string | null): void {
  chosenDevices.update((c) => ({ ...c, [kind]: id }));
  chosenNames.update((c) => ({ ...c, [kind]: id === null ? null : name }));
}

/** Reads the saved choice (at sign-in). A failure leaves the defaults: the visit still runs. */
export async function loadSavedDevices(api: Pick<Api, 'settingsGet'>): Promise<void> {
  try {
    applySaved((await api.settingsGet()).devices);
  } catch {
    applySaved(null);
  }
}

/** Forgets the choice (lock: the next profile loads its own). */
export function forgetSavedDevices(): void {
  applySaved(null);
}

/** How many hot-plug changes the shell has reported. */
export const deviceChanges = writable(0);

/** Listens for the shell's hot-plug event; returns the function that stops listening. */
export function watchDeviceChanges(listen: ListenFn | undefined): () => void {
  let off: (() => void) | null = null;
  let stopped = false;
  if (listen) {
    void listen(DEVICES_CHANGED_EVENT, () => deviceChanges.update((n) => n + 1)).then((f) => {
      if (stopped) f();
      else off = f;
    });
  }
  return () => {
    stopped = true;
    off?.();
    off = null;
  };
}

export interface DeviceListsState {
  list: DeviceList | null;
  error: string | null;
  /** Lists taken so far (tests wait on it). */
  loads: number;
}

export interface DeviceLists extends Readable<DeviceListsState> {
  /** Lists the devices now. */
  refresh(): Promise<void>;
  /** Stops following hot-plug changes. */
  stop(): void;
}

/** The devices on this computer, listed once by `refresh` and again after each burst of
 *  hot-plug changes (`settleMs` after the last one). `onChange` runs after such a re-list. */
export function createDeviceLists(
  api: Pick<Api, 'devicesList'>,
  options: { settleMs?: number; onChange?: () => void } = {},
): DeviceLists {
  const settleMs = options.settleMs ?? 250;
  let current: DeviceListsState = { list: null, error: null, loads: 0 };
  const state = writable<DeviceListsState>(current);
  const set = (patch: Partial<DeviceListsState>) => {
    current = { ...current, ...patch };
    state.set(current);
  };
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;

  async function refresh(): Promise<void> {
    try {
      const list = await api.devicesList();
      if (!stopped) set({ list, error: null, loads: current.loads + 1 });
    } catch (e) {
      if (!stopped) set({ error: e instanceof ApiError ? e.message : t.errors.generic, loads: current.loads + 1 });
    }
  }

  let first = true;
  const unsubscribe = deviceChanges.subscribe(() => {
    // The subscription's first call is the current count, not a change.
    if (first) {
      first = false;
      return;
    }
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void refresh().then(() => {
        if (!stopped) options.onChange?.();
      });
    }, settleMs);
  });

  return {
    subscribe: state.subscribe,
    refresh,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      unsubscribe();
    },
  };
}
