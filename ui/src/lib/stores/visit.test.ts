import { get } from 'svelte/store';
import { describe, expect, it } from 'vitest';

import { createApi, type ChannelLike } from '../api';
import { frameBytes } from '../../test/frames';
import { i420ToRgba, parseFrame } from '../video';
import { createVisitStore, deviceNotices, fallbackText, qualityOf, type MakeChannel } from './visit';
import { t } from '../i18n/en';
import type { CallStats } from '../types';

/** One second of a healthy 640×480 call, every field as the core sends it. */
function connectedStats(): CallStats {
  const totals = {
    audio_bytes_received: 0, audio_bytes_sent: 0, audio_frames_concealed: 0, audio_frames_decoded: 0,
    audio_packets_late: 0, audio_packets_received: 0, audio_packets_sent: 0,
    keyframe_requests_received: 0, keyframes_sent: 0, plis_sent: 0, video_bytes_received: 0,
    video_bytes_sent: 0, video_decode_errors: 0, video_frames_decoded: 0, video_frames_sent: 0,
  };
  return {
    elapsed_s: 10, state: 'connected', video_codec: 'video/VP8', audio_codec: 'audio/opus',
    rtt_ms: 20, loss_sent: 0, loss_received: 0, jitter_ms: 1, send_kbps: 900, recv_kbps: 900,
    target_kbps: 1000, remb_kbps: null, fps_sent: 30, fps_decoded: 30, audio_pps_sent: 50,
    audio_pps_received: 50, recv_resolution: [640, 480], send_resolution: [640, 480],
    first_frame_ms: 300, resume_frame_ms: null, resume_decode_ms: null, audio_buffer_ms: 40, totals,
  };
}

const VISIT = '00112233445566778899aabbccddeeff';

function setup() {
  const calls: { cmd: string; args?: Record<string, unknown> }[] = [];
  const channels: ChannelLike<unknown>[] = [];
  const invoke = async (cmd: string, args?: Record<string, unknown>) => {
    calls.push({ cmd, args });
    if (cmd === 'visit_open') return 4;
    return null;
  };
  const makeChannel: MakeChannel = <T>() => {
    const c: ChannelLike<T> = { onmessage: () => {} };
    channels.push(c as ChannelLike<unknown>);
    return c;
  };
  const store = createVisitStore({ api: createApi(invoke), visit: VISIT, makeChannel });
  return { store, calls, channels };
}

