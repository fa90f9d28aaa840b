//! Opening the SQLCipher database, its pragmas, and mapping SQLite failures
//! to clear errors that name the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bedside_vault::DbKey;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use zeroize::Zeroizing;

use crate::StoreError;
use crate::migrations;

/// Where the store gets the time from (tests inject a fixed clock).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// An open, unlocked store. Dropping it closes the connection; the audit key
/// is zeroized with it.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    pub(crate) audit_key: Zeroizing<[u8; 32]>,
    pub(crate) actor: String,
    pub(crate) clock: Clock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the encrypted database at `path` with the
    /// raw key, applies the pragmas and migrates to the latest schema.
    pub fn open(path: &Path, key: &DbKey, actor: &str) -> Result<Self, StoreError> {
        Self::open_with_clock(path, key, actor, Arc::new(Utc::now))
    }

    /// As [`Store::open`], with an injected clock.
    pub fn open_with_clock(
        path: &Path,
        key: &DbKey,
        actor: &str,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        let conn = connect(path)?;
        conn.execute_batch(&key_pragmas(key))
            .map_err(|e| map_err(path, e))?;
        // The first read decrypts page 1; a wrong key fails here.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => StoreError::WrongKey {
                path: path.to_owned(),
            },
            _ => map_err(path, e),
        })?;
        let audit_key = Zeroizing::new(key.derive(b"bedside audit v1"));
        Self::finish(conn, path, audit_key, actor, clock)
    }

    /// Opens a database **without encryption**. Exists only so the
    /// benchmark can compare the same schema and code on plain SQLite.
    #[doc(hidden)]
    pub fn danger_open_unencrypted(path: &Path, actor: &str) -> Result<Self, StoreError> {
        let conn = connect(path)?;
        Self::finish(
            conn,
            path,
            Zeroizing::new([7u8; 32]),
            actor,
            Arc::new(Utc::now),
        )
    }

    fn finish(
        mut conn: Connection,
        path: &Path,
        audit_key: Zeroizing<[u8; 32]>,
        actor: &str,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| map_err(path, e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;
             PRAGMA secure_delete = ON;
             PRAGMA cache_size = -65536;",
        )
        .map_err(|e| map_err(path, e))?;
        migrations::migrate(&mut conn, path, migrations::LATEST_VERSION)?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            audit_key,
            actor: actor.to_owned(),
            clock,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who is recorded as the actor of audit events.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The current time from the store's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// `PRAGMA integrity_check` (plus SQLCipher's `cipher_integrity_check`
    /// when encrypted): `Ok(())` or the first problems reported.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| self.err(e))?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        if rows == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: rows.into_iter().take(3).collect::<Vec<_>>().join("; "),
            })
        }
    }

    /// A PRAGMA value as text (diagnostics and tests).
    pub fn pragma(&self, name: &str) -> Result<String, StoreError> {
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StoreError::invalid("pragma", "not a pragma name"));
        }
        self.conn
            .query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .map_err(|e| self.err(e))
    }

    /// The schema version.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        map_err(&self.path, e)
    }

    /// Begins a write transaction (IMMEDIATE, so concurrent writers queue on
    /// the busy timeout instead of failing on lock upgrade).
    pub(crate) fn write(&mut self) -> Result<Transaction<'_>, StoreError> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| map_err(&path, e))
    }
}

/// The statements that key a connection: the raw key, then the cipher
/// settings, which must be the same on every open of a database.
///
/// HMAC-SHA256 rather than SQLCipher 4's default HMAC-SHA512 per page: both
/// authenticate every page; SHA-256 costs less per write (see BENCHMARKS.md).
pub(crate) fn key_pragmas(key: &DbKey) -> Zeroizing<String> {
    let hex = Zeroizing::new(data_encoding::HEXLOWER.encode(key.expose()));
    Zeroizing::new(format!(
        "PRAGMA key = \"x'{}'\"; PRAGMA cipher_hmac_algorithm = HMAC_SHA256;",
        hex.as_str()
    ))
}

/// Opens `path`, not yet keyed, with Bedside's provider registered. Every
/// connection in this crate, tests included, opens here: a plain
/// `Connection::open` can be the first SQLite call in the process and race
/// SQLCipher's own set-up (see `bedside_sqlcipher::register`).
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    // Every codec takes the provider that is SQLCipher's default when the
    // database is keyed: make sure it is Bedside's (same format, less work
    // per page than the OpenSSL reference provider; see bedside-sqlcipher).
    bedside_sqlcipher::register().map_err(|e| StoreError::Sqlite {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| map_err(path, e))?;
    // SQLCipher logs HMAC failures to stderr by default; Bedside reports them
    // as errors that name the file instead.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")
        .map_err(|e| map_err(path, e))?;
    Ok(conn)
}

/// Maps a rusqlite error to a clear, PHI-free error naming the file.
pub(crate) fn map_err(path: &Path, e: rusqlite::Error) -> StoreError {
    let path = path.to_owned();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            detail: code_text(&e),
        },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            StoreError::Busy { path }
        }
        _ => StoreError::Sqlite {
            path,
            detail: code_text(&e),
        },
    }
}

fn code_text(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(code, _) => code.to_string(),
        // Other rusqlite errors describe types and columns, not values.
        other => other.to_string(),
    }
}
