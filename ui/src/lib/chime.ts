// The knock sound: two short soft tones made with WebAudio (no file to load, nothing for the CSP
// to allow). Never throws: a webview without audio output simply stays silent.

/** The parts of `AudioContext` the chime uses (a fake one in tests). */
export interface ChimeAudio {
  readonly currentTime: number;
  readonly destination: unknown;
  createOscillator(): {
    type: string;
    frequency: { setValueAtTime(value: number, at: number): unknown };
    connect(node: unknown): unknown;
    start(at: number): void;
    stop(at: number): void;
  };
  createGain(): {
    gain: {
      setValueAtTime(value: number, at: number): unknown;
      exponentialRampToValueAtTime(value: number, at: number): unknown;
    };
    connect(node: unknown): unknown;
  };
  resume?(): Promise<void>;
}

/** The tones, in Hz, and how long each lasts, in seconds. */
export const CHIME_TONES = [660, 880];
const TONE_SECONDS = 0.14;
/** Several devices knocking at once make one sound. */
export const CHIME_GAP_MS = 2000;

function defaultAudio(): ChimeAudio | null {
  const Ctor = (globalThis as { AudioContext?: new () => ChimeAudio }).AudioContext;
  return Ctor ? new Ctor() : null;
}

/** Returns a function that plays the chime (at most once per `CHIME_GAP_MS`). */
export function createChime(
  makeAudio: () => ChimeAudio | null = defaultAudio,
  now: () => number = () => Date.now(),
): () => boolean {
  let audio: ChimeAudio | null = null;
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const t = now();
    if (t - last < CHIME_GAP_MS) return false;
    last = t;
    try {
      audio ??= makeAudio();
      if (!audio) return false;
      void audio.resume?.().catch(() => {});
      const start = audio.currentTime;
      CHIME_TONES.forEach((hz, i) => {
        const at = start + i * TONE_SECONDS;
        const osc = audio!.createOscillator();
        const gain = audio!.createGain();
        osc.type = 'sine';
        osc.frequency.setValueAtTime(hz, at);
        gain.gain.setValueAtTime(0.08, at);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + TONE_SECONDS);
        osc.connect(gain);
        gain.connect(audio!.destination);
        osc.start(at);
        osc.stop(at + TONE_SECONDS);
      });
      return true;
    } catch {
      return false;
    }
  };
}
