//! Store tests against real SQLCipher files.

use std::sync::Arc;

use bedside_vault::DbKey;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::*;

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    key: DbKey,
    store: Store,
}

fn fixed_clock() -> Clock {
    Arc::new(|| {
        Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
            .single()
            .unwrap_or_default()
    })
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("profile.db");
    let key = DbKey::generate().expect("rng");
    let store = Store::open_with_clock(&path, &key, "dr.test", fixed_clock()).expect("open");
    Fixture {
        _dir: dir,
        path,
        key,
        store,
    }
}

fn date(s: &str) -> NaiveDate {
    time::parse_date("date", s).expect("date")
}

fn at(s: &str) -> DateTime<Utc> {
    time::parse_instant("start", s).expect("instant")
}

fn patient(name: &str) -> NewPatient {
    NewPatient {
        name: name.into(),
        dob: Some(date("1980-05-17")),
        ..Default::default()
    }
}

fn book(
    s: &mut Store,
    p: PatientId,
    start: &str,
    minutes: u32,
) -> Result<AppointmentId, StoreError> {
    s.add_appointment(
        &NewAppointment {
            patient: p,
            start: at(start),
            tz: "Europe/London".into(),
            duration_min: minutes,
            reason: None,
        },
        false,
    )
}

#[test]
fn pragmas_are_set() {
    let f = fixture();
    let s = &f.store;
    assert_eq!(s.pragma("journal_mode").expect("p"), "wal");
    assert_eq!(s.pragma("synchronous").expect("p"), "2", "FULL");
    assert_eq!(s.pragma("foreign_keys").expect("p"), "1");
    assert_eq!(s.pragma("temp_store").expect("p"), "2", "MEMORY");
    assert_eq!(s.pragma("secure_delete").expect("p"), "1");
    assert_eq!(s.pragma("cipher_hmac_algorithm").expect("p"), "HMAC_SHA256");
    assert_eq!(
        s.pragma("cipher_use_hmac").expect("p"),
        "1",
        "pages are authenticated"
    );
    assert_eq!(s.pragma("cache_size").expect("p"), "-65536");
    let v = s.pragma("cipher_version").expect("sqlcipher");
    assert!(v.starts_with('4'), "SQLCipher 4, got {v}");
    // Pages go through Bedside's provider (ring + RustCrypto), not OpenSSL's.
    assert_eq!(
        s.pragma("cipher_provider").expect("p"),
        bedside_sqlcipher::provider_name()
    );
    assert_eq!(s.pragma("cipher").expect("p"), "AES-256-CBC");
}

#[test]
fn wrong_key_says_password_incorrect() {
    let f = fixture();
    drop(f.store);
    let e = Store::open(&f.path, &DbKey::generate().expect("rng"), "x").expect_err("wrong key");
    assert!(matches!(e, StoreError::WrongKey { .. }), "{e:?}");
    assert!(e.to_string().starts_with("password incorrect"), "{e}");
    assert!(!e.to_string().contains("file is not a database"));
    Store::open(&f.path, &f.key, "x").expect("right key still opens");
}

#[test]
fn file_is_ciphertext() {
    let mut f = fixture();
    f.store
        .add_patient(&patient("MARKER-ZEBRA-NAME"))
        .expect("add");
    drop(f.store);
    for suffix in ["", "-wal"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", f.path.display()));
        if let Ok(bytes) = std::fs::read(&p) {
            assert!(
                !bytes.windows(17).any(|w| w == b"MARKER-ZEBRA-NAME"),
                "{suffix}"
            );
            assert!(
                !bytes.windows(15).any(|w| w == b"SQLite format 3"),
                "{suffix}"
            );
        }
    }
}

