//! Keys for Bedside: secret newtypes, password key derivation, the wrap file
//! that protects the database key, the OS keychain, escrow and TOTP.
//!
//! Everything cryptographic goes through `ring` (HKDF, HMAC, AES-256-GCM,
//! X25519 sealing). Two primitives ring does not offer come from RustCrypto /
//! dalek: Argon2id (`argon2`) and opening an escrow box with a *static* X25519
//! private key (`x25519-dalek`), which ring's ephemeral-only agreement API
//! cannot load. See ARCHITECTURE.md.
//!
//! **Invariant:** nothing in this crate writes a key in clear to disk or to a
//! log; every secret type zeroizes on drop and prints `[redacted]`.

pub mod aead;
mod error;
pub mod escrow;
pub mod kdf;
pub mod keychain;
mod qr;
pub mod rng;
mod secret;
pub mod totp;
pub mod wrap;

pub use error::VaultError;
pub use escrow::{EscrowBox, EscrowPrivateKey, EscrowPublicKey};
pub use kdf::KdfParams;
pub use keychain::{KeychainError, MemoryKeychain, SecretStore, SystemKeychain};
pub use qr::png as qr_png;
pub use secret::{DbKey, Kek, KeychainSecret, Password, SessionToken};
pub use totp::{Totp, TotpSecret};
pub use wrap::WrapFile;
