import { describe, expect, it } from 'vitest';

import { CHIME_GAP_MS, CHIME_TONES, createChime, type ChimeAudio } from './chime';

function fakeAudio() {
  const started: { hz: number; at: number; stop: number }[] = [];
  const audio: ChimeAudio = {
    currentTime: 10,
    destination: 'speakers',
    createOscillator() {
      const o = {
        type: '',
        hz: 0,
        frequency: { setValueAtTime: (v: number) => (o.hz = v) },
        connect: () => undefined,
        start: (at: number) => started.push({ hz: o.hz, at, stop: Number.NaN }),
        stop: (at: number) => (started[started.length - 1].stop = at),
      };
      return o;
    },
    createGain: () => ({
      gain: { setValueAtTime: () => undefined, exponentialRampToValueAtTime: () => undefined },
      connect: () => undefined,
    }),
  };
  return { audio, started };
}

describe('knock chime', () => {
  it('plays two short tones, once for a burst of knocks', () => {
    const { audio, started } = fakeAudio();
    let now = 1_000;
    const chime = createChime(() => audio, () => now);
    expect(chime()).toBe(true);
    expect(started.map((s) => s.hz)).toEqual(CHIME_TONES);
    expect(started[0].at).toBe(10);
    expect(started[1].at).toBeGreaterThan(started[0].at);
    expect(started.every((s) => s.stop > s.at && s.stop - s.at < 0.5)).toBe(true);
    now += CHIME_GAP_MS - 1;
    expect(chime()).toBe(false);
    expect(started).toHaveLength(2);
    now += 1;
    expect(chime()).toBe(true);
    expect(started).toHaveLength(4);
  });

  it('stays silent without audio and never throws', () => {
    let now = 0;
    expect(createChime(() => null, () => now)()).toBe(false);
    const broken = createChime(() => {
      throw new Error('no audio device');
    }, () => (now += CHIME_GAP_MS));
    expect(broken()).toBe(false);
    expect(broken()).toBe(false);
  });
});