describe('visit store', () => {
  it('paints each frame, counts it and acknowledges its sequence number', async () => {
    const { store, calls, channels } = setup();
    const painted: number[] = [];
    await store.open({ remote: (f) => (painted.push(f.seq), true), local: () => true });
    expect(calls[0].cmd).toBe('visit_open');
    expect(get(store).appointment).toBe(4);
    const [, remote, local] = channels;
    remote.onmessage(frameBytes(0, 1, 4, 2));
    remote.onmessage(frameBytes(0, 2, 4, 2));
    local.onmessage(frameBytes(1, 1, 2, 2));
    expect(painted).toEqual([1, 2]);
    expect(get(store).painted).toBe(2);
    expect(get(store).localPainted).toBe(1);
    expect(window.__bedsideVisit?.painted).toBe(2);
    expect(calls.filter((c) => c.cmd === 'visit_frame_ack').map((c) => c.args)).toEqual([
      { visit: VISIT, stream: 0, seq: 1 },
      { visit: VISIT, stream: 0, seq: 2 },
      { visit: VISIT, stream: 1, seq: 1 },
    ]);
    // Malformed, truncated, or on the wrong stream: not painted, not counted.
    remote.onmessage(new ArrayBuffer(8));
    remote.onmessage(frameBytes(0, 3, 4, 2).slice(0, 20));
    remote.onmessage(frameBytes(1, 4, 4, 2));
    expect(get(store).painted).toBe(2);
    // After the room closes, frames are ignored.
    store.close();
    remote.onmessage(frameBytes(0, 5, 4, 2));
    expect(get(store).painted).toBe(2);
    expect(calls.at(-1)?.cmd).toBe('visit_close');
  });

  it('follows the call: snapshot, code, state, stats; a new code needs confirming again', async () => {
    const { store, channels } = setup();
    await store.open({ remote: () => true, local: () => true });
    const events = channels[0];
    events.onmessage({ kind: 'snapshot', appointment: 4, state: 'waiting', sas: null, muted: false, camera_off: false, source: 'devices' });
    expect(get(store).source).toBe('devices');
    events.onmessage({ kind: 'answered', sas: '123 456' });
    events.onmessage({ kind: 'state', state: 'connected' });
    expect(get(store)).toMatchObject({ sas: '123 456', state: 'connected' });
    await store.confirmSas();
    expect(get(store).sasConfirmed).toBe(true);
    events.onmessage({ kind: 'answered', sas: '123 456' });
    expect(get(store).sasConfirmed).toBe(true);
    events.onmessage({ kind: 'answered', sas: '654 321' });
    expect(get(store).sasConfirmed).toBe(false);
    events.onmessage({ kind: 'auth_failed' });
    expect(get(store).authFailed).toBe(true);
  });

  it('sends the switches, the confirmation and the end to the right commands', async () => {
    const { store, calls } = setup();
    await store.toggleMute();
    await store.toggleCamera();
    await store.confirmSas();
    await store.end();
    expect(calls.map((c) => [c.cmd, c.args])).toEqual([
      ['visit_controls', { visit: VISIT, muted: true, cameraOff: false }],
      ['visit_controls', { visit: VISIT, muted: true, cameraOff: true }],
      ['visit_confirm_sas', { visit: VISIT }],
      ['visit_end', { visit: VISIT }],
    ]);
    expect(get(store).ended).toBe(true);
  });

  it('rates the connection from the stats', () => {
    const s = connectedStats();
    expect(qualityOf(null)).toBe('unknown');
    expect(qualityOf(s)).toBe('good');
    expect(qualityOf({ ...s, loss_received: 0.05 })).toBe('fair');
    expect(qualityOf({ ...s, rtt_ms: 900 })).toBe('poor');
  });

  it('maps the device report to plain notices', () => {
    const s = connectedStats();
    const report = { microphone: 'Mic', speaker: 'Speakers', camera: 'Webcam', audio_only: false, notices: [] };
    expect(deviceNotices(null)).toEqual([]);
    expect(deviceNotices(s)).toEqual([]);
    expect(deviceNotices({ ...s, devices: undefined })).toEqual([]);
    expect(deviceNotices({ ...s, devices: report })).toEqual([]);
    // Audio only without a notice still says so.
    expect(deviceNotices({ ...s, devices: { ...report, camera: null, audio_only: true } })).toEqual([
      { kind: 'camera', code: 'no_camera', text: t.visit.audioOnly },
    ]);
    expect(
      deviceNotices({
        ...s,
        devices: {
          ...report,
          microphone: null,
          notices: [
            { kind: 'microphone', code: 'no_microphone', message: 'core words' },
            { kind: 'speaker', code: 'device_vanished', message: 'The speaker was unplugged.' },
            { kind: 'speaker', code: 'no_speaker', message: 'a second one for the same kind' },
          ],
        },
      }),
    ).toEqual([
      { kind: 'microphone', code: 'no_microphone', text: t.visit.noMicrophone },
      { kind: 'speaker', code: 'device_vanished', text: 'The speaker was unplugged.' },
    ]);
  });
});

describe('frames', () => {
  it('parse only when the planes fit the header, and convert to RGBA', () => {
    const f = parseFrame(frameBytes(0, 9, 3, 3, 235));
    expect(f).toMatchObject({ stream: 0, seq: 9, width: 3, height: 3 });
    expect(f!.u.length).toBe(4);
    const rgba = new Uint8ClampedArray(3 * 3 * 4);
    i420ToRgba(f!, rgba);
    // Y = 235 with neutral chroma is white.
    expect(Array.from(rgba.slice(0, 4))).toEqual([255, 255, 255, 255]);
    expect(parseFrame(frameBytes(0, 1, 3, 3).slice(1))).toBeNull();
    const zero = frameBytes(0, 1, 2, 2);
    new DataView(zero).setUint16(12, 0, true);
    expect(parseFrame(zero)).toBeNull();
  });
});

