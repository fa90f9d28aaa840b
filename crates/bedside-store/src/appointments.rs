//! Appointments: book (with overlap detection), reschedule, reason edits,
//! cancel, no-show, status changes, and day/week listings in a time zone.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::json;

use crate::audit::append;
use crate::model::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentView, NewAppointment, PatientId,
};
use crate::patients::MAX_FIELD;
use crate::time::{day_range, parse_tz, week_range};
use crate::{Store, StoreError};

const COLUMNS: &str = "a.id, a.patient_id, a.start_utc, a.tz, a.duration_min, a.reason, a.status";

fn row_to_appointment(r: &rusqlite::Row<'_>) -> rusqlite::Result<Appointment> {
    let conv = |i, e: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            e.to_owned().into(),
        )
    };
    let start: i64 = r.get(2)?;
    let status: String = r.get(6)?;
    Ok(Appointment {
        id: AppointmentId(r.get(0)?),
        patient: PatientId(r.get(1)?),
        start: DateTime::from_timestamp(start, 0).ok_or_else(|| conv(2, "bad timestamp"))?,
        tz: r.get(3)?,
        duration_min: r.get(4)?,
        reason: r.get(5)?,
        status: AppointmentStatus::parse(&status).ok_or_else(|| conv(6, "bad status"))?,
    })
}

impl Store {
    /// The first active appointment overlapping `[start, end)`. Appointments
    /// last at most 24 h, so only those starting in the preceding day can
    /// reach `start`: the lower bound keeps this an index range scan instead
    /// of a walk over the whole history.
    fn find_overlap(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        except: Option<AppointmentId>,
    ) -> Result<Option<AppointmentId>, StoreError> {
        self.conn
            .query_row(
                "SELECT id FROM appointments
                 WHERE status IN ('booked','arrived','in_progress')
                   AND start_utc < ?2 AND start_utc > ?1 - 86400 AND end_utc > ?1 AND id != ?3
                 ORDER BY start_utc LIMIT 1",
                params![
                    start.timestamp(),
                    end.timestamp(),
                    except.map_or(-1, |a| a.0)
                ],
                |r| r.get(0).map(AppointmentId),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Books an appointment. Overlapping an active appointment is an error
    /// unless `force` (a double booking the clinician chose, audited as such).
    pub fn add_appointment(
        &mut self,
        a: &NewAppointment,
        force: bool,
    ) -> Result<AppointmentId, StoreError> {
        parse_tz(&a.tz)?;
        if !(1..=24 * 60).contains(&a.duration_min) {
            return Err(StoreError::invalid(
                "duration",
                "must be between 1 minute and 24 hours",
            ));
        }
        if let Some(r) = &a.reason
            && (r.len() > MAX_FIELD || r.contains('\0'))
        {
            return Err(StoreError::invalid(
                "reason",
                format!("must be text under {MAX_FIELD} bytes"),
            ));
        }
        self.patient(a.patient)?;
        let end = a.start + Duration::minutes(i64::from(a.duration_min));
        let overlap = self.find_overlap(a.start, end, None)?;
        if let (Some(with), false) = (overlap, force) {
            return Err(StoreError::Overlap { with });
        }
        let now = self.now();
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let tx = self.write()?;
        let id = (|| {
            tx.execute(
                "INSERT INTO appointments (patient_id, start_utc, end_utc, tz, duration_min, reason, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'booked', ?7, ?7)",
                params![a.patient.0, a.start.timestamp(), end.timestamp(), a.tz.trim(), a.duration_min, a.reason, ts],
            )?;
            let id = tx.last_insert_rowid();
            let subject = match overlap {
                Some(with) => json!({ "appointment": id, "patient": a.patient.0, "forced_overlap_with": with.0 }),
                None => json!({ "appointment": id, "patient": a.patient.0 }),
            };
            append(&tx, &key, &actor, now, "appointment.create", &subject)?;
            tx.commit()?;
            Ok(id)
        })()
        .map_err(|e| self.err_path(e))?;
        tracing::info!(appointment = id, "appointment booked");
        Ok(AppointmentId(id))
    }

    /// One appointment.
    pub fn appointment(&self, id: AppointmentId) -> Result<Appointment, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM appointments a WHERE a.id = ?1"),
                [id.0],
                row_to_appointment,
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::NotFound {
                what: "appointment",
                id: id.0,
            })
    }

    /// Moves a booked appointment (optionally changing its duration).
    pub fn reschedule(
        &mut self,
        id: AppointmentId,
        start: DateTime<Utc>,
        duration_min: Option<u32>,
        force: bool,
    ) -> Result<(), StoreError> {
        let a = self.appointment(id)?;
        if !matches!(a.status, AppointmentStatus::Booked) {
            return Err(StoreError::BadTransition {
                id,
                from: a.status.as_str(),
                to: "rescheduled",
            });
        }
        let duration = duration_min.unwrap_or(a.duration_min);
        if !(1..=24 * 60).contains(&duration) {
            return Err(StoreError::invalid(
                "duration",
                "must be between 1 minute and 24 hours",
            ));
        }
        let end = start + Duration::minutes(i64::from(duration));
        let overlap = self.find_overlap(start, end, Some(id))?;
        if let (Some(with), false) = (overlap, force) {
            return Err(StoreError::Overlap { with });
        }
        let now = self.now();
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let tx = self.write()?;
        (|| {
            tx.execute(
                "UPDATE appointments SET start_utc = ?2, end_utc = ?3, duration_min = ?4, updated_at = ?5 WHERE id = ?1",
                params![id.0, start.timestamp(), end.timestamp(), duration, ts],
            )?;
            append(&tx, &key, &actor, now, "appointment.reschedule", &json!({ "appointment": id.0 }))?;
            tx.commit()
        })()
        .map_err(|e| self.err_path(e))
    }

