import { get } from 'svelte/store';
import { describe, expect, it } from 'vitest';

import { createFakeCore } from '../../test/fakeCore';
import { createApi } from '../api';
import { createScheduleStore } from './schedule';

const NOW = () => new Date('2026-09-23T08:00:00Z'); // a Wednesday

function setup() {
  const core = createFakeCore();
  core.desk.patients.push({ id: 1, name: 'Ada Lovelace', dob: '1980-12-10', phone: null, email: null, mrn: null });
  core.desk.patients.push({ id: 2, name: 'Alan Turing', dob: '1970-06-23', phone: null, email: null, mrn: null });
  const api = createApi(core.invoke);
  const store = createScheduleStore({ api, tz: 'UTC', now: NOW });
  return { core, store };
}

describe('schedule store', () => {
  it('starts on today in the clinician zone and lists a day or a Monday-to-Sunday week', async () => {
    const { core, store } = setup();
    expect(get(store).date).toBe('2026-09-23');
    await store.book({ patient: 1, local_start: '2026-09-23T10:00', tz: 'UTC', duration_min: 30 });
    await store.book({ patient: 2, local_start: '2026-09-27T09:00', tz: 'UTC', duration_min: 30 });
    await store.today();
    expect(get(store).appointments.map((a) => a.patient_name)).toEqual(['Ada Lovelace']);
    await store.setView('week');
    expect(store.days()).toEqual([
      '2026-09-21', '2026-09-22', '2026-09-23', '2026-09-24', '2026-09-25', '2026-09-26', '2026-09-27',
    ]);
    expect(get(store).appointments).toHaveLength(2);
    expect(core.calls.at(-1)).toEqual({ cmd: 'appointments_week', args: { date: '2026-09-23', tz: 'UTC' } });
    await store.step(1);
    expect(get(store).date).toBe('2026-09-30');
    expect(get(store).appointments).toHaveLength(0);
  });

  it('shows an overlap as a conflict naming the other appointment, and books anyway on request', async () => {
    const { core, store } = setup();
    await store.book({ patient: 1, local_start: '2026-09-23T10:00', tz: 'UTC', duration_min: 30 });
    const clash = await store.book({ patient: 2, local_start: '2026-09-23T10:15', tz: 'UTC', duration_min: 30 });
    expect(clash).toBeNull();
    const c = get(store).conflict;
    expect(c?.withId).toBe(1);
    expect(c?.with?.patient_name).toBe('Ada Lovelace');
    expect(core.desk.appointments).toHaveLength(1);
    const forced = await store.bookAnyway();
    expect(forced?.patient_name).toBe('Alan Turing');
    expect(get(store).conflict).toBeNull();
    expect(core.calls.filter((x) => x.cmd === 'appointment_create').at(-1)?.args).toMatchObject({
      appointment: { force: true },
    });
    expect(get(store).appointments).toHaveLength(2);
  });

  it('reschedules, cancels and marks no-show, reloading the view', async () => {
    const { store } = setup();
    const a = await store.book({ patient: 1, local_start: '2026-09-23T10:00', tz: 'UTC', duration_min: 30 });
    const b = await store.book({ patient: 2, local_start: '2026-09-23T11:00', tz: 'UTC', duration_min: 30 });
    // Moving b onto a is a conflict, not a silent double booking.
    expect(await store.reschedule(b!.id, '2026-09-23T10:10', 20)).toBeNull();
    expect(get(store).conflict?.withId).toBe(a!.id);
    const moved = await store.reschedule(b!.id, '2026-09-23T13:00', 45);
    expect(moved?.local_start.slice(11, 16)).toBe('13:00');
    await store.cancel(a!.id);
    await store.noShow(b!.id);
    expect(get(store).appointments.map((x) => x.status)).toEqual(['cancelled', 'no_show']);
    await expect(store.cancel(a!.id)).rejects.toMatchObject({ code: 'bad_transition' });
  });
});
