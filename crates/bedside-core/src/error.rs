//! The core's error type, with stable codes for the UI and exit-code classes
//! for the CLI.

use std::path::PathBuf;

use bedside_store::StoreError;
use bedside_vault::{KeychainError, VaultError};

/// Everything the core can refuse or fail at. `Display` is safe to show to
/// the person at the keyboard: it never holds PHI or secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// Wrong password or wrong code: deliberately not saying which.
    #[error("The password or the code is incorrect.")]
    SigninFailed,
    /// Too many failures.
    #[error("Too many failed attempts. Try again in {retry_after_secs} seconds.")]
    LockedOut {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// The password is too short for policy.
    #[error("The password must be at least {min} characters long.")]
    WeakPassword {
        /// The minimum.
        min: usize,
    },
    /// A profile with this username exists.
    #[error("A profile named {0:?} already exists on this computer.")]
    ProfileExists(String),
    /// No profile with this username.
    #[error("There is no profile named {0:?} on this computer.")]
    NoSuchProfile(String),
    /// Several profiles and none chosen.
    #[error("Several profiles exist here; choose one with --profile (or BEDSIDE_PROFILE).")]
    ProfileAmbiguous,
    /// No profile yet.
    #[error("No profile exists yet; create one first (bedsidectl init).")]
    NoProfile,
    /// TOTP is required but not yet confirmed.
    #[error(
        "Two-step sign-in is not set up yet: confirm a code from your authenticator app first."
    )]
    TotpNotEnrolled,
    /// TOTP is already on.
    #[error("Two-step sign-in is already set up for this profile.")]
    TotpAlreadyEnabled,
    /// The app is locked / no session.
    #[error("Not signed in: sign in first (bedsidectl signin, then set BEDSIDE_SESSION).")]
    NotSignedIn,
    /// The CLI session expired or was ended.
    #[error("The session has expired or was locked; sign in again.")]
    SessionExpired,
    /// The CLI session token is malformed or not for this computer.
    #[error("The session token is not valid here; sign in again.")]
    SessionInvalid,
    /// Policy requires a newer version of Bedside before visits can start.
    #[error(
        "Update required: your organisation requires Bedside {minimum} or later to start visits. Install the update, then try again."
    )]
    UpdateRequired {
        /// The minimum version policy names.
        minimum: String,
    },
    /// Bad input.
    #[error("{field}: {problem}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The keychain failed.
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    /// Key handling failed.
    #[error(transparent)]
    Vault(VaultError),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
    /// The database could not be decrypted with a key that came out of an
    /// authenticated wrap: so the file itself is damaged or swapped.
    #[error(
        "the database {0} is damaged or does not belong to this profile; restore it from a backup"
    )]
    DatabaseMismatch(PathBuf),
    /// A file could not be accessed.
    #[error("could not access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl From<VaultError> for CoreError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Keychain(k) => Self::Keychain(k),
            other => Self::Vault(other),
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid { field, problem } => Self::Invalid { field, problem },
            other => Self::Store(other),
        }
    }
}

impl CoreError {
    /// A stable machine-readable code for the UI and `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SigninFailed => "signin_failed",
            Self::LockedOut { .. } => "locked_out",
            Self::WeakPassword { .. } => "weak_password",
            Self::ProfileExists(_) => "profile_exists",
            Self::NoSuchProfile(_) | Self::NoProfile => "no_profile",
            Self::ProfileAmbiguous => "profile_ambiguous",
            Self::TotpNotEnrolled => "totp_not_enrolled",
            Self::TotpAlreadyEnabled => "totp_already_enabled",
            Self::NotSignedIn => "not_signed_in",
            Self::SessionExpired => "session_expired",
            Self::SessionInvalid => "session_invalid",
            Self::Invalid { .. } => "invalid_input",
            Self::UpdateRequired { .. } => "update_required",
            Self::Keychain(_) => "keychain_unavailable",
            Self::Vault(VaultError::PasswordIncorrect) => "signin_failed",
            Self::Vault(VaultError::WrapCorrupt { .. }) => "key_file_damaged",
            Self::Vault(VaultError::Escrow(_)) => "escrow_failed",
            Self::Vault(_) => "internal",
            Self::Store(StoreError::NotFound { .. }) => "not_found",
            Self::Store(StoreError::Overlap { .. }) => "overlap",
            Self::Store(StoreError::BadTransition { .. }) => "bad_transition",
            Self::Store(StoreError::Corrupt { .. }) | Self::DatabaseMismatch(_) => {
                "database_damaged"
            }
            Self::Store(StoreError::TooNew { .. }) => "database_too_new",
            Self::Store(StoreError::Busy { .. }) => "busy",
            Self::Store(_) => "database_error",
            Self::Io { .. } => "io_error",
        }
    }

    /// True when the environment (keychain, files, disk) is at fault rather
    /// than the person's input; the CLI exits 2 for these, 1 otherwise.
    pub fn is_environment(&self) -> bool {
        matches!(
            self.code(),
            "keychain_unavailable"
                | "key_file_damaged"
                | "database_damaged"
                | "database_too_new"
                | "busy"
                | "database_error"
                | "io_error"
                | "internal"
        )
    }
}
