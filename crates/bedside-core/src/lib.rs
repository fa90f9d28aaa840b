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
        }
    }
}

impl Policy {
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
