import { cleanup, render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { frameBytes, mock2dCanvas } from '../../test/frames';
import { createApi, type ChannelLike } from '../api';
import { t } from '../i18n/en';
import { applySaved, deviceChanges } from '../stores/devices';
import type { MakeChannel } from '../stores/visit';
import type { DeviceList, MonitorStatus } from '../types';
import DeviceSettings from './DeviceSettings.svelte';

const LIST: DeviceList = {
  microphones: [
    { id: 'mic-usb', name: 'USB Headset', default: true },
    { id: 'mic-int', name: 'Built-in Microphone', default: false },
  ],
  speakers: [{ id: 'spk', name: 'Speakers', default: true }],
  cameras: [{ id: 'cam0', name: 'HD Webcam', default: true }],
};

function setup(list: DeviceList | (() => DeviceList), status: MonitorStatus) {
  const put = mock2dCanvas();
  const calls: { cmd: string; args?: Record<string, unknown> }[] = [];
  const invoke = async (cmd: string, args?: Record<string, unknown>) => {
    calls.push({ cmd, args });
    if (cmd === 'devices_list') return typeof list === 'function' ? list() : list;
    if (cmd === 'devices_monitor') return status;
    return null;
  };
  const channels: ChannelLike<unknown>[] = [];
  const makeChannel: MakeChannel = <T>() => {
    const c: ChannelLike<T> = { onmessage: () => {} };
    channels.push(c as ChannelLike<unknown>);
    return c;
  };
  const view = render(DeviceSettings, { api: createApi(invoke), makeChannel, prefer2d: true });
  return { calls, channels, put, view, user: userEvent.setup() };
}

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  applySaved(null);
  deviceChanges.set(0);
});

describe('DeviceSettings', () => {
  it('shows the live microphone level and the camera preview, and stops them when closed', async () => {
    const { calls, channels, put, view } = setup(LIST, { microphone_error: null, camera_error: null, no_camera: false });
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === 'devices_monitor')).toBe(true));
    const monitor = calls.find((c) => c.cmd === 'devices_monitor');
    expect(monitor?.args).toMatchObject({ microphone: null, camera: null });
    const [levels, frames] = channels;
    const meter = await screen.findByTestId('settings-level');
    levels.onmessage(-12.4);
    await vi.waitFor(() => expect(meter.getAttribute('aria-valuenow')).toBe('-12'));
    expect(meter.getAttribute('aria-valuetext')).toBe(t.settings.devices.levelValue(-12.4));
    levels.onmessage(Number.NaN);
    expect(meter.getAttribute('data-level')).toBe('-12.4');
    frames.onmessage(frameBytes(1, 1, 4, 2));
    const preview = screen.getByTestId('settings-preview');
    await vi.waitFor(() => expect(preview.getAttribute('data-painted')).toBe('1'));
    expect(put).toEqual([4]);
    view.unmount();
    expect(calls.at(-1)?.cmd).toBe('devices_monitor_stop');
  });

  it('chooses a device for the session and restarts the level on it', async () => {
    const { calls, user } = setup(LIST, { microphone_error: null, camera_error: null, no_camera: false });
    const mic = (await screen.findByTestId('settings-device-microphone')) as HTMLSelectElement;
    await user.selectOptions(mic, 'mic-int');
    await vi.waitFor(() => expect(calls.filter((c) => c.cmd === 'devices_monitor')).toHaveLength(2));
    expect(calls.find((c) => c.cmd === 'devices_choose')?.args).toEqual({ kind: 'microphone', id: 'mic-int' });
    expect(calls.filter((c) => c.cmd === 'devices_monitor').at(-1)?.args).toMatchObject({ microphone: 'mic-int' });
  });

  it('says "No camera found" without a camera, and shows a microphone problem plainly', async () => {
    setup({ ...LIST, cameras: [] }, { microphone_error: 'No microphone was found.', camera_error: 'No camera was found.', no_camera: true });
    expect((await screen.findByTestId('settings-no-camera')).textContent).toBe(t.settings.devices.noCamera);
    expect(screen.getByTestId('settings-device-none-camera').textContent).toBe(t.visit.devices.none.camera);
    expect((await screen.findByTestId('settings-level-error')).textContent).toBe('No microphone was found.');
    expect(screen.queryByTestId('settings-preview')).toBeNull();
  });

  it('shows a saved device that is not connected, and follows hot-plug: the new list and a fresh check', async () => {
    applySaved({ microphone: { id: 'mic-bt', name: 'Bluetooth Earbuds' }, speaker: null, camera: null });
    let list: DeviceList = LIST;
    const { calls } = setup(() => list, { microphone_error: null, camera_error: null, no_camera: false });
    const missing = await screen.findByTestId('settings-device-missing-microphone');
    expect(missing.textContent?.trim()).toBe(t.visit.devices.notConnected('Bluetooth Earbuds'));
    expect((screen.getByTestId('settings-device-microphone') as HTMLSelectElement).value).toBe('mic-bt');
    await vi.waitFor(() => expect(calls.filter((c) => c.cmd === 'devices_monitor')).toHaveLength(1));
    // The earbuds connect: the shell says a microphone was added; the panel lists again.
    list = { ...LIST, microphones: [...LIST.microphones, { id: 'mic-bt', name: 'Bluetooth Earbuds', default: false }] };
    deviceChanges.update((n) => n + 1);
    await vi.waitFor(() => expect(screen.queryByTestId('settings-device-missing-microphone')).toBeNull());
    expect(calls.filter((c) => c.cmd === 'devices_list')).toHaveLength(2);
    await vi.waitFor(() => expect(calls.filter((c) => c.cmd === 'devices_monitor')).toHaveLength(2));
    expect(calls.filter((c) => c.cmd === 'devices_monitor').at(-1)?.args).toMatchObject({ microphone: 'mic-bt' });
    expect(screen.getByText(t.settings.devices.changed)).toBeTruthy();
  });
});
