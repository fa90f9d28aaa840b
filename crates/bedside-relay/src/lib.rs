//! The Bedside relay: serves the patient join page, checks signed invite
//! links, keeps revocations, runs each visit's waiting room
//! ([`bedside_visit::lobby::Lobby`]) and forwards signaling between the
//! patient's browser and the clinician app over WebSocket.
//!
//! **Invariant:** the relay holds no PHI. It sees opaque visit ids, sealed
//! knocks it cannot open, SDP, timing and addresses; it persists only
//! revocations; it logs visit ids truncated and never logs tokens or
//! addresses.
//!
//! **Boundary:** [`app`] builds the whole HTTP surface from an [`AppState`]
//! without a socket (tests drive it with `tower::ServiceExt::oneshot`);
//! [`serve`] adds the listener, the waiting-room clock and shutdown;
//! [`serve_tls`] does the same behind rustls (ring). Plain HTTP is refused
//! off loopback ([`check_listen`]).
//!
//! Endpoints:
//! - `GET /healthz` → `ok`
//! - `GET /metrics` → Prometheus text ([`metrics`])
//! - `GET /j/{token}` → the patient join page (the built `join_page_dir/join.html`,
//!   or a placeholder when unset), or a plain-language error page
//! - `GET /assets/{file}` → the join page's scripts, styles, images and fonts
//! - `GET /api/invite/{token}` → `{clinic_name, not_before, expires}` or an error
//! - `POST /api/revoke` → see [`revocations`]
//! - `GET /ws/patient`, `GET /ws/clinician` → WebSocket, [`bedside_protocol`]
//!
//! Limits (all in [`Limits`], safe defaults): total WebSocket connections,
//! open and new connections per address (IPv6 per /64; loopback exempt
//! unless configured, for a local reverse proxy), handshake and idle
//! timeouts, knocks per connection and per visit, live visits per clinic,
//! 64 KiB per message. TURN credentials (if `[turn]` is configured) are
//! sent only in `admitted`.

pub mod clock;
pub mod config;
pub mod enrol;
mod http;
mod hub;
pub mod metrics;
pub mod revocations;
mod ws;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bedside_visit::invite::{self, Claims, InviteError};
use data_encoding::BASE64URL_NOPAD;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ClinicConfig, Config, Limits, TlsConfig, TurnConfig};
pub use http::AppError;
use metrics::{Metrics, RejectReason};
use revocations::Revocations;

/// Errors setting up or running the relay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The configuration is invalid.
    #[error("configuration error: {0}")]
    Config(String),
    /// Reading or writing the state directory failed.
    #[error("storage error: {0}")]
    Io(String),
    /// A lock was poisoned by a panic elsewhere.
    #[error("internal state is unavailable")]
    Poisoned,
    /// Plain HTTP off loopback without TLS.
    #[error(
        "refusing to serve plain HTTP on {0}: configure [tls] cert and key, or bind a loopback \
         address behind a TLS-terminating proxy"
    )]
    PlainHttpOffLoopback(std::net::SocketAddr),
}

/// A trusted clinic.
#[derive(Clone, Debug)]
pub(crate) struct Clinic {
    pub(crate) name: String,
    pub(crate) public_key: Vec<u8>,
    pub(crate) key_id: u16,
}

impl Clinic {
    /// A named clinic with a base64url Ed25519 public key, or why not.
    fn parse(name: &str, public_key_b64: &str) -> Result<Self, &'static str> {
        if name.trim().is_empty() {
            return Err("a clinic needs a name");
        }
        let public_key = BASE64URL_NOPAD
            .decode(public_key_b64.trim().as_bytes())
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or("public_key must be base64url of 32 bytes")?;
        Ok(Self {
            name: name.to_owned(),
            key_id: invite::key_id(&public_key),
            public_key,
        })
    }
}

/// Why an invite token was refused, in the terms the patient needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Malformed or forged: one answer for both.
    NotValid,
    Expired,
    NotYetValid {
        opens: u64,
    },
    Revoked,
}

