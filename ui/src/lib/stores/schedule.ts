// The schedule: a day or a Monday-to-Sunday week of appointments in the clinician's zone,
// and the actions that change it (book with overlap detection, reschedule, cancel,
// no-show). A `writable` over an injected `Api`, so it runs in tests without Tauri.

import { get, writable, type Readable } from 'svelte/store';

import { ApiError, type Api } from '../api';
import { addDays, datePart, mondayOf, todayIn } from '../time';
import type { AppointmentInput, AppointmentView } from '../types';

export type ScheduleView = 'day' | 'week';

/** A booking refused because it overlaps another appointment. */
export interface Conflict {
  input: AppointmentInput;
  /** The clashing appointment, when it is in the loaded range. */
  with: AppointmentView | null;
  withId: number | null;
}

export interface ScheduleState {
  view: ScheduleView;
  /** The day shown (day view) or any day of the week shown. */
  date: string;
  tz: string;
  appointments: AppointmentView[];
  loading: boolean;
  error: string | null;
  conflict: Conflict | null;
}

export interface ScheduleStore extends Readable<ScheduleState> {
  load(): Promise<void>;
  setView(view: ScheduleView): Promise<void>;
  /** Moves one day or week back (-1) or forward (+1). */
  step(direction: -1 | 1): Promise<void>;
  today(): Promise<void>;
  /** Books; on an overlap, records `conflict` and resolves to null. */
  book(input: AppointmentInput): Promise<AppointmentView | null>;
  /** Books the conflicting request anyway (a deliberate double booking). */
  bookAnyway(): Promise<AppointmentView | null>;
  dismissConflict(): void;
  reschedule(
    id: number,
    localStart: string,
    durationMin: number | null,
    force?: boolean,
  ): Promise<AppointmentView | null>;
  cancel(id: number): Promise<void>;
  noShow(id: number): Promise<void>;
  /** The days the current view covers, in order. */
  days(): string[];
}

export function createScheduleStore(options: {
  api: Api;
  tz: string;
  now?: () => Date;
}): ScheduleStore {
  const { api, tz } = options;
  const now = options.now ?? (() => new Date());
  const state = writable<ScheduleState>({
    view: 'day',
    date: todayIn(tz, now()),
    tz,
    appointments: [],
    loading: false,
    error: null,
    conflict: null,
  });

  function fail(error: unknown): void {
    const e = error instanceof ApiError ? error : new ApiError('internal', String(error));
    state.update((s) => ({ ...s, loading: false, error: e.message }));
  }

  async function load(): Promise<void> {
    const { view, date } = get(state);
    state.update((s) => ({ ...s, loading: true, error: null }));
    try {
      const appointments =
        view === 'day' ? await api.appointmentsDay(date, tz) : await api.appointmentsWeek(date, tz);
      appointments.sort((a, b) => a.start.localeCompare(b.start) || a.id - b.id);
      state.update((s) => ({ ...s, appointments, loading: false }));
    } catch (error) {
      fail(error);
    }
  }

  async function setView(view: ScheduleView): Promise<void> {
    state.update((s) => ({ ...s, view }));
    await load();
  }

  async function step(direction: -1 | 1): Promise<void> {
    state.update((s) => ({ ...s, date: addDays(s.date, direction * (s.view === 'day' ? 1 : 7)) }));
    await load();
  }

  async function today(): Promise<void> {
    state.update((s) => ({ ...s, date: todayIn(tz, now()) }));
    await load();
  }

  async function attempt(input: AppointmentInput): Promise<AppointmentView | null> {
    try {
      const booked = await api.appointmentCreate({ ...input, tz });
      state.update((s) => ({ ...s, conflict: null, date: datePart(booked.local_start) }));
      await load();
      return booked;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'overlap') {
        const withId = error.conflictWith;
        const other = get(state).appointments.find((a) => a.id === withId) ?? null;
        state.update((s) => ({ ...s, conflict: { input, with: other, withId } }));
        return null;
      }
      throw error;
    }
  }

  async function book(input: AppointmentInput): Promise<AppointmentView | null> {
    return attempt({ ...input, force: false });
  }

  async function bookAnyway(): Promise<AppointmentView | null> {
    const c = get(state).conflict;
    if (!c) return null;
    return attempt({ ...c.input, force: true });
  }

  async function reschedule(
    id: number,
    localStart: string,
    durationMin: number | null,
    force = false,
  ): Promise<AppointmentView | null> {
    try {
      const moved = await api.appointmentReschedule({ id, localStart, tz, durationMin, force });
      await load();
      return moved;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'overlap') {
        const other = get(state).appointments.find((a) => a.id === error.conflictWith) ?? null;
        state.update((s) => ({
          ...s,
          conflict: {
            input: { patient: 0, local_start: localStart, tz, duration_min: durationMin ?? 0 },
            with: other,
            withId: error.conflictWith,
          },
        }));
        return null;
      }
      throw error;
    }
  }

  async function cancel(id: number): Promise<void> {
    await api.appointmentCancel(id);
    await load();
  }

  async function noShow(id: number): Promise<void> {
    await api.appointmentNoShow(id);
    await load();
  }

  function days(): string[] {
    const { view, date } = get(state);
    if (view === 'day') return [date];
    const monday = mondayOf(date);
    return Array.from({ length: 7 }, (_, i) => addDays(monday, i));
  }

  return {
    subscribe: state.subscribe,
    load,
    setView,
    step,
    today,
    book,
    bookAnyway,
    dismissConflict: () => state.update((s) => ({ ...s, conflict: null })),
    reschedule,
    cancel,
    noShow,
    days,
  };
}
