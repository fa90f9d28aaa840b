// The patient's side of the call, once the clinic has let them in.
//
// The browser is the offerer; the clinician's Rust core answers through the
// relay. Every offer (the first and each ICE restart) carries an HMAC tag over
// our DTLS fingerprint and ICE ufrag (crypto.ts); every answer must carry the
// matching tag, checked BEFORE setRemoteDescription. A relay that swapped a
// fingerprint cannot compute it, so a mismatch stops the call at once: the
// peer connection closes, the camera and microphone stop, and the patient is
// told plainly. The SAS (six digits over both fingerprints) is shown for the
// patient to read aloud.
//
// Everything from outside — RTCPeerConnection, getUserMedia, the relay, the
// clock — is injected, so call.test.ts drives it with fakes. Nothing here
// logs, and the test counters (window.__bedsideCall) hold no PHI.

import type { PatientToRelay, RelayToPatient, TurnCredentials } from '../../../crates/bedside-protocol/generated/protocol';
import {
  CHAT_LABEL,
  CHAT_STREAM_ID,
  checkText,
  encodeMessage,
  inboundLimit,
  newId,
  pageLimit,
  parseMessage,
  type ChatLine,
  type Result,
} from './chat';
import { b64url, fromB64url, offerTag, sas, sdpAuthKey, sdpIdentity, verifyAnswer, type SdpIdentity } from './crypto';

export type CallState =
  /** Getting the camera and microphone, making the offer. */
  | 'starting'
  /** Offer sent; waiting for the answer and for ICE to connect. */
  | 'connecting'
  | 'connected'
  /** The network dropped; an ICE restart is under way. */
  | 'reconnecting'
  /** The answer did not verify: stopped for the patient's safety. */
  | 'refused'
  /** This browser cannot make the call. */
  | 'unsupported'
  | 'ended';

export type Quality = 'unknown' | 'good' | 'fair' | 'poor';

/** What the view renders. */
export interface CallView {
  state: CallState;
  sas: string | null;
  quality: Quality;
  micOn: boolean;
  cameraOn: boolean;
  hasMic: boolean;
  hasCamera: boolean;
}

/** Counters for end-to-end tests, published as `window.__bedsideCall`. No PHI. */
export interface CallCounters {
  state: CallState;
  /** The six-digit code shown to the patient (not PHI; it is read aloud). */
  sas: string | null;
  /** The latest answer's tag verified. */
  verified: boolean;
  /** Answers refused for a bad tag. */
  authFailures: number;
  /** Offers sent (1 + ICE restarts). */
  offersSent: number;
  iceRestarts: number;
  iceState: string;
  /** Inbound video (from getStats). */
  framesDecoded: number;
  framesPerSecond: number;
  frameWidth: number;
  frameHeight: number;
  /** Inbound audio packets (Opus at 20 ms ≈ 50 a second). */
  audioPacketsReceived: number;
  /** Outbound video frames encoded. */
  framesEncoded: number;
  /** Milliseconds from the call's start (admission) to the first decoded remote frame. */
  firstFrameMs: number | null;
  rttMs: number | null;
  /** Inbound packet loss over the last second, in percent. */
  lossPct: number | null;
  quality: Quality;
  /** The chat data channel is open. */
  chatOpen: boolean;
  /** Chat messages sent, received and accepted, and received but refused (counts only). */
  chatSent: number;
  chatReceived: number;
  chatRefused: number;
}

type Signal = Extract<PatientToRelay, { type: 'offer' | 'ice' | 'call_refused' }>;

/** Why the page refused the clinician's answer (a closed list; no PHI). */
export type RefusalReason = Extract<PatientToRelay, { type: 'call_refused' }>['reason'];

