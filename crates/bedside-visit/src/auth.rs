//! Call authentication keyed by the invite secret, which only the clinician
//! app and the patient's browser hold (it travels in the link's fragment):
//!
//! - `knock key = HKDF(secret, "bedside knock v1")` encrypts the patient's
//!   name (and date of birth) for the clinician alone.
//! - `K_auth = HKDF(secret, "bedside sdp-auth v1")`; the offer carries
//!   `HMAC(K_auth, "offer" ‖ visit ‖ device ‖ fingerprint ‖ ufrag)` and the
//!   answer `HMAC(K_auth, "answer" ‖ visit ‖ device ‖ fingerprint ‖ ufrag ‖ offer tag)`.
//!   A relay that swaps a DTLS fingerprint cannot recompute either tag.
//! - SAS: `HKDF(secret, "bedside sas v1" ‖ sorted fingerprints)` → 6 digits,
//!   read aloud to confirm both sides see the same call.
//!
//! HKDF is HKDF-SHA256 with an empty salt and the label as `info`, the same
//! call as WebCrypto's `deriveBits({name: "HKDF", hash: "SHA-256", salt: new
//! Uint8Array(0), info})`. Tag fields are each prefixed with their length as
//! a 32-bit big-endian integer.

use ring::{hkdf, hmac};
use zeroize::Zeroizing;

/// Why authentication failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The SDP has no DTLS fingerprint or ICE ufrag.
    #[error("the session description lacks a DTLS fingerprint or ICE credentials")]
    SdpIncomplete,
    /// The tag does not match: someone changed the call in transit.
    #[error("the call could not be authenticated: it may have been tampered with")]
    Mismatch,
}

/// HKDF-SHA256(ikm, salt = "", info) → 32 bytes.
pub fn hkdf32(ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(ikm);
    let mut out = Zeroizing::new([0u8; 32]);
    let info = [info];
    // 32 bytes is always a valid HKDF-SHA256 output length.
    #[allow(clippy::expect_used)]
    prk.expand(&info, hkdf::HKDF_SHA256)
        .expect("valid length")
        .fill(out.as_mut())
        .expect("valid length");
    out
}

/// The AES-256-GCM key for knock payloads.
pub fn knock_key(secret: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    hkdf32(secret, b"bedside knock v1")
}

/// `K_auth`.
pub fn sdp_auth_key(secret: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    hkdf32(secret, b"bedside sdp-auth v1")
}

/// The parts of an SDP that tags bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpIdentity {
    /// `sha-256 AB:CD:…` (algorithm lower-case, hex upper-case).
    pub fingerprint: String,
    /// The ICE username fragment.
    pub ufrag: String,
}

/// Extracts the first DTLS fingerprint and ICE ufrag of an SDP.
pub fn sdp_identity(sdp: &str) -> Result<SdpIdentity, AuthError> {
    let mut fingerprint = None;
    let mut ufrag = None;
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if fingerprint.is_none()
            && let Some(v) = line.strip_prefix("a=fingerprint:")
        {
            fingerprint = normalize_fingerprint(v);
        }
        if ufrag.is_none()
            && let Some(v) = line.strip_prefix("a=ice-ufrag:")
        {
            ufrag = Some(v.trim().to_owned()).filter(|s| !s.is_empty());
        }
    }
    Ok(SdpIdentity {
        fingerprint: fingerprint.ok_or(AuthError::SdpIncomplete)?,
        ufrag: ufrag.ok_or(AuthError::SdpIncomplete)?,
    })
}

fn normalize_fingerprint(v: &str) -> Option<String> {
    let mut parts = v.split_whitespace();
    let (alg, hex) = (parts.next()?, parts.next()?);
    Some(format!(
        "{} {}",
        alg.to_ascii_lowercase(),
        hex.to_ascii_uppercase()
    ))
}

fn tag_input(
    label: &str,
    visit: &[u8; 16],
    device: &str,
    id: &SdpIdentity,
    extra: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    for field in [
        label.as_bytes(),
        visit,
        device.as_bytes(),
        id.fingerprint.as_bytes(),
        id.ufrag.as_bytes(),
    ] {
        v.extend_from_slice(&(field.len() as u32).to_be_bytes());
        v.extend_from_slice(field);
    }
    if !extra.is_empty() {
        v.extend_from_slice(&(extra.len() as u32).to_be_bytes());
        v.extend_from_slice(extra);
    }
    v
}

fn key(k_auth: &[u8; 32]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, k_auth)
}

/// The patient's offer tag.
pub fn offer_tag(
    k_auth: &[u8; 32],
    visit: &[u8; 16],
    device: &str,
    offer: &SdpIdentity,
) -> [u8; 32] {
    let t = hmac::sign(&key(k_auth), &tag_input("offer", visit, device, offer, &[]));
    let mut out = [0u8; 32];
    out.copy_from_slice(t.as_ref());
    out
}