#[test]
fn damaged_page_is_a_clear_error_naming_the_file() {
    let mut f = fixture();
    f.store.set_setting("kept", "yes").expect("setting");
    let filler = "x".repeat(3000);
    for i in 0..200 {
        f.store
            .add_patient(&patient(&format!("P{i} {filler}")))
            .expect("add");
    }
    drop(f.store);
    // Checkpoint the WAL into the main file so the damage hits real pages.
    {
        let s = Store::open(&f.path, &f.key, "x").expect("open");
        s.pragma("wal_checkpoint").expect("checkpoint");
    }
    let mut bytes = std::fs::read(&f.path).expect("read");
    assert!(bytes.len() > 40 * 4096, "enough pages");
    let page = 20 * 4096 + 100;
    for b in &mut bytes[page..page + 16] {
        *b ^= 0xA5;
    }
    std::fs::write(&f.path, &bytes).expect("write");
    let s = Store::open(&f.path, &f.key, "x").expect("page 1 intact: opens");
    let e = s.list_patients().expect_err("damaged page");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
    assert!(e.to_string().contains("profile.db"), "{e}");
    assert!(s.integrity_check().is_err());
    // The rest of the data is still there: other tables live on undamaged
    // pages. (SQLCipher poisons a connection after an HMAC failure, so read
    // them through a fresh one, as the app does after reporting the error.)
    drop(s);
    let s = Store::open(&f.path, &f.key, "x").expect("reopen");
    assert_eq!(
        s.setting("kept").expect("intact table").as_deref(),
        Some("yes")
    );
    s.profile()
        .map(|_| ())
        .or_else(|e| match e {
            StoreError::NotFound { .. } => Ok(()),
            other => Err(other),
        })
        .expect("profile table readable");
}

#[test]
fn patients_round_trip_awkward_text() {
    let mut f = fixture();
    let names = [
        "O'Brien \"Bob\"",
        "Robert'); DROP TABLE patients;--",
        "Zoë 👩🏽‍⚕️ Ñúñez",
        "مريم الحسيني",
        "שרה כהן",
        &"長".repeat(3500),
        &"a".repeat(10 * 1024),
    ];
    for n in names {
        let id = f
            .store
            .add_patient(&NewPatient {
                name: n.to_string(),
                dob: Some(date("2001-02-03")),
                phone: Some("+44 20 7946 0958".into()),
                email: Some("o'brien+test@example.org".into()),
                mrn: Some("MRN-1'--".into()),
            })
            .expect("add");
        let p = f.store.patient(id).expect("get");
        assert_eq!(p.name, n);
        assert_eq!(p.email.as_deref(), Some("o'brien+test@example.org"));
    }
    assert_eq!(f.store.list_patients().expect("list").len(), names.len());
    assert_eq!(f.store.search_patients("DROP TABLE").expect("s").len(), 1);
    assert_eq!(f.store.search_patients("zoë").expect("s").len(), 1);
    assert_eq!(
        f.store.search_patients("ZOË").expect("s").len(),
        1,
        "unicode case folding"
    );
    assert_eq!(f.store.search_patients("مريم").expect("s").len(), 1);
    assert_eq!(
        f.store.search_patients("%").expect("s").len(),
        0,
        "% is literal"
    );
    assert_eq!(
        f.store.search_patients("_").expect("s").len(),
        0,
        "_ is literal"
    );
}

#[test]
fn patient_validation() {
    let mut f = fixture();
    let e = f.store.add_patient(&NewPatient {
        name: " ".into(),
        dob: Some(date("1990-01-01")),
        ..Default::default()
    });
    assert!(matches!(e, Err(StoreError::Invalid { field: "name", .. })));
    let e = f.store.add_patient(&NewPatient {
        name: "A".into(),
        dob: Some(date("2099-01-01")),
        ..Default::default()
    });
    assert!(matches!(
        e,
        Err(StoreError::Invalid {
            field: "date of birth",
            ..
        })
    ));
    let e = f.store.add_patient(&NewPatient {
        name: "a".repeat(70 * 1024),
        dob: Some(date("1990-01-01")),
        ..Default::default()
    });
    assert!(matches!(e, Err(StoreError::Invalid { field: "name", .. })));
    assert!(matches!(
        f.store.patient(PatientId(999)),
        Err(StoreError::NotFound { .. })
    ));
    let id = f.store.add_patient(&patient("Ann Lee")).expect("add");
    f.store
        .update_patient(
            id,
            &PatientUpdate {
                name: Some("Ann Leigh".into()),
                phone: Some(Some("123".into())),
                ..Default::default()
            },
        )
        .expect("update");
    let p = f.store.patient(id).expect("get");
    assert_eq!(
        (p.name.as_str(), p.phone.as_deref()),
        ("Ann Leigh", Some("123"))
    );
    assert_eq!(f.store.search_patients("leigh").expect("s").len(), 1);
    assert!(format!("{p:?}").find("Ann").is_none(), "Debug redacts PHI");
}

