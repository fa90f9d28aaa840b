//! The OS keychain behind a small trait: the real platform store through
//! keyring-core (Secret Service on Linux, the macOS Keychain, the Windows
//! Credential Manager) and an in-memory store for fast unit tests.
//!
//! **Invariant:** there is no fallback. If the keychain cannot be reached,
//! callers get a [`KeychainError`] that names the store and what to do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use crate::KeychainSecret;

/// The service name under which Bedside keeps its items.
pub const SERVICE: &str = "health.bedside.desktop";

/// A keychain failure, phrased for the person at the keyboard.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeychainError {
    /// The store could not be reached at all.
    #[error(
        "the {store} is not available ({detail}). Bedside keeps part of every profile's key there and will not run without it: start your desktop's keyring (for example GNOME Keyring or KWallet) and try again"
    )]
    Unavailable {
        /// Which store.
        store: &'static str,
        /// A secret-free detail from the platform.
        detail: String,
    },
    /// The store is locked or refused access.
    #[error(
        "the {store} is locked or refused access: unlock your keyring (or allow Bedside) and try again"
    )]
    Locked {
        /// Which store.
        store: &'static str,
    },
    /// The item is not there.
    #[error(
        "this profile's key is missing from the {store}. If the keyring was reset, an administrator can recover the profile with the escrow key (bedsidectl recover)"
    )]
    Missing {
        /// Which store.
        store: &'static str,
    },
}

/// Secret storage keyed by item name.
pub trait SecretStore: Send + Sync {
    /// A human name for error messages, e.g. "Secret Service keyring".
    fn name(&self) -> &'static str;
    /// Reads an item.
    fn get(&self, item: &str) -> Result<Zeroizing<Vec<u8>>, KeychainError>;
    /// Creates or replaces an item.
    fn set(&self, item: &str, value: &[u8]) -> Result<(), KeychainError>;
    /// Removes an item; removing a missing item is not an error.
    fn delete(&self, item: &str) -> Result<(), KeychainError>;

    /// Reads a 256-bit secret.
    fn get_secret(&self, item: &str) -> Result<KeychainSecret, KeychainError> {
        let v = self.get(item)?;
        let bytes: [u8; 32] = v
            .as_slice()
            .try_into()
            .map_err(|_| KeychainError::Missing { store: self.name() })?;
        Ok(KeychainSecret::from_bytes(bytes))
    }
}

/// The platform keychain.
pub struct SystemKeychain {
    store: Arc<keyring_core::CredentialStore>,
    name: &'static str,
}

impl SystemKeychain {
    /// Connects to the platform store.
    pub fn new() -> Result<Self, KeychainError> {
        let (store, name) = platform_store()?;
        Ok(Self { store, name })
    }

    fn entry(&self, item: &str) -> Result<keyring_core::Entry, KeychainError> {
        keyring_core::Entry::new_in_store(&self.store, SERVICE, item).map_err(|e| self.map(e))
    }

