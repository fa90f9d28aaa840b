//! The idle lock as a tiny state machine: time is an input.

/// Tracks activity and says when the idle period has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleLock {
    timeout_secs: i64,
    last_activity: i64,
}

impl IdleLock {
    /// Starts counting at `now`.
    pub fn new(timeout_secs: i64, now: i64) -> Self {
        Self {
            timeout_secs,
            last_activity: now,
        }
    }

    /// Changes the idle period (policy changed); activity so far still counts.
    pub fn set_timeout(&mut self, timeout_secs: i64) {
        self.timeout_secs = timeout_secs;
    }

    /// Records activity.
    pub fn touch(&mut self, now: i64) {
        self.last_activity = self.last_activity.max(now);
    }

    /// Whether the idle period has passed at `now`.
    pub fn expired(&self, now: i64) -> bool {
        now - self.last_activity >= self.timeout_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_after_timeout_and_touch_extends() {
        let mut l = IdleLock::new(600, 0);
        assert!(!l.expired(599));
        assert!(l.expired(600));
        l.touch(500);
        assert!(!l.expired(1099));
        assert!(l.expired(1100));
        l.touch(100); // stale activity never moves the timer back
        assert!(l.expired(1100));
    }
}
