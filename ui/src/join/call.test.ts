import { describe, expect, it, vi } from 'vitest';

import type { PatientToRelay } from '../../../crates/bedside-protocol/generated/protocol';
import { Call, CallInbox, parseCandidate, qualityFrom, readStats, type CallCounters, type CallView } from './call';
import {
  answerFor,
  DEVICE,
  FakePC,
  FakeStream,
  FakeTrack,
  FP_CLINIC,
  FP_MITM,
  FP_PATIENT,
  offers,
  OTHER_SECRET,
  SECRET,
  VISIT,
} from './callFakes';
import { b64url, offerTag, sas, sdpAuthKey, sdpIdentity } from './crypto';

function setup(opts: { camera?: boolean; turn?: boolean; reuse?: boolean; retryMs?: number; now?: () => number } = {}) {
  FakePC.all = [];
  const sent: PatientToRelay[] = [];
  const views: CallView[] = [];
  let counters: CallCounters | null = null;
  const audio = new FakeTrack('audio');
  const video = new FakeTrack('video');
  const stream = new FakeStream(opts.camera === false ? [audio] : [audio, video]);
  const gum = vi.fn(async (c: MediaStreamConstraints) => {
    if (c.video && opts.camera === false) throw new DOMException('no camera', 'NotFoundError');
    return stream as unknown as MediaStream;
  });
  const call = new Call({
    secret: SECRET,
    visit: VISIT,
    device: DEVICE,
    turn: opts.turn ? { urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1900000000:dev', credential: 'c3VwZXI=' } : null,
    send: (m) => sent.push(m),
    stream: opts.reuse ? (stream as unknown as MediaStream) : null,
    getUserMedia: gum,
    RTCPeerConnectionImpl: FakePC as unknown as typeof RTCPeerConnection,
    onView: (v) => views.push(v),
    onCounters: (c) => (counters = c),
    disconnectGraceMs: 20,
    restartRetryMs: opts.retryMs ?? 10_000,
    ...(opts.now ? { now: opts.now } : {}),
    statsIntervalMs: 30,
    firstFramePollMs: 10,
  });
  return { call, sent, views, gum, audio, video, counters: () => counters!, pc: () => FakePC.all[0]! };
}

describe('Call', () => {
  it('sends the offer with its tag, then the candidates, with TURN from admitted', async () => {
    const { call, sent, pc } = setup({ turn: true });
    await call.start();
    expect(pc().config.iceServers).toEqual([{ urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1900000000:dev', credential: 'c3VwZXI=' }]);
    expect(pc().transceivers).toEqual([
      { what: 'audio:track', direction: 'sendrecv' },
      { what: 'video:track', direction: 'sendrecv' },
    ]);
    expect(sent[0]!.type).toBe('offer');
    const offer = offers(sent)[0]!;
    const want = await offerTag(await sdpAuthKey(SECRET), VISIT, DEVICE, sdpIdentity(offer.sdp));
    expect(offer.tag).toBe(b64url(want));
    // The candidate gathered during setLocalDescription went out after the offer.
    expect(sent[1]).toEqual({ type: 'ice', candidate: expect.stringContaining('typ host') });
    expect(JSON.parse((sent[1] as { candidate: string }).candidate).sdpMid).toBe('0');
    expect(call.state).toBe('connecting');
    call.close();
  });

  it('verifies the answer before setRemoteDescription, shows the SAS and connects', async () => {
    const { call, sent, pc, views, counters } = setup();
    await call.start();
    // A candidate from the clinician before the answer waits for it.
    await call.onRelay({ type: 'ice', candidate: JSON.stringify({ candidate: 'candidate:2 1 udp 1 127.0.0.1 6000 typ host', sdpMid: '0' }) });
    expect(pc().added).toEqual([]);
    await call.onRelay(await answerFor(offers(sent)[0]!));
    expect(pc().log).toContain('setRemote:answer');
    expect(pc().log.indexOf('addIce')).toBeGreaterThan(pc().log.indexOf('setRemote:answer'));
    const code = await sas(SECRET, FP_PATIENT, FP_CLINIC);
    expect(views.at(-1)!.sas).toBe(code);
    expect(counters().sas).toBe(code);
    expect(counters().verified).toBe(true);
    pc().ice('connected');
    expect(call.state).toBe('connected');
    // Garbage candidates are dropped, not thrown.
    await call.onRelay({ type: 'ice', candidate: 'not json' });
    await call.onRelay({ type: 'ice', candidate: '{"nope":1}' });
    expect(pc().added.length).toBe(1);
    call.close();
    expect(call.state).toBe('ended');
  });

  for (const [what, forge] of [
    ['a tag made without the invite secret', (o: { sdp: string; tag: string }) => answerFor(o, { secret: OTHER_SECRET })],
    ['a swapped DTLS fingerprint (relay in the middle)', async (o: { sdp: string; tag: string }) => {
      const honest = await answerFor(o);
      return { ...honest, sdp: honest.sdp.replace(FP_CLINIC, FP_MITM) };
    }],
    ['a tag that is not base64url', async (o: { sdp: string; tag: string }) => ({ ...(await answerFor(o)), tag: '!!!' })],
    ['an answer without a fingerprint', async (o: { sdp: string; tag: string }) => {
      const honest = await answerFor(o);
      return { ...honest, sdp: honest.sdp.replace(/a=fingerprint:.*\r\n/, '') };
    }],
  ] as const) {
    it(`refuses ${what} before setRemoteDescription and stops the devices`, async () => {
      const { call, sent, pc, audio, video, counters } = setup();
      await call.start();
      await call.onRelay(await forge(offers(sent)[0]!));
      expect(pc().log).not.toContain('setRemote:answer');
      expect(pc().log).toContain('close');
      expect(audio.readyState).toBe('ended');
      expect(video.readyState).toBe('ended');
      expect(call.state).toBe('refused');
      expect(counters().authFailures).toBe(1);
      expect(counters().verified).toBe(false);
      expect(counters().sas).toBeNull();
      // The clinic is told, once, with the reason alone.
      expect(sent.filter((m) => m.type === 'call_refused')).toEqual([{ type: 'call_refused', reason: 'answer_tag_mismatch' }]);
      // Nothing more happens on this call.
      await call.onRelay(await answerFor(offers(sent)[0]!));
      expect(pc().log).not.toContain('setRemote:answer');
      expect(sent.filter((m) => m.type === 'call_refused').length).toBe(1);
    });
  }

  it('restarts ICE with a re-tagged offer when ICE fails, and resumes', async () => {
    const { call, sent, pc, counters } = setup();
    await call.start();
    await call.onRelay(await answerFor(offers(sent)[0]!));
    pc().ice('connected');
    pc().ice('failed');
    expect(call.state).toBe('reconnecting');
    await vi.waitFor(() => expect(offers(sent).length).toBe(2));
    expect(pc().log).toContain('createOffer:restart');
    const restart = offers(sent)[1]!;
    expect(sdpIdentity(restart.sdp).ufrag).toBe('pat1');
    const want = await offerTag(await sdpAuthKey(SECRET), VISIT, DEVICE, sdpIdentity(restart.sdp));
    expect(restart.tag).toBe(b64url(want));
    // The new generation's candidates follow the restart offer.
    expect(sent.at(-1)).toEqual({ type: 'ice', candidate: expect.stringContaining('50001') });
    await call.onRelay(await answerFor(restart, { ufrag: 'clin2' }));
    expect(pc().log.filter((l) => l === 'setRemote:answer').length).toBe(2);
    pc().ice('connected');
    expect(call.state).toBe('connected');
    expect(counters().iceRestarts).toBe(1);
    expect(counters().offersSent).toBe(2);
    // The SAS did not change.
    expect(counters().sas).toBe(await sas(SECRET, FP_PATIENT, FP_CLINIC));
    call.close();
  });

  it('restarts after a disconnect that lasts past the grace period, and keeps trying', async () => {
    const { call, sent, pc } = setup({ retryMs: 50 });
    await call.start();
    await call.onRelay(await answerFor(offers(sent)[0]!));
    pc().ice('connected');
    pc().ice('disconnected');
    expect(call.state).toBe('reconnecting');
    await vi.waitFor(() => expect(offers(sent).length).toBe(2));
    // No answer arrives (the network is still down): the restart is retried
    // with a fresh offer, the unanswered one rolled back.
    await vi.waitFor(() => expect(offers(sent).length).toBe(3));
    expect(pc().log).toContain('setLocal:rollback');
    // The network comes back and the relay delivers every buffered offer:
    // a late answer to a superseded offer is stale, ignored, not an attack.
    // (Stop further retries first: a restart finds ICE connected and stops.)
    pc().iceConnectionState = 'connected';
    await new Promise((r) => setTimeout(r, 150));
    const latest = offers(sent).at(-1)!;
    await call.onRelay(await answerFor(offers(sent)[1]!, { ufrag: 'old' }));
    expect(call.state).toBe('reconnecting');
    expect(pc().log.filter((l) => l === 'setRemote:answer').length).toBe(1);
    await call.onRelay(await answerFor(latest, { ufrag: 'new' }));
    expect(pc().log.filter((l) => l === 'setRemote:answer').length).toBe(2);
    pc().ice('connected');
    expect(call.state).toBe('connected');
    call.close();
  });

  it('refuses a forged answer during an ICE restart', async () => {
    const { call, sent, pc } = setup();
    await call.start();
    await call.onRelay(await answerFor(offers(sent)[0]!));
    pc().ice('connected');
    pc().ice('failed');
    await vi.waitFor(() => expect(offers(sent).length).toBe(2));
    const honest = await answerFor(offers(sent)[1]!);
    await call.onRelay({ ...honest, sdp: honest.sdp.replace(FP_CLINIC, FP_MITM) });
    expect(call.state).toBe('refused');
    expect(pc().log).toContain('close');
    expect(sent.at(-1)).toEqual({ type: 'call_refused', reason: 'answer_tag_mismatch' });
  });

  it('refuses a restart answered with another DTLS certificate, even with a valid tag', async () => {
    const { call, sent, pc } = setup();
    await call.start();
    await call.onRelay(await answerFor(offers(sent)[0]!));
    pc().ice('connected');
    pc().ice('failed');
    await vi.waitFor(() => expect(offers(sent).length).toBe(2));
    // Tagged with the invite secret, but over a new fingerprint: not the same call.
    await call.onRelay(await answerFor(offers(sent)[1]!, { fp: FP_MITM }));
    expect(call.state).toBe('refused');
    expect(pc().log.filter((l) => l === 'setRemote:answer').length).toBe(1);
    expect(sent.filter((m) => m.type === 'call_refused')).toEqual([{ type: 'call_refused', reason: 'fingerprint_changed' }]);
  });

  it('sends no refusal for an honest call', async () => {
    const { call, sent, pc } = setup();
    await call.start();
    await call.onRelay(await answerFor(offers(sent)[0]!));
    pc().ice('connected');
    call.close();
    expect(sent.some((m) => m.type === 'call_refused')).toBe(false);
  });

  it('does not restart when a disconnect heals within the grace period', async () => {
    const { call, sent, pc } = setup();
    await call.start();
    await call.onRelay(await answerFor(offers(sent)[0]!));
    pc().ice('connected');
    pc().ice('disconnected');
    pc().ice('connected');
    await new Promise((r) => setTimeout(r, 60));
    expect(offers(sent).length).toBe(1);
    expect(call.state).toBe('connected');
    call.close();
  });

  it('mute and camera toggle the tracks', async () => {
    const { call, audio, video, views } = setup();
    await call.start();
    call.setMic(false);
    expect(audio.enabled).toBe(false);
    expect(views.at(-1)!.micOn).toBe(false);
    call.setCamera(false);
    expect(video.enabled).toBe(false);
    expect(views.at(-1)!.cameraOn).toBe(false);
    call.setMic(true);
    call.setCamera(true);
    expect(audio.enabled && video.enabled).toBe(true);
    expect(views.at(-1)).toMatchObject({ micOn: true, cameraOn: true });
    call.close();
    expect(audio.readyState).toBe('ended');
  });

  it('reuses the device check stream and falls back to audio only without a camera', async () => {
    const reused = setup({ reuse: true });
    await reused.call.start();
    expect(reused.gum).not.toHaveBeenCalled();
    reused.call.close();

    const { call, gum, pc, views } = setup({ camera: false });
    await call.start();
    expect(gum).toHaveBeenCalledTimes(2);
    expect(pc().transceivers).toEqual([
      { what: 'audio:track', direction: 'sendrecv' },
      { what: 'video:none', direction: 'recvonly' },
    ]);
    expect(views.at(-1)).toMatchObject({ hasCamera: false, hasMic: true });
    call.setCamera(true);
    expect(views.at(-1)!.cameraOn).toBe(false);
    call.close();
  });

  it('says so when the browser has no RTCPeerConnection', async () => {
    const call = new Call({ secret: SECRET, visit: VISIT, device: DEVICE, turn: null, send: () => {}, getUserMedia: null, RTCPeerConnectionImpl: undefined });
    await call.start();
    expect(call.state).toBe('unsupported');
  });

  it('without RTCPeerConnection lets go of the device check\'s camera and asks for no other', async () => {
    const tracks = [new FakeTrack('audio'), new FakeTrack('video')];
    const gum = vi.fn();
    const sent: PatientToRelay[] = [];
    const call = new Call({
      secret: SECRET,
      visit: VISIT,
      device: DEVICE,
      turn: null,
      send: (m) => sent.push(m),
      stream: new FakeStream(tracks) as unknown as MediaStream,
      getUserMedia: gum,
      RTCPeerConnectionImpl: undefined,
    });
    await call.start();
    expect(call.state).toBe('unsupported');
    expect(tracks.map((t) => t.readyState)).toEqual(['ended', 'ended']);
    expect(gum).not.toHaveBeenCalled();
    expect(sent).toEqual([]);
  });

  it('publishes counters from getStats: frames, first-frame time, audio packets, quality', async () => {
    let t = 0;
    const { call, sent, pc, counters } = setup({ now: () => t });
    await call.start();
    await call.onRelay(await answerFor(offers(sent)[0]!));
    pc().ice('connected');
    const stats = (frames: number, audioPkts: number, lost: number) => [
      { type: 'inbound-rtp', kind: 'video', framesDecoded: frames, framesPerSecond: 30, frameWidth: 640, frameHeight: 480, packetsReceived: frames * 2, packetsLost: 0 },
      { type: 'inbound-rtp', kind: 'audio', packetsReceived: audioPkts, packetsLost: lost },
      { type: 'outbound-rtp', kind: 'video', framesEncoded: 99 },
      { type: 'transport', selectedCandidatePairId: 'p1' },
      { type: 'candidate-pair', id: 'p1', state: 'succeeded', nominated: true, currentRoundTripTime: 0.012 },
    ];
    t = 1000;
    pc().stats = stats(30, 50, 0);
    await vi.waitFor(() => expect(counters().framesDecoded).toBe(30));
    expect(counters().firstFrameMs).toBe(1000);
    t = 2000;
    pc().stats = stats(60, 100, 0);
    await vi.waitFor(() => expect(counters().audioPacketsReceived).toBe(100));
    expect(counters().quality).toBe('good');
    expect(counters()).toMatchObject({ audioPacketsReceived: 100, framesPerSecond: 30, frameWidth: 640, framesEncoded: 99, rttMs: 12, lossPct: 0 });
    t = 3000;
    pc().stats = stats(90, 110, 40);
    await vi.waitFor(() => expect(counters().quality).toBe('poor'));
    expect(counters().lossPct).toBeGreaterThan(8);
    call.close();
  });
});

describe('call helpers', () => {
  it('grades quality from RTT and loss', () => {
    expect(qualityFrom(null, null)).toBe('unknown');
    expect(qualityFrom(40, 0)).toBe('good');
    expect(qualityFrom(400, 1)).toBe('fair');
    expect(qualityFrom(40, 5)).toBe('fair');
    expect(qualityFrom(900, 0)).toBe('poor');
    expect(qualityFrom(40, 12)).toBe('poor');
  });

  it('reads the nominated pair when no transport names one', () => {
    const report = new Map([
      ['a', { type: 'candidate-pair', id: 'x', state: 'in-progress', nominated: false, currentRoundTripTime: 9 }],
      ['b', { type: 'candidate-pair', id: 'y', state: 'succeeded', nominated: true, currentRoundTripTime: 0.05 }],
    ]) as unknown as RTCStatsReport;
    expect(readStats(report).rttMs).toBe(50);
  });

  it('parses the clinician candidates leniently and drops junk', () => {
    const line = 'candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host';
    expect(parseCandidate(JSON.stringify({ candidate: line, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' }))).toEqual({
      candidate: line,
      sdpMid: '0',
      sdpMLineIndex: 0,
      usernameFragment: 'u',
    });
    expect(parseCandidate(JSON.stringify({ candidate: line }))).toEqual({ candidate: line, sdpMLineIndex: 0 });
    expect(parseCandidate(line)).toEqual({ candidate: line, sdpMid: '0', sdpMLineIndex: 0 });
    expect(parseCandidate(`a=${line}`)).toEqual({ candidate: line, sdpMid: '0', sdpMLineIndex: 0 });
    for (const junk of ['', '{}', '{"candidate":""}', '{"candidate":5}', 'null', '[1]', 'not json']) expect(parseCandidate(junk)).toBeNull();
  });

  it('the inbox passes only call messages on', () => {
    const inbox = new CallInbox();
    const got: string[] = [];
    inbox.deliver({ type: 'ice', candidate: '{}' });
    inbox.listen((m) => got.push(m.type));
    inbox.deliver({ type: 'waiting' });
    inbox.deliver({ type: 'answer', sdp: '', tag: '' });
    inbox.deliver({ type: 'ice', candidate: '{}' });
    expect(got).toEqual(['answer', 'ice']);
  });
});

describe('chat on the call', () => {
  it('rides a negotiated, ordered data channel created before the offer', async () => {
    const { call, pc } = setup();
    await call.start();
    expect(pc().channels).toHaveLength(1);
    expect(pc().channels[0]!.label).toBe('chat');
    expect(pc().channels[0]!.init).toEqual({ negotiated: true, id: 0, ordered: true });
    expect(pc().log[0]).toBe('createOffer');
    call.close();
    expect(pc().channels[0]!.readyState).toBe('closed');
  });

  it('sends checked, rate-limited JSON and hands incoming messages over, refusing bad ones', async () => {
    const got: unknown[] = [];
    FakePC.all = [];
    let counters: CallCounters | null = null;
    let t = 0;
    const call = new Call({
      secret: SECRET,
      visit: VISIT,
      device: DEVICE,
      turn: null,
      send: () => {},
      getUserMedia: async () => new FakeStream([new FakeTrack('audio')]) as unknown as MediaStream,
      RTCPeerConnectionImpl: FakePC as unknown as typeof RTCPeerConnection,
      onChat: (l) => got.push(l),
      onCounters: (c) => (counters = c),
      now: () => t,
    });
    await call.start();
    const dc = FakePC.all[0]!.channels[0]!;
    expect(call.sendChat('too early')).toEqual({ ok: false, reason: 'not_open' });
    dc.open();
    expect(counters!.chatOpen).toBe(true);
    expect(call.sendChat('x'.repeat(2001))).toEqual({ ok: false, reason: 'too_long' });
    const r = call.sendChat('Hello doctor', 1_800_000_000_000);
    expect(r.ok).toBe(true);
    expect(JSON.parse(dc.sent[0]!)).toMatchObject({ v: 1, kind: 'text', text: 'Hello doctor', sentAt: 1_800_000_000_000 });
    for (let i = 0; i < 4; i++) expect(call.sendChat(`m${i}`).ok).toBe(true);
    expect(call.sendChat('one too many')).toEqual({ ok: false, reason: 'rate_limited' });
    t += 1500;
    expect(call.sendChat('after a pause').ok).toBe(true);
    expect(dc.sent).toHaveLength(6);

    dc.receive(JSON.stringify({ v: 1, kind: 'text', id: 'c1', text: 'Hi there', sentAt: 5 }));
    dc.receive('{"v":1,"kind":"bogus"}');
    dc.receive('x'.repeat(20_000));
    expect(got).toEqual([{ id: 'c1', text: 'Hi there', sentAt: 5, from: 'them' }]);
    expect(counters!).toMatchObject({ chatSent: 6, chatReceived: 1, chatRefused: 2 });
    call.close();
    expect(counters!.chatOpen).toBe(false);
    expect(call.sendChat('after the end')).toEqual({ ok: false, reason: 'not_open' });
  });
});
