//! Device-key binding: each patient device holds an ECDSA P-256 key pair
//! (non-extractable WebCrypto, kept in IndexedDB by the join page) and is
//! known by `device id = base64url(SHA-256(raw public key))`. On every
//! connection the relay sends a fresh 32-byte nonce and the device signs
//! [`proof_message`] (`"bedside device proof v1" ‖ visit id ‖ nonce`), so a
//! reconnect proves the same key and an old signature is useless.
//!
//! Formats are WebCrypto's: the public key is the 65-byte uncompressed
//! point (`exportKey("raw")`), the signature the 64-byte `r ‖ s`
//! (`sign({name: "ECDSA", hash: "SHA-256"})`), which ring verifies as
//! `ECDSA_P256_SHA256_FIXED`.

use data_encoding::BASE64URL_NOPAD;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

/// The domain label of a device proof.
pub const PROOF_DOMAIN: &[u8] = b"bedside device proof v1";

/// Length of a raw uncompressed P-256 public key.
pub const PUBLIC_KEY_LEN: usize = 65;

/// Length of a device id (base64url of 32 bytes, no padding).
pub const DEVICE_ID_LEN: usize = 43;

/// Why a device proof was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// Not a 65-byte uncompressed P-256 point.
    #[error("the device key is not valid")]
    BadKey,
    /// The device id is not the hash of the key.
    #[error("the device id does not match the device key")]
    IdMismatch,
    /// The signature does not verify.
    #[error("the device could not prove its key")]
    BadSignature,
}

/// `base64url(SHA-256(public_key))`: the id a device is known by.
pub fn device_id(public_key: &[u8]) -> String {
    BASE64URL_NOPAD.encode(ring::digest::digest(&ring::digest::SHA256, public_key).as_ref())
}

/// What a device signs: the domain label, the 16-byte visit id and the
/// relay's 32-byte nonce (all fixed length, so the split is unambiguous).
pub fn proof_message(visit: &[u8; 16], nonce: &[u8; 32]) -> Vec<u8> {
    [PROOF_DOMAIN, visit, nonce].concat()
}

/// Checks that `device` is the id of `public_key` and that `signature`
/// (WebCrypto's fixed `r ‖ s`) signs [`proof_message`] of this visit and
/// nonce under it.
pub fn verify_proof(
    public_key: &[u8],
    device: &str,
    visit: &[u8; 16],
    nonce: &[u8; 32],
    signature: &[u8],
) -> Result<(), DeviceError> {
    if public_key.len() != PUBLIC_KEY_LEN || public_key.first() != Some(&4) {
        return Err(DeviceError::BadKey);
    }
    // Both sides are public; a timing difference reveals nothing.
    if device_id(public_key) != device {
        return Err(DeviceError::IdMismatch);
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
        .verify(&proof_message(visit, nonce), signature)
        .map_err(|_| DeviceError::BadSignature)
}

/// A device key held in Rust: the headless patient of tests and tools.
/// The browser uses WebCrypto instead.
pub struct DeviceKey(EcdsaKeyPair);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DeviceKey").field(&self.id()).finish()
    }
}

impl DeviceKey {
    /// A fresh key pair; `None` only if the system RNG fails.
    pub fn generate() -> Option<Self> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).ok()?;
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .ok()
            .map(Self)
    }

    /// The raw 65-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.0.public_key().as_ref()
    }

    /// The device id.
    pub fn id(&self) -> String {
        device_id(self.public_key())
    }

    /// The signature answering a relay nonce; `None` only if the RNG fails.
    pub fn prove(&self, visit: &[u8; 16], nonce: &[u8; 32]) -> Option<Vec<u8>> {
        let rng = ring::rand::SystemRandom::new();
        self.0
            .sign(&rng, &proof_message(visit, nonce))
            .ok()
            .map(|s| s.as_ref().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> &'static str {
        include_str!("../testdata/device-vectors.txt")
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in device-vectors.txt"))
    }

    fn vector(name: &str) -> Vec<u8> {
        data_encoding::HEXLOWER
            .decode(text(name).as_bytes())
            .expect("hex")
    }

    fn arr<const N: usize>(v: &[u8]) -> [u8; N] {
        v.try_into().expect("length")
    }

    /// A key pair and signature made by WebCrypto (Node's crypto.subtle:
    /// testdata/device-vectors.mjs) verify here, and the device id matches
    /// the one WebCrypto's SHA-256 gave.
    #[test]
    fn webcrypto_proofs_verify() {
        let pk = vector("public_key");
        let visit = arr::<16>(&vector("visit"));
        let nonce = arr::<32>(&vector("nonce"));
        let sig = vector("signature");
        let id = text("device_id");
        assert_eq!(sig.len(), 64, "WebCrypto signs in the fixed r||s form");
        assert_eq!(device_id(&pk), id);
        assert_eq!(proof_message(&visit, &nonce), vector("message"));
        verify_proof(&pk, id, &visit, &nonce, &sig).expect("WebCrypto proof verifies");

        // Every field is bound.
        let mut other_nonce = nonce;
        other_nonce[0] ^= 1;
        assert_eq!(
            verify_proof(&pk, id, &visit, &other_nonce, &sig),
            Err(DeviceError::BadSignature),
            "an old signature does not answer a new nonce"
        );
        let mut other_visit = visit;
        other_visit[15] ^= 1;
        assert_eq!(
            verify_proof(&pk, id, &other_visit, &nonce, &sig),
            Err(DeviceError::BadSignature)
        );
        for i in 0..sig.len() {
            let mut s = sig.clone();
            s[i] ^= 0x80;
            assert!(
                verify_proof(&pk, id, &visit, &nonce, &s).is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn the_id_must_be_the_keys_and_the_key_must_sign() {
        let a = DeviceKey::generate().expect("key");
        let b = DeviceKey::generate().expect("key");
        let (visit, nonce) = ([1u8; 16], [2u8; 32]);
        let sig = a.prove(&visit, &nonce).expect("sign");
        verify_proof(a.public_key(), &a.id(), &visit, &nonce, &sig).expect("genuine");
        assert_eq!(a.id().len(), DEVICE_ID_LEN);
        // Another key claiming a's id.
        let sig_b = b.prove(&visit, &nonce).expect("sign");
        assert_eq!(
            verify_proof(b.public_key(), &a.id(), &visit, &nonce, &sig_b),
            Err(DeviceError::IdMismatch)
        );
        // a's key and id with b's signature.
        assert_eq!(
            verify_proof(a.public_key(), &a.id(), &visit, &nonce, &sig_b),
            Err(DeviceError::BadSignature)
        );
        // Not a point.
        assert_eq!(
            verify_proof(&[4u8; 65], &device_id(&[4u8; 65]), &visit, &nonce, &sig),
            Err(DeviceError::BadSignature)
        );
        assert_eq!(
            verify_proof(&a.public_key()[1..], &a.id(), &visit, &nonce, &sig),
            Err(DeviceError::BadKey)
        );
        assert_eq!(
            verify_proof(&[], "", &visit, &nonce, &[]),
            Err(DeviceError::BadKey)
        );
    }
}
