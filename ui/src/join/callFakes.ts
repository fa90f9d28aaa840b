// Test doubles for the call (call.ts): a scripted RTCPeerConnection, tracks
// and streams, and an honest clinician's answer computed with crypto.ts.

import type { PatientToRelay } from '../../../crates/bedside-protocol/generated/protocol';
import { answerTag, b64url, fromB64url, sdpAuthKey, sdpIdentity } from './crypto';

export const SECRET = new Uint8Array(32).map((_, i) => i + 1);
export const OTHER_SECRET = new Uint8Array(32).map((_, i) => 200 - i);
export const VISIT = new Uint8Array(16).map((_, i) => 0xa0 + i);
export const DEVICE = '0123456789abcdef0123456789abcdef';
export const FP_PATIENT = 'sha-256 ' + Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');
export const FP_CLINIC = 'sha-256 ' + Array.from({ length: 32 }, (_, i) => (255 - i).toString(16).padStart(2, '0').toUpperCase()).join(':');
export const FP_MITM = 'sha-256 ' + Array.from({ length: 32 }, () => 'EE').join(':');

export const sdp = (fp: string, ufrag: string) =>
  ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', `a=ice-ufrag:${ufrag}`, 'a=ice-pwd:abcdefghijklmnopqrstuvwx', `a=fingerprint:${fp}`, ''].join('\r\n');

export class FakeTrack {
  enabled = true;
  readyState: 'live' | 'ended' = 'live';
  constructor(public kind: 'audio' | 'video') {}
  stop() {
    this.readyState = 'ended';
  }
}

export class FakeStream {
  constructor(public tracks: FakeTrack[]) {}
  getTracks() {
    return this.tracks;
  }
  getAudioTracks() {
    return this.tracks.filter((t) => t.kind === 'audio');
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === 'video');
  }
}

export class FakeDataChannel {
  readyState: RTCDataChannelState = 'connecting';
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(
    public label: string,
    public init: RTCDataChannelInit | undefined,
  ) {}
  send(data: string) {
    if (this.readyState !== 'open') throw new Error('InvalidStateError');
    this.sent.push(data);
  }
  close() {
    this.readyState = 'closed';
  }
  open() {
    this.readyState = 'open';
    this.onopen?.();
  }
  receive(data: unknown) {
    this.onmessage?.({ data });
  }
}

export class FakePC {
  static all: FakePC[] = [];
  channels: FakeDataChannel[] = [];
  log: string[] = [];
  transceivers: { what: string; direction: string | undefined }[] = [];
  localDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  signalingState: RTCSignalingState = 'stable';
  iceConnectionState: RTCIceConnectionState = 'new';
  added: RTCIceCandidateInit[] = [];
  onicecandidate: ((ev: { candidate: unknown }) => void) | null = null;
  ontrack: ((ev: unknown) => void) | null = null;
  oniceconnectionstatechange: (() => void) | null = null;
  generation = 0;
  stats: Record<string, unknown>[] = [];

  constructor(public config: RTCConfiguration) {
    FakePC.all.push(this);
  }
  createDataChannel(label: string, init?: RTCDataChannelInit) {
    const dc = new FakeDataChannel(label, init);
    this.channels.push(dc);
    return dc;
  }
  addTransceiver(t: FakeTrack | string, init?: RTCRtpTransceiverInit) {
    this.transceivers.push({ what: typeof t === 'string' ? `${t}:none` : `${t.kind}:track`, direction: init?.direction });
  }
  async createOffer(o?: RTCOfferOptions) {
    if (o?.iceRestart) this.generation++;
    this.log.push(o?.iceRestart ? 'createOffer:restart' : 'createOffer');
    return { type: 'offer' as const, sdp: sdp(FP_PATIENT, `pat${this.generation}`) };
  }
  async setLocalDescription(d: RTCSessionDescriptionInit) {
    this.log.push(`setLocal:${d.type}`);
    if (d.type === 'rollback') {
      this.signalingState = 'stable';
      return;
    }
    this.localDescription = d;
    this.signalingState = 'have-local-offer';
    // Gathering starts at once: a candidate may beat the offer out.
    this.onicecandidate?.({
      candidate: { toJSON: () => ({ candidate: `candidate:1 1 udp 1 127.0.0.1 5000${this.generation} typ host`, sdpMid: '0', sdpMLineIndex: 0 }) },
    });
  }
  async setRemoteDescription(d: RTCSessionDescriptionInit) {
    this.log.push(`setRemote:${d.type}`);
    this.remoteDescription = d;
    this.signalingState = 'stable';
  }
  async addIceCandidate(c: RTCIceCandidateInit) {
    this.log.push('addIce');
    this.added.push(c);
  }
  async getStats() {
    return new Map(this.stats.map((s, i) => [String(i), s]));
  }
  close() {
    this.log.push('close');
  }
  ice(s: RTCIceConnectionState) {
    this.iceConnectionState = s;
    this.oniceconnectionstatechange?.();
  }
}

export const offers = (sent: PatientToRelay[]) => sent.filter((m): m is Extract<PatientToRelay, { type: 'offer' }> => m.type === 'offer');

/** What an honest clinician app answers to the latest offer. */
export async function answerFor(offer: { sdp: string; tag: string }, opts: { secret?: Uint8Array; fp?: string; ufrag?: string; visit?: Uint8Array; device?: string } = {}) {
  const answerSdp = sdp(opts.fp ?? FP_CLINIC, opts.ufrag ?? 'clin');
  const k = await sdpAuthKey(opts.secret ?? SECRET);
  const tag = await answerTag(k, opts.visit ?? VISIT, opts.device ?? DEVICE, sdpIdentity(answerSdp), fromB64url(offer.tag));
  return { type: 'answer' as const, sdp: answerSdp, tag: b64url(tag) };
}

