import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { frameBytes, mock2dCanvas } from '../../test/frames';
import { createApi, type ChannelLike } from '../api';
import { t } from '../i18n/en';
import type { MakeChannel } from '../stores/visit';
import VisitRoom from './VisitRoom.svelte';

const VISIT = '00112233445566778899aabbccddeeff';

function setup() {
  const put = mock2dCanvas();
  const calls: { cmd: string; args?: Record<string, unknown> }[] = [];
  const invoke = async (cmd: string, args?: Record<string, unknown>) => {
    calls.push({ cmd, args });
    if (cmd === 'visit_open') return 4;
    if (cmd === 'note_get') return null;
    if (cmd === 'devices_list')
      return {
        microphones: [
          { id: 'mic-usb', name: 'USB Headset', default: true },
          { id: 'mic-int', name: 'Built-in Microphone', default: false },
        ],
        speakers: [{ id: 'spk', name: 'Speakers', default: true }],
        cameras: [],
      };
    return null;
  };
  const channels: ChannelLike<unknown>[] = [];
  const makeChannel: MakeChannel = <T>() => {
    const c: ChannelLike<T> = { onmessage: () => {} };
    channels.push(c as ChannelLike<unknown>);
    return c;
  };
  const onDone = vi.fn();
  render(VisitRoom, { api: createApi(invoke), visit: VISIT, appointment: 4, makeChannel, onDone });
  return { calls, channels, put, onDone, user: userEvent.setup() };
}

afterEach(() => vi.restoreAllMocks());

