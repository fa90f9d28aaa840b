import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';

import type { CallCounters } from './call';
import { answerFor, FakePC, FakeStream, FakeTrack, FP_CLINIC, FP_MITM } from './callFakes';
import { b64url, fromB64url, offerTag, sas, sdpAuthKey, sdpIdentity } from './crypto';
import { FakeSocket, fakeFetch } from './fakes';
import { t } from './i18n';
import JoinApp from './JoinApp.svelte';
import { parseLink } from './session';

const TOKEN =
  'AqChoqOkpaanqKmqq6ytrq_-gWtJ0gAAWgLerb7vAZLBemMi1Nk80QFNWuqLP7WVig0z1Zn4jzJB8heWTshrytU5gThRmFiPDJbt_CLZ2p4Qa4JE4GrIW_Cr-szZ2gI';
const SECRET = new Uint8Array(32).map((_, i) => 255 - i);
const INVITE = { clinic_name: 'Riverside Practice', not_before: 1_800_000_000, expires: 1_800_005_400 };
const TURN = { urls: ['turn:127.0.0.1:3478'], username: '1900000000:x', credential: 'cw==' };

const counters = () => (globalThis as { __bedsideCall?: CallCounters }).__bedsideCall;

/** Through the device check and the waiting room to admission. */
async function admitted() {
  FakePC.all = [];
  const audio = new FakeTrack('audio');
  const video = new FakeTrack('video');
  const stream = new FakeStream([audio, video]);
  const link = parseLink(`/j/${TOKEN}`, `#${b64url(SECRET)}`)!;
  const user = userEvent.setup();
  render(JoinApp, {
    link,
    socketUrl: 'wss://relay.example.org/ws/patient',
    keyStore: null,
    fetchFn: fakeFetch(200, INVITE).fn,
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    getUserMedia: async () => stream as unknown as MediaStream,
    RTCPeerConnectionImpl: FakePC as unknown as typeof RTCPeerConnection,
  });
  await user.click(await screen.findByRole('button', { name: t.ready.start }));
  await user.click(await screen.findByRole('button', { name: t.device.continue }));
  await user.type(screen.getByLabelText(t.knock.name), 'Ada Lovelace');
  await user.click(screen.getByRole('button', { name: t.knock.submit }));
  const ws = FakeSocket.instances[0]!;
  ws.open();
  ws.receive({ type: 'welcome', ...INVITE });
  ws.receive({ type: 'waiting' });
  ws.receive({ type: 'admitted', turn: TURN });
  await waitFor(() => expect(ws.frames().some((m) => m.type === 'offer')).toBe(true));
  const device = ws.frames().find((m) => m.type === 'hello')!.device_id as string;
  const offer = ws.frames().find((m) => m.type === 'offer') as { sdp: string; tag: string };
  return { user, ws, audio, video, link, device, offer, pc: FakePC.all[0]! };
}

afterEach(() => {
  FakeSocket.instances = [];
  delete (globalThis as { __bedsideCall?: unknown }).__bedsideCall;
});

describe('the call on the join page', () => {
  it('offers on admission with a valid tag, the TURN server and the device-check stream', async () => {
    const { offer, link, device, pc, ws } = await admitted();
    const want = await offerTag(await sdpAuthKey(SECRET), link.visit, device, sdpIdentity(offer.sdp));
    expect(offer.tag).toBe(b64url(want));
    expect(pc.config.iceServers).toEqual([TURN]);
    expect(pc.transceivers.map((x) => x.what)).toEqual(['audio:track', 'video:track']);
    // The trickled candidate follows, as JSON text.
    await waitFor(() => expect(ws.frames().some((m) => m.type === 'ice')).toBe(true));
    // Nothing the page sent holds the invite secret.
    for (const s of ws.sent) expect(s).not.toContain(b64url(SECRET));
    expect(counters()?.state).toBe('connecting');
    expect(screen.getByTestId('call-status').textContent).toContain(t.call.connecting);
  });

  it('shows the SAS after a verified answer; mute and camera are pressed-state toggles', async () => {
    const { user, ws, offer, link, device, pc, audio, video } = await admitted();
    ws.receive(await answerFor(offer, { secret: SECRET, visit: link.visit, device }));
    const code = await sas(SECRET, sdpIdentity(offer.sdp).fingerprint, FP_CLINIC);
    expect((await screen.findByTestId('sas')).textContent).toBe(code);
    expect(screen.getByTestId('sas-box').textContent).toContain(t.call.sasAsk);
    expect(counters()).toMatchObject({ verified: true, sas: code });
    pc.ice('connected');
    await waitFor(() => expect(screen.getByTestId('call-status').textContent).toContain(t.call.connected));

    const mute = screen.getByRole('button', { name: t.call.mute });
    const camera = screen.getByRole('button', { name: t.call.cameraOff });
    expect(mute.getAttribute('aria-pressed')).toBe('false');
    await user.click(mute);
    expect(mute.getAttribute('aria-pressed')).toBe('true');
    expect(audio.enabled).toBe(false);
    // Keyboard: Tab to the camera button, Space presses it.
    camera.focus();
    await user.keyboard(' ');
    expect(camera.getAttribute('aria-pressed')).toBe('true');
    expect(video.enabled).toBe(false);
    await user.keyboard('{Enter}');
    expect(camera.getAttribute('aria-pressed')).toBe('false');
    expect(video.enabled).toBe(true);

    pc.ice('failed');
    expect(await screen.findByText(t.call.reconnecting)).toBeTruthy();
  });

  it('a tampered answer stops the call with the plain warning', async () => {
    const { ws, offer, link, device, pc, audio, video } = await admitted();
    const honest = await answerFor(offer, { secret: SECRET, visit: link.visit, device });
    ws.receive({ ...honest, sdp: honest.sdp.replace(FP_CLINIC, FP_MITM) });
    const alert = await screen.findByTestId('call-refused');
    expect(alert.getAttribute('role')).toBe('alert');
    expect(alert.textContent).toContain(
      'This call could not be verified as coming from your clinic. It has been stopped for your safety.',
    );
    expect(pc.log).not.toContain('setRemote:answer');
    expect(pc.log).toContain('close');
    expect(audio.readyState).toBe('ended');
    expect(video.readyState).toBe('ended');
    expect(counters()).toMatchObject({ state: 'refused', verified: false, authFailures: 1, sas: null });
    expect(screen.queryByTestId('sas')).toBeNull();
    expect(fromB64url(honest.tag).length).toBe(32);
  });

  it('the clinic ending the visit closes the call; leaving hangs up', async () => {
    const first = await admitted();
    first.ws.receive({ type: 'ended' });
    expect(await screen.findByRole('heading', { name: t.ended.title })).toBeTruthy();
    expect(first.pc.log).toContain('close');
    expect(first.audio.readyState).toBe('ended');
  });

  it('the patient can leave the call', async () => {
    const { user, ws, pc, video } = await admitted();
    await user.click(screen.getByRole('button', { name: t.call.leave }));
    expect(await screen.findByTestId('call-ended')).toBeTruthy();
    expect(pc.log).toContain('close');
    expect(video.readyState).toBe('ended');
    expect(ws.frames().at(-1)!.type).toBe('leave');
  });
});
