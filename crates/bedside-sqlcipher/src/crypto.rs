//! The provider's primitives on plain slices, with the semantics of
//! SQLCipher's OpenSSL reference provider: HMAC over `in ‖ in2`, PBKDF2-HMAC,
//! AES-256-CBC without padding, and random bytes from the operating system.
//! Safe code only; `ffi` turns SQLCipher's pointers into these slices.

use std::num::NonZeroU32;

use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use ring::rand::SecureRandom;
use ring::{hmac, pbkdf2, rand};

/// AES-256 key length in bytes.
pub(crate) const KEY_LEN: usize = 32;
/// CBC initialisation vector length in bytes.
pub(crate) const IV_LEN: usize = 16;
/// AES block length in bytes.
pub(crate) const BLOCK_LEN: usize = 16;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// A primitive refused its input (a length, a size, an unknown algorithm).
/// SQLCipher turns it into `SQLITE_ERROR`; nothing more is said, so no key
/// or page byte can leak into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failed;

/// The hash behind an HMAC or PBKDF2, numbered as SQLCipher numbers them
/// (`SQLCIPHER_HMAC_SHA1` = 0 … `SQLCIPHER_HMAC_SHA512` = 2; the PBKDF2
/// constants use the same numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Digest {
    pub(crate) fn from_sqlcipher(algorithm: i32) -> Result<Self, Failed> {
        match algorithm {
            0 => Ok(Self::Sha1),
            1 => Ok(Self::Sha256),
            2 => Ok(Self::Sha512),
            _ => Err(Failed),
        }
    }

    /// The MAC length SQLCipher reserves on each page for this hash.
    pub(crate) fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }
}

/// `out = HMAC(key, input ‖ input2)`; `out` must hold exactly the MAC.
pub(crate) fn hmac(
    digest: Digest,
    key: &[u8],
    input: &[u8],
    input2: Option<&[u8]>,
    out: &mut [u8],
) -> Result<(), Failed> {
    if out.len() != digest.output_len() {
        return Err(Failed);
    }
    let key = hmac::Key::new(digest.hmac(), key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(input);
    if let Some(input2) = input2 {
        ctx.update(input2);
    }
    out.copy_from_slice(ctx.sign().as_ref());
    Ok(())
}

/// PBKDF2-HMAC with `iterations` rounds, filling `out`.
pub(crate) fn pbkdf2(
    digest: Digest,
    iterations: u32,
    salt: &[u8],
    secret: &[u8],
    out: &mut [u8],
) -> Result<(), Failed> {
    let iterations = NonZeroU32::new(iterations).ok_or(Failed)?;
    if out.is_empty() {
        return Err(Failed);
    }
    pbkdf2::derive(digest.pbkdf2(), iterations, salt, secret, out);
    Ok(())
}

/// Which way [`aes_256_cbc`] goes (`SQLCIPHER_ENCRYPT` = 1, `DECRYPT` = 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Encrypt,
    Decrypt,
}

impl Mode {
    pub(crate) fn from_sqlcipher(mode: i32) -> Result<Self, Failed> {
        match mode {
            1 => Ok(Self::Encrypt),
            0 => Ok(Self::Decrypt),
            _ => Err(Failed),
        }
    }
}

/// AES-256-CBC without padding from `input` into `out` (same length, a
/// whole number of blocks). The key schedule is wiped when it is dropped
/// (the `zeroize` features of `aes` and `cbc`).
pub(crate) fn aes_256_cbc(
    mode: Mode,
    key: &[u8],
    iv: &[u8],
    input: &[u8],
    out: &mut [u8],
) -> Result<(), Failed> {
    if key.len() != KEY_LEN
        || iv.len() != IV_LEN
        || input.len() != out.len()
        || !input.len().is_multiple_of(BLOCK_LEN)
    {
        return Err(Failed);
    }
    let written = match mode {
        Mode::Encrypt => Aes256CbcEnc::new_from_slices(key, iv)
            .map_err(|_| Failed)?
            .encrypt_padded_b2b::<NoPadding>(input, out)
            .map_err(|_| Failed)?
            .len(),
        Mode::Decrypt => Aes256CbcDec::new_from_slices(key, iv)
            .map_err(|_| Failed)?
            .decrypt_padded_b2b::<NoPadding>(input, out)
            .map_err(|_| Failed)?
            .len(),
    };
    if written == input.len() {
        Ok(())
    } else {
        Err(Failed)
    }
}

/// As [`aes_256_cbc`], in place.
pub(crate) fn aes_256_cbc_in_place(
    mode: Mode,
    key: &[u8],
    iv: &[u8],
    buf: &mut [u8],
) -> Result<(), Failed> {
    if key.len() != KEY_LEN || iv.len() != IV_LEN || !buf.len().is_multiple_of(BLOCK_LEN) {
        return Err(Failed);
    }
    let len = buf.len();
    let written = match mode {
        Mode::Encrypt => Aes256CbcEnc::new_from_slices(key, iv)
            .map_err(|_| Failed)?
            .encrypt_padded::<NoPadding>(buf, len)
            .map_err(|_| Failed)?
            .len(),
        Mode::Decrypt => Aes256CbcDec::new_from_slices(key, iv)
            .map_err(|_| Failed)?
            .decrypt_padded::<NoPadding>(buf)
            .map_err(|_| Failed)?
            .len(),
    };
    if written == len { Ok(()) } else { Err(Failed) }
}