describe('VisitRoom', () => {
  it('paints frames on the canvases and counts them where tests can read it', async () => {
    const { channels, put, calls } = setup();
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === 'visit_open')).toBe(true));
    const [events, remote, local] = channels;
    events.onmessage({ kind: 'snapshot', appointment: 4, state: 'connected', sas: null, muted: false, camera_off: false, source: 'devices' });
    for (let seq = 1; seq <= 3; seq++) remote.onmessage(frameBytes(0, seq, 8, 6));
    local.onmessage(frameBytes(1, 1, 4, 2));
    const canvas = screen.getByTestId('visit-remote-video');
    await vi.waitFor(() => expect(canvas.getAttribute('data-painted')).toBe('3'));
    expect(canvas.getAttribute('data-renderer')).toBe('2d');
    expect(screen.getByTestId('visit-self-video').getAttribute('data-painted')).toBe('1');
    expect(put).toEqual([8, 8, 8, 4]);
    expect((canvas as HTMLCanvasElement).width).toBe(8);
    expect(window.__bedsideVisit).toMatchObject({ painted: 3, localPainted: 1, renderer: '2d' });
    expect(screen.queryByTestId('visit-source-note')).toBeNull();
    expect(screen.getByTestId('visit-state').textContent?.trim()).toBe(t.visit.state.connected);
  });

  it('switches a device mid-call from the device menu', async () => {
    const { channels, calls, user } = setup();
    await vi.waitFor(() => expect(channels.length).toBe(3));
    channels[0].onmessage({ kind: 'snapshot', appointment: 4, state: 'connected', sas: null, muted: false, camera_off: false, source: 'devices', chat: [] });
    const button = await screen.findByTestId('visit-devices');
    expect(button.getAttribute('aria-expanded')).toBe('false');
    await user.click(button);
    expect(button.getAttribute('aria-expanded')).toBe('true');
    const mic = (await screen.findByTestId('visit-device-microphone')) as HTMLSelectElement;
    expect([...mic.options].map((o) => o.textContent)).toEqual([
      t.visit.devices.systemDefault,
      t.visit.devices.defaultMark('USB Headset'),
      'Built-in Microphone',
    ]);
    expect(screen.getByTestId('visit-device-none-camera').textContent).toBe(t.visit.devices.none.camera);
    await user.selectOptions(mic, 'mic-int');
    await vi.waitFor(() =>
      expect(calls.at(-1)).toEqual({ cmd: 'visit_set_device', args: { visit: VISIT, kind: 'microphone', id: 'mic-int' } }),
    );
    await user.selectOptions(mic, '');
    await vi.waitFor(() =>
      expect(calls.at(-1)).toEqual({ cmd: 'visit_set_device', args: { visit: VISIT, kind: 'microphone', id: null } }),
    );
  });

  it('has no device menu while sending the test pattern', async () => {
    const { channels } = setup();
    await vi.waitFor(() => expect(channels.length).toBe(3));
    channels[0].onmessage({ kind: 'snapshot', appointment: 4, state: 'connected', sas: null, muted: false, camera_off: false, source: 'test_pattern', chat: [] });
    expect((await screen.findByTestId('visit-source-note')).textContent).toBe(t.visit.testPattern);
    expect(screen.queryByTestId('visit-devices')).toBeNull();
  });

  it('says plainly when the visit is audio only or the patient cannot hear us', async () => {
    const { channels } = setup();
    await vi.waitFor(() => expect(channels.length).toBe(3));
    const [events] = channels;
    events.onmessage({ kind: 'snapshot', appointment: 4, state: 'connected', sas: null, muted: false, camera_off: false, source: 'devices', chat: [] });
    expect(screen.queryByTestId('visit-device-notices')).toBeNull();
    const stats = { state: 'connected', rtt_ms: 20, loss_sent: 0, loss_received: 0, jitter_ms: 1, send_kbps: 40, recv_kbps: 900, fps_sent: 0, fps_decoded: 30, recv_resolution: [640, 480], send_resolution: [0, 0] };
    events.onmessage({
      kind: 'stats',
      stats: {
        ...stats,
        devices: {
          microphone: null, speaker: 'Speakers', camera: null, audio_only: true,
          notices: [
            { kind: 'camera', code: 'no_camera', message: 'No camera was found.' },
            { kind: 'microphone', code: 'no_microphone', message: 'No microphone was found.' },
          ],
        },
      },
    });
    const shown = await screen.findAllByTestId('visit-device-notice');
    expect(shown.map((n) => n.textContent)).toEqual([t.visit.audioOnly, t.visit.noMicrophone]);
    expect(screen.getByTestId('visit-device-notices').getAttribute('role')).toBe('status');
    // The microphone came back: its notice goes.
    events.onmessage({ kind: 'stats', stats: { ...stats, devices: { microphone: 'Mic', speaker: 'Speakers', camera: null, audio_only: true, notices: [] } } });
    await vi.waitFor(() => expect(screen.getAllByTestId('visit-device-notice').map((n) => n.textContent)).toEqual([t.visit.audioOnly]));
  });

  it('shows the code and records that the patient read it back', async () => {
    const { channels, calls, user } = setup();
    await vi.waitFor(() => expect(channels.length).toBe(3));
    expect(screen.queryByTestId('visit-sas-confirm')).toBeNull();
    channels[0].onmessage({ kind: 'answered', sas: '482 913' });
    expect((await screen.findByTestId('visit-sas')).textContent).toBe('482 913');
    await user.click(screen.getByTestId('visit-sas-confirm'));
    expect(calls.at(-1)).toEqual({ cmd: 'visit_confirm_sas', args: { visit: VISIT } });
    expect((await screen.findByTestId('visit-sas-confirmed')).textContent).toBe(t.visit.sasConfirmed);
  });

  it('mutes, turns the camera off, and ends the visit after a confirmation', async () => {
    const { calls, onDone, user } = setup();
    const mute = screen.getByTestId('visit-mute');
    await user.click(mute);
    expect(calls.at(-1)).toEqual({ cmd: 'visit_controls', args: { visit: VISIT, muted: true, cameraOff: false } });
    expect(mute.getAttribute('aria-pressed')).toBe('true');
    expect(mute.textContent?.trim()).toBe(t.visit.unmute);
    await user.click(screen.getByTestId('visit-camera'));
    expect(calls.at(-1)).toEqual({ cmd: 'visit_controls', args: { visit: VISIT, muted: true, cameraOff: true } });
    await user.click(screen.getByTestId('visit-end'));
    expect(calls.some((c) => c.cmd === 'visit_end')).toBe(false);
    await user.click(screen.getByTestId('visit-end-confirm'));
    expect(calls.at(-1)).toEqual({ cmd: 'visit_end', args: { visit: VISIT } });
    expect(onDone).toHaveBeenCalledWith('ended');
  });

  it('sends the patient back to the waiting room', async () => {
    const { calls, onDone, user } = setup();
    await user.click(screen.getByTestId('visit-send-back'));
    expect(calls.at(-1)).toEqual({ cmd: 'visit_send_back', args: { visit: VISIT } });
    expect(onDone).toHaveBeenCalledWith('sent_back');
  });

  it('is keyboard operable', async () => {
    const { calls, user } = setup();
    screen.getByTestId('visit-mute').focus();
    await user.keyboard('{Enter}');
    expect(calls.at(-1)?.cmd).toBe('visit_controls');
    await user.tab();
    expect(document.activeElement).toBe(screen.getByTestId('visit-camera'));
  });
});

