//! Managed policy in the running app: read once at start, then re-read every few seconds
//! by a watcher thread; a change is swapped into the core at once and announced to the
//! window with a `policy-changed` event (no payload: the Policy page asks again).
//!
//! Polling rather than inotify: policy arrives by config management, MDM agents and
//! package scripts that replace files in every way there is (rename, copy, bind mount,
//! network file systems); reading a handful of small files every few seconds sees all of
//! them and costs nothing measurable. Merging stays pure in `bedside-policy`; the IO is
//! `bedside_policy::sources` and this thread.

use std::path::PathBuf;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use bedside_core::{LoadedPolicy, Policy};
use bedside_policy::{Level, PolicyEntry, Source, Status};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};

use crate::AppState;

/// How often the policy sources are read again.
const POLL: Duration = Duration::from_secs(3);

/// The event the UI listens for to refresh the Policy page. No payload.
pub(crate) const POLICY_CHANGED_EVENT: &str = "policy-changed";

/// The policy in force and where to read it.
pub struct PolicyState {
    root: PathBuf,
    data_dir: Option<PathBuf>,
    current: Mutex<LoadedPolicy>,
}

impl PolicyState {
    /// Reads the platform's policy now (`$BEDSIDE_POLICY_DIR` or `/etc/bedside/policies`),
    /// remembering signed bundles in `data_dir`.
    pub fn load(root: PathBuf, data_dir: Option<PathBuf>) -> Self {
        let loaded = Policy::load_from(&root, data_dir.as_deref());
        loaded.log();
        log_in_force(&loaded);
        Self {
            root,
            data_dir,
            current: Mutex::new(loaded),
        }
    }

    /// The policy in force.
    pub fn current(&self) -> LoadedPolicy {
        match self.current.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the sources again; returns the new policy when anything changed.
    pub fn refresh(&self) -> Option<LoadedPolicy> {
        let fresh = Policy::load_from(&self.root, self.data_dir.as_deref());
        let mut guard = match self.current.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !fresh.differs_from(&guard) {
            return None;
        }
        fresh.log();
        log_in_force(&fresh);
        *guard = fresh.clone();
        Some(fresh)
    }
}

/// Logs which policies an admin set (names and sources' kinds only; no values).
fn log_in_force(l: &LoadedPolicy) {
    let set: Vec<&str> = l
        .effective
        .entries
        .iter()
        .filter(|e| e.source != Source::Default)
        .map(|e| e.name.as_str())
        .collect();
    tracing::info!(
        policies = %set.join(","),
        bundle = l.bundle.applied.as_ref().map(|b| b.version),
        "policy in force"
    );
}

/// The policy in force now.
pub(crate) fn current(app: &AppHandle) -> Policy {
    app.state::<PolicyState>().current().policy
}

/// Re-reads policy now, applies any change to the core and tells the window. The core picks
/// the relay for each new invite from the policy in force; a policy without `RelayUrl` needs
/// the embedded relay, which starts here if it does not run yet (see `relay.rs`).
pub(crate) fn reload(app: &AppHandle) -> LoadedPolicy {
    let state = app.state::<PolicyState>();
    if let Some(new) = state.refresh() {
        app.state::<AppState>().set_policy(new.policy.clone());
        crate::relay::ensure_embedded(app, crate::data_dir_for_relay(), &new.policy);
        if let Err(error) = app.emit_to("main", POLICY_CHANGED_EVENT, ()) {
            tracing::warn!(%error, "could not tell the window policy changed");
        }
    }
    state.current()
}

/// Starts the watcher thread; it lives as long as the app.
pub(crate) fn spawn(app: AppHandle) -> std::io::Result<()> {
    thread::Builder::new()
        .name("policy-watch".into())
        .spawn(move || {
            loop {
                thread::sleep(POLL);
                reload(&app);
            }
        })?;
    Ok(())
}

/// One row of the Policy page.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PolicyRow {
    name: String,
    value: serde_json::Value,
    /// `default`, `user`, a file path or registry key, or `signed bundle vN`.
    source: String,
    #[cfg_attr(test, schemars(schema_with = "crate::bindings::policy_level"))]
    level: Option<Level>,
    /// `ok`, `invalid`, `unknown` or `below_floor`.
    #[cfg_attr(test, schemars(extend("enum" = ["ok", "invalid", "unknown", "below_floor"])))]
    status: &'static str,
    /// Why a value was ignored.
    detail: Option<String>,
}

impl From<&PolicyEntry> for PolicyRow {
    fn from(e: &PolicyEntry) -> Self {
        let (status, detail) = match &e.status {
            Status::Ok => ("ok", None),
            Status::Invalid(why) => ("invalid", Some(why.clone())),
            Status::Unknown => ("unknown", Some("no such policy".to_owned())),
            Status::BelowFloor(why) => ("below_floor", Some(why.clone())),
            _ => ("invalid", None),
        };
        Self {
            name: e.name.clone(),
            value: e.value.clone(),
            source: match &e.source {
                Source::Default => "default".into(),
                Source::User => "user".into(),
                Source::Platform { location } => location.clone(),
                Source::SignedBundle { version } => format!("signed bundle v{version}"),
                _ => "other".into(),
            },
            level: e.level,
            status,
            detail,
        }
    }
}

