// The visit room's state: call updates and frames from the shell's Channels, the switches,
// the SAS confirmation and the end of the visit. Frames are painted as they arrive and
// acknowledged once painted, so the shell sends the newest frame only when the window has
// caught up (it never queues). Counters for tests: `painted` here, and on
// `window.__bedsideVisit` (numbers, states and the SAS only).

import { writable, type Readable } from 'svelte/store';

import type { Api, ChannelLike } from '../api';
import type { CallStats, VideoSource, VisitUpdate } from '../types';
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
  };
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