describe('VisitRoom chat', () => {
  it('shows the conversation, sends with Enter, announces the patient, and marks new messages while hidden', async () => {
    const { channels, calls, user } = setup();
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === 'visit_open')).toBe(true));
    const [events] = channels;
    events.onmessage({ kind: 'snapshot', appointment: 4, state: 'connected', sas: null, muted: false, camera_off: false, source: 'devices', chat: [] });
    events.onmessage({ kind: 'chat', line: { id: 'p1', from: 'patient', text: 'I feel dizzy', sent_at: 0 } });
    await vi.waitFor(() => expect(screen.getAllByTestId('visit-chat-message')).toHaveLength(1));
    expect(screen.getByTestId('visit-chat-announce').textContent).toContain(t.visit.chat.announce('I feel dizzy'));
    expect(screen.getByTestId('visit-chat-announce').getAttribute('aria-live')).toBe('polite');

    const box = screen.getByLabelText(t.visit.chat.inputLabel);
    await user.type(box, 'Sit down{Shift>}{Enter}{/Shift}please{Enter}');
    await vi.waitFor(() =>
      expect(calls.find((c) => c.cmd === 'visit_chat_send')?.args).toEqual({ visit: VISIT, text: 'Sit down\nplease' }),
    );
    await vi.waitFor(() => expect((box as HTMLTextAreaElement).value).toBe(''));

    await user.click(screen.getByTestId('visit-chat-toggle'));
    expect(screen.getByTestId('visit-chat-toggle').getAttribute('aria-expanded')).toBe('false');
    events.onmessage({ kind: 'chat', line: { id: 'p2', from: 'patient', text: 'OK', sent_at: 0 } });
    await vi.waitFor(() => expect(screen.getByTestId('visit-chat-unread').textContent).toBe(t.visit.chat.newCount(1)));
    await user.click(screen.getByTestId('visit-chat-toggle'));
    expect(screen.queryByTestId('visit-chat-unread')).toBeNull();
  });

  it('refuses a message over 2,000 characters inline without sending it', async () => {
    const { calls, user } = setup();
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === 'visit_open')).toBe(true));
    const box = screen.getByTestId('visit-chat-input') as HTMLTextAreaElement;
    box.focus();
    await user.paste('x'.repeat(2005));
    await user.click(screen.getByTestId('visit-chat-send'));
    expect((await screen.findByTestId('visit-chat-error')).textContent).toBe(t.visit.chat.tooLong(5));
    expect(calls.some((c) => c.cmd === 'visit_chat_send')).toBe(false);
    expect(box.value).toHaveLength(2005);
  });
});
