//! Time zones and calendar ranges: parse IANA names, turn a local day or
//! week into a UTC range (DST-aware), parse durations like `20m` or `1h30m`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::StoreError;

/// Parses an IANA time-zone name such as `Europe/London`.
pub fn parse_tz(name: &str) -> Result<Tz, StoreError> {
    name.trim().parse::<Tz>().map_err(|_| {
        StoreError::invalid(
            "time zone",
            format!("unknown time zone {name:?}; use an IANA name such as Europe/London"),
        )
    })
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(field: &'static str, s: &str) -> Result<NaiveDate, StoreError> {
    // The input is not echoed: a malformed date of birth is still PHI.
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| StoreError::invalid(field, "is not a valid date; use YYYY-MM-DD"))
}

/// Parses an RFC 3339 instant (`2026-03-01T09:00:00+01:00` or `...Z`).
pub fn parse_instant(field: &'static str, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            StoreError::invalid(
                field,
                format!("{s:?} is not an RFC 3339 time such as 2026-03-01T09:00:00Z"),
            )
        })
}

/// Parses a duration: `20m`, `1h`, `1h30m`, `90` (minutes). 1 minute to 24 hours.
pub fn parse_duration_minutes(s: &str) -> Result<u32, StoreError> {
    let bad = || {
        StoreError::invalid(
            "duration",
            format!("{s:?} is not a duration such as 20m, 1h or 1h30m"),
        )
    };
    let t = s.trim().to_ascii_lowercase();
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut saw_unit = false;
    for c in t.chars() {
        match c {
            '0'..='9' => num.push(c),
            'h' | 'm' => {
                let n: u64 = num.parse().map_err(|_| bad())?;
                total = total
                    .checked_add(if c == 'h' {
                        n.checked_mul(60).ok_or_else(bad)?
                    } else {
                        n
                    })
                    .ok_or_else(bad)?;
                num.clear();
                saw_unit = true;
            }
            _ => return Err(bad()),
        }
    }
    if !num.is_empty() {
        if saw_unit {
            return Err(bad());
        }
        total = num.parse().map_err(|_| bad())?;
    }
    if !(1..=24 * 60).contains(&total) {
        return Err(StoreError::invalid(
            "duration",
            "must be between 1 minute and 24 hours",
        ));
    }
    Ok(total as u32)
}

/// The first instant of a local date (the earliest, if midnight is ambiguous;
/// the first valid time after a DST gap at midnight).
fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let mut t = date.and_time(NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(d) = tz.from_local_datetime(&t).earliest() {
            return d.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    // No zone has a gap longer than two hours at midnight.
    Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
}

/// `[start, end)` in UTC of a local day in `tz`.
pub fn day_range(date: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = date.succ_opt().unwrap_or(date);
    (start_of_day(date, tz), start_of_day(next, tz))
}

/// `[start, end)` in UTC of the Monday-to-Sunday week containing `date`.
pub fn week_range(date: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
    (
        start_of_day(monday, tz),
        start_of_day(monday + Duration::days(7), tz),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_minutes("20m").expect("ok"), 20);
        assert_eq!(parse_duration_minutes("1h").expect("ok"), 60);
        assert_eq!(parse_duration_minutes("1h30m").expect("ok"), 90);
        assert_eq!(parse_duration_minutes("45").expect("ok"), 45);
        for bad in [
            "",
            "0m",
            "25h",
            "1x",
            "m",
            "1h30",
            "-5m",
            "99999999999999999999m",
        ] {
            assert!(parse_duration_minutes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let tz = parse_tz("Europe/London").expect("tz");
        let (a, b) = day_range(NaiveDate::from_ymd_opt(2026, 3, 29).expect("date"), tz);
        assert_eq!((b - a).num_hours(), 23);
        let (a, b) = day_range(NaiveDate::from_ymd_opt(2026, 10, 25).expect("date"), tz);
        assert_eq!((b - a).num_hours(), 25);
        let (a, b) = week_range(NaiveDate::from_ymd_opt(2026, 11, 29).expect("date"), tz);
        assert_eq!(a.to_rfc3339(), "2026-11-23T00:00:00+00:00");
        assert_eq!((b - a).num_days(), 7);
    }

    #[test]
    fn bad_zone_and_dates() {
        let e = parse_tz("Mars/Olympus").expect_err("bad tz");
        assert!(e.to_string().contains("IANA"), "{e}");
        assert!(parse_date("dob", "2026-02-30").is_err());
        assert!(parse_date("dob", "30/01/2026").is_err());
        assert!(parse_instant("start", "2026-01-01 09:00").is_err());
        assert!(parse_instant("start", "2026-01-01T09:00:00+01:00").is_ok());
    }
}