/// Shared relay state: configuration, clock, revocations, counters and the
/// live waiting rooms.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// Append-only, so a clinic's index stays valid for the life of the relay.
    clinics: std::sync::RwLock<Vec<Clinic>>,
    limits: Limits,
    clock: Arc<dyn Clock>,
    revocations: Revocations,
    metrics: Metrics,
    hub: Mutex<hub::Hub>,
    connections: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, PerIp>>,
    rng: ring::rand::SystemRandom,
    /// Flips to true when the relay shuts down; every session then closes
    /// its socket with 1001 "going away".
    closing: tokio::sync::watch::Sender<bool>,
    /// The built join page, if configured.
    join_page_dir: Option<std::path::PathBuf>,
    /// SHA-256 (hex) of the admin token; enrolment is off without it.
    admin_token_sha256: Option<String>,
    /// Where enrolments are kept.
    state_dir: std::path::PathBuf,
}

impl AppState {
    /// Validates the configuration, loads revocations from the state
    /// directory and starts with empty waiting rooms.
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Result<Self, RelayError> {
        let mut clinics: Vec<Clinic> = Vec::new();
        for c in &config.clinics {
            let clinic = Clinic::parse(&c.name, &c.public_key)
                .map_err(|why| RelayError::Config(format!("clinic {:?}: {why}", c.name)))?;
            if clinics.iter().any(|k| k.public_key == clinic.public_key) {
                return Err(RelayError::Config(format!(
                    "clinic {:?}: the same public key is configured twice",
                    c.name
                )));
            }
            clinics.push(clinic);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                clinics: std::sync::RwLock::new(clinics),
                limits: config.limits.clone(),
                clock,
                revocations: Revocations::open(&config.state_dir)?,
                metrics: Metrics::default(),
                hub: Mutex::new(hub::Hub::new(config.turn.clone())),
                connections: AtomicUsize::new(0),
                per_ip: Mutex::new(HashMap::new()),
                rng: ring::rand::SystemRandom::new(),
                closing: tokio::sync::watch::Sender::new(false),
                join_page_dir: config.join_page_dir.clone(),
                admin_token_sha256: config.admin_token_sha256.clone(),
                state_dir: config.state_dir.clone(),
            }),
        })
        .inspect(|state: &Self| {
            for e in enrol::load(&config.state_dir) {
                if let Err(err) = state.trust_clinic(&e.name, &e.public_key) {
                    tracing::warn!(error = %err, "skipping an enrolled key");
                }
            }
        })
    }

    pub(crate) fn now(&self) -> u64 {
        self.inner.clock.now()
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn clinic(&self, i: usize) -> Option<Clinic> {
        self.clinics().get(i).cloned()
    }

    pub(crate) fn clinics(&self) -> std::sync::RwLockReadGuard<'_, Vec<Clinic>> {
        self.inner.clinics.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Trusts one more clinic key at run time (the desktop app's embedded
    /// relay learns each profile's key as it is created). Trusting a key
    /// twice is a no-op.
    pub fn trust_clinic(&self, name: &str, public_key_b64: &str) -> Result<(), RelayError> {
        let clinic =
            Clinic::parse(name, public_key_b64).map_err(|why| RelayError::Config(why.into()))?;
        let mut clinics = self
            .inner
            .clinics
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if !clinics.iter().any(|c| c.public_key == clinic.public_key) {
            clinics.push(clinic);
        }
        Ok(())
    }

    /// Checks an invite token: signature by a trusted clinic, time window,
    /// revocation. Returns the claims and the index of the signing clinic.
    pub(crate) fn check_token(&self, token: &str) -> Result<(Claims, usize), Refusal> {
        let now = self.now();
        let m = &self.inner.metrics;
        let claims = match invite::peek(token) {
            Ok(c) => c,
            Err(_) => {
                m.rejected(RejectReason::Malformed);
                return Err(Refusal::NotValid);
            }
        };
        // Verify against each candidate key separately: key ids are only
        // 16 bits, so two clinics may share one.
        let mut refusal = None;
        let clinics = self.clinics();
        for (i, c) in clinics.iter().enumerate() {
            if c.key_id != claims.key_id {
                continue;
            }
            // `verify` checks the signature before the time window, so the
            // timing errors imply a good signature. A revocation is consulted
            // only then (a forged token naming a revoked visit is just "not
            // valid"), and wins over timing.
            let verdict = invite::verify(token, [c.public_key.as_slice()], now);
            let signed = matches!(
                verdict,
                Ok(_) | Err(InviteError::Expired | InviteError::NotYetValid)
            );
            if !signed {
                continue;
            }
            if self
                .inner
                .revocations
                .contains(&c.public_key, &claims.visit.0, claims.token_id)
            {
                refusal = Some(RejectReason::Revoked);
                break;
            }
            match verdict {
                Ok(claims) => return Ok((claims, i)),
                Err(InviteError::Expired) => refusal = Some(RejectReason::Expired),
                Err(_) => refusal = Some(RejectReason::NotYetValid),
            }
        }
        let reason = refusal.unwrap_or(RejectReason::Forged);
        m.rejected(reason);
        Err(match reason {
            RejectReason::Expired => Refusal::Expired,
            RejectReason::NotYetValid => Refusal::NotYetValid {
                opens: u64::from(claims.not_before),
            },
            RejectReason::Revoked => Refusal::Revoked,
            _ => Refusal::NotValid,
        })
    }

    /// Takes a connection slot for a peer, or says why not.
    pub(crate) fn try_connection(
        &self,
        clinician: bool,
        peer: Option<IpAddr>,
    ) -> Result<ConnectionSlot, Refused> {
        let limits = &self.inner.limits;
        let group = peer
            .filter(|ip| limits.per_ip_limits_on_loopback || !ip.is_loopback())
            .map(ip_group);
        if let Some(ip) = group {
            let mut map = self.inner.per_ip.lock().map_err(|_| Refused::Busy)?;
            let e = map.entry(ip).or_default();
            let now = tokio::time::Instant::now();
            while e
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
            {
                e.recent.pop_front();
            }
            let per_minute =
                usize::try_from(limits.connections_per_ip_per_minute).unwrap_or(usize::MAX);
            if e.open >= limits.max_connections_per_ip || e.recent.len() >= per_minute {
                self.inner.metrics.rate_limited();
                return Err(Refused::RateLimited);
            }
            e.open += 1;
            e.recent.push_back(now);
        }
        let n = self.inner.connections.fetch_add(1, Ordering::SeqCst);
        let mut slot = ConnectionSlot {
            state: self.clone(),
            ip: group,
            granted: false,
        };
        if n >= limits.max_connections {
            // Dropping the slot gives both counts back.
            drop(slot);
            self.inner.metrics.refused_connection();
            return Err(Refused::Busy);
        }
        self.inner.metrics.connection_opened(clinician);
        slot.granted = true;
        Ok(slot)
    }

    /// Advances every waiting room to now (expiry) and drops finished ones.
    pub fn tick(&self) {
        let now = self.now();
        if let Ok(mut hub) = self.inner.hub.lock() {
            hub.tick(now);
        }
        if let Ok(mut map) = self.inner.per_ip.lock() {
            let t = tokio::time::Instant::now();
            map.retain(|_, e| {
                e.open > 0
                    || e.recent
                        .back()
                        .is_some_and(|last| t.duration_since(*last) < Duration::from_secs(60))
            });
        }
    }

    pub(crate) fn hub(&self) -> Option<std::sync::MutexGuard<'_, hub::Hub>> {
        self.inner.hub.lock().ok()
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub(crate) fn admin_token_sha256(&self) -> Option<&str> {
        self.inner.admin_token_sha256.as_deref()
    }

    pub(crate) fn state_dir(&self) -> &std::path::Path {
        &self.inner.state_dir
    }

    pub(crate) fn join_page_dir(&self) -> Option<&std::path::Path> {
        self.inner.join_page_dir.as_deref()
    }

    pub(crate) fn clinic_by_key(&self, public_key: &[u8]) -> Option<usize> {
        self.clinics()
            .iter()
            .position(|c| c.public_key == public_key)
    }

    /// Closes live patient connections that joined with a revoked token.
    pub(crate) fn kick_revoked(&self, public_key: &[u8], visit: &[u8; 16], token_id: u32) {
        let Some(clinic) = self.clinic_by_key(public_key) else {
            return;
        };
        let now = self.now();
        if let Some(mut hub) = self.hub() {
            hub.kick(
                (clinic, *visit),
                token_id,
                &http::refusal_message(Refusal::Revoked),
                now,
            );
        }
    }

    pub(crate) fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }

    /// Tells every WebSocket session to close, then waits (at most
    /// `grace`) for them to finish.
    async fn drain(&self, grace: Duration) {
        self.inner.closing.send_replace(true);
        let deadline = tokio::time::Instant::now() + grace;
        while self.inner.connections.load(Ordering::SeqCst) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn random(&self, out: &mut [u8]) -> bool {
        ring::rand::SecureRandom::fill(&self.inner.rng, out).is_ok()
    }
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The relay is at its connection limit.
    Busy,
    /// This address has too many connections or opened them too fast.
    RateLimited,
}

/// Per-address connection accounting (in memory only, never logged).
#[derive(Debug, Default)]
struct PerIp {
    open: usize,
    recent: VecDeque<tokio::time::Instant>,
}

/// IPv4 addresses count alone; IPv6 by /64, the usual allocation to one
/// subscriber.
fn ip_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Held for the life of one WebSocket connection.
pub(crate) struct ConnectionSlot {
    state: AppState,
    ip: Option<IpAddr>,
    /// Counted in the open-connections gauge.
    granted: bool,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let inner = &self.state.inner;
        inner.connections.fetch_sub(1, Ordering::SeqCst);
        if self.granted {
            inner.metrics.connection_closed();
        }
        if let (Some(ip), Ok(mut map)) = (self.ip, inner.per_ip.lock())
            && let Some(e) = map.get_mut(&ip)
        {
            e.open = e.open.saturating_sub(1);
        }
    }
}

