//! Writes the compatibility fixtures in `tests/fixtures/` with SQLCipher's
//! **OpenSSL** provider (this program never registers Bedside's), so the
//! tests can prove that databases from before `bedside-sqlcipher` still
//! open. Run once: `cargo run -p bedside-sqlcipher --example openssl_fixture
//! -- crates/bedside-sqlcipher/tests/fixtures`.

use std::path::Path;

use rusqlite::Connection;

/// The raw key of `openssl-raw-sha256.db` (a test key, public on purpose).
const RAW_KEY: &str = "x'000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'";
/// The passphrase of `openssl-passphrase-defaults.db`.
const PASSPHRASE: &str = "correct horse battery staple";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: openssl_fixture DIR")?;
    let dir = Path::new(&dir);
    // Bedside's settings: raw key, HMAC-SHA256 page MACs.
    write(
        &dir.join("openssl-raw-sha256.db"),
        &format!("PRAGMA key = \"{RAW_KEY}\"; PRAGMA cipher_hmac_algorithm = HMAC_SHA256;"),
    )?;
    // SQLCipher 4 defaults: a passphrase through PBKDF2-HMAC-SHA512, HMAC-SHA512.
    write(
        &dir.join("openssl-passphrase-defaults.db"),
        &format!("PRAGMA key = '{PASSPHRASE}';"),
    )?;
    Ok(())
}

fn write(path: &Path, key: &str) -> Result<(), Box<dyn std::error::Error>> {
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let conn = Connection::open(path)?;
    conn.execute_batch(key)?;
    let provider: String = conn.query_row("PRAGMA cipher_provider", [], |r| r.get(0))?;
    if provider != "openssl" {
        return Err(format!("the provider is {provider}, not openssl").into());
    }
    conn.execute_batch(
        "CREATE TABLE fixture (id INTEGER PRIMARY KEY, label TEXT NOT NULL, body BLOB NOT NULL);
         CREATE INDEX fixture_label ON fixture(label);",
    )?;
    // Enough rows for several table and index pages.
    for i in 0..300i64 {
        let body: Vec<u8> = (0..100).map(|j| ((i * 31 + j) % 251) as u8).collect();
        conn.execute(
            "INSERT INTO fixture (id, label, body) VALUES (?1, ?2, ?3)",
            rusqlite::params![i, format!("row {i:03}"), body],
        )?;
    }
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    println!("{}: {pages} pages, written by {provider}", path.display());
    Ok(())
}
