//! Invites: the signed token and its 256-bit secret, stored (encrypted, like
//! everything here) with the appointment, so the clinician app can show the
//! link again, decrypt knocks and authenticate the call.

use rusqlite::{OptionalExtension, params};
use serde_json::json;

use crate::audit::append;
use crate::model::AppointmentId;
use crate::{Store, StoreError};

/// An invite to store.
pub struct NewInvite {
    /// The appointment.
    pub appointment: AppointmentId,
    /// 128-bit visit id.
    pub visit_id: [u8; 16],
    /// Token id (for revocation).
    pub token_id: u32,
    /// The signed token text.
    pub token: String,
    /// The fragment secret.
    pub secret: [u8; 32],
    /// The relay origin the link points at.
    pub relay_origin: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub expires: i64,
    /// Device limit.
    pub max_devices: u8,
}

/// A stored invite.
#[derive(Clone)]
pub struct Invite {
    /// The appointment.
    pub appointment: AppointmentId,
    /// 128-bit visit id.
    pub visit_id: [u8; 16],
    /// Token id.
    pub token_id: u32,
    /// The signed token text.
    pub token: String,
    /// The fragment secret (never log it).
    pub secret: [u8; 32],
    /// Relay origin.
    pub relay_origin: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub expires: i64,
    /// Device limit.
    pub max_devices: u8,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl std::fmt::Debug for Invite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invite")
            .field("appointment", &self.appointment)
            .field("token_id", &self.token_id)
            .field("revoked", &self.revoked)
            .finish_non_exhaustive()
    }
}

impl Drop for Invite {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

const COLUMNS: &str = "appointment_id, visit_id, token_id, token, secret, relay_origin, not_before, expires, max_devices, revoked_at";

fn row_to_invite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Invite> {
    let conv = |i| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Blob,
            "bad length".into(),
        )
    };
    let visit: Vec<u8> = r.get(1)?;
    let secret: Vec<u8> = r.get(4)?;
    Ok(Invite {
        appointment: AppointmentId(r.get(0)?),
        visit_id: visit.try_into().map_err(|_| conv(1))?,
        token_id: r.get(2)?,
        token: r.get(3)?,
        secret: secret.try_into().map_err(|_| conv(4))?,
        relay_origin: r.get(5)?,
        not_before: r.get(6)?,
        expires: r.get(7)?,
        max_devices: r.get(8)?,
        revoked: r.get::<_, Option<String>>(9)?.is_some(),
    })
}

impl Store {
    /// Stores a new invite, revoking any earlier active invite for the same
    /// appointment (a regenerated link replaces the old one). Returns the
    /// token ids revoked.
    pub fn add_invite(&mut self, i: &NewInvite) -> Result<Vec<u32>, StoreError> {
        self.appointment(i.appointment)?;
        let now = self.now();
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let path = self.path.clone();
        let tx = self.write()?;
        (|| {
            let revoked = revoke_in(&tx, i.appointment, &ts)?;
            for t in &revoked {
                append(&tx, &key, &actor, now, "invite.revoke", &json!({ "appointment": i.appointment.0, "token": t }))?;
            }
            tx.execute(
                "INSERT INTO invites (appointment_id, visit_id, token_id, token, secret, relay_origin, not_before, expires, max_devices, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    i.appointment.0,
                    i.visit_id.as_slice(),
                    i.token_id,
                    i.token,
                    i.secret.as_slice(),
                    i.relay_origin,
                    i.not_before,
                    i.expires,
                    i.max_devices,
                    ts
                ],
            )?;
            append(&tx, &key, &actor, now, "invite.create", &json!({ "appointment": i.appointment.0, "token": i.token_id }))?;
            tx.commit()?;
            Ok(revoked)
        })()
        .map_err(|e| crate::db::map_err(&path, e))
    }

    /// The newest unrevoked invite of an appointment.
    pub fn active_invite(&self, appointment: AppointmentId) -> Result<Option<Invite>, StoreError> {
        Ok(self.active_invites(appointment)?.into_iter().next())
    }

    /// Every unrevoked invite of an appointment (normally one), newest first.
    pub fn active_invites(&self, appointment: AppointmentId) -> Result<Vec<Invite>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM invites WHERE appointment_id = ?1 AND revoked_at IS NULL ORDER BY id DESC"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([appointment.0], row_to_invite)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The invite for a visit id (to decrypt knocks and authenticate calls).
    pub fn invite_by_visit(&self, visit_id: &[u8; 16]) -> Result<Option<Invite>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM invites WHERE visit_id = ?1"),
                [visit_id.as_slice()],
                row_to_invite,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Revokes every active invite of an appointment; returns their token ids.
    pub fn revoke_invites(&mut self, appointment: AppointmentId) -> Result<Vec<u32>, StoreError> {
        self.appointment(appointment)?;
        let now = self.now();
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let path = self.path.clone();
        let tx = self.write()?;
        (|| {
            let revoked = revoke_in(&tx, appointment, &ts)?;
            for t in &revoked {
                append(
                    &tx,
                    &key,
                    &actor,
                    now,
                    "invite.revoke",
                    &json!({ "appointment": appointment.0, "token": t }),
                )?;
            }
            tx.commit()?;
            Ok(revoked)
        })()
        .map_err(|e| crate::db::map_err(&path, e))
    }
}

fn revoke_in(
    tx: &rusqlite::Transaction<'_>,
    appointment: AppointmentId,
    ts: &str,
) -> rusqlite::Result<Vec<u32>> {
    let ids: Vec<u32> = {
        let mut stmt = tx.prepare(
            "SELECT token_id FROM invites WHERE appointment_id = ?1 AND revoked_at IS NULL",
        )?;
        stmt.query_map([appointment.0], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    tx.execute(
        "UPDATE invites SET revoked_at = ?2 WHERE appointment_id = ?1 AND revoked_at IS NULL",
        params![appointment.0, ts],
    )?;
    Ok(ids)
}
