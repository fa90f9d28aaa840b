// The visit room's state: call updates and frames from the shell's Channels, the switches,
// the SAS confirmation, the chat and the end of the visit. Chat lines (PHI) live only
// here and in the shell's memory for the visit: never logged, stored or published. Frames are painted as they arrive and
// acknowledged once painted, so the shell sends the newest frame only when the window has
// caught up (it never queues). Counters for tests: `painted` here, and on
// `window.__bedsideVisit` (numbers, states and the SAS only).

import { writable, type Readable } from 'svelte/store';

import type { Api, ChannelLike } from '../api';
import { t } from '../i18n/en';
import type { CallStats, ChatLine, DeviceFallback, DeviceKind, DeviceSlot, VideoSource, VisitUpdate } from '../types';
import { parseFrame, type VideoFrame } from '../video';

export interface VisitState {
  appointment: number | null;
  /** Call state: `waiting`, `connecting`, `connected`, … `left`. */
  state: string;
  sas: string | null;
  sasConfirmed: boolean;
  muted: boolean;
  cameraOff: boolean;
  source: VideoSource | null;
  stats: CallStats | null;
  authFailed: boolean;
  /** Frames painted: the patient's, and the self view. */
  painted: number;
  localPainted: number;
  ended: boolean;
  error: string | null;
  /** The chat, oldest first (at most CHAT_KEPT lines). */
  chat: ChatLine[];
  /** Patient messages that arrived while the chat panel was hidden. */
  unread: number;
  /** The chat panel is shown. */
  chatShown: boolean;
  /** Why the last message was not sent, or that a patient's message was unreadable. */
  chatError: string | null;
  /** Saved devices this call runs without (it uses the system default), one per kind. */
  fallbacks: DeviceFallback[];
}

/** Chat lines kept (the shell keeps as many). */
export const CHAT_KEPT = 500;
export const MAX_CHAT_CHARS = 2000;

