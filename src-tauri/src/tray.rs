//! The tray icon: the number of patients waiting (never a name) in its tooltip and menu,
//! and Show and Lock.
//!
//! Without a tray host (a bare X server, a desktop without StatusNotifier support) building
//! the icon may fail or show nothing: the app runs on without it and logs that once.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Manager, Wry};

use crate::AppState;
use crate::waiting::WaitingRoom;

const SHOW: &str = "show";
const LOCK: &str = "lock";

/// The tray's label for `n` devices waiting. A count, never a name.
pub(crate) fn count_label(n: usize) -> String {
    match n {
        0 => "No patient waiting".to_owned(),
        1 => "1 patient waiting".to_owned(),
        n => format!("{n} patients waiting"),
    }
}

/// The parts of the tray that change with the count.
struct Tray {
    icon: TrayIcon,
    count: MenuItem<Wry>,
}

/// Builds the tray and hooks it to the waiting room's count. Failure is logged, not fatal.
pub(crate) fn install(app: &AppHandle) {
    match build(app) {
        Ok(tray) => {
            app.manage(tray);
            let handle = app.clone();
            app.state::<WaitingRoom>()
                .on_count(Box::new(move |n| set_count(&handle, n)));
        }
        Err(error) => tracing::warn!(%error, "no tray icon"),
    }
}

fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let label = count_label(app.state::<WaitingRoom>().count());
    let count = MenuItem::with_id(app, "count", &label, false, None::<&str>)?;
    let show = MenuItem::with_id(app, SHOW, "Show Bedside", true, None::<&str>)?;
    let lock_item = MenuItem::with_id(app, LOCK, "Lock", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&count, &separator, &show, &lock_item])?;
    let mut builder = TrayIconBuilder::with_id("main")
        .tooltip(format!("Bedside: {label}"))
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            SHOW => crate::show_main(app),
            LOCK => lock_from_tray(app),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let icon = builder.build(app)?;
    Ok(Tray { icon, count })
}

fn set_count(app: &AppHandle, n: usize) {
    let Some(tray) = app.try_state::<Tray>() else {
        return;
    };
    let label = count_label(n);
    let tooltip = format!("Bedside: {label}");
    if let Err(error) = tray
        .count
        .set_text(label)
        .and_then(|()| tray.icon.set_tooltip(Some(tooltip)))
    {
        tracing::warn!(%error, "could not update the tray");
    }
}

/// The tray's Lock: the same as the lock button (stop the waiting room, lock the core, tell
/// the window).
fn lock_from_tray(app: &AppHandle) {
    app.state::<WaitingRoom>().stop_all();
    if app
        .state::<AppState>()
        .call("lock", |core| {
            core.lock();
            Ok(())
        })
        .is_ok()
        && let Err(error) = app.emit_to("main", crate::idle::LOCKED_EVENT, ())
    {
        tracing::warn!(%error, "could not tell the window it locked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_is_a_count() {
        assert_eq!(count_label(0), "No patient waiting");
        assert_eq!(count_label(1), "1 patient waiting");
        assert_eq!(count_label(7), "7 patients waiting");
    }
}
