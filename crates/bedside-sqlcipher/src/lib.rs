//! A SQLCipher crypto provider for Bedside's store: HMAC, PBKDF2 and OS
//! random from *ring*, AES-256-CBC from RustCrypto's `aes` + `cbc`, byte
//! for byte what SQLCipher's OpenSSL provider computes. Call [`register`]
//! before opening a database; SQLCipher gives every database keyed
//! afterwards this provider.
//!
//! Why: SQLCipher's OpenSSL reference provider is written to be simple, not
//! fast; per page it fetches an HMAC implementation, builds and frees EVP
//! contexts, and draws the IV through OpenSSL's locked generator. That
//! overhead, not AES or SHA-256, was most of the encrypted store's extra
//! cost per commit (see BENCHMARKS.md).
//!
//! **Invariant:** the on-disk format does not change: a database written by
//! the OpenSSL provider opens with this one and the other way round (tested
//! against a committed fixture and, in one process, against the OpenSSL
//! provider itself).
//!
//! **Boundary:** unsafe code lives only in the private `ffi` module.

mod crypto;
mod ffi;

use std::sync::{Mutex, PoisonError};

/// Registering the provider failed; the store must not open a database then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// `sqlite3_initialize` failed with this SQLite result code.
    #[error("SQLite could not initialise (code {0})")]
    Initialize(i32),
    /// SQLCipher could not allocate the provider table.
    #[error("out of memory registering the SQLCipher crypto provider")]
    NoMemory,
    /// `sqlcipher_register_provider` failed with this SQLite result code.
    #[error("SQLCipher refused the crypto provider (code {0})")]
    Register(i32),
}

/// The name `PRAGMA cipher_provider` reports for this provider.
pub fn provider_name() -> &'static str {
    ffi::name()
}

/// Makes this provider SQLCipher's default for every database keyed from
/// now on in this process. Cheap when it already is the default, so call it
/// before each open; it registers again if SQLite was shut down and
/// restarted (which resets SQLCipher to OpenSSL).
///
/// It also waits for SQLCipher's own set-up, which SQLite runs after it has
/// already reported itself initialised to other threads: open databases
/// only after this returns, never with a bare first `Connection::open`
/// racing another thread's (tests/first_open_race.rs).
pub fn register() -> Result<(), RegisterError> {
    let _serial = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    ffi::register_if_needed()
}

/// Serialises changes to SQLCipher's provider list from this crate.
static REGISTRY: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests;
