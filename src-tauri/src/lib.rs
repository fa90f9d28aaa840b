//! The Bedside desktop shell: a thin Tauri 2 layer over `bedside_core::Core`.
//!
//! **Boundary:** the UI reaches the core only through the commands in [`commands`], each
//! allowed by an explicit permission (`permissions/`, `capabilities/main.json`) and, before
//! that, by the isolation hook in `ui/isolation/`. Errors cross as `{code, message}`.
//!
//! **Invariant:** no PHI, secrets or user input in logs, events or the window title; the
//! shell logs command names, error codes and lifecycle events only.

#[cfg(test)]
mod bindings;
mod commands;
mod csp;
mod deeplink;
mod devices;
mod error;
mod hotplug;
mod idle;
mod notice;
mod policy;
mod relay;
mod render;
mod startup;
mod state;
mod tray;
mod updater;
mod visit;
mod waiting;

use std::process::ExitCode;

use tauri::Manager;
use tauri_plugin_deep_link::DeepLinkExt;

pub use error::IpcError;
pub use state::AppState;

/// When `run` began; `ui_painted` logs the time from here to the first painted screen.
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Milliseconds since `run` began (0 if it has not).
fn since_start_ms() -> u64 {
    STARTED.get().map_or(0, |t| {
        u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
    })
}

/// Runs the desktop app until its window closes.
pub fn run() -> ExitCode {
    STARTED.get_or_init(std::time::Instant::now);
    init_logging();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting");

    let mut context = tauri::generate_context!();
    csp::complete(&mut context);

    let data_dir = bedside_core::Core::default_data_dir();
    // Policy is read once here and kept current by the watcher (`policy.rs`).
    let policy =
        policy::PolicyState::load(bedside_core::policy_root(), data_dir.as_ref().ok().cloned());
    let current = policy.current();
    let state = AppState::new(data_dir, current.policy.clone());
    // The keychain's D-Bus round trips overlap the window and page load (`startup.rs`).
    state.open_in_background();
    let app = tauri::Builder::default()
        // First: a second launch hands its arguments (a deep link) to this process, focuses
        // the window and exits before it builds anything.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tracing::info!("second launch: focusing the window");
            show_main(app);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::SIZE
                        | tauri_plugin_window_state::StateFlags::POSITION
                        | tauri_plugin_window_state::StateFlags::MAXIMIZED,
                )
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        // Endpoint and key come from policy for each check (`updater.rs`), not from the config.
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(state)
        .manage(waiting::WaitingRoom::default())
        .manage(policy)
        .manage(deeplink::PendingLink::default())
        .invoke_handler(tauri::generate_handler![
            commands::profiles,
            commands::password_policy,
            commands::create_profile,
            commands::confirm_totp,
            commands::sign_in,
            commands::pending_enrolment,
            commands::lock,
            commands::session_state,
            commands::touch,
            commands::ui_painted,
            commands::relay_origin,
            commands::patients_list,
            commands::patients_search,
            commands::patient_get,
            commands::patient_create,
            commands::patient_update,
            commands::appointments_day,
            commands::appointments_week,
            commands::appointment_get,
            commands::appointment_create,
            commands::appointment_reschedule,
            commands::appointment_set_reason,
            commands::appointment_cancel,
            commands::appointment_no_show,
            commands::appointment_set_status,
            commands::note_get,
            commands::note_save,
            commands::invite_create,
            commands::invite_show,
            commands::invite_revoke,
            commands::audit_list,
            commands::audit_verify,
            commands::settings_get,
            commands::settings_save,
            commands::waiting_sync,
            commands::waiting_admit,
            commands::waiting_deny,
            commands::waiting_message,
            commands::visit_open,
            commands::visit_close,
            commands::visit_frame_ack,
            commands::visit_controls,
            commands::visit_confirm_sas,
            commands::visit_end,
            commands::visit_send_back,
            commands::visit_chat_send,
            commands::visit_set_device,
            commands::devices_list,
            commands::devices_choose,
            commands::devices_monitor,
            commands::devices_monitor_stop,
            commands::policy_effective,
            commands::policy_reload,
            commands::update_check,
            commands::update_install,
        ])
        .setup(move |app| {
            render::configure(app.handle());
            idle::spawn(app.handle().clone())?;
            policy::spawn(app.handle().clone())?;
            // The embedded relay and the tray start once the first screen is painted.
            startup::spawn_fallback(app.handle().clone())?;
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                let urls: Vec<String> = event.urls().iter().map(|u| u.to_string()).collect();
                deeplink::open(&handle, &urls);
            });
            // Started by a link: keep it until sign-in (the app starts locked).
            if let Ok(Some(urls)) = app.deep_link().get_current() {
                let urls: Vec<String> = urls.iter().map(|u| u.to_string()).collect();
                deeplink::open(app.handle(), &urls);
            }
            Ok(())
        })
        .build(context);

    let app = match app {
        Ok(app) => app,
        Err(error) => {
            // Tauri's own errors (window, webview, config) carry no user data.
            tracing::error!(%error, "the app failed to start");
            return ExitCode::FAILURE;
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            // Zeroize keys and close the database before the process goes.
            handle.state::<AppState>().lock_for_exit();
            tracing::info!("stopped");
        }
    });
    ExitCode::SUCCESS
}