export interface CallOptions {
  /** The invite secret (from the link's fragment). */
  secret: Uint8Array;
  /** The 16-byte visit id. */
  visit: Uint8Array;
  /** The device id the knock was sent with. */
  device: string;
  /** TURN credentials from `admitted`, if the relay gave any. */
  turn: TurnCredentials | null;
  /** Sends an offer, an ICE candidate or a refusal through the relay. */
  send: (m: Signal) => void;
  /** The device check's stream, reused when its tracks are still live. */
  stream?: MediaStream | null;
  getUserMedia: ((c: MediaStreamConstraints) => Promise<MediaStream>) | null;
  RTCPeerConnectionImpl?: typeof RTCPeerConnection | undefined;
  /** The view changed. */
  onView?: (v: CallView) => void;
  /** The remote media arrived (audio and video in one stream). */
  onRemoteStream?: (s: MediaStream) => void;
  /** The counters changed (about once a second). */
  onCounters?: (c: CallCounters) => void;
  /** A chat message from the clinician (PHI: shown, never logged or stored). */
  onChat?: (line: ChatLine) => void;
  /** The chat channel opened or closed. */
  onChatOpen?: (open: boolean) => void;
  /** Milliseconds; performance.now by default. */
  now?: () => number;
  /** How long ICE may stay `disconnected` before we restart it. */
  disconnectGraceMs?: number;
  /** How long one ICE restart may take before we try again. */
  restartRetryMs?: number;
  statsIntervalMs?: number;
  /** Faster stats polling until the first remote frame (first-frame timing). */
  firstFramePollMs?: number;
}

/** good: RTT < 250 ms and loss < 2 %; fair: RTT < 600 ms and loss < 8 %; else poor. */
export function qualityFrom(rttMs: number | null, lossPct: number | null): Quality {
  if (rttMs === null && lossPct === null) return 'unknown';
  const rtt = rttMs ?? 0;
  const loss = lossPct ?? 0;
  if (rtt < 250 && loss < 2) return 'good';
  if (rtt < 600 && loss < 8) return 'fair';
  return 'poor';
}

interface StatsSample {
  framesDecoded: number;
  framesPerSecond: number;
  frameWidth: number;
  frameHeight: number;
  framesEncoded: number;
  audioPacketsReceived: number;
  packetsReceived: number;
  packetsLost: number;
  rttMs: number | null;
}

/** Reads what the page needs from an RTCStatsReport. */
export function readStats(report: RTCStatsReport): StatsSample {
  const s: StatsSample = {
    framesDecoded: 0,
    framesPerSecond: 0,
    frameWidth: 0,
    frameHeight: 0,
    framesEncoded: 0,
    audioPacketsReceived: 0,
    packetsReceived: 0,
    packetsLost: 0,
    rttMs: null,
  };
  let selectedPair: string | undefined;
  const pairs = new Map<string, Record<string, unknown>>();
  report.forEach((raw: unknown) => {
    const r = raw as Record<string, unknown>;
    const num = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : 0);
    switch (r.type) {
      case 'inbound-rtp':
        s.packetsReceived += num('packetsReceived');
        s.packetsLost += Math.max(0, num('packetsLost'));
        if (r.kind === 'video') {
          s.framesDecoded += num('framesDecoded');
          s.framesPerSecond = Math.max(s.framesPerSecond, num('framesPerSecond'));
          s.frameWidth = Math.max(s.frameWidth, num('frameWidth'));
          s.frameHeight = Math.max(s.frameHeight, num('frameHeight'));
        } else if (r.kind === 'audio') {
          s.audioPacketsReceived += num('packetsReceived');
        }
        break;
      case 'outbound-rtp':
        if (r.kind === 'video') s.framesEncoded += num('framesEncoded');
        break;
      case 'transport':
        if (typeof r.selectedCandidatePairId === 'string') selectedPair = r.selectedCandidatePairId;
        break;
      case 'candidate-pair':
        if (typeof r.id === 'string') pairs.set(r.id, r);
        break;
    }
  });
  const pair =
    (selectedPair ? pairs.get(selectedPair) : undefined) ??
    [...pairs.values()].find((p) => p.nominated === true && p.state === 'succeeded');
  if (pair && typeof pair.currentRoundTripTime === 'number') s.rttMs = Math.round(pair.currentRoundTripTime * 1000);
  return s;
}

