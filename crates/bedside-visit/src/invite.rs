//! Invite tokens: a compact payload signed with the clinic's Ed25519 key.
//!
//! Layout (version 2, 95 bytes, base64url without padding = 127 characters):
//!
//! | bytes  | field                                   |
//! |--------|-----------------------------------------|
//! | 0      | version (2)                             |
//! | 1..17  | visit id (128-bit random)               |
//! | 17..19 | key id (first 2 bytes of SHA-256(pk))   |
//! | 19..23 | not before, Unix seconds (u32 BE)       |
//! | 23..25 | lifetime in minutes after not-before    |
//! | 25     | max devices                             |
//! | 26..30 | token id (u32 random)                   |
//! | 30     | flags: bit 0 = the knock asks for the date of birth; other bits must be 0 |
//! | 31..95 | Ed25519 over `"bedside invite v1" ‖ bytes[0..31]` |
//!
//! Version 1 (no flags byte) is no longer issued or accepted: it never left
//! development. The link is `https://<relay>/j/<token>#<secret>`: with a
//! 43-character secret the whole link is the origin plus 174 characters,
//! ≤ 200 for origins up to 26 characters (`https://relay.example.org`).

use data_encoding::BASE64URL_NOPAD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

const VERSION: u8 = 2;
const BODY: usize = 31;
/// Flag bit: the knock asks for the date of birth.
const FLAG_DOB: u8 = 0x01;
const SIG: usize = 64;
/// Token length in bytes.
pub const TOKEN_BYTES: usize = BODY + SIG;
/// Token length in base64url characters.
pub const TOKEN_CHARS: usize = (TOKEN_BYTES * 4).div_ceil(3);
const DOMAIN: &[u8] = b"bedside invite v1";

/// Why a token was refused. The relay shows the patient one page per kind
/// but never more detail than this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InviteError {
    /// Not a token at all (length, alphabet, version).
    #[error("this link is not valid")]
    Malformed,
    /// Signed by a key this relay does not trust, or the signature is wrong.
    #[error("this link is not valid")]
    Forged,
    /// Before not-before.
    #[error("this link is not active yet")]
    NotYetValid,
    /// After expiry.
    #[error("this link has expired")]
    Expired,
}

/// A 128-bit visit id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VisitId(pub [u8; 16]);

impl VisitId {
    /// Hex form, for logs and protocol messages (not PHI: random).
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }
}

/// The key id of a public key.
pub fn key_id(public_key: &[u8]) -> u16 {
    let d = ring::digest::digest(&ring::digest::SHA256, public_key);
    u16::from_be_bytes([d.as_ref()[0], d.as_ref()[1]])
}

/// What an invite grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The visit.
    pub visit: VisitId,
    /// Which clinic key signed it.
    pub key_id: u16,
    /// Unix seconds.
    pub not_before: u32,
    /// Minutes after not-before.
    pub lifetime_min: u16,
    /// Devices that may join without extra admission.
    pub max_devices: u8,
    /// Identifies this token (for revocation).
    pub token_id: u32,
    /// The knock asks for the date of birth (policy `KnockRequiresDateOfBirth`).
    pub knock_requires_dob: bool,
}

impl Claims {
    /// Unix seconds after which the token is expired.
    pub fn expires(&self) -> u64 {
        u64::from(self.not_before) + u64::from(self.lifetime_min) * 60
    }

    fn body(&self) -> [u8; BODY] {
        let mut b = [0u8; BODY];
        b[0] = VERSION;
        b[1..17].copy_from_slice(&self.visit.0);
        b[17..19].copy_from_slice(&self.key_id.to_be_bytes());
        b[19..23].copy_from_slice(&self.not_before.to_be_bytes());
        b[23..25].copy_from_slice(&self.lifetime_min.to_be_bytes());
        b[25] = self.max_devices;
        b[26..30].copy_from_slice(&self.token_id.to_be_bytes());
        b[30] = if self.knock_requires_dob { FLAG_DOB } else { 0 };
        b
    }

    fn parse_body(b: &[u8]) -> Result<Self, InviteError> {
        // Unknown flag bits are refused, not ignored: a later meaning must
        // not be silently dropped by an older relay or page.
        if b.len() != BODY || b[0] != VERSION || b[30] & !FLAG_DOB != 0 {
            return Err(InviteError::Malformed);
        }
        let mut visit = [0u8; 16];
        visit.copy_from_slice(&b[1..17]);
        Ok(Self {
            visit: VisitId(visit),
            key_id: u16::from_be_bytes([b[17], b[18]]),
            not_before: u32::from_be_bytes([b[19], b[20], b[21], b[22]]),
            lifetime_min: u16::from_be_bytes([b[23], b[24]]),
            max_devices: b[25],
            token_id: u32::from_be_bytes([b[26], b[27], b[28], b[29]]),
            knock_requires_dob: b[30] & FLAG_DOB != 0,
        })
    }
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    [DOMAIN, body].concat()
}