#[test]
fn overlaps_reschedule_cancel_no_show() {
    let mut f = fixture();
    let s = &mut f.store;
    let p = s.add_patient(&patient("Pat One")).expect("add");
    let a = book(s, p, "2026-12-01T09:00:00Z", 20).expect("book");
    // Touching is fine, overlapping is not.
    let b = book(s, p, "2026-12-01T09:20:00Z", 20).expect("adjacent");
    match book(s, p, "2026-12-01T09:10:00Z", 15) {
        Err(StoreError::Overlap { with }) => assert_eq!(with, a),
        other => panic!("{other:?}"),
    }
    let forced = s
        .add_appointment(
            &NewAppointment {
                patient: p,
                start: at("2026-12-01T09:10:00Z"),
                tz: "Europe/London".into(),
                duration_min: 15,
                reason: None,
            },
            true,
        )
        .expect("forced");
    // Rescheduling onto another appointment is refused; into free time works.
    assert!(matches!(
        s.reschedule(b, at("2026-12-01T09:05:00Z"), None, false),
        Err(StoreError::Overlap { .. })
    ));
    s.reschedule(b, at("2026-12-01T11:00:00Z"), Some(30), false)
        .expect("reschedule");
    let moved = s.appointment(b).expect("get");
    assert_eq!(
        (moved.start, moved.duration_min),
        (at("2026-12-01T11:00:00Z"), 30)
    );
    // Cancelled and no-show appointments free their slot.
    s.cancel(forced).expect("cancel");
    s.no_show(a).expect("no show");
    book(s, p, "2026-12-01T09:00:00Z", 20).expect("slot is free again");
    assert!(matches!(
        s.cancel(forced),
        Err(StoreError::BadTransition { .. })
    ));
    assert!(matches!(
        s.reschedule(a, at("2026-12-02T09:00:00Z"), None, false),
        Err(StoreError::BadTransition { .. })
    ));
    // Bad inputs.
    let bad_tz = s.add_appointment(
        &NewAppointment {
            patient: p,
            start: at("2026-12-03T09:00:00Z"),
            tz: "Europe/Atlantis".into(),
            duration_min: 15,
            reason: None,
        },
        false,
    );
    assert!(matches!(
        bad_tz,
        Err(StoreError::Invalid {
            field: "time zone",
            ..
        })
    ));
    assert!(matches!(
        book(s, PatientId(404), "2026-12-03T09:00:00Z", 10),
        Err(StoreError::NotFound { .. })
    ));
    // Every mutation is in the chain.
    assert_eq!(
        s.audit_verify().expect("verify"),
        AuditVerdict::Ok {
            count: s.audit_count().expect("count")
        }
    );
    let actions: Vec<String> = s
        .audit_export()
        .expect("export")
        .into_iter()
        .map(|e| e.action)
        .collect();
    for want in [
        "patient.create",
        "appointment.create",
        "appointment.reschedule",
        "appointment.cancelled",
        "appointment.no_show",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:?}");
    }
}

