//! The relay's configuration: a TOML file, overridable by command-line flags.
//!
//! ```toml
//! listen = "127.0.0.1:8080"          # without [tls], loopback only
//! state_dir = "/var/lib/bedside-relay" # revocations.jsonl lives here
//! join_page_dir = "/usr/share/bedside/dist-join" # optional: the built ui/dist-join
//!
//! [limits]                           # every key optional; safe defaults
//! max_connections = 1000
//! idle_timeout_secs = 60
//! handshake_timeout_secs = 10
//! knocks_per_minute = 6
//! max_visits_per_clinic = 500
//! knocks_per_visit_per_minute = 30
//! max_connections_per_ip = 20        # IPv6: per /64
//! connections_per_ip_per_minute = 60
//! per_ip_limits_on_loopback = false  # true only when not behind a local proxy
//! patient_messages_per_second = 20   # after the handshake; a message costs 1 + 1 per 4 KiB
//! patient_message_burst = 100
//!
//! [tls]                              # required off loopback
//! cert = "/etc/bedside-relay/fullchain.pem"
//! key = "/etc/bedside-relay/key.pem"
//!
//! [turn]                            # optional; credentials only after admission
//! urls = ["turn:turn.example.org:3478", "turns:turn.example.org:5349"]
//! secret = "coturn static-auth-secret"
//! ttl_secs = 3600
//!
//! [[clinic]]
//! name = "Riverside Practice"
//! public_key = "base64url of the 32-byte Ed25519 public key"
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::RelayError;

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where revocations are persisted.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Resource limits.
    #[serde(default)]
    pub limits: Limits,
    /// TLS certificate and key; required unless `listen` is loopback.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// TURN server for admitted patients (coturn REST credentials).
    #[serde(default)]
    pub turn: Option<TurnConfig>,
    /// The built patient join page (`ui/dist-join`: `join.html` and
    /// `assets/`). Unset: `/j/{token}` serves a minimal placeholder page.
    #[serde(default)]
    pub join_page_dir: Option<PathBuf>,
    /// SHA-256 (hex) of the admin token that may enrol clinic keys
    /// (`POST /api/admin/enroll`). Unset: enrolment is off.
    #[serde(default)]
    pub admin_token_sha256: Option<String>,
    /// Trusted clinic keys.
    #[serde(default, rename = "clinic")]
    pub clinics: Vec<ClinicConfig>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("relay-state")
}

/// Resource limits with safe defaults.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Open WebSocket connections, all kinds together.
    pub max_connections: usize,
    /// Close a connection after this long without a message (clients ping).
    pub idle_timeout_secs: u64,
    /// Time allowed for `hello` (and the clinician's `auth`).
    pub handshake_timeout_secs: u64,
    /// Knocks one patient connection may send per minute.
    pub knocks_per_minute: u32,
    /// Live visits (waiting rooms) per clinic key.
    pub max_visits_per_clinic: usize,
    /// Knocks per visit per minute, all its connections together.
    pub knocks_per_visit_per_minute: u32,
    /// Open WebSocket connections from one address (IPv6: one /64).
    pub max_connections_per_ip: usize,
    /// New WebSocket connections from one address per minute.
    pub connections_per_ip_per_minute: u32,
    /// Apply the per-address limits to loopback peers too. Off by default:
    /// behind a reverse proxy on loopback every patient shares one
    /// address, and the proxy must limit per client itself.
    pub per_ip_limits_on_loopback: bool,
    /// Sustained message budget of one patient connection after its
    /// handshake (a message costs 1, plus 1 per 4 KiB). A patient over
    /// budget is closed with `rate_limited`, so it cannot fill the queues of
    /// the clinicians it is forwarded to.
    pub patient_messages_per_second: u32,
    /// The budget's burst: what a patient may send at once (a call's
    /// offer and its ICE candidates need about 20).
    pub patient_message_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1000,
            idle_timeout_secs: 60,
            handshake_timeout_secs: 10,
            knocks_per_minute: 6,
            max_visits_per_clinic: 500,
            knocks_per_visit_per_minute: 30,
            max_connections_per_ip: 20,
            connections_per_ip_per_minute: 60,
            per_ip_limits_on_loopback: false,
            patient_messages_per_second: 20,
            patient_message_burst: 100,
        }
    }
}

