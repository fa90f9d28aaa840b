//! AES-256-GCM sealing with random nonces (ring), shared by the wrap file,
//! escrow boxes and CLI sessions.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::{VaultError, rng};

/// A sealed message: nonce and ciphertext-with-tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// 96-bit random nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

fn key(k: &[u8; 32]) -> LessSafeKey {
    // AES-256 takes exactly 32 bytes, which the type guarantees.
    #[allow(clippy::expect_used)]
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, k).expect("32-byte AES-256 key"))
}

/// Encrypts `plaintext` under `k`, binding `aad`.
pub fn seal(k: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Sealed, VaultError> {
    let nonce = rng::bytes::<NONCE_LEN>()?;
    let mut buf = plaintext.to_vec();
    key(k)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| VaultError::Rng)?;
    Ok(Sealed {
        nonce,
        ciphertext: buf,
    })
}

/// Decrypts; `None` when the key, nonce, aad or ciphertext is wrong.
pub fn open(k: &[u8; 32], aad: &[u8], sealed: &Sealed) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let mut buf = zeroize::Zeroizing::new(sealed.ciphertext.clone());
    let n = key(k)
        .open_in_place(
            Nonce::assume_unique_for_key(sealed.nonce),
            Aad::from(aad),
            &mut buf,
        )
        .ok()?
        .len();
    buf.truncate(n);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = [9u8; 32];
        let s = seal(&k, b"aad", b"hello").expect("seal");
        assert_eq!(open(&k, b"aad", &s).expect("open").as_slice(), b"hello");
        assert!(open(&k, b"aaD", &s).is_none());
        assert!(open(&[8u8; 32], b"aad", &s).is_none());
        for i in 0..s.ciphertext.len() {
            let mut t = s.clone();
            t.ciphertext[i] ^= 1;
            assert!(open(&k, b"aad", &t).is_none(), "byte {i}");
        }
    }
}
