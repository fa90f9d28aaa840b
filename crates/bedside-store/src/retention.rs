//! Retention (policy `DataRetentionDays`): visits that are over — finished,
//! cancelled or no-show — and ended before a cutoff are deleted with every
//! version of their notes and their invite links, in one transaction with one
//! audit event. With `secure_delete` on, their pages are overwritten.
//!
//! Kept on purpose: patients (a record of the person, not of a visit), visits
//! still booked or under way whatever their age, and the audit log (its own
//! retention is the organisation's: it names ids and actions, never PHI).

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;
use serde_json::json;

use crate::audit::append;
use crate::{Store, StoreError};

/// What one purge deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Appointments deleted.
    pub appointments: u64,
    /// Note versions deleted.
    pub notes: u64,
    /// Invite links deleted.
    pub invites: u64,
}

/// The appointments a purge takes: over, and ended before `?1` (unix seconds).
const EXPIRED: &str = "SELECT id FROM appointments
     WHERE end_utc < ?1 AND status IN ('finished', 'cancelled', 'no_show')";

impl Store {
    /// Deletes visits that are over and ended before `cutoff`, with their
    /// notes and invites. Records one `retention.purge` event (counts and the
    /// cutoff) when anything went; a purge with nothing to do writes nothing.
    pub fn purge_visits_before(&mut self, cutoff: DateTime<Utc>) -> Result<Purged, StoreError> {
        let now = self.now();
        let (key, actor) = (*self.audit_key, self.actor.clone());
        let cut = cutoff.timestamp();
        let tx = self.write()?;
        let purged = (|| {
            let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
            let notes = tx.execute(
                &format!("DELETE FROM visit_notes WHERE appointment_id IN ({EXPIRED})"),
                params![cut],
            )?;
            let invites = tx.execute(
                &format!("DELETE FROM invites WHERE appointment_id IN ({EXPIRED})"),
                params![cut],
            )?;
            let appointments = tx.execute(
                &format!("DELETE FROM appointments WHERE id IN ({EXPIRED})"),
                params![cut],
            )?;
            let purged = Purged {
                appointments: count(appointments),
                notes: count(notes),
                invites: count(invites),
            };
            if purged == Purged::default() {
                return Ok(purged); // dropped: rolls back an empty transaction
            }
            append(
                &tx,
                &key,
                &actor,
                now,
                "retention.purge",
                &json!({
                    "appointments": purged.appointments,
                    "notes": purged.notes,
                    "invites": purged.invites,
                    "ended_before": cutoff.to_rfc3339(),
                }),
            )?;
            tx.commit()?;
            Ok(purged)
        })()
        .map_err(|e| self.err_path(e))?;
        if purged.appointments > 0 {
            tracing::info!(appointments = purged.appointments, "retention purge");
        }
        Ok(purged)
    }
}
