// The clinician's device choice for this app session (the shell keeps the same choice and
// applies it to calls), and the lists to choose from. Not saved: the choice lasts until the
// app quits.

import { writable } from 'svelte/store';

import type { DeviceEntry, DeviceList, DeviceSlot } from '../types';

/** The chosen device id per kind; null = the system's default. */
export type DeviceChoice = Record<DeviceSlot, string | null>;

export const chosenDevices = writable<DeviceChoice>({ microphone: null, speaker: null, camera: null });

export const DEVICE_SLOTS: DeviceSlot[] = ['microphone', 'speaker', 'camera'];

/** The list of one kind. */
export function listOf(list: DeviceList, kind: DeviceSlot): DeviceEntry[] {
  return kind === 'microphone' ? list.microphones : kind === 'speaker' ? list.speakers : list.cameras;
}
