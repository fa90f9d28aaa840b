//! Visit notes: one per appointment, every edit kept as a new version.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::json;

use crate::audit::append;
use crate::model::{AppointmentId, Note};
use crate::patients::MAX_FIELD;
use crate::{Store, StoreError};

/// Notes may be long, but not unbounded.
const MAX_NOTE: usize = 4 * MAX_FIELD;

fn row_to_note(r: &rusqlite::Row<'_>) -> rusqlite::Result<Note> {
    let saved: String = r.get(3)?;
    Ok(Note {
        appointment: AppointmentId(r.get(0)?),
        version: r.get(1)?,
        text: r.get(2)?,
        saved_at: DateTime::parse_from_rfc3339(&saved)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    3,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
    })
}

impl Store {
    /// Saves a new version of the note. Returns the version number.
    pub fn set_note(&mut self, appointment: AppointmentId, text: &str) -> Result<i64, StoreError> {
        if text.len() > MAX_NOTE || text.contains('\0') {
            return Err(StoreError::invalid(
                "note",
                format!("must be text under {MAX_NOTE} bytes"),
            ));
        }
        self.appointment(appointment)?;
        tracing::debug!(
            appointment = appointment.0,
            bytes = text.len(),
            "saving note"
        );
        let now = self.now();
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let tx = self.write()?;
        (|| {
            let version: i64 = tx.query_row(
                "SELECT coalesce(max(version), 0) + 1 FROM visit_notes WHERE appointment_id = ?1",
                [appointment.0],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO visit_notes (appointment_id, version, text, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![appointment.0, version, text, ts],
            )?;
            append(&tx, &key, &actor, now, "note.save", &json!({ "appointment": appointment.0, "version": version }))?;
            tx.commit()?;
            Ok(version)
        })()
        .map_err(|e| self.err_path(e))
    }

    /// The latest version of the note, if any.
    pub fn note(&self, appointment: AppointmentId) -> Result<Option<Note>, StoreError> {
        self.appointment(appointment)?;
        self.conn
            .query_row(
                "SELECT appointment_id, version, text, created_at FROM visit_notes
                 WHERE appointment_id = ?1 ORDER BY version DESC LIMIT 1",
                [appointment.0],
                row_to_note,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every version, oldest first.
    pub fn note_history(&self, appointment: AppointmentId) -> Result<Vec<Note>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT appointment_id, version, text, created_at FROM visit_notes
                 WHERE appointment_id = ?1 ORDER BY version",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([appointment.0], row_to_note)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