/// A file that could not be used.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct Unreadable {
    path: String,
    reason: String,
}

/// What the Policy page shows: like chrome://policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct PolicyView {
    /// Every policy with the value in force.
    policies: Vec<PolicyRow>,
    /// Values that were ignored: unknown names, invalid values, attempts below a floor.
    ignored: Vec<PolicyRow>,
    /// Policy files that could not be read.
    unreadable: Vec<Unreadable>,
    /// Signed bundles: the one in force, those refused, pinned keys.
    bundle: bedside_policy::sources::BundleReport,
    /// The minimum version policy requires, when this app is older (visits are refused).
    update_required: Option<String>,
}

impl From<&LoadedPolicy> for PolicyView {
    fn from(l: &LoadedPolicy) -> Self {
        Self {
            policies: l.effective.entries.iter().map(PolicyRow::from).collect(),
            ignored: l.effective.problems.iter().map(PolicyRow::from).collect(),
            unreadable: l
                .problems
                .iter()
                .map(|p| Unreadable {
                    path: p.path.display().to_string(),
                    reason: p.reason.clone(),
                })
                .collect(),
            bundle: l.bundle.clone(),
            update_required: l
                .policy
                .check_version(env!("CARGO_PKG_VERSION"))
                .err()
                .and_then(|_| l.policy.minimum_version.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &std::path::Path, name: &str, text: &str) {
        let path = root.join("managed").join(name);
        std::fs::create_dir_all(root.join("managed")).expect("mkdir");
        // Replace atomically, as config management does.
        let tmp = root.join(".tmp");
        std::fs::write(&tmp, text).expect("write");
        std::fs::rename(&tmp, &path).expect("rename");
    }

    #[test]
    fn refresh_reports_a_change_once_and_the_view_shows_sources_and_statuses() {
        let root = tempfile::tempdir().expect("tmp");
        let data = tempfile::tempdir().expect("tmp");
        let state = PolicyState::load(root.path().to_owned(), Some(data.path().to_owned()));
        assert_eq!(state.current().policy, Policy::default());
        assert!(state.refresh().is_none(), "nothing changed");

        write(
            root.path(),
            "10-org.json",
            r#"{"IdleLockMinutes": 4, "Teleport": true, "WaitingRoomEnabled": false, "InviteMaxDevices": 99}"#,
        );
        let new = state
            .refresh()
            .expect("the change is seen without a restart");
        assert_eq!(new.policy.idle_lock_minutes, 4);
        assert!(state.refresh().is_none(), "reported once");

        let view = serde_json::to_value(PolicyView::from(&state.current())).expect("json");
        let row = |name: &str| {
            view["policies"]
                .as_array()
                .and_then(|a| a.iter().find(|r| r["name"] == name))
                .cloned()
                .unwrap_or_default()
        };
        let idle = row("IdleLockMinutes");
        assert_eq!(idle["value"], 4);
        assert_eq!(idle["level"], "mandatory");
        assert_eq!(idle["status"], "ok");
        assert!(
            idle["source"]
                .as_str()
                .is_some_and(|s| s.ends_with("managed/10-org.json"))
        );
        assert_eq!(row("PasswordMinLength")["source"], "default");
        assert_eq!(row("WaitingRoomEnabled")["value"], true);
        let ignored = view["ignored"].as_array().cloned().unwrap_or_default();
        let status_of = |name: &str| {
            ignored
                .iter()
                .find(|r| r["name"] == name)
                .map(|r| r["status"].clone())
        };
        assert_eq!(status_of("Teleport"), Some("unknown".into()));
        assert_eq!(status_of("WaitingRoomEnabled"), Some("below_floor".into()));
        assert_eq!(status_of("InviteMaxDevices"), Some("invalid".into()));
        assert_eq!(view["bundle"]["trusted_keys"], 0);
        assert!(view["update_required"].is_null());

        write(
            root.path(),
            "20-min.json",
            r#"{"MinimumVersion": "99.0.0"}"#,
        );
        state.refresh().expect("changed");
        let view = serde_json::to_value(PolicyView::from(&state.current())).expect("json");
        assert_eq!(view["update_required"], "99.0.0");
        std::fs::remove_file(root.path().join("managed/20-min.json")).expect("rm");

        // Removing the file goes back to the defaults, again live.
        std::fs::remove_file(root.path().join("managed/10-org.json")).expect("rm");
        assert_eq!(state.refresh().expect("changed").policy, Policy::default());
    }
}
