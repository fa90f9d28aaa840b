//! Bedside's application core: profiles and sign-in, CLI sessions, the idle
//! lock, and [`Core`], the facade the desktop shell drives.
//!
//! **Invariant:** the core knows nothing of Tauri, windows or sockets; the
//! shell and `bedsidectl` are thin layers over it.

mod app;
pub mod clock;
pub mod desk;
mod error;
pub mod idle;
pub mod invites;
pub mod lockout;
pub mod logging;
pub mod profiles;
pub mod session;

pub use app::{Core, SessionState};
pub use desk::{
    AppointmentInput, AuditFilter, DeviceSlot, PatientInput, SavedDevice, SavedDevices, Settings,
    WatchedVisit,
};
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
    /// X25519 escrow public key (base64url) new profiles seal their database key to.
    pub escrow_public_key: Option<String>,
    /// Relay origins invites may use; `None` means any https relay (or loopback).
    pub allowed_relay_origins: Option<Vec<String>>,
    /// The relay new invites point at (`RelayUrl`), over the user's setting; `None`: the
    /// user's setting, else the app's embedded relay.
    pub relay_url: Option<String>,
    /// Versions older than this refuse to start visits (`MinimumVersion`).
    pub minimum_version: Option<String>,
    /// The knock asks for the date of birth (signed into each invite token).
    pub knock_requires_dob: bool,
    /// Days a visit that is over is kept (`DataRetentionDays`); older ones are
    /// purged at sign-in.
    pub data_retention_days: u32,
    /// Minutes between audit checkpoints written outside the database
    /// (`AuditCheckpointIntervalMinutes`).
    pub audit_checkpoint_minutes: u32,
    /// Where the app looks for signed updates (`UpdateUrl`); `None`: no update checks.
    pub update_url: Option<String>,
    /// The minisign public key updates must be signed with (`UpdatePublicKey`).
    pub update_public_key: Option<String>,
    /// The release channel (`UpdateChannel`: `stable` or `beta`).
    pub update_channel: String,
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
            escrow_public_key: None,
            allowed_relay_origins: None,
            relay_url: None,
            minimum_version: None,
            knock_requires_dob: false,
            data_retention_days: 3650,
            audit_checkpoint_minutes: 60,
            update_url: None,
            update_public_key: None,
            update_channel: "stable".to_owned(),
        }
    }
}

/// The policy read from the platform, with everything the Policy page shows.
#[derive(Clone, Debug)]
pub struct LoadedPolicy {
    /// The settings the core applies.
    pub policy: Policy,
    /// Every policy with its value, source, level and status.
    pub effective: bedside_policy::Effective,
    /// Policy files that could not be used.
    pub problems: Vec<bedside_policy::sources::SourceProblem>,
    /// Signed bundles: the one in force and those refused.
    pub bundle: bedside_policy::sources::BundleReport,
}

impl LoadedPolicy {
    /// Logs unusable files, refused bundles and ignored values (names and
    /// reasons only: policy holds no PHI).
    pub fn log(&self) {
        for p in &self.problems {
            tracing::warn!(file = %p.path.display(), reason = %p.reason, "policy file ignored");
        }
        for r in &self.bundle.refused {
            tracing::warn!(file = %r.location, reason = %r.reason, "policy bundle refused");
        }
        for e in &self.effective.problems {
            tracing::warn!(policy = %e.name, "policy value ignored");
        }
    }

    /// Whether `other` would show or apply anything differently.
    pub fn differs_from(&self, other: &Self) -> bool {
        self.effective != other.effective
            || self.problems != other.problems
            || self.bundle != other.bundle
    }
}

/// The file that remembers the last signed policy bundle applied, in `data_dir`.
pub const REMEMBERED_BUNDLE_FILE: &str = "policy-bundle.json";

