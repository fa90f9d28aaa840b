//! The provider against SQLCipher's OpenSSL provider (byte for byte, and
//! database files both ways), the committed fixtures written by OpenSSL,
//! tampering, and what the pragmas report.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rusqlite::Connection;

use crate::crypto;
use crate::ffi::testing::{Calls, find, make_default};

/// Database tests choose the default provider: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const PASSPHRASE: &str = "correct horse battery staple";
/// Bedside's keying (raw key, HMAC-SHA256) with the fixture's test key.
const BEDSIDE_KEYING: &str = "PRAGMA key = \"x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'\"; PRAGMA cipher_hmac_algorithm = HMAC_SHA256;";

/// Runs `f` with `provider` as SQLCipher's default, then restores Bedside's.
fn with_provider<T>(provider: &str, f: impl FnOnce() -> T) -> T {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    crate::register().expect("register");
    make_default(provider);
    let result = catch_unwind(AssertUnwindSafe(f));
    make_default(crate::provider_name());
    result.unwrap_or_else(|p| resume_unwind(p))
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    crypto::random(&mut v).expect("random");
    v
}

fn providers() -> (Calls, Calls) {
    crate::register().expect("register");
    (
        Calls(find("bedside").expect("bedside registered")),
        Calls(find("openssl").expect("openssl registered by SQLCipher")),
    )
}

#[test]
fn ours_computes_what_openssl_computes_byte_for_byte() {
    let (ours, ossl) = providers();
    assert_eq!(ours.sizes(), ossl.sizes());
    assert_eq!(ours.sizes(), [32, 16, 16, 20, 32, 64]);
    assert_eq!(ours.cipher_name(), ossl.cipher_name());
    for alg in 0..3 {
        for len in [0usize, 1, 63, 64, 4048, 4096] {
            let (key, data, pgno) = (random(32), random(len), random(4));
            assert_eq!(
                ours.hmac(alg, &key, &data, Some(&pgno)),
                ossl.hmac(alg, &key, &data, Some(&pgno)),
                "hmac alg {alg} len {len}"
            );
            assert_eq!(
                ours.hmac(alg, &key, &data, None),
                ossl.hmac(alg, &key, &data, None)
            );
        }
        for (iter, n) in [(1, 32), (2, 32), (3, 64), (2, 20)] {
            let (pass, salt) = (random(32), random(16));
            assert_eq!(
                ours.kdf(alg, &pass, &salt, iter, n),
                ossl.kdf(alg, &pass, &salt, iter, n),
                "kdf alg {alg} iter {iter}"
            );
        }
        assert_eq!(
            ours.kdf(alg, PASSPHRASE.as_bytes(), b"0123456789abcdef", 1000, 32),
            ossl.kdf(alg, PASSPHRASE.as_bytes(), b"0123456789abcdef", 1000, 32)
        );
    }
    for len in [16usize, 4048, 4064, 4096] {
        let (key, data) = (random(32), random(len));
        let iv: [u8; 16] = random(16).try_into().expect("16 bytes");
        for mode in [1, 0] {
            assert_eq!(
                ours.cipher(mode, &key, &iv, &data),
                ossl.cipher(mode, &key, &iv, &data),
                "mode {mode} len {len}"
            );
        }
    }
    // A partial block is an error for both.
    let iv = [0u8; 16];
    assert!(ours.cipher(1, &[1; 32], &iv, &[0; 17]).is_err());
    assert!(ossl.cipher(1, &[1; 32], &iv, &[0; 17]).is_err());
}

/// The fixture's rows as the example program wrote them.
fn check_fixture_rows(conn: &Connection) {
    let mut stmt = conn
        .prepare("SELECT id, label, body FROM fixture ORDER BY id")
        .expect("prepare");
    let rows: Vec<(i64, String, Vec<u8>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 300);
    for (i, label, body) in rows {
        assert_eq!(label, format!("row {i:03}"));
        let want: Vec<u8> = (0..100).map(|j| ((i * 31 + j) % 251) as u8).collect();
        assert_eq!(body, want, "row {i}");
    }
    let by_index: i64 = conn
        .query_row(
            "SELECT count(*) FROM fixture INDEXED BY fixture_label WHERE label >= 'row 150'",
            [],
            |r| r.get(0),
        )
        .expect("index");
    assert_eq!(by_index, 150);
}

/// `PRAGMA cipher_integrity_check` rows (none when every page MAC holds)
/// and `PRAGMA integrity_check`.
fn checks(conn: &Connection) -> (Vec<String>, String) {
    let mut stmt = conn
        .prepare("PRAGMA cipher_integrity_check")
        .expect("prepare");
    let cipher = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let sqlite = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    (cipher, sqlite)
}

fn provider_of(conn: &Connection) -> String {
    conn.query_row("PRAGMA cipher_provider", [], |r| r.get(0))
        .expect("cipher_provider")
}

fn open_fixture(name: &str, dir: &Path) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dst = dir.join(name);
    std::fs::copy(&src, &dst).expect("copy fixture");
    dst
}

