//! Sealing the clinician's words for one patient device before they reach
//! the relay: waiting-room messages and deny reasons, with a fresh random
//! nonce each time (the format is `bedside_visit::sealed`).

use bedside_visit::sealed::{TextKind, seal_text};
use data_encoding::BASE64URL_NOPAD as B64;
use ring::rand::{SecureRandom, SystemRandom};

use crate::HostError;

/// `text` sealed for `device` of `visit` under the invite secret, as the
/// base64url string a `message` or `deny` carries.
pub fn seal_for_patient(
    secret: &[u8; 32],
    visit: &[u8; 16],
    device: &str,
    kind: TextKind,
    text: &str,
) -> Result<String, HostError> {
    let mut nonce = [0u8; 12];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| HostError::Sealing)?;
    seal_text(secret, visit, device, kind, nonce, text)
        .map(|b| B64.encode(&b))
        .map_err(|_| HostError::Sealing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bedside_visit::sealed::open_text;

    #[test]
    fn sealed_text_opens_for_the_device_only_and_nonces_differ() {
        let (secret, visit) = ([5u8; 32], [6u8; 16]);
        let a =
            seal_for_patient(&secret, &visit, "dev", TextKind::Deny, "Wrong day").expect("seal");
        let b =
            seal_for_patient(&secret, &visit, "dev", TextKind::Deny, "Wrong day").expect("seal");
        assert_ne!(a, b, "a fresh nonce every time");
        let raw = B64.decode(a.as_bytes()).expect("b64");
        assert!(!a.contains("Wrong"));
        assert_eq!(
            open_text(&secret, &visit, "dev", TextKind::Deny, &raw)
                .expect("open")
                .as_str(),
            "Wrong day"
        );
        assert!(open_text(&secret, &visit, "other", TextKind::Deny, &raw).is_err());
    }
}
