//! The embedded relay: unless policy names a relay (`RelayUrl`), the app runs
//! `bedside-relay` in-process on 127.0.0.1 at a random port, trusting the
//! clinic keys of this computer's profiles. Plain HTTP is fine there: the
//! relay refuses it anywhere but loopback.
//!
//! `RelayUrl` is followed live: the core picks the relay for each new invite from the
//! policy in force, a policy that drops `RelayUrl` starts the embedded relay
//! ([`ensure_embedded`], from the policy watcher), and one that sets it leaves a running
//! embedded relay alone — invites already issued on it keep working; new ones go to the
//! policy's relay. Waiting-room connections follow each invite's own relay (the one its link
//! names, where its patient will knock), so they never move: regenerating a link moves it.
//!
//! At start-up the embedded relay starts after the first screen is painted (`startup.rs`):
//! the sign-in screen needs no relay. Whatever needs it — an invite, the waiting room, the
//! relay origin — first calls [`wait_started`], which starts it now if it has not been and
//! waits until it listens (or failed), so nothing races its start.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bedside_relay::{AppState, ClinicConfig, Config, SystemClock};
use tauri::{AppHandle, Manager, Runtime};

/// A running embedded relay.
#[derive(Clone)]
pub struct EmbeddedRelay {
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// Its state, to trust a clinic key created after start-up.
    state: AppState,
}

/// The embedded relay's origin, if it runs.
pub(crate) fn embedded_origin<R: Runtime>(app: &AppHandle<R>) -> Option<String> {
    app.try_state::<EmbeddedRelay>().map(|r| r.origin.clone())
}

/// The embedded relay is wanted when policy names no relay (`RelayUrl`).
pub(crate) fn embedded_wanted(policy: &bedside_core::Policy) -> bool {
    policy.relay_url.is_none()
}

/// How long a command waits for the embedded relay's start (binding a loopback port and
/// reading its small state directory take milliseconds).
const START_WAIT: Duration = Duration::from_secs(10);

/// Where the embedded relay's one start is.
#[derive(Default)]
struct Startup {
    phase: Mutex<Phase>,
    done: Condvar,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    NotStarted,
    Starting,
    /// Listening ([`EmbeddedRelay`] is managed) or failed (logged).
    Finished,
}

fn startup_of<R: Runtime>(handle: &AppHandle<R>) -> tauri::State<'_, Startup> {
    // `manage` keeps the first value: a no-op once it is there.
    handle.manage(Startup::default());
    handle.state::<Startup>()
}

/// Starts the embedded relay in the background if policy names no relay and it has not been
/// started; returns whether it started it now. Called after the first screen is painted, after
/// each policy change and by [`wait_started`].
pub(crate) fn ensure_embedded<R: Runtime>(
    handle: &AppHandle<R>,
    data_dir: Option<PathBuf>,
    policy: &bedside_core::Policy,
) -> bool {
    if !embedded_wanted(policy) {
        tracing::info!("relay set by policy; no embedded relay");
        return false;
    }
    let Some(data_dir) = data_dir else {
        return false;
    };
    let startup = startup_of(handle);
    {
        let Ok(mut phase) = startup.phase.lock() else {
            return false;
        };
        if *phase != Phase::NotStarted {
            return false;
        }
        *phase = Phase::Starting;
    }
    let clinics = bedside_core::profiles::clinic_keys_in(&data_dir);
    let handle = handle.clone();
    tauri::async_runtime::spawn(async move {
        match start(&data_dir, clinics).await {
            Ok(r) => {
                handle.manage(r);
            }
            Err(e) => tracing::error!(error = %e, "the embedded relay did not start"),
        }
        let startup = startup_of(&handle);
        if let Ok(mut phase) = startup.phase.lock() {
            *phase = Phase::Finished;
        }
        startup.done.notify_all();
    });
    true
}

/// Before anything that needs the embedded relay: if policy wants it, starts it (unless it has
/// been started) and waits until it listens or failed, at most [`START_WAIT`]. Blocking: call
/// it outside the core's lock.
pub(crate) fn wait_started(app: &AppHandle) {
    let policy = crate::policy::current(app);
    if !embedded_wanted(&policy) {
        return;
    }
    ensure_embedded(app, crate::data_dir_for_relay(), &policy);
    wait_finished(app, START_WAIT);
}

/// Waits while the embedded relay is starting, at most `limit`.
fn wait_finished<R: Runtime>(handle: &AppHandle<R>, limit: Duration) {
    let startup = startup_of(handle);
    let deadline = Instant::now() + limit;
    let Ok(mut phase) = startup.phase.lock() else {
        return;
    };
    while *phase == Phase::Starting {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tracing::warn!("the embedded relay is still starting");
            return;
        }
        phase = match startup.done.wait_timeout(phase, left) {
            Ok((guard, _)) => guard,
            Err(_) => return,
        };
    }
}