/// The platform's policy root: `$BEDSIDE_POLICY_DIR`, else `/etc/bedside/policies`.
pub fn policy_root() -> std::path::PathBuf {
    std::env::var_os("BEDSIDE_POLICY_DIR")
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(bedside_policy::sources::LINUX_ROOT))
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
            escrow_public_key: e.str("EscrowPublicKey").map(str::to_owned),
            minimum_version: e.str("MinimumVersion").map(str::to_owned),
            relay_url: e.str("RelayUrl").map(str::to_owned),
            allowed_relay_origins: e.get("AllowedRelayOrigins").as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            }),
            knock_requires_dob: e
                .get("KnockRequiresDateOfBirth")
                .as_bool()
                .unwrap_or(d.knock_requires_dob),
            data_retention_days: u32::try_from(int(
                "DataRetentionDays",
                i64::from(d.data_retention_days),
            ))
            .unwrap_or(d.data_retention_days),
            audit_checkpoint_minutes: u32::try_from(int(
                "AuditCheckpointIntervalMinutes",
                i64::from(d.audit_checkpoint_minutes),
            ))
            .unwrap_or(d.audit_checkpoint_minutes)
            .max(1),
            update_url: e.str("UpdateUrl").map(str::to_owned),
            update_public_key: e.str("UpdatePublicKey").map(str::to_owned),
            update_channel: e
                .str("UpdateChannel")
                .map_or(d.update_channel, str::to_owned),
        }
    }

    /// Reads the platform's policy sources (see [`policy_root`]) and returns
    /// the policy in force with the full merge result (for the Policy page and
    /// `bedsidectl policy show`). With `data_dir`, the last applied signed
    /// bundle is remembered there ([`REMEMBERED_BUNDLE_FILE`]) so an older one
    /// is refused later; without it, no memory is read or written.
    pub fn load_platform(data_dir: Option<&std::path::Path>) -> LoadedPolicy {
        let loaded = Self::load_from(&policy_root(), data_dir);
        loaded.log();
        loaded
    }

    /// [`Policy::load_platform`] from an explicit policy root, logging only a
    /// newly applied bundle (watchers call this every few seconds and log
    /// problems with [`LoadedPolicy::log`] when something changed).
    pub fn load_from(root: &std::path::Path, data_dir: Option<&std::path::Path>) -> LoadedPolicy {
        use bedside_policy::sources;
        let memory = data_dir.map(|d| d.join(REMEMBERED_BUNDLE_FILE));
        let remembered = memory.as_deref().and_then(sources::load_remembered);
        let platform = sources::read_platform(root, remembered.as_ref());
        if let (Some(path), Some(new)) = (&memory, &platform.remember) {
            match sources::save_remembered(path, new) {
                Ok(()) => tracing::info!(version = new.version, "signed policy bundle applied"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not remember the applied policy bundle");
                }
            }
        }
        let effective = bedside_policy::merge(&serde_json::Map::new(), &platform.layers);
        LoadedPolicy {
            policy: Self::from_effective(&effective),
            effective,
            problems: platform.problems,
            bundle: platform.bundle,
        }
    }

    /// `Err(UpdateRequired)` when `running` (e.g. `CARGO_PKG_VERSION`) is older than the
    /// policy's `MinimumVersion`. Versions compare as numbers, part by part.
    pub fn check_version(&self, running: &str) -> Result<(), CoreError> {
        let parse = |v: &str| -> Option<[u32; 3]> {
            let mut parts = v.split(['-', '+']).next()?.split('.');
            let mut out = [0u32; 3];
            for slot in &mut out {
                *slot = parts.next()?.parse().ok()?;
            }
            Some(out)
        };
        match (&self.minimum_version, parse(running)) {
            (Some(min), Some(have)) if parse(min).is_some_and(|m| have < m) => {
                Err(CoreError::UpdateRequired {
                    minimum: min.clone(),
                })
            }
            _ => Ok(()),
        }
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
mod policy_effects;
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
        assert_eq!(p.update_url, None, "no UpdateUrl: no update checks");
        assert_eq!(p.update_channel, "stable");
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
    fn update_policies_reach_the_core() {
        let key = "RWTX5qZvdPSepDGWg2bz8n6ArQnBMwgQK1geVosorcbLzcunD+KJ+cYe";
        let p = Policy::from_effective(&managed(json!({
            "UpdateUrl": "https://updates.clinic.example/{{channel}}/latest.json",
            "UpdatePublicKey": key,
            "UpdateChannel": "beta",
        })));
        assert_eq!(
            p.update_url.as_deref(),
            Some("https://updates.clinic.example/{{channel}}/latest.json")
        );
        assert_eq!(p.update_public_key.as_deref(), Some(key));
        assert_eq!(p.update_channel, "beta");
        // A key that is not a minisign key and an unknown channel are ignored, not half-used.
        let p = Policy::from_effective(&managed(json!({
            "UpdatePublicKey": "not a key", "UpdateChannel": "nightly",
        })));
        assert_eq!(p.update_public_key, None);
        assert_eq!(p.update_channel, "stable");
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