/// Shows, restores and focuses the main window (tray Show, second launch, deep link).
pub(crate) fn show_main(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let shown = window
            .show()
            .and_then(|()| window.unminimize())
            .and_then(|()| window.set_focus());
        if let Err(error) = shown {
            tracing::warn!(%error, "could not show the window");
        }
    }
}

/// Where the embedded relay keeps its state (the app's data directory), if there is one.
pub(crate) fn data_dir_for_relay() -> Option<std::path::PathBuf> {
    bedside_core::Core::default_data_dir().ok()
}

/// Logs to stderr: Bedside's crates at `info` or the level `BEDSIDE_LOG` gives, dependencies at
/// `error` (they log the patient's addresses; see `bedside_core::logging`).
fn init_logging() {
    use bedside_core::logging::log_directive;
    let setting = std::env::var("BEDSIDE_LOG").ok();
    let filter = tracing_subscriber::EnvFilter::try_new(log_directive(setting.as_deref(), "info"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_directive(None, "info")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    //! Keeps build.rs, the permission set and the registered commands in step.

    /// The commands registered in `run`; a new command goes in build.rs, the permission set,
    /// `run` and the isolation hook's allowlist.
    const COMMANDS: &[&str] = &[
        "profiles",
        "password_policy",
        "create_profile",
        "confirm_totp",
        "sign_in",
        "pending_enrolment",
        "lock",
        "session_state",
        "touch",
        "ui_painted",
        "relay_origin",
        "patients_list",
        "patients_search",
        "patient_get",
        "patient_create",
        "patient_update",
        "appointments_day",
        "appointments_week",
        "appointment_get",
        "appointment_create",
        "appointment_reschedule",
        "appointment_set_reason",
        "appointment_cancel",
        "appointment_no_show",
        "appointment_set_status",
        "note_get",
        "note_save",
        "invite_create",
        "invite_show",
        "invite_revoke",
        "audit_list",
        "audit_verify",
        "settings_get",
        "settings_save",
        "waiting_sync",
        "waiting_admit",
        "waiting_deny",
        "waiting_message",
        "visit_open",
        "visit_close",
        "visit_frame_ack",
        "visit_controls",
        "visit_confirm_sas",
        "visit_end",
        "visit_send_back",
        "visit_chat_send",
        "visit_set_device",
        "devices_list",
        "devices_choose",
        "devices_monitor",
        "devices_monitor_stop",
        "policy_effective",
        "policy_reload",
        "update_check",
        "update_install",
    ];

    #[test]
    fn every_command_has_a_generated_and_granted_permission() {
        let build_rs = include_str!("../build.rs");
        let session = concat!(
            include_str!("../permissions/session.toml"),
            include_str!("../permissions/desk.toml")
        );
        let lib = include_str!("lib.rs");
        for command in COMMANDS {
            assert!(
                build_rs.contains(&format!("\"{command}\"")),
                "{command} missing in build.rs"
            );
            let allow = format!("\"allow-{}\"", command.replace('_', "-"));
            assert!(
                session.contains(&allow),
                "{allow} missing in permissions/session.toml"
            );
            assert!(
                lib.contains(&format!("commands::{command},")),
                "{command} not registered"
            );
        }
        let isolation = include_str!("../../ui/isolation/index.js");
        for command in COMMANDS {
            assert!(
                isolation.contains(&format!("    {command}: ")),
                "{command} is not allowed by the isolation hook (ui/isolation/index.js)"
            );
        }
        let api = include_str!("../../ui/src/lib/api.ts");
        for command in COMMANDS {
            assert!(
                api.contains(&format!("'{command}'")),
                "{command} has no wrapper in ui/src/lib/api.ts"
            );
        }
        let granted = session.matches("\"allow-").count();
        assert_eq!(
            granted,
            COMMANDS.len(),
            "the set grants a command that does not exist"
        );
    }

    #[test]
    fn the_main_capability_grants_only_what_the_ui_uses() {
        let capability: serde_json::Value =
            serde_json::from_str(include_str!("../capabilities/main.json")).expect("valid JSON");
        assert_eq!(capability["windows"], serde_json::json!(["main"]));
        assert_eq!(
            capability["permissions"],
            serde_json::json!([
                "core:event:allow-listen",
                "core:event:allow-unlisten",
                "bedside-session",
                "bedside-desk"
            ])
        );
    }

    #[test]
    fn relay_url_policy_turns_the_embedded_relay_off() {
        let with = |v: serde_json::Value| {
            let layer = bedside_policy::Layer {
                source: bedside_policy::Source::Platform {
                    location: "managed/10.json".into(),
                },
                level: bedside_policy::Level::Mandatory,
                values: v.as_object().cloned().unwrap_or_default(),
            };
            let e = bedside_policy::merge(&serde_json::Map::new(), &[layer]);
            bedside_core::Policy::from_effective(&e)
        };
        assert!(crate::relay::embedded_wanted(&with(serde_json::json!({}))));
        assert!(!crate::relay::embedded_wanted(&with(
            serde_json::json!({ "RelayUrl": "https://relay.clinic.example" })
        )));
        // An invalid value is ignored, so the app still has a relay.
        assert!(crate::relay::embedded_wanted(&with(
            serde_json::json!({ "RelayUrl": "http://relay.clinic.example" })
        )));
    }

    #[test]
    fn installer_settings_are_in_place_for_every_platform() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("valid JSON");
        let bundle = &config["bundle"];
        let deb = &bundle["linux"]["deb"];
        assert_eq!(deb["section"], "net");
        assert_eq!(
            deb["files"]["/usr/share/doc/bedside/copyright"],
            "../packaging/deb/copyright"
        );
        assert_eq!(deb["files"]["/usr/share/bedside/join"], "../ui/dist-join");
        // `cargo xtask bundle` gzips packaging/deb/changelog into the changelog.gz named here.
        assert_eq!(
            deb["files"]["/usr/share/doc/bedside/changelog.gz"],
            "../packaging/deb/changelog.gz"
        );
        assert!(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../packaging/deb/changelog")
                .is_file()
        );
        assert_eq!(deb["depends"][0], "libc6 (>= 2.36)");
        // WiX: a fixed upgrade code, so a new .msi replaces the old one instead of sitting beside it.
        assert_eq!(
            bundle["windows"]["wix"]["upgradeCode"],
            "4452bb90-09b5-4acd-93d1-4b929979565a"
        );
        assert_eq!(bundle["windows"]["allowDowngrades"], false);
        assert!(bundle["macOS"]["dmg"]["windowSize"]["width"].is_u64());
        assert_eq!(bundle["macOS"]["hardenedRuntime"], true);
    }

    #[test]
    fn config_keeps_the_security_settings() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("valid JSON");
        let security = &config["app"]["security"];
        assert_eq!(security["freezePrototype"], true);
        assert_eq!(security["pattern"]["use"], "isolation");
        let csp = security["csp"].as_object().expect("CSP as a directive map");
        assert_eq!(csp["default-src"], "'self'");
        assert_eq!(csp["script-src"], "'self'");
        assert_eq!(csp["style-src"], "'self'");
        assert_eq!(csp["img-src"], "'self' data:");
        for (directive, sources) in csp {
            let sources = sources.as_str().expect("string sources");
            assert!(
                !sources.contains("unsafe"),
                "{directive} allows unsafe sources"
            );
            assert!(
                !sources.contains("https:") && !sources.contains('*'),
                "{directive} allows remote origins"
            );
        }
        assert_eq!(config["app"]["windows"][0]["title"], "Bedside");
        assert_eq!(
            config["plugins"]["deep-link"]["desktop"]["schemes"],
            serde_json::json!(["bedside"])
        );
        // Update server and key come from policy (updater.rs); the config only insists that
        // signatures name the version they were made for.
        assert_eq!(
            config["plugins"]["updater"],
            serde_json::json!({ "pubkey": "", "endpoints": [], "requireSignedVersion": true })
        );
    }

    #[test]
    fn single_instance_is_the_first_plugin() {
        let lib = include_str!("lib.rs");
        let first = lib.find(".plugin(").expect("plugins registered");
        assert!(
            lib[first..].starts_with(".plugin(tauri_plugin_single_instance::init("),
            "single-instance must be registered before any other plugin"
        );
    }
}