/// The clinician's answer tag, bound to the offer tag.
pub fn answer_tag(
    k_auth: &[u8; 32],
    visit: &[u8; 16],
    device: &str,
    answer: &SdpIdentity,
    offer_tag: &[u8; 32],
) -> [u8; 32] {
    let t = hmac::sign(
        &key(k_auth),
        &tag_input("answer", visit, device, answer, offer_tag),
    );
    let mut out = [0u8; 32];
    out.copy_from_slice(t.as_ref());
    out
}

/// Verifies an offer tag (constant time).
pub fn verify_offer(
    k_auth: &[u8; 32],
    visit: &[u8; 16],
    device: &str,
    offer_sdp: &str,
    tag: &[u8],
) -> Result<SdpIdentity, AuthError> {
    let id = sdp_identity(offer_sdp)?;
    hmac::verify(
        &key(k_auth),
        &tag_input("offer", visit, device, &id, &[]),
        tag,
    )
    .map_err(|_| AuthError::Mismatch)?;
    Ok(id)
}

/// Verifies an answer tag (constant time).
pub fn verify_answer(
    k_auth: &[u8; 32],
    visit: &[u8; 16],
    device: &str,
    answer_sdp: &str,
    offer_tag: &[u8; 32],
    tag: &[u8],
) -> Result<SdpIdentity, AuthError> {
    let id = sdp_identity(answer_sdp)?;
    hmac::verify(
        &key(k_auth),
        &tag_input("answer", visit, device, &id, offer_tag),
        tag,
    )
    .map_err(|_| AuthError::Mismatch)?;
    Ok(id)
}

/// The short authentication string both sides show: `"123 456"`.
pub fn sas(secret: &[u8; 32], fingerprint_a: &str, fingerprint_b: &str) -> String {
    let (a, b) = if fingerprint_a <= fingerprint_b {
        (fingerprint_a, fingerprint_b)
    } else {
        (fingerprint_b, fingerprint_a)
    };
    let info = [
        b"bedside sas v1".as_slice(),
        a.as_bytes(),
        &[0],
        b.as_bytes(),
    ]
    .concat();
    let okm = hkdf32(secret, &info);
    let n = u32::from_be_bytes([okm[0], okm[1], okm[2], okm[3]]) % 1_000_000;
    format!("{:03} {:03}", n / 1000, n % 1000)
}

/// A sealed knock: `nonce (12 bytes) ‖ AES-256-GCM(knock key, plaintext)`,
/// with `"bedside knock v1" ‖ visit id` as associated data, so a knock cannot
/// be replayed into another visit. The plaintext is UTF-8 JSON chosen by the
/// patient page (`{"name": ..., "dob": ...}`); this module only opens it.
pub fn open_knock(
    secret: &[u8; 32],
    visit: &[u8; 16],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AuthError> {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    if sealed.len() < 12 + 16 || sealed.len() > 16 * 1024 {
        return Err(AuthError::Mismatch);
    }
    let k = knock_key(secret);
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, k.as_ref()).map_err(|_| AuthError::Mismatch)?,
    );
    let nonce = Nonce::try_assume_unique_for_key(&sealed[..12]).map_err(|_| AuthError::Mismatch)?;
    let aad = [b"bedside knock v1".as_slice(), visit].concat();
    let mut buf = Zeroizing::new(sealed[12..].to_vec());
    let n = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| AuthError::Mismatch)?
        .len();
    buf.truncate(n);
    Ok(buf)
}

