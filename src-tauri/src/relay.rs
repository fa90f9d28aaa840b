//! The embedded relay: unless policy names a relay (`RelayUrl`), the app runs
//! `bedside-relay` in-process on 127.0.0.1 at a random port, trusting the
//! clinic keys of this computer's profiles. Plain HTTP is fine there: the
//! relay refuses it anywhere but loopback.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bedside_relay::{AppState, ClinicConfig, Config, SystemClock};

/// A running embedded relay.
#[derive(Clone)]
pub struct EmbeddedRelay {
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// Its state, to trust a clinic key created after start-up.
    state: AppState,
}

/// The embedded relay's origin, if it runs.
pub(crate) fn embedded_origin(app: &tauri::AppHandle) -> Option<String> {
    use tauri::Manager;
    app.try_state::<EmbeddedRelay>().map(|r| r.origin.clone())
}

/// Makes the embedded relay (if any) trust the signed-in clinic's key, which may have been
/// created after the relay started (the first invite of a new profile).
pub(crate) fn trust(
    app: &tauri::AppHandle,
    core: &mut bedside_core::Core,
) -> Result<(), bedside_core::CoreError> {
    use tauri::Manager;
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
    use tauri::Manager;
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
