//! Invite revocation: the only state the relay persists.
//!
//! `POST /api/revoke` with a JSON body
//!
//! ```json
//! {"visit": "<32 hex digits>", "token_id": 3735928559, "signature": "<base64url>"}
//! ```
//!
//! where `signature` is the clinic's Ed25519 signature over
//! `"bedside revoke v1" ‖ visit (16 bytes) ‖ token_id (u32 big-endian)`
//! ([`bedside_protocol::revoke_message`]). The relay accepts it if any
//! trusted clinic key verifies it, and records that key with the revocation:
//! a revocation only applies to tokens signed by the same key, so one clinic
//! cannot withdraw another's invites. Replaying a revocation is harmless
//! (idempotent). No PHI is involved: visit ids are random.
//!
//! Storage: `revocations.jsonl` in the state directory, one JSON object a
//! line, appended and `fsync`ed before the request is acknowledged, read
//! back at start. A torn last line (a crash mid-write) is skipped with a
//! warning; its request was never acknowledged.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use data_encoding::{BASE64URL_NOPAD, HEXLOWER_PERMISSIVE};
use serde::{Deserialize, Serialize};

use crate::RelayError;

/// The request body of `POST /api/revoke`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Visit id, 32 hex digits.
    pub visit: String,
    /// The invite's token id.
    pub token_id: u32,
    /// base64url Ed25519 signature over [`bedside_protocol::revoke_message`].
    pub signature: String,
}

#[derive(Serialize, Deserialize)]
struct Record {
    key: String,
    visit: String,
    token_id: u32,
    at: u64,
}

type Entry = (Vec<u8>, [u8; 16], u32);

/// The revocation set and its file.
#[derive(Debug)]
pub struct Revocations {
    path: PathBuf,
    set: Mutex<HashSet<Entry>>,
    /// Guards appends; true while the file ends in a torn line that the
    /// next append must terminate first.
    file: Mutex<bool>,
}

/// Parses a 32-hex-digit visit id.
pub fn parse_visit(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 {
        return None;
    }
    let raw = HEXLOWER_PERMISSIVE.decode(hex.as_bytes()).ok()?;
    raw.try_into().ok()
}

impl Revocations {
    /// Opens (creating the directory if needed) and loads the file.
    pub fn open(state_dir: &Path) -> Result<Self, RelayError> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            RelayError::Io(format!(
                "cannot create state directory {}: {e}",
                state_dir.display()
            ))
        })?;
        let path = state_dir.join("revocations.jsonl");
        let mut set = HashSet::new();
        let mut torn = false;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                torn = !text.is_empty() && !text.ends_with('\n');
                for (n, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let parsed = serde_json::from_str::<Record>(line).ok().and_then(|r| {
                        Some((
                            BASE64URL_NOPAD.decode(r.key.as_bytes()).ok()?,
                            parse_visit(&r.visit)?,
                            r.token_id,
                        ))
                    });
                    match parsed {
                        Some(e) => {
                            set.insert(e);
                        }
                        None => tracing::warn!(line = n + 1, "skipping unreadable revocation line"),
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(RelayError::Io(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        }
        tracing::info!(count = set.len(), "revocations loaded");
        Ok(Self {
            path,
            set: Mutex::new(set),
            file: Mutex::new(torn),
        })
    }

    /// Whether the token (by signing key, visit and token id) is revoked.
    pub fn contains(&self, key: &[u8], visit: &[u8; 16], token_id: u32) -> bool {
        self.set
            .lock()
            .map(|s| s.contains(&(key.to_vec(), *visit, token_id)))
            .unwrap_or(true)
    }

    /// Records a revocation durably (blocking: call from a blocking task).
    pub fn add(
        &self,
        key: &[u8],
        visit: [u8; 16],
        token_id: u32,
        now: u64,
    ) -> Result<(), RelayError> {
        let entry = (key.to_vec(), visit, token_id);
        if self.contains(key, &visit, token_id) {
            return Ok(());
        }
        let line = serde_json::to_string(&Record {
            key: BASE64URL_NOPAD.encode(key),
            visit: data_encoding::HEXLOWER.encode(&visit),
            token_id,
            at: now,
        })
        .map_err(|e| RelayError::Io(e.to_string()))?;
        let io = |e: std::io::Error| RelayError::Io(format!("cannot write revocation: {e}"));
        {
            let mut torn = self.file.lock().map_err(|_| RelayError::Poisoned)?;
            let existed = self.path.exists();
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(io)?;
            let lead = if *torn { "\n" } else { "" };
            f.write_all(format!("{lead}{line}\n").as_bytes())
                .map_err(io)?;
            *torn = false;
            f.sync_data().map_err(io)?;
            if !existed {
                // Make the new directory entry durable too.
                if let Some(dir) = self.path.parent() {
                    std::fs::File::open(dir)
                        .and_then(|d| d.sync_all())
                        .map_err(io)?;
                }
            }
        }
        self.set
            .lock()
            .map_err(|_| RelayError::Poisoned)?
            .insert(entry);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_skips_torn_lines() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = Revocations::open(dir.path()).expect("open");
        r.add(&[1; 32], [2; 16], 7, 100).expect("add");
        r.add(&[1; 32], [2; 16], 7, 101).expect("idempotent");
        assert!(r.contains(&[1; 32], &[2; 16], 7));
        assert!(!r.contains(&[9; 32], &[2; 16], 7), "other key");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("revocations.jsonl"))
            .expect("append");
        f.write_all(b"{\"key\":\"AQ").expect("torn");
        drop(r);
        let r = Revocations::open(dir.path()).expect("reopen");
        assert!(r.contains(&[1; 32], &[2; 16], 7));
        r.add(&[1; 32], [3; 16], 8, 102).expect("after torn");
        drop(r);
        let r = Revocations::open(dir.path()).expect("reopen again");
        assert!(r.contains(&[1; 32], &[2; 16], 7));
        assert!(r.contains(&[1; 32], &[3; 16], 8));
        assert_eq!(parse_visit("zz"), None);
        assert_eq!(parse_visit(&"ab".repeat(16)), Some([0xab; 16]));
    }
}
