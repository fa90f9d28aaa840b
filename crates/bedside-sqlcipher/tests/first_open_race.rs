//! The first SQLite call in a process, made from two threads at once.
//!
//! SQLite 3.54 marks itself initialised *before* it runs SQLCipher's own
//! set-up (`SQLITE_EXTRA_INIT`: private heap, mutexes, default provider), so
//! a second thread's `sqlite3_initialize` can return while the first is
//! still inside that set-up. Anything that then allocates from SQLCipher's
//! heap or keys a database crashes or fails ("PRAGMA key requires a key…").
//! In Bedside the other thread may be a second store opening, a test's plain
//! connection, or any other SQLite user linked into the same binary.
//! [`bedside_sqlcipher::register`] must wait for SQLCipher's set-up.
//!
//! The race exists only at a process's first SQLite call, so the test runs
//! itself again as a child process, many times.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// Set in the child processes; they run one first-call race each.
const CHILD: &str = "BEDSIDE_SQLCIPHER_FIRST_OPEN_CHILD";
const ROUNDS: usize = 60;
/// Threads that register and key a database; one more opens SQLite plainly.
const KEYERS: usize = 4;

#[test]
fn register_waits_for_sqlciphers_own_set_up() {
    if std::env::var_os(CHILD).is_some() {
        let delay: u64 = std::env::var(CHILD)
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        race_once(Duration::from_micros(delay));
        return;
    }
    let exe = std::env::current_exe().expect("test binary path");
    for round in 0..ROUNDS {
        let out = Command::new(&exe)
            .args([
                "--exact",
                "register_waits_for_sqlciphers_own_set_up",
                "--test-threads=1",
            ])
            .env(CHILD, ((round % 30) * 10).to_string())
            .output()
            .expect("run the child");
        assert!(
            out.status.success(),
            "round {round}: the child failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
    }
}

/// One process's first SQLite calls: a plain open (which initialises
/// SQLite) racing threads that, `delay` later, register Bedside's provider
/// and key a database. Rounds vary the delay so that some land inside
/// SQLCipher's set-up on any machine.
fn race_once(delay: Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = Arc::new(Barrier::new(KEYERS + 1));
    let plain = {
        let start = Arc::clone(&start);
        thread::spawn(move || {
            start.wait();
            Connection::open_in_memory().expect("plain open");
        })
    };
    let keyers: Vec<_> = (0..KEYERS)
        .map(|i| {
            let start = Arc::clone(&start);
            let path = dir.path().join(format!("{i}.db"));
            thread::spawn(move || {
                start.wait();
                spin(delay);
                bedside_sqlcipher::register().expect("register");
                write_keyed(&path);
            })
        })
        .collect();
    plain.join().expect("plain thread");
    for k in keyers {
        k.join().expect("keying thread");
    }
}

/// Waits without sleeping: a sleep's granularity is coarser than the race.
fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn write_keyed(path: &Path) {
    let conn = Connection::open(path).expect("open");
    conn.execute_batch(
        "PRAGMA key = \"x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'\";
         CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);",
    )
    .expect("key and write");
    let provider: String = conn
        .query_row("PRAGMA cipher_provider", [], |r| r.get(0))
        .expect("provider");
    assert_eq!(provider, bedside_sqlcipher::provider_name());
}
