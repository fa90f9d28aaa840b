//! Start-up order: what must be ready before the first screen, and what waits until after it.
//!
//! Before the first screen (the sign-in or first-run screen): the single-instance check, the
//! window and its page, the policy in force, and the core (keychain) — opened on a background
//! thread from the very start ([`crate::AppState::open_in_background`]), so it overlaps the
//! window and page load and the UI's first command finds it open.
//!
//! After the first screen is painted (the UI's `ui_painted`), or after [`FALLBACK`] if no screen
//! reports a paint (a start-up error screen): the embedded relay and the tray icon. The sign-in
//! screen needs neither; anything that needs the relay waits for its start
//! (`relay::wait_started`), and the tray reads the waiting count when it is built.
//!
//! **Invariant:** nothing the sign-in and first-run screens need is deferred here; whatever is
//! deferred is awaited by the commands that use it, never assumed.

use std::time::Duration;

use tauri::{AppHandle, Manager};

/// If the UI never reports a painted screen, the deferred work starts after this.
const FALLBACK: Duration = Duration::from_secs(5);

/// Managed once the deferred work has been started, so it runs at most once.
struct Deferred;

/// Starts what waits for the first paint: the embedded relay (in the background) and the tray
/// (queued on the main thread). Runs once; later calls do nothing.
pub(crate) fn after_first_screen(app: &AppHandle) {
    // `manage` adds the marker only once, even when the paint and the fallback race here.
    if !app.manage(Deferred) {
        return;
    }
    crate::relay::ensure_embedded(
        app,
        crate::data_dir_for_relay(),
        &crate::policy::current(app),
    );
    let handle = app.clone();
    if let Err(error) = app.run_on_main_thread(move || crate::tray::install(&handle)) {
        tracing::warn!(%error, "no tray icon");
    }
}

/// Runs [`after_first_screen`] after [`FALLBACK`] in case no paint is reported.
pub(crate) fn spawn_fallback(app: AppHandle) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("startup-fallback".into())
        .spawn(move || {
            std::thread::sleep(FALLBACK);
            after_first_screen(&app);
        })?;
    Ok(())
}
