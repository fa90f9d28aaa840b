//! Sign-in lockout: after 5 consecutive failures each further attempt waits,
//! doubling from 30 s up to an hour. Persisted beside the profile (outside
//! the encrypted database, which is closed while nobody is signed in), and
//! failures are copied into the audit log at the next successful sign-in.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// Failures allowed before waits begin.
pub const FREE_ATTEMPTS: u32 = 5;
const BASE_WAIT_SECS: i64 = 30;
const MAX_WAIT_SECS: i64 = 3600;

/// The persisted state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    /// Consecutive failures.
    pub failures: u32,
    /// Unix seconds before which no attempt is accepted.
    pub locked_until: i64,
    /// Failures not yet written to the audit log.
    pub unaudited_failures: u32,
}

impl Lockout {
    /// Refuses the attempt while locked.
    pub fn check(&self, now: i64) -> Result<(), CoreError> {
        if now < self.locked_until {
            return Err(CoreError::LockedOut {
                retry_after_secs: (self.locked_until - now) as u64,
            });
        }
        Ok(())
    }

    /// Records a failure and sets the next wait.
    pub fn fail(&mut self, now: i64) {
        self.failures = self.failures.saturating_add(1);
        self.unaudited_failures = self.unaudited_failures.saturating_add(1);
        if self.failures >= FREE_ATTEMPTS {
            let doublings = (self.failures - FREE_ATTEMPTS).min(16);
            let wait = (BASE_WAIT_SECS << doublings).min(MAX_WAIT_SECS);
            self.locked_until = now + wait;
        }
    }

    /// Clears after a success.
    pub fn succeed(&mut self) {
        *self = Self::default();
    }

    /// Reads the state; a missing or unreadable file counts as clean, since
    /// the file only throttles guessing (the Argon2id cost and the keychain
    /// secret are the real barrier; see SECURITY.md).
    pub fn load(path: &Path) -> Self {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes the state atomically.
    pub fn save(&self, path: &Path) -> Result<(), CoreError> {
        let bytes = serde_json::to_vec(self).map_err(|_| CoreError::Invalid {
            field: "lockout",
            problem: "serialise".into(),
        })?;
        bedside_vault::wrap::write_atomic(path, &bytes).map_err(CoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_free_then_doubling_waits() {
        let mut l = Lockout::default();
        let t = 1_000_000;
        for _ in 0..4 {
            l.fail(t);
            l.check(t).expect("no wait before the fifth failure");
        }
        l.fail(t);
        assert!(matches!(
            l.check(t),
            Err(CoreError::LockedOut {
                retry_after_secs: 30
            })
        ));
        l.check(t + 30).expect("after the wait");
        l.fail(t + 30);
        assert!(matches!(
            l.check(t + 30),
            Err(CoreError::LockedOut {
                retry_after_secs: 60
            })
        ));
        for _ in 0..20 {
            l.fail(t);
        }
        assert!(matches!(
            l.check(t),
            Err(CoreError::LockedOut {
                retry_after_secs: 3600
            })
        ));
        assert_eq!(l.unaudited_failures, 26);
        l.succeed();
        l.check(t).expect("cleared");
    }
}