const GUM_BOTH: MediaStreamConstraints = { audio: true, video: true };

function live(stream: MediaStream | null | undefined): stream is MediaStream {
  return !!stream && stream.getTracks().some((t) => t.readyState === 'live');
}

/** One call: one peer connection, restarted in place when the network drops. */
export class Call {
  private pc: RTCPeerConnection | null = null;
  private local: MediaStream | null = null;
  private kAuth: Uint8Array | null = null;
  private ourIdentity: SdpIdentity | null = null;
  private theirFingerprint: string | null = null;
  private currentOfferTag: Uint8Array | null = null;
  /** Tags of earlier offers not yet answered (ICE restarts retried while the
   * network was down): a late answer to one of them is stale, not forged. */
  private staleOfferTags: Uint8Array[] = [];
  private awaitingAnswer = false;
  /** The current offer tag has not been answered yet (survives a rollback). */
  private awaitingAnswerFor = false;
  /** Our candidates wait until the offer they belong to has been sent. */
  private outgoing: RTCIceCandidateInit[] = [];
  private offerSent = false;
  /** Their candidates wait until their (verified) answer is set. */
  private incoming: RTCIceCandidateInit[] = [];
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private lastStats: StatsSample | null = null;
  private readonly startedAt: number;
  private readonly now: () => number;
  private view: CallView = {
    state: 'starting',
    sas: null,
    quality: 'unknown',
    micOn: true,
    cameraOn: true,
    hasMic: false,
    hasCamera: false,
  };
  private counters: CallCounters = {
    state: 'starting',
    sas: null,
    verified: false,
    authFailures: 0,
    offersSent: 0,
    iceRestarts: 0,
    iceState: 'new',
    framesDecoded: 0,
    framesPerSecond: 0,
    frameWidth: 0,
    frameHeight: 0,
    audioPacketsReceived: 0,
    framesEncoded: 0,
    firstFrameMs: null,
    rttMs: null,
    lossPct: null,
    quality: 'unknown',
    chatOpen: false,
    chatSent: 0,
    chatReceived: 0,
    chatRefused: 0,
  };
  /** The negotiated chat channel (chat.ts). */
  private chat: RTCDataChannel | null = null;
  private chatOut = pageLimit();
  private chatIn = inboundLimit();

  constructor(private opts: CallOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.startedAt = this.now();
  }

  get state(): CallState {
    return this.view.state;
  }

