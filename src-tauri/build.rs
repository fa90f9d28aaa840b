//! Build script: embeds the Tauri config and generates an ACL permission per app command.

/// Every `#[tauri::command]` the shell registers. Each gets `allow-*`/`deny-*` permissions;
/// `permissions/session.toml` groups the allowed ones for the main window's capability.
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

fn main() {
    // Linux: pack the app's relative relocations (DT_RELR; glibc >= 2.36, the .deb's floor).
    // Its relocation table shrinks from megabytes to kilobytes, which ld.so reads and applies
    // at every start and which stays resident (`cargo xtask bench app`, BENCHMARKS.md).
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        // Keep the SQLCipher build statically linked into the app private. Without this, ld
        // exports every sqlite3_* symbol that a shared library (WebKitGTK, libsoup) imports, and
        // those libraries then call Bedside's SQLCipher instead of the system SQLite they were
        // built against. No library needs anything else from the executable.
        println!("cargo:rustc-link-arg-bins=-Wl,--exclude-libs,ALL");
    }
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // Build scripts report failure by panicking; keep tauri-build's message.
        panic!("tauri-build failed: {error:#}");
    }
}
