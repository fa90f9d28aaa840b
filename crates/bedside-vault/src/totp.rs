//! TOTP (RFC 6238) over HOTP (RFC 4226) with ring's HMAC: SHA-1, 30-second
//! steps, 6 digits, a 160-bit secret; `otpauth://` URIs and QR codes.

use std::fmt;

use data_encoding::BASE32_NOPAD;
use ring::hmac;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{VaultError, rng};

/// A TOTP shared secret (160 bits for new enrolments).
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    /// A fresh 160-bit secret.
    pub fn generate() -> Result<Self, VaultError> {
        Ok(Self(rng::bytes::<20>()?.to_vec()))
    }

    /// Wraps raw bytes.
    pub fn from_bytes(b: Vec<u8>) -> Self {
        Self(b)
    }

    /// The raw bytes (for the encrypted store only).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Base32 without padding, for manual entry in an authenticator app.
    pub fn base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }
}

/// The HMAC algorithm; SHA-1 is what authenticator apps expect, the others
/// exist for the RFC 6238 vectors.
#[derive(Clone, Copy, Debug)]
pub enum Algorithm {
    /// HMAC-SHA-1 (default).
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

/// A TOTP generator/verifier.
#[derive(Clone, Debug)]
pub struct Totp {
    secret: TotpSecret,
    algorithm: Algorithm,
    digits: u32,
    step: u64,
}

impl Totp {
    /// SHA-1, 30 s, 6 digits.
    pub fn new(secret: TotpSecret) -> Self {
        Self {
            secret,
            algorithm: Algorithm::Sha1,
            digits: 6,
            step: 30,
        }
    }

    /// Custom parameters (for test vectors).
    pub fn with(secret: TotpSecret, algorithm: Algorithm, digits: u32, step: u64) -> Self {
        Self {
            secret,
            algorithm,
            digits,
            step,
        }
    }

    /// The time step that contains `unix_secs`.
    pub fn step_at(&self, unix_secs: u64) -> u64 {
        unix_secs / self.step
    }

    /// The code for a step.
    pub fn code_at_step(&self, step: u64) -> String {
        hotp(&self.secret.0, step, self.digits, self.algorithm)
    }

    /// The code at a time.
    pub fn code_at(&self, unix_secs: u64) -> String {
        self.code_at_step(self.step_at(unix_secs))
    }

    /// Checks `code` at `unix_secs` within ±1 step, refusing any step at or
    /// before `last_used_step` (each code is accepted once). Returns the step
    /// that matched, to be stored as the new `last_used_step`.
    pub fn verify(&self, code: &str, unix_secs: u64, last_used_step: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != self.digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = self.step_at(unix_secs);
        let mut matched = None;
        for s in [now.saturating_sub(1), now, now + 1] {
            // Compare every candidate in constant time and without early exit.
            let ok = ct_eq(self.code_at_step(s).as_bytes(), code.as_bytes());
            if ok && matched.is_none() && last_used_step.is_none_or(|l| s > l) {
                matched = Some(s);
            }
        }
        matched
    }

    /// `otpauth://totp/Bedside:<account>?secret=…&issuer=Bedside&…`
    pub fn otpauth_uri(&self, account: &str) -> String {
        let alg = match self.algorithm {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        };
        format!(
            "otpauth://totp/Bedside:{}?secret={}&issuer=Bedside&algorithm={alg}&digits={}&period={}",
            percent_encode(account),
            self.secret.base32(),
            self.digits,
            self.step
        )
    }

    /// A QR code of the `otpauth://` URI as a PNG.
    pub fn qr_png(&self, account: &str) -> Result<Vec<u8>, VaultError> {
        crate::qr::png(self.otpauth_uri(account).as_bytes())
    }
}

/// Equality without an early exit on the first differing byte.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// HOTP (RFC 4226) with dynamic truncation.
pub fn hotp(key: &[u8], counter: u64, digits: u32, algorithm: Algorithm) -> String {
    let alg = match algorithm {
        Algorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        Algorithm::Sha256 => hmac::HMAC_SHA256,
        Algorithm::Sha512 => hmac::HMAC_SHA512,
    };
    let tag = hmac::sign(&hmac::Key::new(alg, key), &counter.to_be_bytes());
    let h = tag.as_ref();
    let offset = (h[h.len() - 1] & 0x0f) as usize;
    let bin = (u32::from(h[offset] & 0x7f) << 24)
        | (u32::from(h[offset + 1]) << 16)
        | (u32::from(h[offset + 2]) << 8)
        | u32::from(h[offset + 3]);
    let modulus = 10u32.pow(digits);
    format!("{:0width$}", bin % modulus, width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4226 Appendix D.
    #[test]
    fn rfc4226_vectors() {
        let key = b"12345678901234567890";
        let want = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(hotp(key, i as u64, 6, Algorithm::Sha1), *w, "counter {i}");
        }
    }

    /// RFC 6238 Appendix B (8 digits, all three hashes).
    #[test]
    fn rfc6238_vectors() {
        let sha1 = b"12345678901234567890".to_vec();
        let sha256 = b"12345678901234567890123456789012".to_vec();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let table: &[(u64, &str, &str, &str)] = &[
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for &(t, a, b, c) in table {
            let mk = |k: &Vec<u8>, alg| Totp::with(TotpSecret::from_bytes(k.clone()), alg, 8, 30);
            assert_eq!(mk(&sha1, Algorithm::Sha1).code_at(t), a, "sha1 {t}");
            assert_eq!(mk(&sha256, Algorithm::Sha256).code_at(t), b, "sha256 {t}");
            assert_eq!(mk(&sha512, Algorithm::Sha512).code_at(t), c, "sha512 {t}");
        }
    }

    #[test]
    fn window_and_replay() {
        let t = Totp::new(TotpSecret::from_bytes(b"12345678901234567890".to_vec()));
        let now = 1_700_000_000;
        let code = t.code_at(now);
        let step = t.verify(&code, now, None).expect("current step");
        assert_eq!(t.verify(&code, now, Some(step)), None, "replay refused");
        assert!(
            t.verify(&t.code_at(now - 30), now, None).is_some(),
            "previous step"
        );
        assert!(
            t.verify(&t.code_at(now + 30), now, None).is_some(),
            "next step"
        );
        assert!(
            t.verify(&t.code_at(now - 60), now, None).is_none(),
            "two steps back"
        );
        assert!(
            t.verify(&t.code_at(now + 60), now, None).is_none(),
            "two steps ahead"
        );
        assert!(t.verify("12345", now, None).is_none());
        assert!(t.verify("abcdef", now, None).is_none());
        assert!(t.verify("", now, None).is_none());
        // A later code is still accepted after an earlier one was used.
        let next = t.code_at(now + 30);
        assert!(t.verify(&next, now + 30, Some(step)).is_some());
    }

    #[test]
    fn otpauth_uri_and_qr() {
        let s = TotpSecret::generate().expect("rng");
        assert_eq!(s.expose().len(), 20);
        let t = Totp::new(s.clone());
        let uri = t.otpauth_uri("dr who");
        assert!(
            uri.starts_with("otpauth://totp/Bedside:dr%20who?secret="),
            "{uri}"
        );
        assert!(uri.contains(&s.base32()));
        assert!(
            uri.contains("digits=6") && uri.contains("period=30") && uri.contains("algorithm=SHA1")
        );
        let png = t.qr_png("dr who").expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
