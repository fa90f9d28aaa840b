//! Test support shared by the workspace's tests and benches (`bedside-host`'s tests and media
//! bench, the end-to-end tests in `tests/`): a real relay on a loopback port with one enrolled
//! clinic, invite tokens signed with that clinic's key, and the real headless host
//! (`bedsidectl visit host`'s engine) with its events on a channel.
//!
//! Set-up failures panic with a short reason: this crate runs only inside tests and benches.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bedside_host::{HostConfig, HostEvent, MediaOptions};
use bedside_relay::{AppState, ClinicConfig, Clock as _, Config, SystemClock, TurnConfig};
use bedside_visit::invite::{self, Claims, VisitId};
use data_encoding::BASE64URL_NOPAD as B64;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::Ed25519KeyPair;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A relay serving on `127.0.0.1` with one clinic enrolled; it stops, and its state directory
/// goes, when this value is dropped.
pub struct Relay {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// The enrolled clinic's signing key (invites, the host's hello).
    pub key: Arc<Ed25519KeyPair>,
    /// The same key as PKCS#8, for a `bedsidectl` or a browser that needs it as a file.
    pub pkcs8: Vec<u8>,
    addr: SocketAddr,
    config: Config,
    serving: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    _dir: tempfile::TempDir,
}

/// What a test relay serves beyond the WebSocket API.
#[derive(Default)]
pub struct RelayOptions {
    /// The built patient page (`ui/dist-join`), for tests that open it in a browser.
    pub join_page_dir: Option<PathBuf>,
    /// TURN credentials handed to admitted patients.
    pub turn: Option<TurnConfig>,
}

impl Relay {
    /// Starts a relay on a free loopback port.
    pub async fn start(options: RelayOptions) -> Relay {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("clinic keygen");
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("clinic key");
        let dir = tempfile::tempdir().expect("relay state dir");
        let mut config = Config::new(
            dir.path().to_path_buf(),
            vec![ClinicConfig {
                name: "Riverside Practice".into(),
                public_key: B64.encode(&invite::public_key(&key)),
            }],
        );
        config.join_page_dir = options.join_page_dir;
        config.turn = options.turn;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay");
        let addr = listener.local_addr().expect("relay address");
        let mut relay = Relay {
            origin: format!("http://{addr}"),
            key: Arc::new(key),
            pkcs8: pkcs8.as_ref().to_vec(),
            addr,
            config,
            serving: None,
            _dir: dir,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let state = AppState::new(&self.config, Arc::new(SystemClock)).expect("relay state");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bedside_relay::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        self.serving = Some((stop, task));
    }

    /// Stops the relay (connections are closed with 1001, as on a deploy) and, once it has
    /// stopped cleanly, serves again on the same port with the same state directory.
    pub async fn restart(&mut self) {
        if let Some((stop, task)) = self.serving.take() {
            let _ = stop.send(());
            task.await
                .expect("relay task")
                .expect("the relay stops cleanly");
        }
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("the same port");
        self.serve(listener);
    }

    /// A valid invite token for `visit` (see [`claims`]).
    pub fn token(&self, visit: [u8; 16]) -> String {
        invite::sign(&self.key, &claims(&self.key, visit))
    }
}

/// Seconds since the Unix epoch, as invite claims count them.
pub fn now() -> u32 {
    u32::try_from(SystemClock.now()).unwrap_or(u32::MAX)
}

/// Claims of a valid invite for `visit` signed by `key`: open since a minute ago for an hour,
/// one device, token id 1, no date of birth asked. Tests change what they test:
/// `Claims { token_id: 7, ..claims(key, visit) }`.
pub fn claims(key: &Ed25519KeyPair, visit: [u8; 16]) -> Claims {
    Claims {
        visit: VisitId(visit),
        key_id: invite::key_id(&invite::public_key(key)),
        not_before: now().saturating_sub(60),
        lifetime_min: 60,
        max_devices: 1,
        token_id: 1,
        knock_requires_dob: false,
    }
}

/// `N` random bytes (visit ids, invite secrets).
pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0; N];
    SystemRandom::new().fill(&mut b).expect("random bytes");
    b
}

/// The real headless host for `visit` on `relay`, admitting the first knock that opens with
/// `secret`; with `media`, it answers the admitted patient's call. Its events, and a
/// `RelayError { code: "host" }` if it stops with an error, arrive on the returned channel.
pub fn spawn_host(
    relay: &Relay,
    visit: [u8; 16],
    secret: [u8; 32],
    media: Option<MediaOptions>,
) -> mpsc::UnboundedReceiver<HostEvent> {
    spawn_host_until(relay, visit, secret, media, std::future::pending())
}

/// [`spawn_host`] that stops when `shutdown` completes (a test that ends the host mid-call).
pub fn spawn_host_until(
    relay: &Relay,
    visit: [u8; 16],
    secret: [u8; 32],
    media: Option<MediaOptions>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> mpsc::UnboundedReceiver<HostEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    let cfg = HostConfig {
        relay_origin: relay.origin.clone(),
        key: relay.key.clone(),
        visit,
        secret: zeroize::Zeroizing::new(secret),
        auto_admit: true,
    };
    tokio::spawn(async move {
        let events = tx.clone();
        let r =
            bedside_host::run_with_media(cfg, media, move |e| drop(events.send(e)), shutdown).await;
        if let Err(e) = r {
            let _ = tx.send(HostEvent::RelayError {
                code: "host".into(),
                message: e.to_string(),
            });
        }
    });
    rx
}

/// The host's next event that `want` accepts, skipping others; panics after 10 s without one
/// or when the host has stopped.
pub async fn event(
    rx: &mut mpsc::UnboundedReceiver<HostEvent>,
    want: impl Fn(&HostEvent) -> bool,
) -> HostEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("host event in time")
            .expect("host running");
        if want(&e) {
            return e;
        }
    }
}
