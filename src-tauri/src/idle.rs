//! Idle lock: a background thread asks the core every few seconds whether the session has
//! been idle too long, and tells the window when the core locked itself.

use std::thread;
use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager};

use crate::AppState;

/// How often the core's idle timer is checked.
const TICK: Duration = Duration::from_secs(5);

/// The event the UI listens for to show the lock screen. No payload.
pub(crate) const LOCKED_EVENT: &str = "locked";

/// Starts the idle-lock thread; it lives as long as the app.
pub(crate) fn spawn(app: AppHandle) -> std::io::Result<()> {
    thread::Builder::new()
        .name("idle-lock".into())
        .spawn(move || {
            loop {
                thread::sleep(TICK);
                // The core logs the lock itself; this only forwards it to the window.
                if app.state::<AppState>().tick() {
                    app.state::<crate::waiting::WaitingRoom>().stop_all();
                    if let Err(error) = app.emit_to("main", LOCKED_EVENT, ()) {
                        tracing::warn!(%error, "could not tell the window it locked");
                    }
                }
            }
        })?;
    Ok(())
}
