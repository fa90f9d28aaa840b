//! Signed updates through tauri-plugin-updater, configured from policy at run time.
//!
//! Policy decides everything: `UpdateUrl` is the manifest (Tauri's static `latest.json` or a
//! dynamic server); `{{channel}}` in it becomes `UpdateChannel`, and without that placeholder
//! the channel goes along as a `channel=` query parameter. `UpdatePublicKey` is the minisign
//! key every artifact must be signed with. No `UpdateUrl`: the app never checks (status
//! `off`). A URL without a key: refused (`update_not_configured`) — an unsigned update is no
//! update. Policy is read for every check, so a change applies without a restart.
//!
//! `tauri.conf.json` carries only a placeholder `plugins.updater` (no endpoint, an empty key,
//! `requireSignedVersion: true`): the plugin does not load without one, and a key compiled into
//! the app could not be rotated by policy. `requireSignedVersion` makes the signature's trusted
//! comment name the version it was signed for, so a tampered manifest cannot pair a new version
//! number with an older, validly signed artifact.
//!
//! **Invariant:** nothing is installed unless its minisign signature verifies against the
//! policy key (the plugin's `download` verifies before it returns the bytes); a refusal is
//! `update_signature_invalid`. The webview cannot call the plugin's own commands (the main
//! capability grants no plugin permission): it asks through `update_check`/`update_install`.

use std::time::Duration;

use serde::Serialize;
use tauri::{Runtime, Url};
use tauri_plugin_updater::{Error as UpdaterError, Update, UpdaterExt};

use crate::IpcError;

/// How long one request to the update server may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where to look for updates and the key they must be signed with, from policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UpdateSource {
    /// The manifest URL with the channel filled in.
    pub endpoint: Url,
    /// The key as the plugin takes it: base64 of the minisign `.pub` file.
    pub pubkey: String,
}

/// What `update_check` and `update_install` report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct UpdateStatus {
    /// `off` (policy names no update server), `up_to_date`, `available` or `installed`
    /// (restart to finish).
    #[cfg_attr(test, schemars(extend("enum" = ["off", "up_to_date", "available", "installed"])))]
    status: &'static str,
    /// The running version.
    current: String,
    /// The version offered, with `available` and `installed`.
    version: Option<String>,
    /// The release notes, with `available`.
    notes: Option<String>,
}

/// The update source policy names: `Ok(None)` without `UpdateUrl` (no checks).
pub(crate) fn source(policy: &bedside_core::Policy) -> Result<Option<UpdateSource>, IpcError> {
    let Some(url) = policy.update_url.as_deref() else {
        return Ok(None);
    };
    let endpoint = endpoint(url, &policy.update_channel).ok_or_else(|| {
        IpcError::new(
            "update_not_configured",
            "The update server address set by policy (UpdateUrl) is not usable. Ask your administrator.",
        )
    })?;
    let pubkey = policy
        .update_public_key
        .as_deref()
        .and_then(plugin_pubkey)
        .ok_or_else(|| {
            IpcError::new(
                "update_not_configured",
                "Updates are turned on by policy but no signing key is set (UpdatePublicKey), so no update can be trusted. Ask your administrator.",
            )
        })?;
    Ok(Some(UpdateSource { endpoint, pubkey }))
}

/// The manifest URL for `channel`: `{{channel}}` replaced, else a `channel` query parameter.
fn endpoint(url: &str, channel: &str) -> Option<Url> {
    if url.contains("{{channel}}") {
        return url.replace("{{channel}}", channel).parse().ok();
    }
    let mut u: Url = url.parse().ok()?;
    u.query_pairs_mut().append_pair("channel", channel);
    Some(u)
}

/// Either spelling of a minisign public key, as the plugin takes it: base64 of
/// `untrusted comment: …\n<key>` (what `tauri signer generate` writes to the `.pub` file).
fn plugin_pubkey(key: &str) -> Option<String> {
    let bytes = bedside_policy::schema::minisign_key_bytes(key)?;
    let file = format!(
        "untrusted comment: minisign public key\n{}\n",
        data_encoding::BASE64.encode(&bytes)
    );
    Some(data_encoding::BASE64.encode(file.as_bytes()))
}

