//! The tamper-evident audit log: each event is chained to the previous one
//! by `HMAC-SHA256(K_audit, canonical(event) ‖ prev)`, with `K_audit` derived
//! from the database key. Events are appended inside the same transaction as
//! the change they record.
//!
//! Events carry ids and action names only, never PHI.

use chrono::{DateTime, SecondsFormat, Utc};
use ring::hmac;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::{Store, StoreError};

/// One audit event as exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct AuditEvent {
    /// 1, 2, 3, ... without gaps.
    pub seq: i64,
    /// RFC 3339 UTC with milliseconds.
    pub time: String,
    /// Who (the profile's username, or `system`).
    pub actor: String,
    /// What, e.g. `patient.create`.
    pub action: String,
    /// Which records, as a JSON object of ids.
    pub subject: serde_json::Value,
    /// The previous event's MAC, hex.
    pub prev: String,
    /// This event's MAC, hex.
    pub mac: String,
}

/// The result of verifying the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AuditVerdict {
    /// Every link holds.
    Ok {
        /// Number of events.
        count: i64,
    },
    /// The first event whose link does not hold.
    Broken {
        /// Its sequence number.
        seq: i64,
    },
    /// The chain holds, but a checkpoint kept outside the database names
    /// event `seq`, which the database no longer has as recorded: events were
    /// removed from the end, or an older copy of the database was put back
    /// (`seq` 0: the checkpoint file itself is unreadable).
    CheckpointMismatch {
        /// The checkpointed event that does not match.
        seq: i64,
    },
}

fn canonical(
    seq: i64,
    time: &str,
    actor: &str,
    action: &str,
    subject: &str,
    prev: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(64 + time.len() + actor.len() + action.len() + subject.len());
    v.extend_from_slice(b"bedside audit v1");
    v.extend_from_slice(&seq.to_be_bytes());
    for field in [
        time.as_bytes(),
        actor.as_bytes(),
        action.as_bytes(),
        subject.as_bytes(),
        prev,
    ] {
        v.extend_from_slice(&(field.len() as u64).to_be_bytes());
        v.extend_from_slice(field);
    }
    v
}

pub(crate) fn mac(key: &[u8; 32], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// Appends one event inside `tx`. Returns its sequence number.
pub(crate) fn append(
    tx: &Transaction<'_>,
    key: &[u8; 32],
    actor: &str,
    time: DateTime<Utc>,
    action: &str,
    subject: &serde_json::Value,
) -> rusqlite::Result<i64> {
    let last: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT seq, mac FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev) = match last {
        Some((s, m)) => (s + 1, m),
        None => (1, vec![0u8; 32]),
    };
    let time = time.to_rfc3339_opts(SecondsFormat::Millis, true);
    let subject = subject.to_string();
    let m = mac(key, &canonical(seq, &time, actor, action, &subject, &prev));
    tx.execute(
        "INSERT INTO audit_events (seq, time, actor, action, subject, prev, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![seq, time, actor, action, subject, prev, m],
    )?;
    Ok(seq)
}

impl Store {
    /// Records an event that has no other write with it (sign-in, lock, view...).
    pub fn audit(&mut self, action: &str, subject: serde_json::Value) -> Result<i64, StoreError> {
        let now = self.now();
        let key = *self.audit_key;
        let actor = self.actor.clone();
        let path = self.path.clone();
        let tx = self.write()?;
        let seq = append(&tx, &key, &actor, now, action, &subject)
            .map_err(|e| crate::db::map_err(&path, e))?;
        tx.commit().map_err(|e| crate::db::map_err(&path, e))?;
        Ok(seq)
    }

    pub(crate) fn err_path(&self, e: rusqlite::Error) -> StoreError {
        crate::db::map_err(&self.path, e)
    }

    /// Recomputes the whole chain, then checks it against the checkpoints
    /// kept outside the database (see [`Store::audit_checkpoint`]).
    pub fn audit_verify(&self) -> Result<AuditVerdict, StoreError> {
        match self.verify_chain()? {
            AuditVerdict::Ok { count } => self.verify_checkpoints(count),
            broken => Ok(broken),
        }
    }

    /// The chain check alone, for tests that show what checkpoints add.
    #[cfg(test)]
    pub(crate) fn verify_chain_for_tests(&self) -> AuditVerdict {
        self.verify_chain()
            .unwrap_or(AuditVerdict::Broken { seq: -1 })
    }

    fn verify_chain(&self) -> Result<AuditVerdict, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, time, actor, action, subject, prev, mac FROM audit_events ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        let mut expected_seq = 1i64;
        let mut prev_mac = vec![0u8; 32];
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let seq: i64 = r.get(0).map_err(|e| self.err(e))?;
            let (time, actor, action, subject): (String, String, String, String) = (
                r.get(1).map_err(|e| self.err(e))?,
                r.get(2).map_err(|e| self.err(e))?,
                r.get(3).map_err(|e| self.err(e))?,
                r.get(4).map_err(|e| self.err(e))?,
            );
            let prev: Vec<u8> = r.get(5).map_err(|e| self.err(e))?;
            let stored: Vec<u8> = r.get(6).map_err(|e| self.err(e))?;
            if seq != expected_seq {
                return Ok(AuditVerdict::Broken { seq: expected_seq });
            }
            let want = mac(
                &self.audit_key,
                &canonical(seq, &time, &actor, &action, &subject, &prev),
            );
            // Not a secret comparison: whoever runs verify holds the key.
            if prev != prev_mac || want != stored {
                return Ok(AuditVerdict::Broken { seq });
            }
            prev_mac = stored;
            expected_seq += 1;
        }
        Ok(AuditVerdict::Ok {
            count: expected_seq - 1,
        })
    }

    /// All events in order.
    pub fn audit_export(&self) -> Result<Vec<AuditEvent>, StoreError> {
        let hex = data_encoding::HEXLOWER;
        let mut stmt = self
            .conn
            .prepare("SELECT seq, time, actor, action, subject, prev, mac FROM audit_events ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let subject: String = r.get(4)?;
                Ok(AuditEvent {
                    seq: r.get(0)?,
                    time: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    subject: serde_json::from_str(&subject)
                        .unwrap_or(serde_json::Value::String(subject)),
                    prev: hex.encode(&r.get::<_, Vec<u8>>(5)?),
                    mac: hex.encode(&r.get::<_, Vec<u8>>(6)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Number of audit events.
    pub fn audit_count(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Test hook: runs raw SQL, bypassing every invariant. Only for tests
    /// that simulate an attacker editing the file with the key in hand.
    #[doc(hidden)]
    pub fn danger_execute_raw(&self, sql: &str) -> Result<usize, StoreError> {
        self.conn.execute(sql, []).map_err(|e| self.err(e))
    }
}
