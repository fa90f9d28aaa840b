//! Escrow: the database key sealed to an organisation's X25519 public key
//! (ECIES: ephemeral X25519 + HKDF-SHA256 + AES-256-GCM), so an admin holding
//! the private key can set a new password when a clinician forgets theirs.
//!
//! Sealing uses ring's ephemeral agreement. Opening needs a *static* private
//! key, which ring cannot load, so it uses `x25519-dalek` (admin side only).

use std::fmt;

use data_encoding::BASE64URL_NOPAD as B64;
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::rand::SystemRandom;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::aead::{self, Sealed};
use crate::kdf::hkdf32;
use crate::{DbKey, VaultError, rng};

const INFO: &[u8] = b"bedside escrow v1";
const BOX_PREFIX: &str = "v1.";
const PRIVATE_PREFIX: &str = "BEDSIDE-ESCROW-PRIVATE-KEY-V1:";

/// An escrow public key (32 bytes, base64url in policy and files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EscrowPublicKey([u8; 32]);

/// An escrow private key. Kept offline by the admin.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EscrowPrivateKey([u8; 32]);

impl fmt::Debug for EscrowPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EscrowPrivateKey([redacted])")
    }
}

impl EscrowPublicKey {
    /// Parses the base64url form.
    pub fn parse(s: &str) -> Result<Self, VaultError> {
        let b = B64
            .decode(s.trim().as_bytes())
            .map_err(|_| VaultError::Escrow("public key is not base64url"))?;
        Ok(Self(b.try_into().map_err(|_| {
            VaultError::Escrow("public key must be 32 bytes")
        })?))
    }

    /// The base64url form.
    pub fn encode(&self) -> String {
        B64.encode(&self.0)
    }
}

impl EscrowPrivateKey {
    /// Generates a key pair.
    pub fn generate() -> Result<(Self, EscrowPublicKey), VaultError> {
        let sk = Self(rng::bytes::<32>()?);
        let pk = sk.public_key();
        Ok((sk, pk))
    }

    /// The matching public key.
    pub fn public_key(&self) -> EscrowPublicKey {
        let s = x25519_dalek::StaticSecret::from(self.0);
        EscrowPublicKey(x25519_dalek::PublicKey::from(&s).to_bytes())
    }

    /// Parses the private key file's text.
    pub fn parse(text: &str) -> Result<Self, VaultError> {
        let b64 = text
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(VaultError::Escrow("not a Bedside escrow private key file"))?;
        let b = zeroize::Zeroizing::new(
            B64.decode(b64.as_bytes())
                .map_err(|_| VaultError::Escrow("private key is not base64url"))?,
        );
        let bytes: [u8; 32] = b
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Escrow("private key must be 32 bytes"))?;
        Ok(Self(bytes))
    }

    /// The private key file's text. Handle with care.
    pub fn encode(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(format!("{PRIVATE_PREFIX}{}\n", B64.encode(&self.0)))
    }
}

/// The database key sealed to an escrow public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EscrowBox {
    ephemeral: [u8; 32],
    recipient: [u8; 32],
    sealed: Sealed,
}

fn kdf(shared: &[u8], ephemeral: &[u8; 32], recipient: &[u8; 32]) -> [u8; 32] {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral);
    salt[32..].copy_from_slice(recipient);
    hkdf32(shared, &salt, &[INFO])
}

fn aad(ephemeral: &[u8; 32], recipient: &[u8; 32]) -> Vec<u8> {
    [INFO, ephemeral, recipient].concat()
}

impl EscrowBox {
    /// Seals `db_key` to `to`.
    pub fn seal(to: &EscrowPublicKey, db_key: &DbKey) -> Result<Self, VaultError> {
        let rng = SystemRandom::new();
        let eph = EphemeralPrivateKey::generate(&X25519, &rng).map_err(|_| VaultError::Rng)?;
        let eph_pub: [u8; 32] = eph
            .compute_public_key()
            .map_err(|_| VaultError::Rng)?
            .as_ref()
            .try_into()
            .map_err(|_| VaultError::Escrow("unexpected public key length"))?;
        let key =
            agreement::agree_ephemeral(eph, &UnparsedPublicKey::new(&X25519, &to.0), |shared| {
                kdf(shared, &eph_pub, &to.0)
            })
            .map_err(|_| VaultError::Escrow("invalid escrow public key"))?;
        let sealed = aead::seal(&key, &aad(&eph_pub, &to.0), db_key.expose())?;
        Ok(Self {
            ephemeral: eph_pub,
            recipient: to.0,
            sealed,
        })
    }

