//! Bedside's application core: profiles and sign-in, CLI sessions, the idle
//! lock, and [`Core`], the facade the desktop shell drives.
//!
//! **Invariant:** the core knows nothing of Tauri, windows or sockets; the
//! shell and `bedsidectl` are thin layers over it.

mod app;
pub mod clock;
mod error;
pub mod idle;
pub mod invites;
pub mod lockout;
pub mod profiles;
pub mod session;

pub use app::{Core, SessionState};
pub use error::CoreError;
pub use profiles::{
    KdfChoice, NewProfile, ProfileDir, ProfileMeta, ProfileSummary, Profiles, TotpEnrolment,
    Unlocked,
};

/// Settings that policy will control (issue 5/5 adds the managed sources).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Minimum password length in characters.
    pub min_password_length: usize,
    /// Idle minutes before the app locks (and a CLI session expires).
    pub idle_lock_minutes: u32,
    /// Whether sign-in needs TOTP.
    pub totp_required: bool,
    /// Hours after a full sign-in before unlocking asks for TOTP again.
    pub totp_reauth_hours: u32,
    /// Minutes before the appointment that an invite link starts working.
    pub invite_lead_minutes: u32,
    /// Longest an invite link may live, in hours.
    pub invite_max_lifetime_hours: u32,
    /// Devices a link admits without extra, flagged admission.
    pub invite_max_devices: u8,
    /// The knock asks for the date of birth (signed into each invite token).
    pub knock_requires_dob: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            min_password_length: 12,
            idle_lock_minutes: 10,
            totp_required: true,
            totp_reauth_hours: 12,
            invite_lead_minutes: 15,
            invite_max_lifetime_hours: 24,
            invite_max_devices: 1,
            knock_requires_dob: false,
        }
    }
}

impl Policy {
    /// The policy in force, from merged policy layers (see `bedside-policy`).
    pub fn from_effective(e: &bedside_policy::Effective) -> Self {
        let d = Self::default();
        let int = |name: &str, fallback: i64| match e.get(name).as_i64() {
            Some(v) => v,
            None => fallback,
        };
        Self {
            min_password_length: usize::try_from(int(
                "PasswordMinLength",
                d.min_password_length as i64,
            ))
            .unwrap_or(d.min_password_length),
            idle_lock_minutes: u32::try_from(int(
                "IdleLockMinutes",
                i64::from(d.idle_lock_minutes),
            ))
            .unwrap_or(d.idle_lock_minutes),
            totp_required: e.get("TotpRequired").as_bool().unwrap_or(d.totp_required),
            totp_reauth_hours: d.totp_reauth_hours,
            invite_lead_minutes: d.invite_lead_minutes,
            invite_max_lifetime_hours: u32::try_from(int(
                "InviteMaxLifetimeHours",
                i64::from(d.invite_max_lifetime_hours),
            ))
            .unwrap_or(d.invite_max_lifetime_hours),
            invite_max_devices: u8::try_from(int(
                "InviteMaxDevices",
                i64::from(d.invite_max_devices),
            ))
            .unwrap_or(d.invite_max_devices),
            knock_requires_dob: e
                .get("KnockRequiresDateOfBirth")
                .as_bool()
                .unwrap_or(d.knock_requires_dob),
        }
    }

    /// Reads the platform's policy sources (Linux: `$BEDSIDE_POLICY_DIR`, else
    /// `/etc/bedside/policies`) and returns the policy in force with the full
    /// merge result (for the Policy page and `bedsidectl policy show`).
    pub fn load_platform() -> (
        Self,
        bedside_policy::Effective,
        Vec<bedside_policy::sources::SourceProblem>,
    ) {
        let root = std::env::var_os("BEDSIDE_POLICY_DIR")
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::PathBuf::from(bedside_policy::sources::LINUX_ROOT));
        let (layers, problems) = bedside_policy::sources::read_dir_layers(&root);
        let effective = bedside_policy::merge(&serde_json::Map::new(), &layers);
        for p in &problems {
            tracing::warn!(file = %p.path.display(), reason = %p.reason, "policy file ignored");
        }
        (Self::from_effective(&effective), effective, problems)
    }

    /// The idle period in seconds.
    pub fn idle_lock_secs(&self) -> i64 {
        i64::from(self.idle_lock_minutes) * 60
    }
}

/// The default data directory: `$BEDSIDE_DATA_DIR`, else the platform's
/// per-user data directory plus `bedside`.
pub fn default_data_dir() -> Result<std::path::PathBuf, CoreError> {
    use std::path::PathBuf;
    if let Some(d) = std::env::var_os("BEDSIDE_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let base = if cfg!(windows) {
        std::env::var_os("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/Application Support"))
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
    };
    base.map(|b| b.join("bedside")).ok_or(CoreError::Invalid {
        field: "data directory",
        problem: "cannot find a home directory; set BEDSIDE_DATA_DIR".into(),
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod policy_tests {
    use super::*;
    use serde_json::json;

    fn managed(v: serde_json::Value) -> bedside_policy::Effective {
        let layer = bedside_policy::Layer {
            source: bedside_policy::Source::Platform {
                location: "test.json".into(),
            },
            level: bedside_policy::Level::Mandatory,
            values: v.as_object().cloned().unwrap_or_default(),
        };
        bedside_policy::merge(&serde_json::Map::new(), &[layer])
    }

    #[test]
    fn managed_policy_reaches_the_core() {
        let p = Policy::from_effective(&managed(json!({
            "PasswordMinLength": 16, "IdleLockMinutes": 3, "TotpRequired": false,
            "InviteMaxLifetimeHours": 2, "InviteMaxDevices": 2, "KnockRequiresDateOfBirth": true
        })));
        assert!(p.knock_requires_dob);
        assert_eq!(p.min_password_length, 16);
        assert_eq!(p.idle_lock_secs(), 180);
        assert!(!p.totp_required);
        assert_eq!((p.invite_max_lifetime_hours, p.invite_max_devices), (2, 2));
        // Nothing set: the defaults.
        assert_eq!(
            Policy::from_effective(&managed(json!({}))),
            Policy::default()
        );
        // Invalid values fall back to defaults rather than weakening anything.
        assert_eq!(
            Policy::from_effective(&managed(json!({ "PasswordMinLength": 3 }))).min_password_length,
            12
        );
    }

    #[test]
    fn a_longer_minimum_password_refuses_a_shorter_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let profiles = Profiles::new(
            dir.path(),
            std::sync::Arc::new(bedside_vault::MemoryKeychain::new()),
            std::sync::Arc::new(clock::SystemClock),
            Policy::from_effective(&managed(json!({ "PasswordMinLength": 20 }))),
            KdfChoice::Fixed(bedside_vault::KdfParams::DANGER_TEST_ONLY),
        );
        let r = profiles.create(
            &NewProfile {
                username: "dr.p".into(),
                display_name: "P".into(),
                password: bedside_vault::Password::new("fifteen chars!!"),
            },
            None,
        );
        assert!(
            matches!(r, Err(CoreError::WeakPassword { min: 20 })),
            "{r:?}"
        );
    }
}
