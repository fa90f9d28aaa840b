//! Organisation-signed policy bundles.
//!
//! ```json
//! { "payload": "<base64url of {\"version\": N, \"policies\": {...}}>",
//!   "signature": "<base64url Ed25519 over \"bedside policy v1\" ‖ payload bytes>" }
//! ```
//! Signing the payload's exact bytes avoids any JSON canonicalisation. A
//! bundle whose version is lower than the last one applied is refused, so a
//! captured old bundle cannot roll policy back.

use data_encoding::BASE64URL_NOPAD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const DOMAIN: &[u8] = b"bedside policy v1";
/// Bundles are small; refuse anything larger before parsing.
pub const MAX_BUNDLE: usize = 256 * 1024;

/// Why a bundle was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a bundle.
    #[error("not a Bedside policy bundle: {0}")]
    Malformed(&'static str),
    /// No trusted key signed it.
    #[error("the bundle's signature does not match any trusted organisation key")]
    BadSignature,
    /// Older than what is in force.
    #[error("bundle version {found} is older than the version in force ({applied}); refused")]
    Rollback {
        /// The bundle's version.
        found: u64,
        /// The last applied version.
        applied: u64,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    payload: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    version: u64,
    policies: Map<String, Value>,
}

/// A verified bundle.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    /// Monotonic version.
    pub version: u64,
    /// The policies it sets.
    pub policies: Map<String, Value>,
}

/// Signs policies into a bundle (what `bedsidectl policy sign` does).
pub fn sign(key: &Ed25519KeyPair, version: u64, policies: Map<String, Value>) -> String {
    let payload = serde_json::to_vec(&Payload { version, policies }).unwrap_or_default();
    let sig = key.sign(&[DOMAIN, &payload].concat());
    serde_json::to_string_pretty(&Wire {
        payload: B64.encode(&payload),
        signature: B64.encode(sig.as_ref()),
    })
    .unwrap_or_default()
}

/// Verifies a bundle against trusted keys and the last applied version.
pub fn verify<'k>(
    bytes: &[u8],
    trusted: impl IntoIterator<Item = &'k [u8]>,
    last_applied: Option<u64>,
) -> Result<Bundle, BundleError> {
    if bytes.len() > MAX_BUNDLE {
        return Err(BundleError::Malformed("too large"));
    }
    let wire: Wire =
        serde_json::from_slice(bytes).map_err(|_| BundleError::Malformed("not the bundle JSON"))?;
    let payload = B64
        .decode(wire.payload.as_bytes())
        .map_err(|_| BundleError::Malformed("payload"))?;
    let sig = B64
        .decode(wire.signature.as_bytes())
        .map_err(|_| BundleError::Malformed("signature"))?;
    let msg = [DOMAIN, &payload].concat();
    if !trusted.into_iter().any(|pk| {
        UnparsedPublicKey::new(&ED25519, pk)
            .verify(&msg, &sig)
            .is_ok()
    }) {
        return Err(BundleError::BadSignature);
    }
    let p: Payload =
        serde_json::from_slice(&payload).map_err(|_| BundleError::Malformed("payload JSON"))?;
    if let Some(applied) = last_applied
        && p.version < applied
    {
        return Err(BundleError::Rollback {
            found: p.version,
            applied,
        });
    }
    Ok(Bundle {
        version: p.version,
        policies: p.policies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::KeyPair;
    use serde_json::json;

    fn key() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key")
    }

    fn policies() -> Map<String, Value> {
        json!({ "IdleLockMinutes": 5 })
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn signed_bundles_verify_and_tampering_is_refused() {
        let k = key();
        let pk = k.public_key().as_ref().to_vec();
        let text = sign(&k, 7, policies());
        let b = verify(text.as_bytes(), [pk.as_slice()], Some(7)).expect("valid");
        assert_eq!((b.version, b.policies), (7, policies()));
        // Changing the policy inside the payload breaks the signature.
        let wire: Wire = serde_json::from_str(&text).expect("wire");
        let mut payload = B64.decode(wire.payload.as_bytes()).expect("b64");
        let pos = payload.iter().position(|&c| c == b'5').expect("digit");
        payload[pos] = b'9';
        let forged = serde_json::to_string(&Wire {
            payload: B64.encode(&payload),
            signature: wire.signature,
        })
        .expect("json");
        assert_eq!(
            verify(forged.as_bytes(), [pk.as_slice()], None),
            Err(BundleError::BadSignature)
        );
        let other = key();
        let opk = other.public_key().as_ref().to_vec();
        assert_eq!(
            verify(text.as_bytes(), [opk.as_slice()], None),
            Err(BundleError::BadSignature)
        );
        assert!(matches!(
            verify(b"{}", [pk.as_slice()], None),
            Err(BundleError::Malformed(_))
        ));
    }

    #[test]
    fn older_versions_are_refused() {
        let k = key();
        let pk = k.public_key().as_ref().to_vec();
        let old = sign(&k, 3, policies());
        assert_eq!(
            verify(old.as_bytes(), [pk.as_slice()], Some(4)),
            Err(BundleError::Rollback {
                found: 3,
                applied: 4
            })
        );
        assert!(
            verify(old.as_bytes(), [pk.as_slice()], Some(3)).is_ok(),
            "re-applying the same version is fine"
        );
    }
}