/// Signs claims with the clinic key; returns the token text.
pub fn sign(key: &Ed25519KeyPair, claims: &Claims) -> String {
    let body = claims.body();
    let sig = key.sign(&signed_message(&body));
    let mut all = Vec::with_capacity(TOKEN_BYTES);
    all.extend_from_slice(&body);
    all.extend_from_slice(sig.as_ref());
    B64.encode(&all)
}

/// Parses a token without checking it (for choosing the key).
pub fn peek(token: &str) -> Result<Claims, InviteError> {
    if token.len() != TOKEN_CHARS
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(InviteError::Malformed);
    }
    let raw = B64
        .decode(token.as_bytes())
        .map_err(|_| InviteError::Malformed)?;
    if raw.len() != TOKEN_BYTES {
        return Err(InviteError::Malformed);
    }
    Claims::parse_body(&raw[..BODY])
}

/// Verifies a token against the trusted public keys at `now` (Unix seconds).
pub fn verify<'k>(
    token: &str,
    trusted: impl IntoIterator<Item = &'k [u8]>,
    now: u64,
) -> Result<Claims, InviteError> {
    let claims = peek(token)?;
    let raw = B64
        .decode(token.as_bytes())
        .map_err(|_| InviteError::Malformed)?;
    let msg = signed_message(&raw[..BODY]);
    let ok = trusted
        .into_iter()
        .filter(|pk| key_id(pk) == claims.key_id)
        .any(|pk| {
            UnparsedPublicKey::new(&ED25519, pk)
                .verify(&msg, &raw[BODY..])
                .is_ok()
        });
    if !ok {
        return Err(InviteError::Forged);
    }
    if now < u64::from(claims.not_before) {
        return Err(InviteError::NotYetValid);
    }
    if now >= claims.expires() {
        return Err(InviteError::Expired);
    }
    Ok(claims)
}

/// Builds the patient's link.
pub fn link(relay_origin: &str, token: &str, secret: &[u8; 32]) -> String {
    format!(
        "{}/j/{token}#{}",
        relay_origin.trim_end_matches('/'),
        B64.encode(secret)
    )
}

