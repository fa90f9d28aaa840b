//! The clinician profile row (one per database) and key/value settings.

use bedside_vault::TotpSecret;
use rusqlite::{OptionalExtension, params};
use serde_json::json;

use crate::audit::append;
use crate::model::Profile;
use crate::{Store, StoreError};

impl Store {
    /// Creates the profile row (first run). Fails if one exists.
    pub fn init_profile(
        &mut self,
        username: &str,
        display_name: &str,
        totp: &TotpSecret,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let (key, actor, ts) = (*self.audit_key, self.actor.clone(), now.to_rfc3339());
        let tx = self.write()?;
        (|| {
            tx.execute(
                "INSERT INTO profile (id, username, display_name, created_at, totp_secret, totp_enabled)
                 VALUES (1, ?1, ?2, ?3, ?4, 0)",
                params![username, display_name, ts, totp.expose()],
            )?;
            append(&tx, &key, &actor, now, "profile.create", &json!({}))?;
            tx.commit()
        })()
        .map_err(|e| self.err_path(e))
    }

    /// The profile row.
    pub fn profile(&self) -> Result<Profile, StoreError> {
        self.conn
            .query_row(
                "SELECT username, display_name, totp_enabled FROM profile WHERE id = 1",
                [],
                |r| {
                    Ok(Profile {
                        username: r.get(0)?,
                        display_name: r.get(1)?,
                        totp_enabled: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::NotFound {
                what: "profile",
                id: 1,
            })
    }

    /// The TOTP secret and the last accepted step.
    pub fn totp_state(&self) -> Result<(TotpSecret, Option<u64>), StoreError> {
        self.conn
            .query_row(
                "SELECT totp_secret, totp_last_step FROM profile WHERE id = 1",
                [],
                |r| {
                    let s: Vec<u8> = r.get(0)?;
                    let last: Option<i64> = r.get(1)?;
                    Ok((TotpSecret::from_bytes(s), last.map(|l| l as u64)))
                },
            )
            .map_err(|e| self.err(e))
    }

    /// Records an accepted TOTP step (so the code cannot be replayed) and,
    /// when confirming enrolment, turns TOTP on. Audited.
    pub fn accept_totp(&mut self, step: u64, enable: bool) -> Result<(), StoreError> {
        let now = self.now();
        let (key, actor) = (*self.audit_key, self.actor.clone());
        let tx = self.write()?;
        (|| {
            tx.execute(
                "UPDATE profile SET totp_last_step = ?1, totp_enabled = totp_enabled OR ?2 WHERE id = 1",
                params![step as i64, enable],
            )?;
            if enable {
                append(&tx, &key, &actor, now, "totp.enable", &json!({}))?;
            }
            tx.commit()
        })()
        .map_err(|e| self.err_path(e))
    }

    /// A setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Sets a setting (audited with its key, not its value).
    pub fn set_setting(&mut self, k: &str, value: &str) -> Result<(), StoreError> {
        let now = self.now();
        let (key, actor) = (*self.audit_key, self.actor.clone());
        let tx = self.write()?;
        (|| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![k, value],
            )?;
            append(&tx, &key, &actor, now, "setting.change", &json!({ "key": k }))?;
            tx.commit()
        })()
        .map_err(|e| self.err_path(e))
    }
}
