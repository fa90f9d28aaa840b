import { get } from 'svelte/store';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { createApi } from '../api';
import { DEVICES_CHANGED_EVENT, type ListenFn } from '../events';
import type { DeviceList, Settings } from '../types';
import {
  chosenDevices,
  chosenNames,
  createDeviceLists,
  deviceChanges,
  forgetSavedDevices,
  loadSavedDevices,
  watchDeviceChanges,
} from './devices';

const ONE: DeviceList = {
  microphones: [{ id: 'mic-int', name: 'Built-in Microphone', default: true }],
  speakers: [{ id: 'spk', name: 'Speakers', default: true }],
  cameras: [],
};
const TWO: DeviceList = {
  ...ONE,
  microphones: [...ONE.microphones, { id: 'mic-usb', name: 'USB Headset', default: false }],
  speakers: [...ONE.speakers, { id: 'spk-usb', name: 'USB Headset', default: false }],
};

/** A `listen` that records handlers, so a test can emit shell events. */
function fakeListen() {
  const handlers = new Map<string, ((p: unknown) => void)[]>();
  let unlistened = 0;
  const listen: ListenFn = async (event, handler) => {
    handlers.set(event, [...(handlers.get(event) ?? []), handler]);
    return () => {
      unlistened++;
      handlers.set(event, (handlers.get(event) ?? []).filter((h) => h !== handler));
    };
  };
  const emit = (event: string, payload: unknown) => (handlers.get(event) ?? []).forEach((h) => h(payload));
  return { listen, emit, unlistened: () => unlistened, count: (e: string) => (handlers.get(e) ?? []).length };
}

afterEach(() => {
  forgetSavedDevices();
  deviceChanges.set(0);
});

describe('device store', () => {
  it('loads the saved choice from the settings at sign-in and forgets it at lock', async () => {
    const settings: Settings = {
      relay_url: null,
      idle_lock_minutes: 10,
      idle_lock_max_minutes: 10,
      devices: { microphone: { id: 'mic-usb', name: 'USB Headset' }, speaker: null, camera: { id: 'cam0', name: 'HD Webcam' } },
    };
    const calls: string[] = [];
    const api = createApi(async (cmd) => {
      calls.push(cmd);
      return settings;
    });
    await loadSavedDevices(api);
    expect(calls).toEqual(['settings_get']);
    expect(get(chosenDevices)).toEqual({ microphone: 'mic-usb', speaker: null, camera: 'cam0' });
    expect(get(chosenNames)).toEqual({ microphone: 'USB Headset', speaker: null, camera: 'HD Webcam' });
    forgetSavedDevices();
    expect(get(chosenDevices)).toEqual({ microphone: null, speaker: null, camera: null });
    // A failure to read leaves the defaults (the visit still runs on them).
    await loadSavedDevices(createApi(async () => Promise.reject({ code: 'not_signed_in', message: 'x' })));
    expect(get(chosenDevices)).toEqual({ microphone: null, speaker: null, camera: null });
  });

  it('re-lists the devices once per burst of hot-plug events, and stops when told', async () => {
    let list = ONE;
    let listed = 0;
    const api = createApi(async (cmd) => {
      if (cmd !== 'devices_list') throw new Error(cmd);
      listed++;
      return list;
    });
    const shell = fakeListen();
    const unwatch = watchDeviceChanges(shell.listen);
    await vi.waitFor(() => expect(shell.count(DEVICES_CHANGED_EVENT)).toBe(1));
    const changed = vi.fn();
    const lists = createDeviceLists(api, { settleMs: 20, onChange: changed });
    await lists.refresh();
    expect(get(lists).list).toEqual(ONE);
    expect(listed).toBe(1);

    // A USB headset: a microphone and a speaker appear, reported as two events.
    list = TWO;
    shell.emit(DEVICES_CHANGED_EVENT, { change: 'added', kind: 'microphone' });
    shell.emit(DEVICES_CHANGED_EVENT, { change: 'added', kind: 'speaker' });
    await vi.waitFor(() => expect(get(lists).list).toEqual(TWO));
    expect(listed).toBe(2);
    expect(changed).toHaveBeenCalledTimes(1);

    // Unplugged again.
    list = ONE;
    shell.emit(DEVICES_CHANGED_EVENT, { change: 'removed', kind: 'microphone' });
    await vi.waitFor(() => expect(get(lists).list).toEqual(ONE));
    expect(listed).toBe(3);

    // A stopped list no longer follows; a stopped watcher no longer listens.
    lists.stop();
    shell.emit(DEVICES_CHANGED_EVENT, { change: 'added', kind: 'camera' });
    await new Promise((r) => setTimeout(r, 60));
    expect(listed).toBe(3);
    unwatch();
    expect(shell.unlistened()).toBe(1);
    expect(shell.count(DEVICES_CHANGED_EVENT)).toBe(0);
  });

  it('reports a failed listing plainly and keeps going', async () => {
    let fail = true;
    const api = createApi(async () => (fail ? Promise.reject({ code: 'internal', message: 'The device list is unavailable.' }) : ONE));
    const lists = createDeviceLists(api, { settleMs: 0 });
    await lists.refresh();
    expect(get(lists)).toMatchObject({ list: null, error: 'The device list is unavailable.' });
    fail = false;
    deviceChanges.update((n) => n + 1);
    await vi.waitFor(() => expect(get(lists)).toMatchObject({ list: ONE, error: null }));
    lists.stop();
  });
});
