//! Audit checkpoints (policy `AuditCheckpointIntervalMinutes`): the audit
//! chain proves no event was altered, but not that none were removed from
//! its end, nor that an older copy of the whole database was not put back.
//! So the chain's head — sequence number and MAC, no PHI — is also written
//! outside the database: appended as a JSON line to
//! `<database>.audit-checkpoints.jsonl` beside it, and logged (an
//! organisation that collects logs holds a copy out of this machine's reach).
//! Verification then requires every checkpointed event to still be there,
//! with the same MAC.
//!
//! Each line is `{"seq":N,"mac":"hex","time":"RFC 3339"}`; a line is written
//! only when the head moved since the last one.

use std::io::Write;
use std::path::PathBuf;

use chrono::SecondsFormat;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::{AuditVerdict, Store, StoreError};

#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    seq: i64,
    mac: String,
    time: String,
}

impl Store {
    /// Where this database's checkpoints go.
    pub fn audit_checkpoint_path(&self) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
            .unwrap_or_default();
        name.push(".audit-checkpoints.jsonl");
        self.path.with_file_name(name)
    }

    /// Writes the audit chain's head outside the database, unless it has not
    /// moved since the last checkpoint. Returns the checkpointed sequence
    /// number, or `None` when there was nothing new.
    pub fn audit_checkpoint(&self) -> Result<Option<i64>, StoreError> {
        let head: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT seq, mac FROM audit_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((seq, mac)) = head else {
            return Ok(None);
        };
        let path = self.audit_checkpoint_path();
        let Some(existing) = self.read_checkpoints()? else {
            // Appending to a damaged file would hide the damage: verify reports it.
            return Err(StoreError::Checkpoint {
                path,
                detail: "the file is damaged; run audit verify".into(),
            });
        };
        let last = existing.last().map(|c| c.seq);
        if last.is_some_and(|l| l >= seq) {
            return Ok(None);
        }
        let c = Checkpoint {
            seq,
            mac: data_encoding::HEXLOWER.encode(&mac),
            time: self.now().to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        let fail = |e: std::io::Error| StoreError::Checkpoint {
            path: path.clone(),
            detail: e.to_string(),
        };
        let mut line = serde_json::to_string(&c).unwrap_or_default();
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(fail)?;
        f.write_all(line.as_bytes()).map_err(fail)?;
        f.sync_data().map_err(fail)?;
        tracing::info!(seq, mac = %c.mac.get(..16).unwrap_or_default(), "audit checkpoint");
        Ok(Some(seq))
    }

    /// Every checkpoint so far (none when the file does not exist yet);
    /// `None` when a line is not a checkpoint.
    fn read_checkpoints(&self) -> Result<Option<Vec<Checkpoint>>, StoreError> {
        let path = self.audit_checkpoint_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(Vec::new())),
            Err(e) => {
                return Err(StoreError::Checkpoint {
                    path,
                    detail: e.to_string(),
                });
            }
        };
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// After the chain verified with `count` events: every checkpointed event
    /// must still be there with the MAC it had.
    pub(crate) fn verify_checkpoints(&self, count: i64) -> Result<AuditVerdict, StoreError> {
        let Some(checkpoints) = self.read_checkpoints()? else {
            return Ok(AuditVerdict::CheckpointMismatch { seq: 0 });
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT mac FROM audit_events WHERE seq = ?1")
            .map_err(|e| self.err(e))?;
        for c in checkpoints {
            let stored: Option<Vec<u8>> = stmt
                .query_row([c.seq], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            let matches = stored.is_some_and(|m| data_encoding::HEXLOWER.encode(&m) == c.mac);
            if !matches {
                return Ok(AuditVerdict::CheckpointMismatch { seq: c.seq });
            }
        }
        Ok(AuditVerdict::Ok { count })
    }
}