describe('visit store chat', () => {
  const line = (id: string, from: 'patient' | 'clinician', text = `text ${id}`) => ({ id, from, text, sent_at: 1_800_000_000_000 });

  it('keeps the conversation from the snapshot and updates, once each, and counts unread while hidden', async () => {
    const { store, channels } = setup();
    await store.open({ remote: () => true, local: () => true });
    const [events] = channels;
    events.onmessage({ kind: 'snapshot', appointment: 4, state: 'connected', sas: null, muted: false, camera_off: false, source: 'devices', chat: [line('a', 'patient')] });
    events.onmessage({ kind: 'chat', line: line('b', 'clinician') });
    events.onmessage({ kind: 'chat', line: line('b', 'clinician') });
    expect(get(store).chat.map((l) => l.id)).toEqual(['a', 'b']);
    expect(get(store).unread).toBe(0);
    store.showChat(false);
    events.onmessage({ kind: 'chat', line: line('c', 'patient') });
    events.onmessage({ kind: 'chat', line: line('d', 'clinician') });
    expect(get(store).unread).toBe(1);
    store.showChat(true);
    expect(get(store).unread).toBe(0);
    // Chat text is never published for tests.
    expect(JSON.stringify(window.__bedsideVisit)).not.toContain('text c');
  });

  it('sends through visit_chat_send, refuses over 2,000 characters before asking, and shows refusals', async () => {
    const { store, calls, channels } = setup();
    await store.open({ remote: () => true, local: () => true });
    expect(await store.sendChat('Hello')).toBe(true);
    expect(calls.at(-1)).toEqual({ cmd: 'visit_chat_send', args: { visit: VISIT, text: 'Hello' } });
    const n = calls.length;
    expect(await store.sendChat('🙂'.repeat(2001))).toBe(false);
    expect(get(store).chatError).toContain('Too long by 1 character');
    expect(await store.sendChat('   ')).toBe(false);
    expect(calls.length).toBe(n);
    const [events] = channels;
    events.onmessage({ kind: 'chat_refused', outgoing: true, reason: 'rate_limited' });
    expect(get(store).chatError).toContain('too many messages');
    events.onmessage({ kind: 'chat_refused', outgoing: false, reason: 'too_large' });
    expect(get(store).chatError).toContain('could not be shown');
    // 2,000 emoji are 2,000 characters (4,000 UTF-16 units): allowed.
    expect(await store.sendChat('🙂'.repeat(2000))).toBe(true);
  });
});

describe('visit store: saved devices the call runs without', () => {
  it('shows a fallback from the snapshot and from updates, one per kind, until a device is chosen', () => {
    const { store } = setup();
    store.handle({
      kind: 'snapshot',
      appointment: 4,
      state: 'connecting',
      sas: null,
      muted: false,
      camera_off: false,
      source: 'devices',
      chat: [],
      fallbacks: [{ kind: 'microphone', name: 'USB Headset', reason: 'missing' }],
    });
    expect(get(store).fallbacks.map(fallbackText)).toEqual([
      "Your saved microphone 'USB Headset' is not connected — using the default.",
    ]);
    store.handle({ kind: 'device_fallback', device: { kind: 'camera', name: 'HD Webcam', reason: 'removed' } });
    store.handle({ kind: 'device_fallback', device: { kind: 'microphone', name: 'USB Headset', reason: 'removed' } });
    expect(get(store).fallbacks.map(fallbackText)).toEqual([
      "Your camera 'HD Webcam' was disconnected — using the default.",
      "Your microphone 'USB Headset' was disconnected — using the default.",
    ]);
    store.clearFallback('camera');
    expect(get(store).fallbacks.map((f) => f.kind)).toEqual(['microphone']);
  });
});
