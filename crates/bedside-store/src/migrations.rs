//! Forward-only, versioned schema migrations (`PRAGMA user_version`).
//!
//! Each migration runs in one transaction with its version bump, so a crash
//! mid-migration leaves the previous version intact. Never edit a shipped
//! migration: add a new one.

use std::path::Path;

use rusqlite::Connection;

use crate::StoreError;
use crate::db::map_err;

type Migration = fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>;

/// Migrations in order; index + 1 is the version they produce.
const MIGRATIONS: &[Migration] = &[
    v1_initial,
    v2_notes_and_search,
    v3_invites,
    v4_drop_unused_name_index,
];

/// The schema version this build writes.
pub const LATEST_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migrates `conn` up to `target` (tests use earlier targets).
pub(crate) fn migrate(conn: &mut Connection, path: &Path, target: i64) -> Result<(), StoreError> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| map_err(path, e))?;
    if current > LATEST_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: current,
            known: LATEST_VERSION,
        });
    }
    for version in current + 1..=target.min(LATEST_VERSION) {
        let tx = conn.transaction().map_err(|e| map_err(path, e))?;
        MIGRATIONS[(version - 1) as usize](&tx).map_err(|e| map_err(path, e))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|e| map_err(path, e))?;
        tx.commit().map_err(|e| map_err(path, e))?;
        tracing::info!(version, "store migrated");
    }
    Ok(())
}

fn v1_initial(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE profile (
            id             INTEGER PRIMARY KEY CHECK (id = 1),
            username       TEXT NOT NULL,
            display_name   TEXT NOT NULL,
            created_at     TEXT NOT NULL,
            totp_secret    BLOB,
            totp_enabled   INTEGER NOT NULL DEFAULT 0,
            totp_last_step INTEGER
        );
        CREATE TABLE patients (
            id         INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            dob        TEXT NOT NULL,
            phone      TEXT,
            email      TEXT,
            mrn        TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE appointments (
            id           INTEGER PRIMARY KEY,
            patient_id   INTEGER NOT NULL REFERENCES patients(id),
            start_utc    INTEGER NOT NULL,
            end_utc      INTEGER NOT NULL,
            tz           TEXT NOT NULL,
            duration_min INTEGER NOT NULL CHECK (duration_min > 0),
            reason       TEXT,
            status       TEXT NOT NULL CHECK (status IN
                           ('booked','arrived','in_progress','finished','cancelled','no_show')),
            created_at   TEXT NOT NULL,
            updated_at   TEXT NOT NULL
        );
        CREATE INDEX appointments_by_start ON appointments(start_utc);
        CREATE INDEX appointments_by_patient ON appointments(patient_id);
        CREATE TABLE audit_events (
            seq     INTEGER PRIMARY KEY,
            time    TEXT NOT NULL,
            actor   TEXT NOT NULL,
            action  TEXT NOT NULL,
            subject TEXT NOT NULL,
            prev    BLOB NOT NULL,
            mac     BLOB NOT NULL
        );
        CREATE TABLE settings (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );",
    )
}

fn v2_notes_and_search(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE patients ADD COLUMN name_fold TEXT NOT NULL DEFAULT '';
         CREATE INDEX patients_by_name_fold ON patients(name_fold);
         CREATE TABLE visit_notes (
            id             INTEGER PRIMARY KEY,
            appointment_id INTEGER NOT NULL REFERENCES appointments(id),
            version        INTEGER NOT NULL,
            text           TEXT NOT NULL,
            created_at     TEXT NOT NULL,
            UNIQUE (appointment_id, version)
         );",
    )?;
    // Unicode-aware folding happens in Rust; SQLite's lower() is ASCII-only.
    let rows: Vec<(i64, String)> = {
        let mut stmt = tx.prepare("SELECT id, name FROM patients")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut up = tx.prepare("UPDATE patients SET name_fold = ?1 WHERE id = ?2")?;
    for (id, name) in rows {
        up.execute(rusqlite::params![crate::patients::fold(&name), id])?;
    }
    Ok(())
}