    /// Opens the box with the escrow private key.
    pub fn open(&self, sk: &EscrowPrivateKey) -> Result<DbKey, VaultError> {
        let secret = x25519_dalek::StaticSecret::from(sk.0);
        let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(self.ephemeral));
        if !shared.was_contributory() {
            return Err(VaultError::Escrow("escrow box is malformed"));
        }
        let recipient = x25519_dalek::PublicKey::from(&secret).to_bytes();
        let key = kdf(shared.as_bytes(), &self.ephemeral, &recipient);
        let plain = aead::open(&key, &aad(&self.ephemeral, &recipient), &self.sealed).ok_or(
            VaultError::Escrow("this escrow key does not open this profile"),
        )?;
        let bytes: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Escrow("escrow box is malformed"))?;
        Ok(DbKey::from_bytes(bytes))
    }

    /// Text form stored in the wrap file.
    pub fn encode(&self) -> String {
        let raw = [
            &self.ephemeral[..],
            &self.recipient[..],
            &self.sealed.nonce[..],
            &self.sealed.ciphertext[..],
        ]
        .concat();
        format!("{BOX_PREFIX}{}", B64.encode(&raw))
    }

    /// Parses the text form.
    pub fn decode(s: &str) -> Result<Self, VaultError> {
        let bad = VaultError::Escrow("escrow box is malformed");
        let raw = B64
            .decode(
                s.strip_prefix(BOX_PREFIX)
                    .ok_or(VaultError::Escrow("escrow box is malformed"))?
                    .as_bytes(),
            )
            .map_err(|_| VaultError::Escrow("escrow box is malformed"))?;
        if raw.len() != 32 + 32 + 12 + 48 {
            return Err(bad);
        }
        let mut ephemeral = [0u8; 32];
        let mut recipient = [0u8; 32];
        let mut nonce = [0u8; 12];
        ephemeral.copy_from_slice(&raw[..32]);
        recipient.copy_from_slice(&raw[32..64]);
        nonce.copy_from_slice(&raw[64..76]);
        Ok(Self {
            ephemeral,
            recipient,
            sealed: Sealed {
                nonce,
                ciphertext: raw[76..].to_vec(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_with_ring_open_with_dalek() {
        let (sk, pk) = EscrowPrivateKey::generate().expect("keygen");
        let db = DbKey::generate().expect("rng");
        let b = EscrowBox::seal(&pk, &db).expect("seal");
        let b = EscrowBox::decode(&b.encode()).expect("decode");
        assert_eq!(b.open(&sk).expect("open"), db);
        let (other, _) = EscrowPrivateKey::generate().expect("keygen");
        assert!(b.open(&other).is_err());
    }

    #[test]
    fn key_files_round_trip() {
        let (sk, pk) = EscrowPrivateKey::generate().expect("keygen");
        let back = EscrowPrivateKey::parse(&sk.encode()).expect("parse");
        assert_eq!(back.public_key(), pk);
        assert_eq!(EscrowPublicKey::parse(&pk.encode()).expect("parse"), pk);
        assert!(EscrowPrivateKey::parse("garbage").is_err());
        assert!(EscrowPublicKey::parse("AAAA").is_err());
        assert!(format!("{sk:?}").contains("redacted"));
    }

    /// RFC 7748 §6.1: Alice's public key from her private key, via dalek
    /// (the side ring cannot do), must match the published value.
    #[test]
    fn rfc7748_public_key() {
        let hex = data_encoding::HEXLOWER;
        let a: [u8; 32] = hex
            .decode(b"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
            .expect("hex")
            .try_into()
            .expect("32");
        let want = hex
            .decode(b"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
            .expect("hex");
        assert_eq!(
            EscrowPrivateKey(a).public_key().0.as_slice(),
            want.as_slice()
        );
    }

    #[test]
    fn malformed_boxes_are_errors() {
        for s in [
            "",
            "v1.",
            "v2.AAAA",
            "v1.!!!!",
            &format!("v1.{}", B64.encode(&[0u8; 124])),
        ] {
            if let Ok(b) = EscrowBox::decode(s) {
                let (sk, _) = EscrowPrivateKey::generate().expect("keygen");
                assert!(b.open(&sk).is_err());
            }
        }
    }
}
