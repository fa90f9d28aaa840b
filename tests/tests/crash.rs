//! Crash safety: SIGKILL a writing process at random points, at least 200
//! times; every acknowledged write must be there afterwards, the database
//! must pass `PRAGMA integrity_check`, and the audit chain must verify.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bedside_store::{AuditVerdict, PatientId, Store};
use bedside_tests::Rng;
use bedside_vault::DbKey;

const KILLS: usize = 200;

#[test]
fn acknowledged_writes_survive_sigkill() {
    // A CPU-heavy store workload: not while a browser test measures frame rates.
    let _slot = crate::patient::BROWSER.blocking_lock();
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("crash.db");
    let key = DbKey::generate().expect("rng");
    let hex = data_encoding::HEXLOWER.encode(key.expose());
    let mut rng = Rng::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    );
    let mut acked: BTreeMap<u64, i64> = BTreeMap::new();
    let mut next = 0u64;
    let mut killed_mid_write = 0;
    for round in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .arg(&db)
            .arg(next.to_string())
            .env("BEDSIDE_TEST_DB_KEY", &hex)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn crash-writer");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill at a random moment: sometimes during open/migration, mostly mid-stream.
        let deadline = Instant::now() + Duration::from_millis(rng.range(1, 120));
        let mut got_any = false;
        while Instant::now() < deadline {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    got_any = true;
                    record(&line, &mut acked, &mut next);
                }
                Err(_) => break,
            }
        }
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        // Acknowledgements already in the pipe were printed before the kill: they count too.
        reader.join().expect("reader");
        for line in rx.try_iter() {
            record(&line, &mut acked, &mut next);
        }
        if got_any {
            killed_mid_write += 1;
        }
        assert!(
            !status.success(),
            "round {round}: the writer must have been killed"
        );
        if let Some(mut e) = child.stderr.take() {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
            assert!(
                !s.contains("panicked"),
                "round {round}: writer panicked: {s}"
            );
        }
        // Every few rounds, check while the history is short too.
        if round % 50 == 49 {
            verify(&db, &key, &acked);
        }
    }
    assert!(
        killed_mid_write >= KILLS / 2,
        "most kills should land mid-stream ({killed_mid_write}/{KILLS})"
    );
    assert!(
        acked.len() > KILLS,
        "the writer made progress ({} acked writes)",
        acked.len()
    );
    verify(&db, &key, &acked);
}

fn record(line: &str, acked: &mut BTreeMap<u64, i64>, next: &mut u64) {
    let mut parts = line.split_whitespace();
    if let (Some("ack"), Some(i), Some(id)) = (parts.next(), parts.next(), parts.next()) {
        let (i, id): (u64, i64) = (i.parse().expect("index"), id.parse().expect("id"));
        acked.insert(i, id);
        *next = (*next).max(i + 1);
    }
}

fn verify(db: &std::path::Path, key: &DbKey, acked: &BTreeMap<u64, i64>) {
    let store = Store::open(db, key, "verifier").expect("reopen after SIGKILL");
    store.integrity_check().expect("integrity_check ok");
    for (i, id) in acked {
        let p = store
            .patient(PatientId(*id))
            .unwrap_or_else(|e| panic!("acknowledged write {i} lost: {e}"));
        assert_eq!(p.name, format!("crash-{i}"));
    }
    match store.audit_verify().expect("verify") {
        AuditVerdict::Ok { count } => assert!(count >= acked.len() as i64),
        broken => panic!("audit chain broken after crashes: {broken:?}"),
    }
}
