//! Shared fixtures: a relay state with one trusted clinic, a controllable
//! clock and token minting.

use std::sync::Arc;

use bedside_relay::{AppState, ClinicConfig, Config, ManualClock};
use bedside_visit::invite::{self, Claims, VisitId};
use data_encoding::BASE64URL_NOPAD;
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;

pub const NOW: u64 = 1_800_000_100;
pub const NOT_BEFORE: u32 = 1_800_000_000;

pub fn keypair() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("keygen");
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("parse")
}

pub struct Fixture {
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub key: Ed25519KeyPair,
    /// Kept so the state directory lives as long as the fixture.
    pub _dir: tempfile::TempDir,
    pub config: Config,
}

impl Fixture {
    pub fn new() -> Self {
        Self::with_limits(|_| {})
    }

    pub fn with_limits(change: impl FnOnce(&mut bedside_relay::Limits)) -> Self {
        Self::with_config(|c| change(&mut c.limits))
    }

    pub fn with_config(change: impl FnOnce(&mut Config)) -> Self {
        let key = keypair();
        let dir = tempfile::tempdir().expect("tmp");
        let config = Config::new(
            dir.path().to_path_buf(),
            vec![ClinicConfig {
                name: "Riverside <Practice>".into(),
                public_key: BASE64URL_NOPAD.encode(&invite::public_key(&key)),
            }],
        );
        let mut config = config;
        change(&mut config);
        let clock = Arc::new(ManualClock::new(NOW));
        let state = AppState::new(&config, clock.clone()).expect("state");
        Self {
            state,
            clock,
            key,
            _dir: dir,
            config,
        }
    }

    /// A fresh relay over the same state directory (a restart).
    pub fn restart(&self) -> AppState {
        AppState::new(&self.config, self.clock.clone()).expect("restart")
    }

    pub fn public_key_b64(&self) -> String {
        BASE64URL_NOPAD.encode(&invite::public_key(&self.key))
    }

    pub fn claims(&self, visit: [u8; 16], token_id: u32) -> Claims {
        Claims {
            visit: VisitId(visit),
            key_id: invite::key_id(&invite::public_key(&self.key)),
            not_before: NOT_BEFORE,
            lifetime_min: 60,
            max_devices: 1,
            token_id,
            knock_requires_dob: false,
        }
    }

    pub fn token(&self, visit: [u8; 16], token_id: u32) -> String {
        invite::sign(&self.key, &self.claims(visit, token_id))
    }
}

pub fn hex(visit: &[u8; 16]) -> String {
    data_encoding::HEXLOWER.encode(visit)
}

/// The device key of a test label ("phone-1"), the same for every call
/// with that label in this test binary.
pub fn device_key(label: &str) -> Arc<bedside_visit::device::DeviceKey> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static KEYS: OnceLock<Mutex<HashMap<String, Arc<bedside_visit::device::DeviceKey>>>> =
        OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    keys.entry(label.to_owned())
        .or_insert_with(|| Arc::new(bedside_visit::device::DeviceKey::generate().expect("key")))
        .clone()
}

/// The device id of a test label.
pub fn dev(label: &str) -> String {
    device_key(label).id()
}