#[test]
fn databases_written_by_the_openssl_provider_open_and_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, keying) in [
        ("openssl-raw-sha256.db", BEDSIDE_KEYING.to_owned()),
        (
            "openssl-passphrase-defaults.db",
            format!("PRAGMA key = '{PASSPHRASE}';"),
        ),
    ] {
        let path = open_fixture(name, dir.path());
        with_provider("bedside", || {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(&keying).expect("key");
            assert_eq!(provider_of(&conn), "bedside");
            check_fixture_rows(&conn);
            assert_eq!(checks(&conn), (vec![], "ok".to_owned()), "{name}");
            // Writes with the new provider stay readable by OpenSSL (below).
            conn.execute("UPDATE fixture SET label = 'changed' WHERE id = 7", [])
                .expect("update");
        });
        with_provider("openssl", || {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(&keying).expect("key");
            assert_eq!(provider_of(&conn), "openssl");
            let label: String = conn
                .query_row("SELECT label FROM fixture WHERE id = 7", [], |r| r.get(0))
                .expect("row 7");
            assert_eq!(label, "changed");
            assert_eq!(checks(&conn), (vec![], "ok".to_owned()), "{name}");
        });
    }
}

#[test]
fn the_fixture_needs_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = open_fixture("openssl-raw-sha256.db", dir.path());
    with_provider("bedside", || {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("PRAGMA cipher_log_level = NONE;")
            .expect("quiet");
        conn.execute_batch(&BEDSIDE_KEYING.replace("1e1f", "1e1e"))
            .expect("key");
        let err = conn
            .query_row("SELECT count(*) FROM fixture", [], |r| r.get::<_, i64>(0))
            .expect_err("a wrong key must not read");
        assert!(
            matches!(
                err.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ),
            "{err}"
        );
    });
}

/// Writes 300 rows with `writer`, reads them back with `reader`, from the
/// main file and from the WAL (the writer's connection stays open, so its
/// last changes are still WAL frames when the reader opens).
fn round_trip(writer: &str, reader: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.db");
    let writer_conn = with_provider(writer, || {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(BEDSIDE_KEYING).expect("key");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE fixture (id INTEGER PRIMARY KEY, label TEXT NOT NULL, body BLOB NOT NULL);
             CREATE INDEX fixture_label ON fixture(label);",
        )
        .expect("schema");
        for i in 0..300i64 {
            let body: Vec<u8> = (0..100).map(|j| ((i * 31 + j) % 251) as u8).collect();
            conn.execute(
                "INSERT INTO fixture VALUES (?1, ?2, ?3)",
                rusqlite::params![i, format!("row {i:03}"), body],
            )
            .expect("insert");
        }
        assert_eq!(provider_of(&conn), writer);
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
        conn.execute("UPDATE fixture SET label = label || '' WHERE id < 150", [])
            .expect("rewrite");
        conn
    });
    let wal = std::fs::metadata(dir.path().join("t.db-wal")).map_or(0, |m| m.len());
    assert!(wal > 0, "the reader must also decrypt WAL frames");
    with_provider(reader, || {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(BEDSIDE_KEYING).expect("key");
        assert_eq!(provider_of(&conn), reader);
        check_fixture_rows(&conn);
        assert_eq!(checks(&conn), (vec![], "ok".to_owned()));
    });
    drop(writer_conn);
}

#[test]
fn a_database_written_by_bedside_opens_with_openssl_and_back() {
    round_trip("bedside", "openssl");
    round_trip("openssl", "bedside");
    round_trip("bedside", "bedside");
}

#[test]
fn a_tampered_page_is_refused_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = open_fixture("openssl-raw-sha256.db", dir.path());
    // Flip one ciphertext byte in page 3.
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[2 * 4096 + 100] ^= 0x01;
    std::fs::write(&path, &bytes).expect("write");
    with_provider("bedside", || {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("PRAGMA cipher_log_level = NONE;")
            .expect("quiet");
        conn.execute_batch(BEDSIDE_KEYING).expect("key");
        let (cipher, _) = checks(&conn);
        assert!(
            cipher.iter().any(|l| l.contains("page 3")),
            "cipher_integrity_check names page 3: {cipher:?}"
        );
        // Page 3 is the root of the index (page 2 the table's): reading
        // both whole must fail on it.
        let read = |sql: &str| {
            conn.prepare(sql)
                .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
        };
        let table = read("SELECT sum(length(body)) FROM fixture");
        let index = read("SELECT count(*) FROM fixture INDEXED BY fixture_label WHERE label >= ''");
        assert!(
            table.is_err() || index.is_err(),
            "a tampered page must not be read: {table:?} {index:?}"
        );
        let err = table.err().or(index.err()).expect("one read failed");
        assert!(
            matches!(
                err.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ),
            "{err}"
        );
    });
}

#[test]
fn the_pragmas_report_this_provider_after_registration() {
    with_provider("bedside", || {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(BEDSIDE_KEYING).expect("key");
        conn.execute_batch("CREATE TABLE t (x)").expect("create");
        let text = |p: &str| -> String {
            conn.query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
                .expect(p)
        };
        assert_eq!(text("cipher_provider"), crate::provider_name());
        assert!(text("cipher_provider_version").starts_with("bedside-sqlcipher "));
        assert_eq!(text("cipher_fips_status"), "0");
        assert_eq!(text("cipher"), "AES-256-CBC");
        assert_eq!(text("cipher_hmac_algorithm"), "HMAC_SHA256");
    });
}
