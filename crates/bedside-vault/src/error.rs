//! The vault's error type.

use std::path::PathBuf;

use crate::keychain::KeychainError;

/// What can go wrong while handling keys.
///
/// Messages say what happened and what to do; they never contain a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The password (or the keychain secret) did not open the wrap file.
    #[error("password incorrect")]
    PasswordIncorrect,
    /// The wrap file is missing, truncated or not a Bedside wrap file.
    #[error(
        "the key file {path} is damaged or unreadable ({reason}); restore it from a backup or recover with the escrow key"
    )]
    WrapCorrupt {
        /// The wrap file.
        path: PathBuf,
        /// A short, secret-free reason.
        reason: String,
    },
    /// The OS keychain failed.
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    /// An escrow key or box was malformed, or did not open.
    #[error("escrow: {0}")]
    Escrow(&'static str),
    /// Key derivation parameters out of range.
    #[error("key derivation parameters are invalid: {0}")]
    KdfParams(String),
    /// The QR code could not be drawn.
    #[error("could not draw the QR code")]
    Qr,
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// A file could not be read or written.
    #[error("could not access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}