#[test]
fn reason_edit_is_audited_without_its_text() {
    let mut f = fixture();
    let s = &mut f.store;
    let p = s.add_patient(&patient("Rea Son")).expect("add");
    let a = book(s, p, "2026-12-01T09:00:00Z", 20).expect("book");
    let before = s.audit_count().expect("count");
    s.set_reason(a, Some("  persistent cough  ")).expect("set");
    assert_eq!(
        s.appointment(a).expect("get").reason.as_deref(),
        Some("persistent cough")
    );
    // The same reason again is no change: nothing written, nothing audited.
    s.set_reason(a, Some("persistent cough")).expect("same");
    assert_eq!(s.audit_count().expect("count"), before + 1);
    // Works after the visit too; blank clears.
    s.cancel(a).expect("cancel");
    s.set_reason(a, Some("chest pain follow-up"))
        .expect("after cancel");
    s.set_reason(a, Some("   ")).expect("clear");
    assert_eq!(s.appointment(a).expect("get").reason, None);
    // Bad input and unknown ids are refused without touching the row.
    assert!(matches!(
        s.set_reason(a, Some("x\0y")),
        Err(StoreError::Invalid {
            field: "reason",
            ..
        })
    ));
    let long = "a".repeat(patients::MAX_FIELD + 1);
    assert!(matches!(
        s.set_reason(a, Some(&long)),
        Err(StoreError::Invalid {
            field: "reason",
            ..
        })
    ));
    assert!(matches!(
        s.set_reason(AppointmentId(404), Some("x")),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(s.appointment(a).expect("get").reason, None);
    // Three changes, three events, none carrying the text.
    let events: Vec<_> = s
        .audit_export()
        .expect("export")
        .into_iter()
        .filter(|e| e.action == "appointment.reason")
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events
            .iter()
            .map(|e| e.subject["cleared"].as_bool())
            .collect::<Vec<_>>(),
        [Some(false), Some(false), Some(true)]
    );
    for e in &events {
        assert_eq!(e.subject["appointment"].as_i64(), Some(a.0));
        let text = e.subject.to_string();
        assert!(!text.contains("cough") && !text.contains("chest"), "{text}");
    }
    assert_eq!(
        s.audit_verify().expect("verify"),
        AuditVerdict::Ok {
            count: s.audit_count().expect("count")
        }
    );
}

#[test]
fn day_and_week_listing_in_a_time_zone() {
    let mut f = fixture();
    let s = &mut f.store;
    let p = s.add_patient(&patient("Tz Person")).expect("add");
    // 23:30 UTC on 1 Dec is 10:30 on 2 Dec in Sydney; 00:30 UTC on 2 Dec is 19:30 on 1 Dec in New York.
    let late = book(s, p, "2026-12-01T23:30:00Z", 20).expect("book");
    let early = book(s, p, "2026-12-02T00:30:00Z", 20).expect("book");
    let ids = |v: Vec<AppointmentView>| v.into_iter().map(|a| a.appointment.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.list_day(date("2026-12-01"), "UTC").expect("day")),
        vec![late]
    );
    assert_eq!(
        ids(s
            .list_day(date("2026-12-02"), "Australia/Sydney")
            .expect("day")),
        vec![late, early]
    );
    assert_eq!(
        ids(s
            .list_day(date("2026-12-01"), "America/New_York")
            .expect("day")),
        vec![late, early]
    );
    // 30 Nov to 1 Dec in Sydney ends at 13:00 UTC on 1 Dec: both are on 2 Dec there.
    assert_eq!(
        ids(s
            .list_days(date("2026-11-30"), date("2026-12-01"), "Australia/Sydney")
            .expect("days")),
        Vec::<AppointmentId>::new()
    );
    assert_eq!(
        ids(s
            .list_days(date("2026-11-30"), date("2026-12-02"), "UTC")
            .expect("days")),
        vec![late, early]
    );
    let week = s
        .list_week(date("2026-12-03"), "Europe/London")
        .expect("week");
    assert_eq!(week.len(), 2);
    assert!(week[0].local_start.ends_with("+00:00"));
    assert_eq!(week[0].patient_name, "Tz Person");
    assert!(s.list_day(date("2026-12-01"), "Not/AZone").is_err());
}