/** Characters as a person counts them (code points), as the core does. */
export function chatChars(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Where frames go to be painted (the room's canvases). Returns false if not painted. */
export type PaintFn = (frame: VideoFrame) => boolean;

export interface VisitStore extends Readable<VisitState> {
  /** Attaches the Channels; `paint` is called for each frame. */
  open(paint: { remote: PaintFn; local: PaintFn }): Promise<void>;
  close(): void;
  toggleMute(): Promise<void>;
  toggleCamera(): Promise<void>;
  confirmSas(): Promise<void>;
  end(): Promise<void>;
  sendBack(): Promise<void>;
  /** Sends a chat message; true when the shell took it (the line comes back as an update). */
  sendChat(text: string): Promise<boolean>;
  /** Shows or hides the chat panel (showing it marks everything read). */
  showChat(shown: boolean): void;
  /** A device of this kind was chosen: its fallback notice is over. */
  clearFallback(kind: DeviceSlot): void;
  /** Applies one update (exported for tests). */
  handle(update: VisitUpdate): void;
  /** Handles one binary frame message (exported for tests). */
  frame(stream: 0 | 1, buffer: ArrayBuffer): void;
}

/** Makes a Channel (`@tauri-apps/api/core`'s in the app, a plain object in tests). */
export type MakeChannel = <T>() => ChannelLike<T>;

export const plainChannel: MakeChannel = <T>() => ({ onmessage: (_m: T) => {} });

/** What tests read from the window (no PHI: numbers, states and the code). */
interface Published {
  painted: number;
  localPainted: number;
  state: string;
  sas: string | null;
  renderer: string | null;
  /** Frame messages received on the remote stream, and the mean time painting one (ms). */
  received: number;
  paintMs: number;
  /** Mean round trip of a frame acknowledgement (ms). */
  ackMs: number;
}

declare global {
  interface Window {
    __bedsideVisit?: Published;
  }
}

export function createVisitStore(options: {
  api: Api;
  visit: string;
  makeChannel?: MakeChannel;
  /** The painter's kind, published for tests. */
  renderer?: () => string | null;
}): VisitStore {
  const { api, visit } = options;
  const makeChannel = options.makeChannel ?? plainChannel;
  let current: VisitState = {
    appointment: null,
    state: 'waiting',
    sas: null,
    sasConfirmed: false,
    muted: false,
    cameraOff: false,
    source: null,
    stats: null,
    authFailed: false,
    painted: 0,
    localPainted: 0,
    ended: false,
    error: null,
    chat: [],
    unread: 0,
    chatShown: true,
    chatError: null,
    fallbacks: [],
  };
  const state = writable<VisitState>(current);
  let received = 0;
  let paintTotalMs = 0;
  let acks = 0;
  let ackTotalMs = 0;
  const set = (patch: Partial<VisitState>) => {
    current = { ...current, ...patch };
    state.set(current);
    if (typeof window !== 'undefined') {
      window.__bedsideVisit = {
        painted: current.painted,
        localPainted: current.localPainted,
        state: current.state,
        sas: current.sas,
        renderer: options.renderer?.() ?? null,
        received,
        paintMs: current.painted > 0 ? paintTotalMs / current.painted : 0,
        ackMs: acks > 0 ? ackTotalMs / acks : 0,
      };
    }
  };
  let painters: { remote: PaintFn; local: PaintFn } | null = null;
  let closed = false;

  function handle(u: VisitUpdate): void {
    switch (u.kind) {
      case 'snapshot':
        set({
          appointment: u.appointment,
          state: u.state,
          sas: u.sas,
          muted: u.muted,
          cameraOff: u.camera_off,
          source: u.source,
          chat: (u.chat ?? []).slice(-CHAT_KEPT),
          fallbacks: u.fallbacks ?? [],
        });
        break;
      case 'device_fallback':
        set({ fallbacks: [...current.fallbacks.filter((f) => f.kind !== u.device.kind), u.device] });
        break;
      case 'chat': {
        const l = u.line;
        if (current.chat.some((c) => c.id === l.id && c.from === l.from)) break;
        const incoming = l.from === 'patient';
        set({
          chat: [...current.chat, l].slice(-CHAT_KEPT),
          unread: incoming && !current.chatShown ? current.unread + 1 : current.unread,
          chatError: incoming ? current.chatError : null,
        });
        break;
      }
      case 'chat_refused':
        set({
          chatError: u.outgoing ? (t.visit.chat.refusedOut[u.reason] ?? t.visit.chat.refusedOutOther) : t.visit.chat.refusedIn,
        });
        break;
      case 'answered':
        // A new code (ICE restart with a new peer) needs confirming again.
        set({ sas: u.sas, sasConfirmed: current.sasConfirmed && current.sas === u.sas });
        break;
      case 'state':
        set({ state: u.state });
        break;
      case 'stats':
        set({ stats: u.stats });
        break;
      case 'auth_failed':
        set({ authFailed: true });
        break;
    }
  }

  function frame(stream: 0 | 1, buffer: ArrayBuffer): void {
    if (closed || !painters) return;
    const f = parseFrame(buffer);
    if (!f || f.stream !== stream) return;
    let painted = false;
    const started = performance.now();
    if (stream === 0) received++;
    try {
      painted = (stream === 0 ? painters.remote : painters.local)(f);
    } catch {
      painted = false;
    }
    if (painted && stream === 0) paintTotalMs += performance.now() - started;
    if (painted) {
      if (stream === 0) set({ painted: current.painted + 1 });
      else set({ localPainted: current.localPainted + 1 });
    }
    // Acknowledge even an unpainted frame: the shell must not wait on it.
    const sent = performance.now();
    void api.visitFrameAck(visit, stream, f.seq).then(
      () => {
        acks++;
        ackTotalMs += performance.now() - sent;
      },
      () => {},
    );
  }

  async function open(paint: { remote: PaintFn; local: PaintFn }): Promise<void> {
    painters = paint;
    closed = false;
    const events = makeChannel<VisitUpdate>();
    const remote = makeChannel<ArrayBuffer>();
    const local = makeChannel<ArrayBuffer>();
    events.onmessage = handle;
    remote.onmessage = (b) => frame(0, b);
    local.onmessage = (b) => frame(1, b);
    try {
      const appointment = await api.visitOpen(visit, events, remote, local);
      set({ appointment, error: null });
    } catch (e) {
      set({ error: e instanceof Error ? e.message : String(e) });
    }
  }

  function close(): void {
    if (closed) return;
    closed = true;
    painters = null;
    if (!current.ended) void api.visitClose(visit).catch(() => {});
  }

  async function act(op: () => Promise<void>, patch: Partial<VisitState> = {}): Promise<void> {
    try {
      await op();
      set({ ...patch, error: null });
    } catch (e) {
      set({ error: e instanceof Error ? e.message : String(e) });
      throw e;
    }
  }

  return {
    subscribe: state.subscribe,
    open,
    close,
    handle,
    frame,
    toggleMute: () =>
      act(() => api.visitControls(visit, !current.muted, current.cameraOff), { muted: !current.muted }),
    toggleCamera: () =>
      act(() => api.visitControls(visit, current.muted, !current.cameraOff), {
        cameraOff: !current.cameraOff,
      }),
    confirmSas: () => act(() => api.visitConfirmSas(visit), { sasConfirmed: true }),
    end: () => act(() => api.visitEnd(visit), { ended: true, state: 'closed' }),
    sendBack: () => act(() => api.visitSendBack(visit), { state: 'left' }),
    async sendChat(text: string): Promise<boolean> {
      const n = chatChars(text);
      if (text.trim() === '') {
        set({ chatError: t.visit.chat.empty_message });
        return false;
      }
      if (n > MAX_CHAT_CHARS) {
        set({ chatError: t.visit.chat.tooLong(n - MAX_CHAT_CHARS) });
        return false;
      }
      try {
        await api.visitChatSend(visit, text);
        set({ chatError: null });
        return true;
      } catch (e) {
        set({ chatError: e instanceof Error ? e.message : String(e) });
        return false;
      }
    },
    showChat(shown: boolean): void {
      set({ chatShown: shown, unread: shown ? 0 : current.unread });
    },
    clearFallback(kind: DeviceSlot): void {
      set({ fallbacks: current.fallbacks.filter((f) => f.kind !== kind) });
    },
  };
}

/** One device problem to show in the room. */
export interface DeviceNoticeView {
  kind: DeviceKind;
  code: string;
  text: string;
}

/** The device problems of a call, in plain words: audio only without a camera, nothing
 *  heard without a microphone; other problems as the core words them (safe to show). */
export function deviceNotices(stats: CallStats | null): DeviceNoticeView[] {
  const report = stats?.devices;
  if (!report) return [];
  const out: DeviceNoticeView[] = [];
  const seen = new Set<DeviceKind>();
  for (const n of report.notices) {
    if (seen.has(n.kind)) continue;
    seen.add(n.kind);
    const text =
      n.code === 'no_camera'
        ? t.visit.audioOnly
        : n.code === 'no_microphone'
          ? t.visit.noMicrophone
          : n.code === 'no_speaker'
            ? t.visit.noSpeaker
            : n.message;
    out.push({ kind: n.kind, code: n.code, text });
  }
  if (report.audio_only && !seen.has('camera')) {
    out.unshift({ kind: 'camera', code: 'no_camera', text: t.visit.audioOnly });
  }
  return out;
}

/** A saved device the call runs without, in plain words. */
export function fallbackText(f: DeviceFallback): string {
  return t.visit.devices.fallback(t.visit.devices.kindLower[f.kind] ?? f.kind, f.name, f.reason);
}

/** A coarse quality level from the once-a-second stats. */
export function qualityOf(stats: CallStats | null): 'good' | 'fair' | 'poor' | 'unknown' {
  if (!stats) return 'unknown';
  const loss = Math.max(stats.loss_sent, stats.loss_received);
  const rtt = stats.rtt_ms ?? 0;
  if (loss > 0.1 || rtt > 400 || (stats.fps_decoded > 0 && stats.fps_decoded < 8)) return 'poor';
  if (loss > 0.02 || rtt > 200 || (stats.fps_decoded > 0 && stats.fps_decoded < 20)) return 'fair';
  return 'good';
}
