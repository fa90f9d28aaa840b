//! A process that writes to the encrypted store as fast as it can and
//! acknowledges each committed write on stdout, so the crash-safety test can
//! SIGKILL it at random points and check that every acknowledged write survived.
//!
//! Usage: `crash-writer DB_PATH START` with the raw key in `BEDSIDE_TEST_DB_KEY`
//! (hex). Test-only: never ship it.

use std::io::Write;

use bedside_store::{NewAppointment, NewPatient, Store};
use bedside_vault::DbKey;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = std::path::PathBuf::from(args.next().ok_or("DB_PATH")?);
    let start: u64 = args.next().ok_or("START")?.parse()?;
    let hex = std::env::var("BEDSIDE_TEST_DB_KEY")?;
    let bytes: [u8; 32] = data_encoding::HEXLOWER
        .decode(hex.as_bytes())?
        .try_into()
        .map_err(|_| "key must be 32 bytes")?;
    let mut store = Store::open(&path, &DbKey::from_bytes(bytes), "crash-writer")?;
    let dob = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).ok_or("date")?;
    let out = std::io::stdout();
    for i in start.. {
        let id = store.add_patient(&NewPatient {
            name: format!("crash-{i}"),
            dob: Some(dob),
            ..Default::default()
        })?;
        // Every third write also books an appointment and writes a note, so
        // kills land inside multi-statement transactions too.
        if i % 3 == 0 {
            let start = chrono::DateTime::from_timestamp(1_800_000_000 + i as i64 * 3600, 0)
                .ok_or("time")?;
            let a = store.add_appointment(
                &NewAppointment {
                    patient: id,
                    start,
                    tz: "UTC".into(),
                    duration_min: 30,
                    reason: None,
                },
                true,
            )?;
            store.set_note(a, &format!("note-{i}"))?;
        }
        let mut lock = out.lock();
        writeln!(lock, "ack {i} {}", id.0)?;
        lock.flush()?;
    }
    Ok(())
}