/// The relay's HTTP surface.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(http::metrics))
        .route("/j/{token}", get(http::join_page))
        .route("/api/invite/{token}", get(http::invite_json))
        .route("/assets/{file}", get(http::asset))
        .route("/api/revoke", post(http::revoke))
        .route("/api/admin/enroll", post(http::enroll))
        .route("/ws/patient", get(ws::patient))
        .route("/ws/clinician", get(ws::clinician))
        .fallback(http::not_found)
        .layer(axum::middleware::map_response(http::security_headers))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, ticking the waiting
/// rooms every second.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ticker = spawn_ticker(state.clone());
    let draining = state.clone();
    // Upgraded WebSocket connections are not tracked by axum's graceful
    // shutdown: close them ourselves, so clients see 1001 and reconnect.
    // Signaling is small messages that should go out at once (as `ws` does in
    // Node): Nagle would hold one back until the previous one is acknowledged.
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let r = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        draining.drain(Duration::from_secs(5)).await;
    })
    .await;
    ticker.abort();
    r
}

/// Refuses plain HTTP on anything but loopback: off loopback the relay
/// must terminate TLS itself (`[tls]`).
pub fn check_listen(config: &Config) -> Result<(), RelayError> {
    if config.tls.is_none() && !config.listen.ip().is_loopback() {
        return Err(RelayError::PlainHttpOffLoopback(config.listen));
    }
    Ok(())
}