/// The plugin's updater for `source`: endpoint and key from policy, the rest from the plugin.
pub(crate) fn updater<R: Runtime>(
    app: &tauri::AppHandle<R>,
    source: &UpdateSource,
) -> Result<tauri_plugin_updater::Updater, IpcError> {
    app.updater_builder()
        .endpoints(vec![source.endpoint.clone()])
        .and_then(|b| b.pubkey(source.pubkey.clone()).timeout(TIMEOUT).build())
        .map_err(|e| map_error(&e))
}

/// Asks the update server whether there is a newer version.
pub(crate) async fn check<R: Runtime>(
    app: &tauri::AppHandle<R>,
    policy: &bedside_core::Policy,
) -> Result<UpdateStatus, IpcError> {
    let current = app.package_info().version.to_string();
    let Some(source) = source(policy)? else {
        return Ok(UpdateStatus::new("off", current, None));
    };
    let found = find(app, &source).await?;
    Ok(match found {
        Some(u) => UpdateStatus::new("available", current, Some(&u)),
        None => UpdateStatus::new("up_to_date", current, None),
    })
}

/// Checks again, downloads, verifies the signature and installs. The new version runs after
/// a restart, which the user chooses (a visit may be under way).
pub(crate) async fn install<R: Runtime>(
    app: &tauri::AppHandle<R>,
    policy: &bedside_core::Policy,
) -> Result<UpdateStatus, IpcError> {
    let current = app.package_info().version.to_string();
    let Some(source) = source(policy)? else {
        return Ok(UpdateStatus::new("off", current, None));
    };
    let Some(update) = find(app, &source).await? else {
        return Ok(UpdateStatus::new("up_to_date", current, None));
    };
    let bytes = download(&update).await?;
    update.install(&bytes).map_err(|e| map_error(&e))?;
    tracing::info!(version = %update.version, "update installed; restart to finish");
    let mut status = UpdateStatus::new("installed", current, Some(&update));
    status.notes = None;
    Ok(status)
}

/// The update on offer, if any.
async fn find<R: Runtime>(
    app: &tauri::AppHandle<R>,
    source: &UpdateSource,
) -> Result<Option<Update>, IpcError> {
    let found = updater(app, source)?.check().await;
    found.map_err(|e| map_error(&e))
}

/// Downloads the artifact; `Ok` only when its signature verifies against the policy key.
pub(crate) async fn download(update: &Update) -> Result<Vec<u8>, IpcError> {
    update
        .download(|_, _| {}, || {})
        .await
        .map_err(|e| map_error(&e))
}

impl UpdateStatus {
    fn new(status: &'static str, current: String, update: Option<&Update>) -> Self {
        Self {
            status,
            current,
            version: update.map(|u| u.version.clone()),
            notes: update.and_then(|u| u.body.clone()),
        }
    }
}

/// The plugin's error as the UI sees it; the details (URLs, key ids) go to the log only.
fn map_error(e: &UpdaterError) -> IpcError {
    tracing::warn!(error = %e, "update failed");
    match e {
        UpdaterError::Minisign(_)
        | UpdaterError::Base64(_)
        | UpdaterError::SignatureUtf8(_)
        | UpdaterError::SignedVersionMismatch { .. }
        | UpdaterError::MissingSignedVersion => IpcError::new(
            "update_signature_invalid",
            "The update is not signed with your organisation's update key, so it was refused. Nothing was installed.",
        ),
        UpdaterError::AuthenticationFailed
        | UpdaterError::DebInstallFailed
        | UpdaterError::PackageInstallFailed
        | UpdaterError::PreviousAppNotRestored(_)
        | UpdaterError::TempDirNotOnSameMountPoint
        | UpdaterError::InvalidUpdaterFormat
        | UpdaterError::BinaryNotFoundInArchive => IpcError::new(
            "update_install_failed",
            "The update was verified but could not be installed. Ask your administrator to install it.",
        ),
        _ => IpcError::new(
            "update_check_failed",
            "Could not reach the update server. Check the network connection and try again.",
        ),
    }
}

#[cfg(test)]
mod tests {
    //! The real plugin against a loopback HTTP server that serves a signed static manifest.

    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use serde_json::json;

    use super::*;

    /// A minisign key pair, as `tauri signer generate` makes one.
    struct Signer {
        pk: minisign::PublicKey,
        sk: minisign::SecretKey,
    }

    impl Signer {
        fn new() -> Self {
            let kp = minisign::KeyPair::generate_unencrypted_keypair().expect("keygen");
            Self {
                pk: kp.pk,
                sk: kp.sk,
            }
        }

