import { get } from 'svelte/store';
import { describe, expect, it } from 'vitest';

import { createFakeEvents } from '../../test/fakeCore';
import { OPEN_APPOINTMENT_EVENT } from '../events';
import { createDeepLinkStore } from './deeplink';

describe('deep-link store', () => {
  it('keeps the latest appointment id from the shell until taken, once', async () => {
    const events = createFakeEvents();
    const links = createDeepLinkStore(events.listen);
    await links.start();
    expect(get(links)).toBeNull();
    events.emit(OPEN_APPOINTMENT_EVENT, 4);
    events.emit(OPEN_APPOINTMENT_EVENT, 7);
    expect(get(links)).toBe(7);
    expect(links.take()).toBe(7);
    expect(get(links)).toBeNull();
    expect(links.take()).toBeNull();
    links.stop();
    expect(events.count(OPEN_APPOINTMENT_EVENT)).toBe(0);
    events.emit(OPEN_APPOINTMENT_EVENT, 9);
    expect(get(links)).toBeNull();
  });

  it('ignores anything that is not a positive integer id', () => {
    const links = createDeepLinkStore();
    for (const bad of [0, -3, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2, '12', null, undefined, { id: 3 }]) {
      links.handle(bad);
      expect(get(links), String(bad)).toBeNull();
    }
    links.handle(12);
    expect(links.take()).toBe(12);
  });
});
