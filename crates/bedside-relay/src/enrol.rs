//! Enrolling clinic keys at run time: `POST /api/admin/enroll` with
//! `Authorization: Bearer <admin token>` and `{"name": "...", "public_key":
//! "<base64url Ed25519>"}` (what `bedsidectl relay enroll` sends).
//!
//! The configuration holds only the SHA-256 of the admin token
//! (`admin_token_sha256`, hex); without it the endpoint does not exist.
//! Enrolled keys are appended to `enrolled.jsonl` in the state directory
//! (fsynced before the answer) and trusted again at start.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::RelayError;

/// The request body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The clinic's name, shown to patients.
    pub name: String,
    /// base64url of the 32-byte Ed25519 public key.
    pub public_key: String,
}

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("enrolled.jsonl")
}

/// Keys enrolled earlier; unreadable lines are skipped with a warning.
pub fn load(state_dir: &Path) -> Vec<EnrollRequest> {
    let Ok(text) = std::fs::read_to_string(path(state_dir)) else {
        return vec![];
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(r) => Some(r),
            Err(_) => {
                tracing::warn!("skipping an unreadable line in enrolled.jsonl");
                None
            }
        })
        .collect()
}

/// Appends one enrolment durably.
pub fn append(state_dir: &Path, req: &EnrollRequest) -> Result<(), RelayError> {
    let p = path(state_dir);
    let io = |e: std::io::Error| RelayError::Config(format!("{}: {e}", p.display()));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p)
        .map_err(io)?;
    let line = serde_json::to_string(req).map_err(|e| RelayError::Config(e.to_string()))?;
    f.write_all(format!("{line}\n").as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Whether `token` is the admin token whose SHA-256 (hex) is configured.
pub fn token_matches(configured_sha256_hex: &str, token: &str) -> bool {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let hex = data_encoding::HEXLOWER.encode(digest.as_ref());
    let want = configured_sha256_hex.trim().to_ascii_lowercase();
    // Both sides are public-length hex digests; compare without early exit.
    hex.len() == want.len()
        && hex
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_by_digest_only() {
        let hex = data_encoding::HEXLOWER
            .encode(ring::digest::digest(&ring::digest::SHA256, b"s3cret").as_ref());
        assert!(token_matches(&hex, "s3cret"));
        assert!(token_matches(&hex.to_uppercase(), "s3cret"));
        assert!(!token_matches(&hex, "s3creT"));
        assert!(!token_matches("", ""));
    }

    #[test]
    fn enrolments_survive_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = EnrollRequest {
            name: "A".into(),
            public_key: "k".into(),
        };
        append(dir.path(), &r).expect("append");
        std::fs::OpenOptions::new()
            .append(true)
            .open(path(dir.path()))
            .and_then(|mut f| f.write_all(b"{\"name\":"))
            .expect("torn");
        let back = load(dir.path());
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].name, "A");
    }
}