/// A certificate chain and private key, PEM.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// A TURN server using coturn's REST-style shared secret
/// (`--use-auth-secret --static-auth-secret=...`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnConfig {
    /// `turn:`/`turns:` URLs handed to the browser.
    pub urls: Vec<String>,
    /// The shared secret.
    pub secret: String,
    /// Credential lifetime.
    #[serde(default = "default_turn_ttl")]
    pub ttl_secs: u64,
}

fn default_turn_ttl() -> u64 {
    3600
}

impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnConfig")
            .field("urls", &self.urls)
            .field("secret", &"[redacted]")
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

impl TurnConfig {
    /// Time-limited credentials valid until `now + ttl_secs`: username
    /// `expiry:bedside`, password base64(HMAC-SHA1(secret, username)).
    pub fn credentials(&self, now: u64) -> bedside_protocol::TurnCredentials {
        let username = format!("{}:bedside", now.saturating_add(self.ttl_secs));
        let key = ring::hmac::Key::new(
            ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            self.secret.as_bytes(),
        );
        let tag = ring::hmac::sign(&key, username.as_bytes());
        bedside_protocol::TurnCredentials {
            urls: self.urls.clone(),
            username,
            credential: data_encoding::BASE64.encode(tag.as_ref()),
        }
    }
}

/// A trusted clinic.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClinicConfig {
    /// Shown to patients on the join page.
    pub name: String,
    /// base64url (no padding) of the clinic's Ed25519 public key.
    pub public_key: String,
}

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, RelayError> {
        toml::from_str(text).map_err(|e| RelayError::Config(e.to_string()))
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &std::path::Path) -> Result<Self, RelayError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RelayError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// A configuration for tests and embedding: given clinics, defaults
    /// otherwise.
    pub fn new(state_dir: PathBuf, clinics: Vec<ClinicConfig>) -> Self {
        Self {
            listen: default_listen(),
            state_dir,
            limits: Limits::default(),
            tls: None,
            turn: None,
            join_page_dir: None,
            admin_token_sha256: None,
            clinics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_example_configuration_parses_and_matches_the_unit() {
        let c = Config::from_toml(include_str!("../deploy/relay.toml.example")).expect("parses");
        assert_eq!(c.listen.port(), 443);
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/bedside-relay"));
        let tls = c.tls.expect("TLS off loopback");
        // The unit hands the key over with LoadCredential=; the paths must agree.
        let unit = include_str!("../deploy/bedside-relay.service");
        for (name, path) in [("tls-key", &tls.key), ("tls-cert", &tls.cert)] {
            assert_eq!(
                path,
                &PathBuf::from(format!("/run/credentials/bedside-relay.service/{name}"))
            );
            assert!(unit.contains(&format!("LoadCredential={name}:")));
        }
        assert!(unit.contains("StateDirectory=bedside-relay"));
        assert!(unit.contains("DynamicUser=yes") && unit.contains("ProtectSystem=strict"));
        assert_eq!(c.limits.max_connections, Limits::default().max_connections);
    }

    #[test]
    fn parses_a_full_file_and_defaults() {
        let c = Config::from_toml(
            r#"
            listen = "127.0.0.1:9000"
            state_dir = "/tmp/x"
            [limits]
            max_connections = 5
            [[clinic]]
            name = "A"
            public_key = "AAAA"
            [[clinic]]
            name = "B"
            public_key = "BBBB"
            "#,
        )
        .expect("parse");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.limits.max_connections, 5);
        assert_eq!(c.limits.idle_timeout_secs, 60);
        assert_eq!(c.clinics.len(), 2);
        let d = Config::from_toml("").expect("empty");
        assert!(d.listen.ip().is_loopback());
        assert!(d.join_page_dir.is_none());
        let j = Config::from_toml("join_page_dir = \"/srv/dist-join\"").expect("join");
        assert_eq!(j.join_page_dir, Some(PathBuf::from("/srv/dist-join")));
        assert!(Config::from_toml("lisen = 1").is_err());
    }

    #[test]
    fn turn_credentials_match_coturn_rest_and_the_secret_is_redacted() {
        let t = TurnConfig {
            urls: vec!["turn:127.0.0.1:3478".into()],
            secret: "coturn-secret".into(),
            ttl_secs: 3600,
        };
        let c = t.credentials(1_800_000_100);
        assert_eq!(c.username, "1800003700:bedside");
        // python3: base64(hmac.new(b"coturn-secret", b"1800003700:bedside", sha1))
        assert_eq!(c.credential, "zdb9mwrdGH0wjZm4w5BkWhZw73E=");
        assert!(!format!("{t:?}").contains("coturn-secret"));
    }
}