/// Seals a knock as the patient page does (for tests and the headless patient).
pub fn seal_knock(
    secret: &[u8; 32],
    visit: &[u8; 16],
    nonce: [u8; 12],
    plaintext: &[u8],
) -> Vec<u8> {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    let k = knock_key(secret);
    // A 32-byte key and a 12-byte nonce are always valid for AES-256-GCM.
    #[allow(clippy::expect_used)]
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, k.as_ref()).expect("32-byte key"));
    let aad = [b"bedside knock v1".as_slice(), visit].concat();
    let mut buf = plaintext.to_vec();
    #[allow(clippy::expect_used)]
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .expect("seal");
    [nonce.as_slice(), &buf].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=ice-ufrag:abcd\r\na=ice-pwd:xxxxxxxxxxxxxxxxxxxxxx\r\na=fingerprint:SHA-256 ab:cd:ef:01\r\n";
    const ANSWER: &str = "v=0\r\na=ice-ufrag:wxyz\r\na=fingerprint:sha-256 11:22:33:44\r\n";

    /// RFC 5869 test case 3 (SHA-256, empty salt and info): our HKDF with an
    /// empty salt is the standard one, so WebCrypto computes the same bytes.
    #[test]
    fn hkdf_empty_salt_matches_rfc5869_case3() {
        let okm = hkdf32(&[0x0b; 22], b"");
        assert_eq!(
            data_encoding::HEXLOWER.encode(okm.as_ref()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
        );
    }

    #[test]
    fn tags_bind_every_field() {
        let secret = [42u8; 32];
        let k = sdp_auth_key(&secret);
        let visit = [1u8; 16];
        let offer = sdp_identity(OFFER).expect("offer");
        assert_eq!(offer.fingerprint, "sha-256 AB:CD:EF:01");
        let t = offer_tag(&k, &visit, "dev1", &offer);
        verify_offer(&k, &visit, "dev1", OFFER, &t).expect("genuine");
        let swapped = OFFER.replace("ab:cd:ef:01", "ab:cd:ef:02");
        assert_eq!(
            verify_offer(&k, &visit, "dev1", &swapped, &t),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_offer(&k, &visit, "dev2", OFFER, &t),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_offer(&k, &[2u8; 16], "dev1", OFFER, &t),
            Err(AuthError::Mismatch)
        );
        let other_k = sdp_auth_key(&[43u8; 32]);
        assert_eq!(
            verify_offer(&other_k, &visit, "dev1", OFFER, &t),
            Err(AuthError::Mismatch)
        );
        let answer = sdp_identity(ANSWER).expect("answer");
        let a = answer_tag(&k, &visit, "dev1", &answer, &t);
        verify_answer(&k, &visit, "dev1", ANSWER, &t, &a).expect("genuine answer");
        assert_eq!(
            verify_answer(&k, &visit, "dev1", ANSWER, &[0u8; 32], &a),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            verify_offer(&k, &visit, "dev1", "v=0\r\n", &t),
            Err(AuthError::SdpIncomplete)
        );
    }

    #[test]
    fn knocks_open_only_with_the_secret_and_visit() {
        let secret = [3u8; 32];
        let visit = [4u8; 16];
        let sealed = seal_knock(&secret, &visit, [5u8; 12], br#"{"name":"Ann"}"#);
        assert_eq!(
            open_knock(&secret, &visit, &sealed)
                .expect("open")
                .as_slice(),
            br#"{"name":"Ann"}"#
        );
        assert_eq!(
            open_knock(&[9u8; 32], &visit, &sealed),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            open_knock(&secret, &[0u8; 16], &sealed),
            Err(AuthError::Mismatch)
        );
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(open_knock(&secret, &visit, &t).is_err(), "byte {i}");
        }
        assert!(open_knock(&secret, &visit, &[0u8; 5]).is_err());
    }

    #[test]
    fn sas_is_symmetric_and_secret_bound() {
        let s = sas(&[5u8; 32], "sha-256 AA", "sha-256 BB");
        assert_eq!(s, sas(&[5u8; 32], "sha-256 BB", "sha-256 AA"));
        assert_ne!(s, sas(&[6u8; 32], "sha-256 AA", "sha-256 BB"));
        assert_ne!(s, sas(&[5u8; 32], "sha-256 AA", "sha-256 BC"));
        assert_eq!(s.len(), 7);
        assert!(s.chars().enumerate().all(|(i, c)| if i == 3 {
            c == ' '
        } else {
            c.is_ascii_digit()
        }));
    }

    /// Frozen outputs: the patient page's WebCrypto implementation is tested
    /// against these same values, so a change on either side fails a test.
    #[test]
    fn known_answers_for_the_browser() {
        let secret: [u8; 32] = core::array::from_fn(|i| i as u8);
        let hex = |b: &[u8]| data_encoding::HEXLOWER.encode(b);
        let k = sdp_auth_key(&secret);
        let offer = sdp_identity(OFFER).expect("offer");
        let t = offer_tag(&k, &[0xAA; 16], "device-1", &offer);
        let vectors = format!(
            "knock={}\nauth={}\noffer_tag={}\nsas={}\nsealed_knock={}",
            hex(knock_key(&secret).as_ref()),
            hex(k.as_ref()),
            hex(&t),
            sas(&secret, "sha-256 AB:CD:EF:01", "sha-256 11:22:33:44"),
            hex(&seal_knock(
                &secret,
                &[0xAA; 16],
                [7u8; 12],
                r#"{"name":"Zoë"}"#.as_bytes()
            ))
        );
        // testdata/auth-vectors.txt was computed independently with WebCrypto
        // (Node 20, crypto.subtle: testdata/webcrypto-vectors.mjs), not by this code.
        println!("{vectors}");
        assert_eq!(
            vectors,
            include_str!("../testdata/auth-vectors.txt").trim_end()
        );
    }
}
