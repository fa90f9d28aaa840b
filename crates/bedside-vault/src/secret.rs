//! Secret newtypes: zeroized on drop, `[redacted]` when printed.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{VaultError, rng};

macro_rules! secret32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps existing key material.
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// A fresh random value from the OS generator.
            pub fn generate() -> Result<Self, VaultError> {
                Ok(Self(rng::bytes::<32>()?))
            }

            /// The raw bytes. Callers must not log, print or persist them in clear.
            pub fn expose(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

secret32!(
    /// The 256-bit SQLCipher raw key. Never on disk in clear: see [`crate::WrapFile`].
    DbKey
);
secret32!(
    /// The 256-bit secret kept in the OS keychain, mixed into the KEK.
    KeychainSecret
);
secret32!(
    /// The key-encryption key: HKDF-SHA256(Argon2id(password, salt) ‖ keychain secret).
    Kek
);
secret32!(
    /// A CLI session token (see SECURITY.md, "Sessions").
    SessionToken
);

impl DbKey {
    /// Derives a 256-bit subkey for one purpose (e.g. `b"bedside audit v1"`).
    pub fn derive(&self, info: &'static [u8]) -> [u8; 32] {
        crate::kdf::hkdf32(self.expose(), b"bedside db subkey", &[info])
    }
}

/// A password typed by a person. Zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The password text. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in characters (not bytes), for policy checks.
    pub fn char_len(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let k = DbKey::from_bytes([0x41; 32]);
        let p = Password::new("hunter2hunter2");
        let all = format!("{k:?} {k} {p:?}");
        assert!(!all.contains("41"), "{all}");
        assert!(!all.contains("AAAA"), "{all}");
        assert!(!all.contains("hunter2"), "{all}");
        assert!(all.contains("[redacted]"));
    }

    #[test]
    fn generated_keys_differ() {
        let a = DbKey::generate().expect("rng");
        let b = DbKey::generate().expect("rng");
        assert_ne!(a, b);
        assert_ne!(a.derive(b"x"), a.derive(b"y"));
    }
}