/// Fills `out` from the operating system's CSPRNG (`getrandom(2)` on Linux).
pub(crate) fn random(out: &mut [u8]) -> Result<(), Failed> {
    rand::SystemRandom::new().fill(out).map_err(|_| Failed)
}

#[cfg(test)]
mod tests {
    //! Known-answer vectors from the standards; the comparison with
    //! SQLCipher's OpenSSL provider itself is in `ffi`'s tests.

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn hmac_matches_rfc_2202_and_4231_with_the_input_split_in_two() {
        // "Jefe" / "what do ya want for nothing?" (RFC 2202 case 2, RFC 4231 case 2).
        let cases = [
            (Digest::Sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (
                Digest::Sha256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                Digest::Sha512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (digest, want) in cases {
            let mut whole = vec![0; digest.output_len()];
            hmac(
                digest,
                b"Jefe",
                b"what do ya want for nothing?",
                None,
                &mut whole,
            )
            .expect("hmac");
            assert_eq!(whole, hex(want), "{digest:?}");
            let mut split = vec![0; digest.output_len()];
            hmac(
                digest,
                b"Jefe",
                b"what do ya ",
                Some(b"want for nothing?"),
                &mut split,
            )
            .expect("hmac");
            assert_eq!(split, whole, "{digest:?}: in ‖ in2");
        }
    }

    #[test]
    fn hmac_refuses_an_output_of_the_wrong_size() {
        let mut out = [0u8; 31];
        assert_eq!(
            hmac(Digest::Sha256, b"k", b"m", None, &mut out),
            Err(Failed)
        );
        assert_eq!(Digest::from_sqlcipher(3), Err(Failed));
    }

    #[test]
    fn pbkdf2_matches_rfc_6070_and_7914() {
        let mut out = [0u8; 20];
        pbkdf2(Digest::Sha1, 2, b"salt", b"password", &mut out).expect("pbkdf2");
        assert_eq!(
            out.to_vec(),
            hex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957")
        );
        // RFC 7914 §11: PBKDF2-HMAC-SHA256, "passwd", "salt", c = 1, 64 bytes.
        let mut out = [0u8; 64];
        pbkdf2(Digest::Sha256, 1, b"salt", b"passwd", &mut out).expect("pbkdf2");
        assert_eq!(
            out.to_vec(),
            hex(
                "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
                 49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
            )
        );
        assert_eq!(pbkdf2(Digest::Sha1, 0, b"s", b"p", &mut out), Err(Failed));
    }

    #[test]
    fn aes_256_cbc_matches_sp_800_38a_both_ways_and_in_place() {
        // NIST SP 800-38A F.2.5 / F.2.6 (CBC-AES256).
        let key = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
        let iv = hex("000102030405060708090a0b0c0d0e0f");
        let plain = hex(
            "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
             30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
        );
        let cipher = hex(
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
             39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
        );
        let mut out = vec![0; plain.len()];
        aes_256_cbc(Mode::Encrypt, &key, &iv, &plain, &mut out).expect("encrypt");
        assert_eq!(out, cipher);
        aes_256_cbc(Mode::Decrypt, &key, &iv, &cipher, &mut out).expect("decrypt");
        assert_eq!(out, plain);
        let mut buf = plain.clone();
        aes_256_cbc_in_place(Mode::Encrypt, &key, &iv, &mut buf).expect("encrypt");
        assert_eq!(buf, cipher);
        aes_256_cbc_in_place(Mode::Decrypt, &key, &iv, &mut buf).expect("decrypt");
        assert_eq!(buf, plain);
    }

    #[test]
    fn aes_256_cbc_refuses_partial_blocks_and_wrong_sizes() {
        let (key, iv) = ([7u8; 32], [9u8; 16]);
        let mut out = [0u8; 17];
        assert_eq!(
            aes_256_cbc(Mode::Encrypt, &key, &iv, &[0; 17], &mut out),
            Err(Failed)
        );
        let mut out = [0u8; 16];
        assert_eq!(
            aes_256_cbc(Mode::Encrypt, &key[..16], &iv, &[0; 16], &mut out),
            Err(Failed)
        );
        assert_eq!(
            aes_256_cbc(Mode::Encrypt, &key, &iv[..8], &[0; 16], &mut out),
            Err(Failed)
        );
        assert_eq!(
            aes_256_cbc(Mode::Encrypt, &key, &iv, &[0; 32], &mut out),
            Err(Failed)
        );
        assert_eq!(Mode::from_sqlcipher(2), Err(Failed));
    }

    #[test]
    fn random_fills_and_differs() {
        let (mut a, mut b) = ([0u8; 48], [0u8; 48]);
        random(&mut a).expect("random");
        random(&mut b).expect("random");
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 48]);
    }
}