    /// Replaces (or with `None`, clears) an appointment's visit reason, in any
    /// status: a clinician may correct it after the visit too. Every change
    /// is audited as `appointment.reason` with whether it was cleared, never
    /// the text (PHI); saving the reason it already has writes nothing.
    pub fn set_reason(
        &mut self,
        id: AppointmentId,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = reason
            && (r.len() > MAX_FIELD || r.contains('\0'))
        {
            return Err(StoreError::invalid(
                "reason",
                format!("must be text under {MAX_FIELD} bytes"),
            ));
        }
        let a = self.appointment(id)?;
        if a.reason.as_deref() == reason {
            return Ok(());
        }
        let now = self.now();
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let tx = self.write()?;
        (|| {
            tx.execute(
                "UPDATE appointments SET reason = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.0, reason, ts],
            )?;
            append(
                &tx,
                &key,
                &actor,
                now,
                "appointment.reason",
                &json!({ "appointment": id.0, "cleared": reason.is_none() }),
            )?;
            tx.commit()
        })()
        .map_err(|e| self.err_path(e))
    }

    /// Changes the status, enforcing the allowed transitions:
    /// booked → arrived → in_progress → finished; booked/arrived → cancelled
    /// or no_show; in_progress → arrived (back to the lobby).
    pub fn set_status(
        &mut self,
        id: AppointmentId,
        to: AppointmentStatus,
    ) -> Result<(), StoreError> {
        use AppointmentStatus as S;
        let a = self.appointment(id)?;
        let allowed = matches!(
            (a.status, to),
            (S::Booked, S::Arrived)
                | (S::Booked | S::Arrived, S::InProgress)
                | (S::InProgress, S::Finished)
                | (S::InProgress, S::Arrived)
                | (S::Booked | S::Arrived, S::Cancelled)
                | (S::Booked | S::Arrived, S::NoShow)
        );
        if !allowed {
            return Err(StoreError::BadTransition {
                id,
                from: a.status.as_str(),
                to: to.as_str(),
            });
        }
        let now = self.now();
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let action = format!("appointment.{}", to.as_str());
        tracing::debug!(appointment = id.0, to = to.as_str(), "appointment status");
        let tx = self.write()?;
        (|| {
            tx.execute(
                "UPDATE appointments SET status = ?2, updated_at = ?3 WHERE id = ?1",
                params![id.0, to.as_str(), ts],
            )?;
            append(
                &tx,
                &key,
                &actor,
                now,
                &action,
                &json!({ "appointment": id.0 }),
            )?;
            tx.commit()
        })()
        .map_err(|e| self.err_path(e))
    }

    /// Cancels a booked or arrived appointment.
    pub fn cancel(&mut self, id: AppointmentId) -> Result<(), StoreError> {
        self.set_status(id, AppointmentStatus::Cancelled)
    }

    /// Marks a booked or arrived appointment as a no-show.
    pub fn no_show(&mut self, id: AppointmentId) -> Result<(), StoreError> {
        self.set_status(id, AppointmentStatus::NoShow)
    }

    fn list_range(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Result<Vec<AppointmentView>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS}, p.name FROM appointments a JOIN patients p ON p.id = a.patient_id
                 WHERE a.start_utc >= ?1 AND a.start_utc < ?2 ORDER BY a.start_utc, a.id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![from.timestamp(), to.timestamp()], |r| {
                let appointment = row_to_appointment(r)?;
                let local_start = appointment.start.with_timezone(&tz).to_rfc3339();
                Ok(AppointmentView {
                    appointment,
                    patient_name: r.get(7)?,
                    local_start,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Appointments starting on a local day in `tz`.
    pub fn list_day(&self, date: NaiveDate, tz: &str) -> Result<Vec<AppointmentView>, StoreError> {
        self.list_days(date, date, tz)
    }

    /// Appointments starting on the local days `first` to `last` (inclusive) in `tz`,
    /// in start order.
    pub fn list_days(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        tz: &str,
    ) -> Result<Vec<AppointmentView>, StoreError> {
        let tz = parse_tz(tz)?;
        let (from, _) = day_range(first, tz);
        let (_, to) = day_range(last, tz);
        self.list_range(from, to, tz)
    }

    /// Appointments starting in the Monday-to-Sunday week containing `date`.
    pub fn list_week(&self, date: NaiveDate, tz: &str) -> Result<Vec<AppointmentView>, StoreError> {
        let tz = parse_tz(tz)?;
        let (a, b) = week_range(date, tz);
        self.list_range(a, b, tz)
    }
}
