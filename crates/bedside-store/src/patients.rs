//! Patients: add, update, show, search by name (Unicode case-folded).

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};
use serde_json::json;

use crate::audit::append;
use crate::model::{NewPatient, Patient, PatientId, PatientUpdate};
use crate::{Store, StoreError};

/// Longest accepted text field, in bytes. Generous (10 KB names must
/// round-trip) but bounded.
pub(crate) const MAX_FIELD: usize = 64 * 1024;

/// Case-folds a name for search.
pub(crate) fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

fn check_text(field: &'static str, s: &str, required: bool) -> Result<(), StoreError> {
    if required && s.trim().is_empty() {
        return Err(StoreError::invalid(field, "is required"));
    }
    if s.len() > MAX_FIELD {
        return Err(StoreError::invalid(
            field,
            format!("is longer than {MAX_FIELD} bytes"),
        ));
    }
    if s.contains('\0') {
        return Err(StoreError::invalid(field, "contains a NUL character"));
    }
    Ok(())
}

fn check_dob(dob: NaiveDate, today: NaiveDate) -> Result<(), StoreError> {
    if dob > today {
        return Err(StoreError::invalid("date of birth", "is in the future"));
    }
    if dob < NaiveDate::from_ymd_opt(1880, 1, 1).unwrap_or(NaiveDate::MIN) {
        return Err(StoreError::invalid("date of birth", "is before 1880"));
    }
    Ok(())
}

fn check_optional(field: &'static str, v: &Option<String>) -> Result<(), StoreError> {
    v.as_deref().map_or(Ok(()), |s| check_text(field, s, false))
}

fn row_to_patient(r: &rusqlite::Row<'_>) -> rusqlite::Result<Patient> {
    let dob: String = r.get(2)?;
    Ok(Patient {
        id: PatientId(r.get(0)?),
        name: r.get(1)?,
        dob: NaiveDate::parse_from_str(&dob, "%Y-%m-%d").map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
        phone: r.get(3)?,
        email: r.get(4)?,
        mrn: r.get(5)?,
    })
}

const COLUMNS: &str = "id, name, dob, phone, email, mrn";

impl Store {
    /// Adds a patient.
    pub fn add_patient(&mut self, p: &NewPatient) -> Result<PatientId, StoreError> {
        check_text("name", &p.name, true)?;
        let dob = p
            .dob
            .ok_or_else(|| StoreError::invalid("date of birth", "is required"))?;
        let now = self.now();
        check_dob(dob, now.date_naive())?;
        check_optional("phone", &p.phone)?;
        check_optional("email", &p.email)?;
        check_optional("mrn", &p.mrn)?;
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let tx = self.write()?;
        let id = (|| {
            tx.execute(
                "INSERT INTO patients (name, name_fold, dob, phone, email, mrn, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![p.name, fold(&p.name), dob.to_string(), p.phone, p.email, p.mrn, ts],
            )?;
            let id = tx.last_insert_rowid();
            append(&tx, &key, &actor, now, "patient.create", &json!({ "patient": id }))?;
            tx.commit()?;
            Ok(id)
        })()
        .map_err(|e| self.err_path(e))?;
        tracing::info!(patient = id, "patient added");
        Ok(PatientId(id))
    }

    /// Updates a patient.
    pub fn update_patient(&mut self, id: PatientId, u: &PatientUpdate) -> Result<(), StoreError> {
        let mut p = self.patient(id)?;
        tracing::debug!(patient = id.0, "updating patient");
        let now = self.now();
        if let Some(n) = &u.name {
            check_text("name", n, true)?;
            p.name = n.clone();
        }
        if let Some(d) = u.dob {
            check_dob(d, now.date_naive())?;
            p.dob = d;
        }
        for (field, new, old) in [
            ("phone", &u.phone, &mut p.phone),
            ("email", &u.email, &mut p.email),
            ("mrn", &u.mrn, &mut p.mrn),
        ] {
            if let Some(v) = new {
                check_optional(field, v)?;
                old.clone_from(v);
            }
        }
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let tx = self.write()?;
        (|| {
            tx.execute(
                "UPDATE patients SET name = ?2, name_fold = ?3, dob = ?4, phone = ?5, email = ?6, mrn = ?7, updated_at = ?8
                 WHERE id = ?1",
                params![id.0, p.name, fold(&p.name), p.dob.to_string(), p.phone, p.email, p.mrn, ts],
            )?;
            append(&tx, &key, &actor, now, "patient.update", &json!({ "patient": id.0 }))?;
            tx.commit()
        })()
        .map_err(|e| self.err_path(e))
    }

    /// One patient.
    pub fn patient(&self, id: PatientId) -> Result<Patient, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM patients WHERE id = ?1"),
                [id.0],
                row_to_patient,
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::NotFound {
                what: "patient",
                id: id.0,
            })
    }

    /// All patients, by name.
    pub fn list_patients(&self) -> Result<Vec<Patient>, StoreError> {
        self.search_patients("")
    }

    /// Patients whose name contains `text` (case-insensitive, Unicode-aware),
    /// ordered by name. `%` and `_` are matched literally.
    pub fn search_patients(&self, text: &str) -> Result<Vec<Patient>, StoreError> {
        let needle = fold(text)
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM patients WHERE name_fold LIKE '%' || ?1 || '%' ESCAPE '\\' ORDER BY name_fold, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([needle], row_to_patient)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