/// Makes the embedded relay (if any) trust the signed-in clinic's key, which may have been
/// created after the relay started (the first invite of a new profile).
pub(crate) fn trust(
    app: &tauri::AppHandle,
    core: &mut bedside_core::Core,
) -> Result<(), bedside_core::CoreError> {
    if let Some(r) = app.try_state::<EmbeddedRelay>() {
        let (name, public_key) = core.clinic_identity()?;
        if let Err(e) = r.state.trust_clinic(&name, &public_key) {
            tracing::warn!(error = %e, "the embedded relay refused the clinic key");
        }
    }
    Ok(())
}

/// Tells each withdrawn invite's relay, in the background, that the link is revoked. The
/// local revocation already stands; an unreachable relay is logged (the link then stops at
/// its expiry).
pub(crate) fn tell_revoked(app: &tauri::AppHandle, withdrawn: Vec<bedside_store::Invite>) {
    if withdrawn.is_empty() {
        return;
    }
    let key = app
        .state::<crate::AppState>()
        .call("revoke", |core| core.clinic_key());
    let Ok(key) = key else { return };
    tauri::async_runtime::spawn(async move {
        for i in withdrawn {
            let r = bedside_host::revoke(&i.relay_origin, &key, &i.visit_id, i.token_id).await;
            match r {
                Ok(()) => tracing::info!(token = i.token_id, "relay told of revocation"),
                Err(e) => {
                    tracing::warn!(token = i.token_id, error = %e, "relay not told of revocation")
                }
            }
        }
    });
}

/// Where the .deb installs the built join page (`bundle.linux.deb.files` in tauri.conf.json).
const INSTALLED_JOIN_PAGE: &str = "/usr/share/bedside/join";

/// The built patient join page to serve: `$BEDSIDE_JOIN_PAGE_DIR`, else the
/// development build beside the sources, else the installed copy, if present.
fn join_page_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("BEDSIDE_JOIN_PAGE_DIR").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist-join")),
        Some(PathBuf::from(INSTALLED_JOIN_PAGE)),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|d| d.join("join.html").is_file())
}

/// Starts the relay; it runs until the process ends.
pub async fn start(
    data_dir: &Path,
    clinics: Vec<(String, String)>,
) -> Result<EmbeddedRelay, String> {
    let clinics = clinics
        .into_iter()
        .map(|(name, public_key)| ClinicConfig { name, public_key })
        .collect();
    let mut config = Config::new(data_dir.join("relay"), clinics);
    config.join_page_dir = join_page_dir();
    std::fs::create_dir_all(&config.state_dir).map_err(|e| e.to_string())?;
    let state = AppState::new(&config, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let origin = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let serving = state.clone();
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = bedside_relay::serve(listener, serving, std::future::pending()).await {
            tracing::error!(error = %e, "embedded relay stopped");
        }
    });
    tracing::info!(%origin, "embedded relay listening");
    Ok(EmbeddedRelay { origin, state })
}

#[cfg(test)]
mod tests {
    use tauri::Manager;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_embedded_relay_starts_once_when_policy_drops_relay_url() {
        let dir = tempfile::tempdir().expect("tmp");
        let app = tauri::test::mock_app();
        let handle = app.handle();
        let named = bedside_core::Policy {
            relay_url: Some("https://relay.clinic.example".into()),
            ..bedside_core::Policy::default()
        };
        assert!(!super::ensure_embedded(
            handle,
            Some(dir.path().into()),
            &named
        ));
        assert!(handle.try_state::<super::EmbeddedRelay>().is_none());

        // The watcher applies a policy without RelayUrl: the embedded relay starts.
        let none = bedside_core::Policy::default();
        assert!(super::ensure_embedded(
            handle,
            Some(dir.path().into()),
            &none
        ));
        // Whoever needs it waits for its start: no polling, no race.
        super::wait_finished(handle, std::time::Duration::from_secs(10));
        let origin = super::embedded_origin(handle).expect("listening once started");
        assert!(origin.starts_with("http://127.0.0.1:"), "{origin}");
        // Again (the next change, or RelayUrl set and dropped once more): no second relay.
        assert!(!super::ensure_embedded(
            handle,
            Some(dir.path().into()),
            &none
        ));
        assert!(!super::ensure_embedded(
            handle,
            Some(dir.path().into()),
            &named
        ));
        assert_eq!(super::embedded_origin(handle), Some(origin));
    }

    #[tokio::test]
    async fn starts_on_loopback_and_answers() {
        let dir = tempfile::tempdir().expect("tmp");
        let relay = super::start(dir.path(), vec![]).await.expect("start");
        assert!(
            relay.origin.starts_with("http://127.0.0.1:"),
            "{}",
            relay.origin
        );
        let addr = relay.origin.trim_start_matches("http://").to_owned();
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut reply = String::new();
        s.read_to_string(&mut reply).await.expect("read");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(
            dir.path().join("relay").is_dir(),
            "state lives under the data dir"
        );
    }
}