    fn map(&self, e: keyring_core::Error) -> KeychainError {
        use keyring_core::Error as E;
        let store = self.name;
        match e {
            E::NoEntry => KeychainError::Missing { store },
            E::NoStorageAccess(_) => KeychainError::Locked { store },
            E::PlatformFailure(p) => KeychainError::Unavailable {
                store,
                detail: p.to_string(),
            },
            other => KeychainError::Unavailable {
                store,
                detail: other.to_string(),
            },
        }
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<(Arc<keyring_core::CredentialStore>, &'static str), KeychainError> {
    const NAME: &str = "Secret Service keyring";
    // Fail fast with a clear message when there is no session bus at all:
    // without it the Secret Service cannot exist.
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
        && std::env::var_os("XDG_RUNTIME_DIR").is_none()
    {
        return Err(KeychainError::Unavailable {
            store: NAME,
            detail: "no D-Bus session".into(),
        });
    }
    let s = zbus_secret_service_keyring_store::Store::new().map_err(|e| {
        KeychainError::Unavailable {
            store: NAME,
            detail: e.to_string(),
        }
    })?;
    Ok((s, NAME))
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<(Arc<keyring_core::CredentialStore>, &'static str), KeychainError> {
    const NAME: &str = "macOS Keychain";
    let s = apple_native_keyring_store::keychain::Store::new().map_err(|e| {
        KeychainError::Unavailable {
            store: NAME,
            detail: e.to_string(),
        }
    })?;
    Ok((s, NAME))
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<(Arc<keyring_core::CredentialStore>, &'static str), KeychainError> {
    const NAME: &str = "Windows Credential Manager";
    let s = windows_native_keyring_store::Store::new().map_err(|e| KeychainError::Unavailable {
        store: NAME,
        detail: e.to_string(),
    })?;
    Ok((s, NAME))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store() -> Result<(Arc<keyring_core::CredentialStore>, &'static str), KeychainError> {
    Err(KeychainError::Unavailable {
        store: "OS keychain",
        detail: "unsupported platform".into(),
    })
}

impl SecretStore for SystemKeychain {
    fn name(&self) -> &'static str {
        self.name
    }

    fn get(&self, item: &str) -> Result<Zeroizing<Vec<u8>>, KeychainError> {
        self.entry(item)?
            .get_secret()
            .map(Zeroizing::new)
            .map_err(|e| self.map(e))
    }

    fn set(&self, item: &str, value: &[u8]) -> Result<(), KeychainError> {
        self.entry(item)?.set_secret(value).map_err(|e| self.map(e))
    }

    fn delete(&self, item: &str) -> Result<(), KeychainError> {
        match self.entry(item)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.map(e)),
        }
    }
}

type Items = HashMap<String, Zeroizing<Vec<u8>>>;

/// An in-memory store for unit tests; can be switched to fail.
#[derive(Default)]
pub struct MemoryKeychain {
    items: Mutex<Items>,
    unavailable: std::sync::atomic::AtomicBool,
}

impl MemoryKeychain {
    /// An empty, working store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every call fail as an unreachable keychain would.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable
            .store(unavailable, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self) -> Result<std::sync::MutexGuard<'_, Items>, KeychainError> {
        if self.unavailable.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(KeychainError::Unavailable {
                store: self.name(),
                detail: "test: switched off".into(),
            });
        }
        Ok(self.items.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl SecretStore for MemoryKeychain {
    fn name(&self) -> &'static str {
        "in-memory test keychain"
    }

    fn get(&self, item: &str) -> Result<Zeroizing<Vec<u8>>, KeychainError> {
        self.check()?
            .get(item)
            .cloned()
            .ok_or(KeychainError::Missing { store: self.name() })
    }

    fn set(&self, item: &str, value: &[u8]) -> Result<(), KeychainError> {
        self.check()?
            .insert(item.to_owned(), Zeroizing::new(value.to_vec()));
        Ok(())
    }

    fn delete(&self, item: &str) -> Result<(), KeychainError> {
        self.check()?.remove(item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn SecretStore, item: &str) {
        let secret = KeychainSecret::generate().expect("rng");
        store.set(item, secret.expose()).expect("set");
        assert_eq!(store.get_secret(item).expect("get"), secret);
        store.delete(item).expect("delete");
        assert!(matches!(
            store.get(item),
            Err(KeychainError::Missing { .. })
        ));
        store.delete(item).expect("deleting twice is fine");
    }

    #[test]
    fn memory_round_trip_and_failure() {
        let m = MemoryKeychain::new();
        exercise(&m, "a");
        m.set_unavailable(true);
        let e = m.get("a").expect_err("unavailable");
        assert!(e.to_string().contains("in-memory test keychain"), "{e}");
    }

    /// The real Secret Service (gnome-keyring under dbus-run-session, as
    /// `cargo xtask test` provides). Skipped only outside that harness.
    #[test]
    fn real_secret_service_round_trip() {
        if std::env::var_os("BEDSIDE_TEST_KEYCHAIN").is_none() {
            eprintln!(
                "BEDSIDE_TEST_KEYCHAIN unset: run through `cargo xtask test` for the real keychain"
            );
            return;
        }
        let k = SystemKeychain::new().expect("Secret Service reachable under xtask");
        exercise(&k, &format!("test-{}", std::process::id()));
    }
}