        /// The `.pub` file, base64 (what `tauri signer generate` writes and policy takes).
        fn public_file_b64(&self) -> String {
            let text = self.pk.to_box().expect("box").into_string();
            data_encoding::BASE64.encode(text.as_bytes())
        }

        /// The `.sig` file for `data` signed for `version`, base64 (the manifest's `signature`).
        fn sign(&self, data: &[u8], version: &str) -> String {
            let comment = format!("timestamp:1791649051\tfile:bedside.deb\tversion:{version}");
            let sig =
                minisign::sign(Some(&self.pk), &self.sk, data, Some(&comment), None).expect("sign");
            data_encoding::BASE64.encode(sig.into_string().as_bytes())
        }
    }

    /// What the server serves: `/{channel}/latest.json` for one channel, and the artifact.
    #[derive(Default)]
    struct Served {
        channel: String,
        manifest: serde_json::Value,
        artifact: Vec<u8>,
    }

    type Shared = Arc<Mutex<Served>>;

    async fn serve() -> (String, Shared) {
        let shared: Shared = Arc::default();
        let app = axum::Router::new()
            .route(
                "/{channel}/latest.json",
                axum::routing::get(
                    |State(s): State<Shared>, Path(channel): Path<String>| async move {
                        let s = s.lock().expect("lock");
                        if s.channel == channel {
                            Ok(axum::Json(s.manifest.clone()))
                        } else {
                            Err(StatusCode::NOT_FOUND)
                        }
                    },
                ),
            )
            .route(
                "/bedside.deb",
                axum::routing::get(|State(s): State<Shared>| async move {
                    s.lock().expect("lock").artifact.clone()
                }),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (origin, shared)
    }

    /// A mock-runtime app with the updater plugin and the real `plugins.updater` config.
    fn app() -> tauri::App<tauri::test::MockRuntime> {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("valid JSON");
        let mut context = tauri::test::mock_context(tauri::test::noop_assets());
        context
            .config_mut()
            .plugins
            .0
            .insert("updater".into(), config["plugins"]["updater"].clone());
        tauri::test::mock_builder()
            .plugin(tauri_plugin_updater::Builder::new().build())
            .build(context)
            .expect("mock app")
    }

    fn policy(url: Option<String>, key: Option<String>, channel: &str) -> bedside_core::Policy {
        bedside_core::Policy {
            update_url: url,
            update_public_key: key,
            update_channel: channel.into(),
            ..bedside_core::Policy::default()
        }
    }

    fn manifest(origin: &str, version: &str, signature: &str) -> serde_json::Value {
        json!({
            "version": version,
            "notes": "Fixes.",
            "pub_date": "2026-11-01T00:00:00Z",
            "platforms": {
                "linux-x86_64": { "signature": signature, "url": format!("{origin}/bedside.deb") }
            }
        })
    }

    fn code(r: Result<impl std::fmt::Debug, IpcError>) -> &'static str {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.code(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finds_and_verifies_a_signed_update_and_refuses_tampering() {
        let (origin, served) = serve().await;
        let app = app();
        let handle = app.handle();
        let current = handle.package_info().version.clone();
        let newer = format!("{}.{}.{}", current.major, current.minor + 1, 0);
        let org = Signer::new();
        let artifact: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        {
            let mut s = served.lock().expect("lock");
            s.channel = "stable".into();
            s.artifact = artifact.clone();
            s.manifest = manifest(&origin, &newer, &org.sign(&artifact, &newer));
        }
        let url = format!("{origin}/{{{{channel}}}}/latest.json");
        let pol = policy(Some(url.clone()), Some(org.public_file_b64()), "stable");

        // Found, and the download verifies: the bytes are the artifact.
        let status = check(handle, &pol).await.expect("check");
        assert_eq!(status.status, "available");
        assert_eq!(status.version.as_deref(), Some(newer.as_str()));
        assert_eq!(status.notes.as_deref(), Some("Fixes."));
        let src = source(&pol).expect("configured").expect("on");
        let update = find(handle, &src).await.expect("check").expect("update");
        assert_eq!(download(&update).await.expect("verified"), artifact);

        // One flipped byte in the artifact: the signature no longer verifies.
        served.lock().expect("lock").artifact[1234] ^= 0x01;
        assert_eq!(code(download(&update).await), "update_signature_invalid");
        served.lock().expect("lock").artifact = artifact.clone();

        // Signed by another key: refused.
        let mallory = Signer::new();
        served.lock().expect("lock").manifest =
            manifest(&origin, &newer, &mallory.sign(&artifact, &newer));
        let update = find(handle, &src).await.expect("check").expect("update");
        assert_eq!(code(download(&update).await), "update_signature_invalid");

        // A flipped byte in the signature itself: refused.
        let mut sig = org.sign(&artifact, &newer).into_bytes();
        let at = sig.len() / 2;
        sig[at] = if sig[at] == b'A' { b'B' } else { b'A' };
        let sig = String::from_utf8(sig).expect("ascii");
        served.lock().expect("lock").manifest = manifest(&origin, &newer, &sig);
        let update = find(handle, &src).await.expect("check").expect("update");
        assert_eq!(code(download(&update).await), "update_signature_invalid");

        // A genuine signature for another version under a newer number (a downgrade attack).
        served.lock().expect("lock").manifest =
            manifest(&origin, &newer, &org.sign(&artifact, "0.0.1"));
        let update = find(handle, &src).await.expect("check").expect("update");
        assert_eq!(code(download(&update).await), "update_signature_invalid");

        // A policy naming another key refuses the organisation's genuine update.
        served.lock().expect("lock").manifest =
            manifest(&origin, &newer, &org.sign(&artifact, &newer));
        let other = policy(Some(url.clone()), Some(mallory.public_file_b64()), "stable");
        let src_other = source(&other).expect("configured").expect("on");
        let update = find(handle, &src_other)
            .await
            .expect("check")
            .expect("update");
        assert_eq!(code(download(&update).await), "update_signature_invalid");

        // An older or equal version is no update.
        for v in ["0.0.1".to_owned(), current.to_string()] {
            served.lock().expect("lock").manifest = manifest(&origin, &v, &org.sign(&artifact, &v));
            assert_eq!(
                check(handle, &pol).await.expect("check").status,
                "up_to_date"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn policy_decides_whether_and_where_to_look() {
        let (origin, served) = serve().await;
        let app = app();
        let handle = app.handle();
        let org = Signer::new();
        let artifact = b"bedside".to_vec();
        {
            let mut s = served.lock().expect("lock");
            s.channel = "beta".into();
            s.artifact = artifact.clone();
            s.manifest = manifest(&origin, "99.0.0", &org.sign(&artifact, "99.0.0"));
        }
        let url = format!("{origin}/{{{{channel}}}}/latest.json");
        let key = Some(org.public_file_b64());

        // No UpdateUrl: no check at all.
        let off = check(handle, &policy(None, key.clone(), "beta")).await;
        assert_eq!(off.expect("off").status, "off");
        // A URL without a key: refused rather than trusting anything.
        let r = check(handle, &policy(Some(url.clone()), None, "beta")).await;
        assert_eq!(code(r), "update_not_configured");
        // The channel picks the manifest: the beta one exists, the stable one does not.
        let beta = check(handle, &policy(Some(url.clone()), key.clone(), "beta")).await;
        assert_eq!(beta.expect("beta").status, "available");
        let stable = check(handle, &policy(Some(url.clone()), key.clone(), "stable")).await;
        assert_eq!(code(stable), "update_check_failed");
        // An unreachable server is a plain failure, not a hang or a crash.
        let dead = policy(Some("http://127.0.0.1:9/{{channel}}".into()), key, "beta");
        assert_eq!(code(check(handle, &dead).await), "update_check_failed");
    }

    #[test]
    fn endpoints_and_keys_from_policy() {
        assert_eq!(
            endpoint("https://u.example/{{channel}}/latest.json", "beta").map(String::from),
            Some("https://u.example/beta/latest.json".to_owned())
        );
        assert_eq!(
            endpoint("https://u.example/latest.json", "stable").map(String::from),
            Some("https://u.example/latest.json?channel=stable".to_owned())
        );
        // Both spellings of a key give the plugin the same `.pub` file.
        let bare = "RWTX5qZvdPSepDGWg2bz8n6ArQnBMwgQK1geVosorcbLzcunD+KJ+cYe";
        let file = format!("untrusted comment: minisign public key: A49EF4746FA6E6D7\n{bare}");
        let tauri_form = data_encoding::BASE64.encode(file.as_bytes());
        assert_eq!(plugin_pubkey(bare), plugin_pubkey(&tauri_form));
        assert!(plugin_pubkey("nope").is_none());
    }
}