  /** Gets the media, makes the peer connection and sends the tagged offer. */
  async start(): Promise<void> {
    const Impl = this.opts.RTCPeerConnectionImpl ?? (globalThis as { RTCPeerConnection?: typeof RTCPeerConnection }).RTCPeerConnection;
    if (!Impl) {
      // No call can start (WebKitGTK builds without WebRTC, old browsers): say so, and let
      // go of the camera and microphone the device check opened, which the call would
      // otherwise have taken over.
      this.opts.stream?.getTracks().forEach((t) => t.stop());
      this.setState('unsupported');
      return;
    }
    this.local = await this.media();
    if (this.view.state === 'ended') {
      this.stopLocal();
      return;
    }
    const audio = this.local?.getAudioTracks()[0];
    const video = this.local?.getVideoTracks()[0];
    this.view = { ...this.view, hasMic: !!audio, hasCamera: !!video, micOn: !!audio, cameraOn: !!video };

    const iceServers: RTCIceServer[] = this.opts.turn
      ? [{ urls: this.opts.turn.urls, username: this.opts.turn.username, credential: this.opts.turn.credential }]
      : [];
    const pc = new Impl({ iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.pc = pc;
    // Always audio then video, sending what we have and receiving both, so
    // the clinician's answer has the same shape with or without a camera.
    if (audio && this.local) pc.addTransceiver(audio, { direction: 'sendrecv', streams: [this.local] });
    else pc.addTransceiver('audio', { direction: 'recvonly' });
    if (video && this.local) pc.addTransceiver(video, { direction: 'sendrecv', streams: [this.local] });
    else pc.addTransceiver('video', { direction: 'recvonly' });

    this.openChat(pc);

    pc.onicecandidate = (ev) => {
      if (!ev.candidate) return;
      const c: RTCIceCandidateInit =
        typeof ev.candidate.toJSON === 'function' ? ev.candidate.toJSON() : (ev.candidate as RTCIceCandidateInit);
      if (this.offerSent) this.sendCandidate(c);
      else this.outgoing.push(c);
    };
    let remote: MediaStream | null = null;
    pc.ontrack = (ev) => {
      const s = ev.streams[0] ?? remote ?? (typeof MediaStream === 'function' ? new MediaStream() : null);
      if (!s) return;
      if (!s.getTracks().includes(ev.track)) s.addTrack(ev.track);
      if (s !== remote) {
        remote = s;
        this.opts.onRemoteStream?.(s);
      }
    };
    pc.oniceconnectionstatechange = () => this.onIceState(pc.iceConnectionState);

    this.kAuth = await sdpAuthKey(this.opts.secret);
    await this.offer(false);
    this.pollStats(this.opts.firstFramePollMs ?? 50);
  }

  private async media(): Promise<MediaStream | null> {
    if (live(this.opts.stream)) return this.opts.stream;
    const gum = this.opts.getUserMedia;
    if (!gum) return null;
    try {
      return await gum(GUM_BOTH);
    } catch {
      // No camera (or it is refused): an audio-only call.
      try {
        return await gum({ audio: true });
      } catch {
        return null;
      }
    }
  }

  /** Makes, tags, sets and sends an offer (an ICE restart when `restart`). */
  private async offer(restart: boolean): Promise<void> {
    const pc = this.pc;
    if (!pc || !this.kAuth || this.closed()) return;
    this.offerSent = false;
    const offer = await pc.createOffer(restart ? { iceRestart: true } : {});
    const sdp = offer.sdp ?? '';
    const id = sdpIdentity(sdp);
    const tag = await offerTag(this.kAuth, this.opts.visit, this.opts.device, id);
    if (this.closed()) return;
    await pc.setLocalDescription(offer);
    if (this.closed()) return;
    this.ourIdentity = id;
    if (this.currentOfferTag && this.awaitingAnswerFor) this.staleOfferTags.push(this.currentOfferTag);
    this.currentOfferTag = tag;
    this.awaitingAnswerFor = true;
    this.awaitingAnswer = true;
    this.counters.offersSent++;
    if (restart) this.counters.iceRestarts++;
    this.opts.send({ type: 'offer', sdp, tag: b64url(tag) });
    this.offerSent = true;
    for (const c of this.outgoing.splice(0)) this.sendCandidate(c);
    if (this.view.state === 'starting') this.setState('connecting');
    this.publish();
  }

  private sendCandidate(c: RTCIceCandidateInit): void {
    this.opts.send({ type: 'ice', candidate: JSON.stringify(c) });
  }

  /** Relay messages for the call: `answer` and `ice`; others are ignored. */
  async onRelay(msg: RelayToPatient): Promise<void> {
    if (msg.type === 'answer') await this.onAnswer(msg.sdp, msg.tag);
    else if (msg.type === 'ice') await this.onCandidate(msg.candidate);
  }

  private async onAnswer(sdp: string, tagText: string): Promise<void> {
    const pc = this.pc;
    if (!pc || !this.awaitingAnswer || !this.kAuth || !this.currentOfferTag || !this.ourIdentity || this.closed()) return;
    this.awaitingAnswer = false;
    let theirs: SdpIdentity;
    const verify = (offer: Uint8Array) => verifyAnswer(this.kAuth!, this.opts.visit, this.opts.device, sdp, offer, fromB64url(tagText));
    try {
      theirs = await verify(this.currentOfferTag);
    } catch {
      if (await this.isStale(verify)) {
        this.awaitingAnswer = true;
        return;
      }
      this.refuse('answer_tag_mismatch');
      return;
    }
    // A restart keeps the same DTLS certificate: a new one is not the same call.
    if (this.theirFingerprint !== null && theirs.fingerprint !== this.theirFingerprint) {
      this.refuse('fingerprint_changed');
      return;
    }
    if (this.closed()) return;
    this.awaitingAnswerFor = false;
    this.staleOfferTags = [];
    this.counters.verified = true;
    if (this.theirFingerprint === null) {
      this.theirFingerprint = theirs.fingerprint;
      const code = await sas(this.opts.secret, this.ourIdentity.fingerprint, theirs.fingerprint);
      this.view = { ...this.view, sas: code };
      this.counters.sas = code;
    }
    await pc.setRemoteDescription({ type: 'answer', sdp });
    for (const c of this.incoming.splice(0)) await this.addCandidate(c);
    this.emitView();
    this.publish();
  }

  /** Whether the answer verifies against an earlier, superseded offer of ours. */
  private async isStale(verify: (offer: Uint8Array) => Promise<SdpIdentity>): Promise<boolean> {
    for (const old of this.staleOfferTags) {
      try {
        const id = await verify(old);
        if (this.theirFingerprint === null || id.fingerprint === this.theirFingerprint) return true;
      } catch {
        // Not this one.
      }
    }
    return false;
  }

  private async onCandidate(text: string): Promise<void> {
    if (!this.pc || this.closed()) return;
    const c = parseCandidate(text);
    if (!c) return;
    if (this.awaitingAnswer || !this.counters.verified) this.incoming.push(c);
    else await this.addCandidate(c);
  }

  private async addCandidate(c: RTCIceCandidateInit): Promise<void> {
    try {
      await this.pc?.addIceCandidate(c);
    } catch {
      // A stale or malformed candidate: ICE goes on with the others.
    }
  }

  /**
   * The answer failed verification: stop everything, say so, and tell the
   * clinic through the relay (the reason only) so their side stops and
   * records it too.
   */
  private refuse(reason: RefusalReason): void {
    this.opts.send({ type: 'call_refused', reason });
    this.counters.authFailures++;
    this.counters.verified = false;
    this.teardown();
    this.view = { ...this.view, sas: null, micOn: false, cameraOn: false };
    this.counters.sas = null;
    this.setState('refused');
  }

  private onIceState(s: RTCIceConnectionState): void {
    this.counters.iceState = s;
    if (this.closed()) return;
    if (s === 'connected' || s === 'completed') {
      this.clearRestart();
      if (this.counters.verified) this.setState('connected');
    } else if (s === 'disconnected') {
      this.setState('reconnecting');
      this.scheduleRestart(this.opts.disconnectGraceMs ?? 2000);
    } else if (s === 'failed') {
      this.setState('reconnecting');
      this.scheduleRestart(0);
    }
    this.publish();
  }

  private scheduleRestart(ms: number): void {
    if (this.restartTimer !== undefined) {
      if (ms > 0) return;
      this.clearRestart();
    }
    this.restartTimer = this.later(ms, () => {
      this.restartTimer = undefined;
      void this.restart();
    });
  }

  private clearRestart(): void {
    if (this.restartTimer !== undefined) {
      clearTimeout(this.restartTimer);
      this.timers.delete(this.restartTimer);
    }
    this.restartTimer = undefined;
  }

  /** ICE restart: a new offer (re-tagged), then keep trying until connected. */
  private async restart(): Promise<void> {
    const pc = this.pc;
    if (!pc || this.closed()) return;
    const ice = pc.iceConnectionState;
    if (ice === 'connected' || ice === 'completed') return;
    try {
      // An unanswered restart offer is replaced by a fresh one.
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      this.awaitingAnswer = false;
      await this.offer(true);
    } catch {
      // Try again below.
    }
    this.scheduleRestart(this.opts.restartRetryMs ?? 5000);
  }

  private pollStats(ms: number): void {
    this.later(ms, () => {
      void this.stats().finally(() => {
        if (this.closed()) return;
        const fast = this.counters.firstFrameMs === null && this.now() - this.startedAt < 30_000;
        this.pollStats(fast ? (this.opts.firstFramePollMs ?? 50) : (this.opts.statsIntervalMs ?? 1000));
      });
    });
  }

  private lastFullSample = 0;

  private async stats(): Promise<void> {
    const pc = this.pc;
    if (!pc || this.closed()) return;
    let sample: StatsSample;
    try {
      sample = readStats(await pc.getStats());
    } catch {
      return;
    }
    const c = this.counters;
    c.framesDecoded = sample.framesDecoded;
    c.framesPerSecond = sample.framesPerSecond;
    c.frameWidth = sample.frameWidth;
    c.frameHeight = sample.frameHeight;
    c.framesEncoded = sample.framesEncoded;
    c.audioPacketsReceived = sample.audioPacketsReceived;
    if (c.firstFrameMs === null && sample.framesDecoded > 0) c.firstFrameMs = Math.round(this.now() - this.startedAt);
    // Loss and quality once a second, over the last second.
    const t = this.now();
    if (t - this.lastFullSample >= (this.opts.statsIntervalMs ?? 1000) * 0.9) {
      this.lastFullSample = t;
      const prev = this.lastStats;
      if (prev) {
        const lost = sample.packetsLost - prev.packetsLost;
        const got = sample.packetsReceived - prev.packetsReceived;
        c.lossPct = lost + got > 0 ? Math.round((Math.max(0, lost) / (Math.max(0, lost) + Math.max(0, got))) * 1000) / 10 : null;
      }
      this.lastStats = sample;
      c.rttMs = sample.rttMs;
      const q = this.view.state === 'connected' ? qualityFrom(c.rttMs, c.lossPct) : 'unknown';
      c.quality = q;
      if (q !== this.view.quality) {
        this.view = { ...this.view, quality: q };
        this.emitView();
      }
    }
    this.publish();
  }

  /**
   * The chat channel: negotiated (id 0, ordered), so it is in the offer's
   * m=application section without any signalling of its own.
   */
  private openChat(pc: RTCPeerConnection): void {
    if (typeof pc.createDataChannel !== 'function') return;
    let dc: RTCDataChannel;
    try {
      dc = pc.createDataChannel(CHAT_LABEL, { negotiated: true, id: CHAT_STREAM_ID, ordered: true });
    } catch {
      return;
    }
    this.chat = dc;
    const setOpen = (open: boolean) => {
      if (this.counters.chatOpen === open) return;
      this.counters.chatOpen = open;
      this.opts.onChatOpen?.(open);
      this.publish();
    };
    dc.onopen = () => setOpen(true);
    dc.onclose = () => setOpen(false);
    dc.onmessage = (ev: MessageEvent) => {
      const r = this.chatIn.take(this.now()) ? parseMessage(ev.data) : ({ ok: false, reason: 'rate_limited' } as const);
      if (r.ok) {
        this.counters.chatReceived++;
        this.opts.onChat?.({ ...r.value, from: 'them' });
      } else {
        this.counters.chatRefused++;
      }
      this.publish();
    };
  }

  /** Sends a chat message to the clinician; the line to show, or why not. */
  sendChat(text: string, nowMs: number = Date.now()): Result<ChatLine> {
    const bad = checkText(text);
    if (bad) return { ok: false, reason: bad };
    const dc = this.chat;
    if (!dc || dc.readyState !== 'open' || this.closed()) return { ok: false, reason: 'not_open' };
    if (!this.chatOut.take(this.now())) return { ok: false, reason: 'rate_limited' };
    const line: ChatLine = { id: newId(), text, sentAt: nowMs, from: 'me' };
    try {
      dc.send(encodeMessage(line));
    } catch {
      return { ok: false, reason: 'not_open' };
    }
    this.counters.chatSent++;
    this.publish();
    return { ok: true, value: line };
  }

  /** Mutes or unmutes the microphone (the track stays, sending silence). */
  setMic(on: boolean): void {
    if (!this.view.hasMic || this.closed()) return;
    this.local?.getAudioTracks().forEach((t) => (t.enabled = on));
    this.view = { ...this.view, micOn: on };
    this.emitView();
  }

  /** Turns the camera picture on or off (off sends black frames). */
  setCamera(on: boolean): void {
    if (!this.view.hasCamera || this.closed()) return;
    this.local?.getVideoTracks().forEach((t) => (t.enabled = on));
    this.view = { ...this.view, cameraOn: on };
    this.emitView();
  }

  /** The local stream, for the self view. */
  localStream(): MediaStream | null {
    return this.local;
  }

  /** Ends the call on this side: closes the connection, stops the devices. */
  close(): void {
    if (this.view.state === 'refused' || this.view.state === 'ended') return;
    this.teardown();
    this.setState('ended');
  }

  private closed(): boolean {
    return this.view.state === 'refused' || this.view.state === 'ended' || this.view.state === 'unsupported';
  }

  private teardown(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.restartTimer = undefined;
    this.awaitingAnswer = false;
    this.incoming = [];
    this.outgoing = [];
    const dc = this.chat;
    this.chat = null;
    if (dc) {
      dc.onopen = null;
      dc.onclose = null;
      dc.onmessage = null;
      dc.close();
    }
    if (this.counters.chatOpen) {
      this.counters.chatOpen = false;
      this.opts.onChatOpen?.(false);
    }
    const pc = this.pc;
    if (pc) {
      pc.onicecandidate = null;
      pc.ontrack = null;
      pc.oniceconnectionstatechange = null;
      pc.close();
    }
    this.stopLocal();
  }

  private stopLocal(): void {
    this.local?.getTracks().forEach((t) => t.stop());
  }

  private later(ms: number, f: () => void): ReturnType<typeof setTimeout> {
    const id = setTimeout(() => {
      this.timers.delete(id);
      f();
    }, ms);
    this.timers.add(id);
    return id;
  }

  private setState(s: CallState): void {
    if (this.view.state === s) return;
    this.view = { ...this.view, state: s };
    this.counters.state = s;
    if (s !== 'connected') {
      this.view.quality = 'unknown';
      this.counters.quality = 'unknown';
    }
    this.emitView();
    this.publish();
  }

  private emitView(): void {
    this.opts.onView?.({ ...this.view });
  }

  private publish(): void {
    this.opts.onCounters?.({ ...this.counters });
  }
}

/**
 * The clinician's candidate: JSON text of an RTCIceCandidateInit (what the
 * browser's `toJSON()` gives). A bare `candidate:…` line is accepted too, on
 * the first (bundled) m-line. An empty candidate (end of candidates) and
 * anything else give null.
 */
export function parseCandidate(text: string): RTCIceCandidateInit | null {
  const trimmed = text.trim();
  if (trimmed.startsWith('candidate:') || trimmed.startsWith('a=candidate:')) {
    return { candidate: trimmed.replace(/^a=/, ''), sdpMid: '0', sdpMLineIndex: 0 };
  }
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (!parsed || typeof parsed !== 'object') return null;
    const c = parsed as Record<string, unknown>;
    if (typeof c.candidate !== 'string' || c.candidate === '') return null;
    const init: RTCIceCandidateInit = { candidate: c.candidate };
    if (typeof c.sdpMid === 'string') init.sdpMid = c.sdpMid;
    if (typeof c.sdpMLineIndex === 'number') init.sdpMLineIndex = c.sdpMLineIndex;
    if (typeof c.usernameFragment === 'string') init.usernameFragment = c.usernameFragment;
    if (init.sdpMid === undefined && init.sdpMLineIndex === undefined) init.sdpMLineIndex = 0;
    return init;
  } catch {
    return null;
  }
}

/** Routes the relay's call messages (answer, ice) to the call once it exists. */
export class CallInbox {
  private handler: ((m: RelayToPatient) => void) | null = null;

  listen(f: ((m: RelayToPatient) => void) | null): void {
    this.handler = f;
  }

  deliver(m: RelayToPatient): void {
    if (m.type === 'answer' || m.type === 'ice') this.handler?.(m);
  }
}