fn v3_invites(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE invites (
            id             INTEGER PRIMARY KEY,
            appointment_id INTEGER NOT NULL REFERENCES appointments(id),
            visit_id       BLOB NOT NULL UNIQUE,
            token_id       INTEGER NOT NULL,
            token          TEXT NOT NULL,
            secret         BLOB NOT NULL,
            relay_origin   TEXT NOT NULL,
            not_before     INTEGER NOT NULL,
            expires        INTEGER NOT NULL,
            max_devices    INTEGER NOT NULL,
            created_at     TEXT NOT NULL,
            revoked_at     TEXT
         );
         CREATE INDEX invites_by_appointment ON invites(appointment_id);",
    )
}

/// Name search is a substring match (`LIKE '%…%'`), which no B-tree index
/// can serve; the index only cost one more encrypted page per patient write.
fn v4_drop_unused_name_index(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch("DROP INDEX IF EXISTS patients_by_name_fold;")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Store;
    use bedside_vault::DbKey;

    /// Creates a database at an earlier schema version (for upgrade tests).
    pub(crate) fn create_at_version(path: &Path, key: &DbKey, version: i64) {
        let mut conn = crate::db::connect(path).expect("open");
        conn.execute_batch(&crate::db::key_pragmas(key))
            .expect("key");
        migrate(&mut conn, path, version).expect("migrate");
    }

    #[test]
    fn from_empty_to_latest() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = DbKey::generate().expect("rng");
        let s = Store::open(&dir.path().join("a.db"), &key, "t").expect("open");
        assert_eq!(s.schema_version().expect("v"), LATEST_VERSION);
        s.integrity_check().expect("ok");
    }

    /// From every earlier version, with data written at that version.
    #[test]
    fn from_every_earlier_version() {
        for v in 1..LATEST_VERSION {
            let dir = tempfile::tempdir().expect("tmp");
            let path = dir.path().join("old.db");
            let key = DbKey::generate().expect("rng");
            create_at_version(&path, &key, v);
            {
                let conn = crate::db::connect(&path).expect("open");
                conn.execute_batch(&crate::db::key_pragmas(&key))
                    .expect("key");
                // Write the row as the code of that version did.
                let insert = if v >= 2 {
                    "INSERT INTO patients (name, name_fold, dob, created_at, updated_at)
                     VALUES ('ÉLODIE Ünver', 'élodie ünver', '1980-01-02', 'x', 'x')"
                } else {
                    "INSERT INTO patients (name, dob, created_at, updated_at) VALUES ('ÉLODIE Ünver', '1980-01-02', 'x', 'x')"
                };
                conn.execute(insert, []).expect("insert at old version");
                if v >= 1 {
                    conn.execute(
                        "INSERT INTO appointments (patient_id, start_utc, end_utc, tz, duration_min, status, created_at, updated_at)
                         VALUES (1, 1800000000, 1800001200, 'UTC', 20, 'booked', 'x', 'x')",
                        [],
                    )
                    .expect("appointment at old version");
                }
            }
            let s = Store::open(&path, &key, "t").expect("upgrade");
            assert_eq!(s.schema_version().expect("v"), LATEST_VERSION);
            let found = s.search_patients("élodie").expect("search");
            assert_eq!(found.len(), 1, "data from v{v} survives and is searchable");
            let a = s
                .appointment(crate::AppointmentId(1))
                .expect("appointment survives");
            assert_eq!(a.duration_min, 20);
            assert!(
                s.active_invite(a.id)
                    .expect("invites table exists")
                    .is_none()
            );
            s.integrity_check().expect("ok");
        }
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("new.db");
        let key = DbKey::generate().expect("rng");
        drop(Store::open(&path, &key, "t").expect("open"));
        {
            let conn = crate::db::connect(&path).expect("open");
            conn.execute_batch(&crate::db::key_pragmas(&key))
                .expect("key");
            conn.execute_batch("PRAGMA user_version = 99;")
                .expect("bump");
        }
        assert!(matches!(
            Store::open(&path, &key, "t"),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }
}