/// The public key bytes of a key pair.
pub fn public_key(key: &Ed25519KeyPair) -> Vec<u8> {
    key.public_key().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    fn keypair() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("parse")
    }

    fn claims(pk: &[u8]) -> Claims {
        Claims {
            visit: VisitId([7; 16]),
            key_id: key_id(pk),
            not_before: 1_800_000_000,
            lifetime_min: 120,
            max_devices: 2,
            token_id: 0xDEAD_BEEF,
            knock_requires_dob: false,
        }
    }

    /// The token the join page's tests parse (ui/src/join/session.test.ts):
    /// Ed25519 is deterministic, so this pins the layout across languages.
    #[test]
    fn the_token_the_page_tests_parse() {
        let k = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("seed");
        let visit: [u8; 16] = core::array::from_fn(|i| 0xA0 + i as u8);
        let t = sign(
            &k,
            &Claims {
                visit: VisitId(visit),
                key_id: key_id(&public_key(&k)),
                not_before: 1_800_000_000,
                lifetime_min: 90,
                max_devices: 2,
                token_id: 0xDEAD_BEEF,
                knock_requires_dob: true,
            },
        );
        println!("{t}");
        assert_eq!(t, include_str!("../testdata/page-token.txt").trim_end());
    }

    #[test]
    fn the_dob_flag_is_signed_and_unknown_flags_are_refused() {
        let k = keypair();
        let pk = public_key(&k);
        let c = Claims {
            knock_requires_dob: true,
            ..claims(&pk)
        };
        let t = sign(&k, &c);
        assert_eq!(t.len(), TOKEN_CHARS);
        let got = verify(&t, [pk.as_slice()], 1_800_000_000).expect("valid");
        assert!(got.knock_requires_dob);
        assert!(
            !peek(&sign(&k, &claims(&pk)))
                .expect("peek")
                .knock_requires_dob
        );
        // Clearing the flag breaks the signature; an unknown bit is malformed.
        let mut raw = B64.decode(t.as_bytes()).expect("b64");
        raw[30] = 0;
        assert_eq!(
            verify(&B64.encode(&raw), [pk.as_slice()], 1_800_000_000),
            Err(InviteError::Forged)
        );
        raw[30] = 0x03;
        assert_eq!(peek(&B64.encode(&raw)), Err(InviteError::Malformed));
        // A version-1 token (94 bytes) is not a token any more.
        assert_eq!(
            peek(&B64.encode(&raw[..TOKEN_BYTES - 1])),
            Err(InviteError::Malformed)
        );
    }

    #[test]
    fn round_trip_and_link_length() {
        let k = keypair();
        let pk = public_key(&k);
        let c = claims(&pk);
        let t = sign(&k, &c);
        assert_eq!(t.len(), TOKEN_CHARS);
        assert_eq!(
            verify(&t, [pk.as_slice()], 1_800_000_000).expect("valid"),
            c
        );
        let l = link("https://relay.example.org/", &t, &[9; 32]);
        assert!(l.len() <= 200, "{} chars", l.len());
        assert!(l.starts_with("https://relay.example.org/j/"));
    }

    #[test]
    fn time_window_edges() {
        let k = keypair();
        let pk = public_key(&k);
        let c = claims(&pk);
        let t = sign(&k, &c);
        let keys = [pk.as_slice()];
        assert_eq!(
            verify(&t, keys, 1_799_999_999),
            Err(InviteError::NotYetValid)
        );
        assert!(verify(&t, keys, 1_800_000_000).is_ok());
        assert!(verify(&t, keys, c.expires() - 1).is_ok());
        assert_eq!(verify(&t, keys, c.expires()), Err(InviteError::Expired));
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        let k = keypair();
        let pk = public_key(&k);
        let t = sign(&k, &claims(&pk));
        let raw = B64.decode(t.as_bytes()).expect("b64");
        for i in 0..raw.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut r = raw.clone();
                r[i] ^= flip;
                let forged = B64.encode(&r);
                assert!(
                    verify(&forged, [pk.as_slice()], 1_800_000_100).is_err(),
                    "byte {i} ^ {flip:#x} accepted"
                );
            }
        }
    }

    #[test]
    fn other_keys_and_garbage_are_refused() {
        let k = keypair();
        let other = keypair();
        let t = sign(&k, &claims(&public_key(&k)));
        let opk = public_key(&other);
        assert_eq!(
            verify(&t, [opk.as_slice()], 1_800_000_100),
            Err(InviteError::Forged)
        );
        assert_eq!(
            verify(&t, std::iter::empty(), 1_800_000_100),
            Err(InviteError::Forged)
        );
        for bad in [
            "",
            "abc",
            &"A".repeat(TOKEN_CHARS + 1),
            &"!".repeat(TOKEN_CHARS),
            &t[..t.len() - 1],
        ] {
            assert_eq!(
                verify(bad, [opk.as_slice()], 0),
                Err(InviteError::Malformed),
                "{bad}"
            );
        }
    }

    /// 100,000 random forged tokens, each well-formed enough (right version,
    /// the trusted key's id, a live time window) to reach the signature check.
    #[test]
    fn a_hundred_thousand_random_forgeries_are_refused() {
        use ring::rand::SecureRandom;
        let k = keypair();
        let pk = public_key(&k);
        let id = key_id(&pk).to_be_bytes();
        let rng = SystemRandom::new();
        let mut raw = [0u8; TOKEN_BYTES];
        let mut accepted = 0;
        for _ in 0..100_000 {
            rng.fill(&mut raw).expect("rng");
            raw[0] = VERSION;
            raw[17..19].copy_from_slice(&id);
            raw[19..23].copy_from_slice(&1_000u32.to_be_bytes());
            raw[23..25].copy_from_slice(&u16::MAX.to_be_bytes());
            raw[30] &= FLAG_DOB;
            if verify(&B64.encode(&raw), [pk.as_slice()], 2_000).is_ok() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 0);
    }

    proptest::proptest! {
        #[test]
        fn random_tokens_never_verify(bytes in proptest::collection::vec(proptest::num::u8::ANY, TOKEN_BYTES)) {
            let k = keypair();
            let pk = public_key(&k);
            let t = B64.encode(&bytes);
            proptest::prop_assert!(verify(&t, [pk.as_slice()], 1_800_000_100).is_err());
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,200}") {
            let _ = peek(&s);
        }
    }
}
