import { get } from 'svelte/store';
import { describe, expect, it, vi } from 'vitest';

import { createFakeCore, createFakeEvents } from '../../test/fakeCore';
import { createApi } from '../api';
import { WAITING_EVENT } from '../events';
import { createWaitingStore } from './waiting';

const VISIT = '00112233445566778899aabbccddeeff';

describe('waiting store', () => {
  it('follows knocks and device states from the shell and stops listening', async () => {
    const core = createFakeCore();
    core.desk.watching = 2;
    const events = createFakeEvents();
    const onKnock = vi.fn();
    const store = createWaitingStore({ api: createApi(core.invoke), listen: events.listen, tz: 'UTC', onKnock });
    await store.start();
    expect(get(store).watching).toBe(2);
    expect(core.calls.at(-1)).toEqual({ cmd: 'waiting_sync', args: { tz: 'UTC' } });
    events.emit(WAITING_EVENT, { appointment: 4, visit: VISIT, kind: 'knock', device: 'd1', name: 'Ada', waiting_since: 100 });
    events.emit(WAITING_EVENT, { appointment: 4, visit: VISIT, kind: 'knock', device: 'd2', name: 'Ada (tablet)', extra_device: true, waiting_since: 120 });
    events.emit(WAITING_EVENT, { nonsense: true });
    expect(onKnock).toHaveBeenCalledTimes(2);
    expect(onKnock.mock.calls[0]).toEqual([]);
    expect(get(store).entries.map((e) => [e.device, e.state, e.extraDevice])).toEqual([
      ['d1', 'waiting', false],
      ['d2', 'waiting', true],
    ]);
    events.emit(WAITING_EVENT, { appointment: 4, visit: VISIT, kind: 'admitting', device: 'd1' });
    events.emit(WAITING_EVENT, { appointment: 4, visit: VISIT, kind: 'device_state', device: 'd2', state: 'left' });
    expect(get(store).entries.map((e) => [e.device, e.state])).toEqual([['d1', 'admitted']]);
    events.emit(WAITING_EVENT, { appointment: 4, visit: VISIT, kind: 'disconnected', state: 'unreachable' });
    expect(get(store).unreachable).toEqual([VISIT]);
    store.stop();
    expect(events.count(WAITING_EVENT)).toBe(0);
    expect(get(store).entries).toEqual([]);
  });
});
