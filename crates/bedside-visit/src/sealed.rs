//! Clinician → patient text (waiting-room messages and the deny reason),
//! sealed so that the relay forwards it without reading it:
//!
//! - key = `HKDF(secret, "bedside clinician-message v1")` (HKDF-SHA256,
//!   empty salt, as in [`crate::auth`]);
//! - sealed = `nonce (12) ‖ AES-256-GCM(key, UTF-8 text)`;
//! - associated data = `visit id (16) ‖ lp(device id) ‖ lp(kind)`, where
//!   `lp(x)` is `x` prefixed with its length as a 32-bit big-endian
//!   integer and `kind` is `"message"` or `"deny"`, so a sealed text
//!   cannot be moved to another visit, another device or the other kind.
//!
//! The patient page's WebCrypto port is `ui/src/join/crypto.ts`; both are
//! pinned to `testdata/message-vectors.txt` (computed with WebCrypto).

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::auth::{AuthError, hkdf32};

/// The HKDF label of the clinician-text key.
pub const TEXT_LABEL: &[u8] = b"bedside clinician-message v1";

/// Largest sealed text accepted for opening, in bytes.
pub const MAX_SEALED_TEXT: usize = 12 * 1024;

/// Which clinician text this is; part of the associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextKind {
    /// A waiting-room message ("5 more minutes").
    Message,
    /// The reason given with a deny.
    Deny,
}

impl TextKind {
    /// The label bound into the associated data.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Deny => "deny",
        }
    }
}

/// The AES-256-GCM key for clinician text.
pub fn text_key(secret: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    hkdf32(secret, TEXT_LABEL)
}

fn aad(visit: &[u8; 16], device: &str, kind: TextKind) -> Vec<u8> {
    let mut v = visit.to_vec();
    for field in [device.as_bytes(), kind.as_str().as_bytes()] {
        v.extend_from_slice(&(field.len() as u32).to_be_bytes());
        v.extend_from_slice(field);
    }
    v
}

fn key(secret: &[u8; 32]) -> Result<LessSafeKey, AuthError> {
    let k = text_key(secret);
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, k.as_ref()).map_err(|_| AuthError::Mismatch)?,
    ))
}

/// Seals `text` for one device of one visit. `nonce` must never repeat
/// under this secret: callers pass 12 random bytes.
pub fn seal_text(
    secret: &[u8; 32],
    visit: &[u8; 16],
    device: &str,
    kind: TextKind,
    nonce: [u8; 12],
    text: &str,
) -> Result<Vec<u8>, AuthError> {
    let key = key(secret)?;
    let mut buf = text.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(visit, device, kind)),
        &mut buf,
    )
    .map_err(|_| AuthError::Mismatch)?;
    Ok([nonce.as_slice(), &buf].concat())
}

/// Opens a sealed text; any change, or another secret, visit, device or
/// kind, is [`AuthError::Mismatch`].
pub fn open_text(
    secret: &[u8; 32],
    visit: &[u8; 16],
    device: &str,
    kind: TextKind,
    sealed: &[u8],
) -> Result<Zeroizing<String>, AuthError> {
    if sealed.len() < 12 + 16 || sealed.len() > MAX_SEALED_TEXT {
        return Err(AuthError::Mismatch);
    }
    let key = key(secret)?;
    let nonce = Nonce::try_assume_unique_for_key(&sealed[..12]).map_err(|_| AuthError::Mismatch)?;
    let mut buf = Zeroizing::new(sealed[12..].to_vec());
    let plain = key
        .open_in_place(nonce, Aad::from(aad(visit, device, kind)), &mut buf)
        .map_err(|_| AuthError::Mismatch)?;
    let text = std::str::from_utf8(plain).map_err(|_| AuthError::Mismatch)?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE: &str = "eelNQogy0MHLrK-nXch_-OfZgyMVOaRLivtM6TzZW3c";

    #[test]
    fn texts_open_only_where_they_were_sealed() {
        let (secret, visit) = ([1u8; 32], [2u8; 16]);
        let sealed = seal_text(
            &secret,
            &visit,
            DEVICE,
            TextKind::Message,
            [3; 12],
            "5 more minutes",
        )
        .expect("seal");
        assert_eq!(
            open_text(&secret, &visit, DEVICE, TextKind::Message, &sealed)
                .expect("open")
                .as_str(),
            "5 more minutes"
        );
        let refused = |s: &[u8; 32], v: &[u8; 16], d: &str, k: TextKind, b: &[u8]| {
            open_text(s, v, d, k, b) == Err(AuthError::Mismatch)
        };
        assert!(refused(
            &[9; 32],
            &visit,
            DEVICE,
            TextKind::Message,
            &sealed
        ));
        assert!(refused(
            &secret,
            &[0; 16],
            DEVICE,
            TextKind::Message,
            &sealed
        ));
        assert!(refused(
            &secret,
            &visit,
            "other",
            TextKind::Message,
            &sealed
        ));
        assert!(refused(&secret, &visit, DEVICE, TextKind::Deny, &sealed));
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(
                refused(&secret, &visit, DEVICE, TextKind::Message, &t),
                "byte {i}"
            );
        }
        assert!(refused(
            &secret,
            &visit,
            DEVICE,
            TextKind::Message,
            &[0; 27]
        ));
        assert!(refused(
            &secret,
            &visit,
            DEVICE,
            TextKind::Message,
            &vec![0; MAX_SEALED_TEXT + 1]
        ));
    }

    /// Frozen outputs computed by WebCrypto (testdata/message-vectors.mjs).
    #[test]
    fn known_answers_for_the_browser() {
        let secret: [u8; 32] = core::array::from_fn(|i| i as u8);
        let visit = [0xAA; 16];
        let hex = |b: &[u8]| data_encoding::HEXLOWER.encode(b);
        let vectors = format!(
            "key={}\nmessage={}\ndeny={}",
            hex(text_key(&secret).as_ref()),
            hex(&seal_text(
                &secret,
                &visit,
                DEVICE,
                TextKind::Message,
                [7; 12],
                "5 more minutes — Zoë"
            )
            .expect("seal")),
            hex(&seal_text(
                &secret,
                &visit,
                DEVICE,
                TextKind::Deny,
                [8; 12],
                "Wrong day, please call us"
            )
            .expect("seal")),
        );
        println!("{vectors}");
        assert_eq!(
            vectors,
            include_str!("../testdata/message-vectors.txt").trim_end()
        );
    }
}