/// Loads the PEM certificate chain and private key into a rustls server
/// configuration on ring (TLS 1.2 and 1.3, safe defaults, HTTP/1.1 only so
/// that WebSocket upgrades work).
pub fn tls_config(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, RelayError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        RelayError::Config(format!("[tls] {what} {}: {e}", path.display()))
    };
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad("cannot read the certificate chain", &tls.cert, &e))?;
    if certs.is_empty() {
        return Err(bad("no certificate in", &tls.cert, &"empty"));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| bad("cannot read the private key", &tls.key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RelayError::Config(format!("[tls]: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| RelayError::Config(format!("[tls] certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Like [`serve`], but terminating TLS with `tls`; on shutdown, open
/// connections get ten seconds to finish.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ticker = spawn_ticker(state.clone());
    let handle = axum_server::Handle::new();
    let on_shutdown = handle.clone();
    let draining = state.clone();
    tokio::spawn(async move {
        shutdown.await;
        draining.drain(Duration::from_secs(5)).await;
        on_shutdown.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    let listener = listener.into_std()?;
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(
        axum_server::tls_rustls::RustlsConfig::from_config(tls),
    )
    .acceptor(axum_server::accept::NoDelayAcceptor::new());
    let r = axum_server::from_tcp(listener)?
        .acceptor(acceptor)
        .handle(handle)
        .serve(app(state).into_make_service_with_connect_info::<SocketAddr>())
        .await;
    ticker.abort();
    r
}

fn spawn_ticker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            state.tick();
        }
    })
}

/// The log filter: the relay's own events at `level`, dependencies at
/// `error` only. Dependencies log peer addresses and frame contents at
/// trace level (axum logs each accepted connection's address), and their
/// text is not ours to vet, so a verbose setting never reaches them.
pub fn log_filter(level: tracing::Level) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::new(format!(
        "error,bedside_relay={}",
        level.as_str().to_ascii_lowercase()
    ))
}

/// The first 8 hex digits of a visit id: enough to follow one visit in the
/// logs, too little to join it.
pub(crate) fn short_visit(visit: &[u8; 16]) -> String {
    data_encoding::HEXLOWER.encode(&visit[..4])
}
