//! Damaged files: a flipped database page or a truncated wrap file gives exit
//! 2 and a message naming the file; restoring the file loses nothing. An
//! edited audit event is named by `audit verify`.

use std::path::Path;

use bedside_store::Store;
use bedside_vault::{Password, SecretStore, SystemKeychain, WrapFile};

use crate::support::{Clinic, Profile};

const PAGE: usize = 4096;

fn names(p: &Profile<'_>, session: &str) -> Vec<String> {
    let list = p.with(session).json().args(["patient", "list"]).ok().json();
    let mut v: Vec<String> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|x| x["name"].as_str().expect("name").to_owned())
        .collect();
    v.sort();
    v
}

/// Flips one byte in the middle of every page in the middle of the file.
fn damage_middle_pages(path: &Path) -> usize {
    let mut bytes = std::fs::read(path).expect("read the file to damage");
    let pages = bytes.len() / PAGE;
    let mut flipped = 0;
    for page in pages * 2 / 5..pages * 3 / 5 {
        bytes[page * PAGE + PAGE / 2] ^= 0x5a;
        flipped += 1;
    }
    std::fs::write(path, &bytes).expect("write the damaged file");
    flipped
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
}

#[test]
fn damaged_database_and_wrap_file() {
    let Some(clinic) = Clinic::new("damaged_database_and_wrap_file") else {
        return;
    };
    let mut p = clinic.init("dr.damage");
    let s = p.ready();
    // Enough data for many pages: 12 patients with 10 KB names.
    let mut want = vec![];
    for i in 0..12 {
        let mut name = format!("Patient {i:03} ");
        while name.len() < 10 * 1024 {
            name.push_str("Abcdefghij Klmnopqrst ");
        }
        p.with(&s)
            .args(["patient", "add", "--name", &name, "--dob", "1960-06-15"])
            .ok();
        want.push(name);
    }
    want.sort();
    assert_eq!(names(&p, &s), want);

    let db = p.dir().join("bedside.db");
    let wal = p.dir().join("bedside.db-wal");
    let backup = clinic.path().join("backup.db");
    // Each command closes the database, which checkpoints the WAL.
    assert!(!wal.exists(), "WAL left behind after the last command");
    copy(&db, &backup);
    let pages = std::fs::metadata(&db).expect("db size").len() as usize / PAGE;
    assert!(pages >= 50, "only {pages} pages");
    assert!(damage_middle_pages(&db) >= 10);

    let damaged_db = p.with(&s).args(["patient", "list"]).env_error();
    damaged_db.says(&["bedside.db", "damaged"]);
    let out = p.with(&s).json().args(["patient", "list"]).env_error();
    assert_eq!(out.error()["code"], "database_damaged", "{out}");
    // Other commands may or may not touch the damaged pages; none may panic
    // or pass the damage off as the user's mistake.
    for args in [
        &["patient", "list", "--search", "patient 011"][..],
        &["patient", "show", "10"],
        &["audit", "verify"],
    ] {
        let out = p.with(&s).args(args).run();
        assert!(matches!(out.code, Some(0 | 2)), "{out}");
        if out.code == Some(2) {
            out.says(&["bedside.db"]);
        }
    }

    // Restore the database: everything is back.
    for f in ["bedside.db-wal", "bedside.db-shm"] {
        let _ = std::fs::remove_file(p.dir().join(f));
    }
    copy(&backup, &db);
    assert_eq!(names(&p, &s), want);
    p.with(&s).args(["audit", "verify"]).ok();

    // The wrap file: truncated, emptied, not JSON, missing.
    let wrap = p.dir().join("bedside.wrap");
    let wrap_backup = clinic.path().join("backup.wrap");
    copy(&wrap, &wrap_backup);
    let original = std::fs::read(&wrap).expect("read the wrap file");
    let signin = |p: &Profile<'_>| {
        p.cmd()
            .args(["signin", "--password-stdin", "--totp", &p.totp.peek()])
            .stdin(p.password_line())
    };
    for damaged in [
        Some(original[..original.len() / 2].to_vec()),
        Some(vec![]),
        Some(b"\x00\x01 not a wrap file".to_vec()),
        None,
    ] {
        match &damaged {
            Some(bytes) => std::fs::write(&wrap, bytes).expect("write the damaged wrap"),
            None => std::fs::remove_file(&wrap).expect("remove the wrap"),
        }
        let out = signin(&p).env_error();
        out.says(&["bedside.wrap", "damaged"]);
        let out = signin(&p).json().env_error();
        assert_eq!(out.error()["code"], "key_file_damaged", "{out}");
    }
    copy(&wrap_backup, &wrap);
    let s2 = p.signin();
    assert_eq!(names(&p, &s2), want);
    p.with(&s2).args(["audit", "verify"]).ok();

    // Someone with the key edits one audit event: verify names that event.
    let keychain = SystemKeychain::new().expect("the test keychain");
    let ks = keychain
        .get_secret(&p.keychain_item())
        .expect("the keychain secret");
    let key = WrapFile::read(&wrap)
        .expect("wrap")
        .open(&Password::new(p.password.clone()), &ks)
        .expect("open the wrap");
    Store::open(&db, &key, "intruder")
        .expect("open with the key")
        .danger_execute_raw("UPDATE audit_events SET action = 'patient.list' WHERE seq = 3")
        .expect("edit an event");
    let out = p.with(&s2).args(["audit", "verify"]).user_error();
    assert_eq!(out.stdout.trim(), "BROKEN at event 3", "{out}");
    out.says(&["audit chain broken at event 3"]);
    let out = p.with(&s2).json().args(["audit", "verify"]).user_error();
    assert_eq!(out.json()["status"], "broken", "{out}");
    assert_eq!(out.json()["seq"], 3, "{out}");
    assert_eq!(out.error()["code"], "audit_broken", "{out}");

    // Checked last so that everything above still runs: at the default log
    // level the error is the only thing on stderr. SQLCipher's own logger
    // writes to stderr directly, past BEDSIDE_LOG and the tracing filter.
    assert_eq!(
        damaged_db.stderr.lines().count(),
        1,
        "only the error line on stderr: {damaged_db}"
    );
}
