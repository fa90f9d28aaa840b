// Calendar helpers for the clinician's time zone. The core does the real conversions (DST
// included); the UI only needs "today" in a zone, date arithmetic on YYYY-MM-DD, and the
// wall-clock parts of the RFC 3339 strings the core returns.

/** The clinician's IANA zone as the webview knows it (UTC if unknown). */
export function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** Today's date (YYYY-MM-DD) in `tz`. */
export function todayIn(tz: string, now: Date = new Date()): string {
  // formatToParts, not a locale's pattern: engines differ in which locales they ship.
  try {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    }).formatToParts(now);
    const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
    const date = `${part('year')}-${part('month')}-${part('day')}`;
    if (/^\d{4}-\d{2}-\d{2}$/.test(date)) return date;
  } catch {
    // An unknown zone: fall through to UTC.
  }
  return now.toISOString().slice(0, 10);
}

/** `date` plus `days` (calendar arithmetic, no time zone involved). */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The Monday of the week containing `date`. */
export function mondayOf(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  const back = (d.getUTCDay() + 6) % 7;
  return addDays(date, -back);
}

/** `YYYY-MM-DD` of an RFC 3339 local time. */
export function datePart(local: string): string {
  return local.slice(0, 10);
}

/** `HH:MM` of an RFC 3339 local time. */
export function timePart(local: string): string {
  return local.slice(11, 16);
}

/** A readable day heading, e.g. "Mon 21 Sep 2026". */
export function dayLabel(date: string): string {
  const d = new Date(`${date}T12:00:00Z`);
  if (Number.isNaN(d.getTime())) return date;
  return new Intl.DateTimeFormat('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  }).format(d);
}

/** Unix seconds as a short local date-time in `tz`. */
export function formatUnix(secs: number, tz: string): string {
  try {
    return new Intl.DateTimeFormat('en-GB', {
      timeZone: tz,
      day: 'numeric',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
    }).format(new Date(secs * 1000));
  } catch {
    return new Date(secs * 1000).toISOString();
  }
}