#[test]
fn notes_keep_every_version() {
    let mut f = fixture();
    let s = &mut f.store;
    let p = s.add_patient(&patient("Note Person")).expect("add");
    let a = book(s, p, "2026-12-01T09:00:00Z", 20).expect("book");
    assert_eq!(s.note(a).expect("none"), None);
    assert_eq!(s.set_note(a, "first").expect("v1"), 1);
    assert_eq!(s.set_note(a, "second ✍️").expect("v2"), 2);
    assert_eq!(
        s.note(a).expect("latest").map(|n| n.text),
        Some("second ✍️".to_string())
    );
    let h = s.note_history(a).expect("history");
    assert_eq!(
        h.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        ["first", "second ✍️"]
    );
    assert!(matches!(
        s.set_note(AppointmentId(999), "x"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn audit_chain_detects_every_kind_of_tampering() {
    let mut f = fixture();
    let p = f.store.add_patient(&patient("Audit Person")).expect("add");
    for i in 0..5 {
        book(
            &mut f.store,
            p,
            &format!("2026-12-0{}T09:00:00Z", i + 1),
            20,
        )
        .expect("book");
    }
    let n = f.store.audit_count().expect("count");
    assert_eq!(
        f.store.audit_verify().expect("v"),
        AuditVerdict::Ok { count: n }
    );
    let s = &f.store;
    // An edited field.
    s.danger_execute_raw("UPDATE audit_events SET action = 'patient.view' WHERE seq = 3")
        .expect("tamper");
    assert_eq!(
        s.audit_verify().expect("v"),
        AuditVerdict::Broken { seq: 3 }
    );
    s.danger_execute_raw("UPDATE audit_events SET action = 'appointment.create' WHERE seq = 3")
        .expect("restore");
    assert_eq!(s.audit_verify().expect("v"), AuditVerdict::Ok { count: n });
    // A deleted event.
    s.danger_execute_raw("DELETE FROM audit_events WHERE seq = 4")
        .expect("delete");
    assert_eq!(
        s.audit_verify().expect("v"),
        AuditVerdict::Broken { seq: 4 }
    );
    // A forged event with a made-up MAC.
    s.danger_execute_raw(
        "INSERT INTO audit_events (seq, time, actor, action, subject, prev, mac) VALUES (4, 't', 'a', 'x', '{}', zeroblob(32), zeroblob(32))",
    )
    .expect("forge");
    assert_eq!(
        s.audit_verify().expect("v"),
        AuditVerdict::Broken { seq: 4 }
    );
    // Events from a different key do not verify either.
    drop(f.store);
    let other = Store::open(&f.path, &f.key, "x").expect("open");
    assert!(matches!(
        other.audit_verify().expect("v"),
        AuditVerdict::Broken { .. }
    ));
}

#[test]
fn audit_events_hold_no_phi() {
    let mut f = fixture();
    let p = f
        .store
        .add_patient(&patient("MARKER-PHI-NAME"))
        .expect("add");
    let a = book(&mut f.store, p, "2026-12-01T09:00:00Z", 20).expect("book");
    f.store.set_note(a, "MARKER-PHI-NOTE").expect("note");
    let json = serde_json::to_string(&f.store.audit_export().expect("export")).expect("json");
    assert!(!json.contains("MARKER-PHI"), "{json}");
}

#[test]
fn retention_purges_old_visits_that_are_over_with_their_notes_and_links() {
    let mut f = fixture();
    let s = &mut f.store;
    let p = s.add_patient(&patient("Kept Patient")).expect("patient");
    let walk = |s: &mut Store, a: AppointmentId, to: &[AppointmentStatus]| {
        for st in to {
            s.set_status(a, *st).expect("status");
        }
    };
    use AppointmentStatus as S;
    // Over and old: finished (with two note versions and a link), cancelled, no-show.
    let old_done = book(s, p, "2020-01-06T09:00:00Z", 20).expect("book");
    walk(s, old_done, &[S::InProgress, S::Finished]);
    s.set_note(old_done, "first draft").expect("note");
    s.set_note(old_done, "final").expect("note");
    s.add_invite(&NewInvite {
        appointment: old_done,
        visit_id: [7; 16],
        token_id: 1,
        token: "t".into(),
        secret: [9; 32],
        relay_origin: "https://relay.example".into(),
        not_before: 0,
        expires: 1,
        max_devices: 1,
    })
    .expect("invite");
    let old_cancelled = book(s, p, "2020-01-07T09:00:00Z", 20).expect("book");
    walk(s, old_cancelled, &[S::Cancelled]);
    let old_no_show = book(s, p, "2020-01-08T09:00:00Z", 20).expect("book");
    walk(s, old_no_show, &[S::NoShow]);
    // Old but never closed: kept (someone must still decide what happened).
    let old_open = book(s, p, "2020-01-09T09:00:00Z", 20).expect("book");
    // Over but recent: kept.
    let recent_done = book(s, p, "2026-11-20T09:00:00Z", 20).expect("book");
    walk(s, recent_done, &[S::InProgress, S::Finished]);
    s.set_note(recent_done, "recent note").expect("note");

    let before = s.audit_count().expect("count");
    let purged = s
        .purge_visits_before(at("2021-01-01T00:00:00Z"))
        .expect("purge");
    assert_eq!(
        purged,
        Purged {
            appointments: 3,
            notes: 2,
            invites: 1
        }
    );
    for gone in [old_done, old_cancelled, old_no_show] {
        assert!(
            matches!(s.appointment(gone), Err(StoreError::NotFound { .. })),
            "{gone:?} kept"
        );
        assert!(s.note_history(gone).expect("history").is_empty());
    }
    assert!(s.invite_by_visit(&[7; 16]).expect("lookup").is_none());
    assert_eq!(s.appointment(old_open).expect("kept").status, S::Booked);
    assert_eq!(
        s.note(recent_done).expect("note").map(|n| n.text),
        Some("recent note".into())
    );
    assert!(s.patient(p).is_ok(), "the patient record stays");

    // One audit event with counts only; the chain still verifies.
    let events = s.audit_export().expect("export");
    assert_eq!(events.len() as i64, before + 1);
    let last = events.last().expect("event");
    assert_eq!(last.action, "retention.purge");
    assert_eq!(last.subject["appointments"], 3);
    assert!(matches!(
        s.audit_verify().expect("verify"),
        AuditVerdict::Ok { .. }
    ));

    // Nothing left to do: nothing written.
    let again = s
        .purge_visits_before(at("2021-01-01T00:00:00Z"))
        .expect("purge");
    assert_eq!(again, Purged::default());
    assert_eq!(s.audit_count().expect("count"), before + 1);
}

#[test]
fn checkpoints_outside_the_database_reveal_a_truncated_or_rolled_back_log() {
    let mut f = fixture();
    let p = f
        .store
        .add_patient(&patient("Checkpointed"))
        .expect("patient");
    let first = f.store.audit_checkpoint().expect("checkpoint");
    assert!(first.is_some(), "a first checkpoint");
    assert_eq!(
        f.store.audit_checkpoint().expect("again"),
        None,
        "nothing new"
    );
    // Keep a copy of the database as it is now (closing folds the WAL in).
    let copy = f.path.with_file_name("older-copy.db");
    let Fixture {
        path,
        key,
        store,
        _dir,
    } = f;
    drop(store);
    std::fs::copy(&path, &copy).expect("copy");
    let mut f = Fixture {
        store: Store::open_with_clock(&path, &key, "dr.test", fixed_clock()).expect("reopen"),
        path,
        key,
        _dir,
    };

    for i in 0..3 {
        book(
            &mut f.store,
            p,
            &format!("2026-12-0{}T09:00:00Z", i + 1),
            20,
        )
        .expect("book");
    }
    let head = f
        .store
        .audit_checkpoint()
        .expect("checkpoint")
        .expect("moved");
    let lines = std::fs::read_to_string(f.store.audit_checkpoint_path()).expect("file");
    assert_eq!(lines.lines().count(), 2);
    assert!(!lines.contains("Checkpointed"), "no PHI in checkpoints");
    assert!(
        matches!(f.store.audit_verify().expect("verify"), AuditVerdict::Ok { count } if count == head)
    );

    // Someone with the key removes the last two events: the chain alone still holds...
    f.store
        .danger_execute_raw(&format!(
            "DELETE FROM audit_events WHERE seq > {}",
            head - 2
        ))
        .expect("truncate");
    assert!(matches!(
        f.store.verify_chain_for_tests(),
        AuditVerdict::Ok { .. }
    ));
    // ...but the checkpoint does not.
    assert_eq!(
        f.store.audit_verify().expect("verify"),
        AuditVerdict::CheckpointMismatch { seq: head }
    );

    // An older copy of the whole database put back in place is caught the same way.
    let Fixture {
        path,
        key,
        store,
        _dir,
    } = f;
    drop(store);
    std::fs::copy(&copy, &path).expect("roll back");
    for stale in ["db-wal", "db-shm"] {
        let _ = std::fs::remove_file(path.with_extension(stale));
    }
    let older = Store::open_with_clock(&path, &key, "dr.test", fixed_clock()).expect("open");
    assert_eq!(
        older.audit_verify().expect("verify"),
        AuditVerdict::CheckpointMismatch { seq: head }
    );

    // A damaged checkpoint file is reported, and not appended to.
    std::fs::write(older.audit_checkpoint_path(), "not json\n").expect("damage");
    assert_eq!(
        older.audit_verify().expect("verify"),
        AuditVerdict::CheckpointMismatch { seq: 0 }
    );
    assert!(matches!(
        older.audit_checkpoint(),
        Err(StoreError::Checkpoint { .. })
    ));
}
