//! Deep links: `bedside://appointment/<id>` opens that appointment.
//!
//! The URL comes from outside (another program, a browser, a second launch forwarded by the
//! single-instance plugin), so [`parse`] accepts exactly that shape and nothing else: the
//! scheme and host in lower case, a positive decimal id without leading zeros, no port,
//! user, query, fragment or trailing slash. A refused link is logged without its text.
//!
//! While the app is locked the id waits here ([`PendingLink`]); after sign-in it goes to the
//! window as an [`OPEN_EVENT`], which the UI turns into the appointment page.

use std::sync::Mutex;

use tauri::{AppHandle, Emitter, Manager};

use crate::AppState;

/// The event that opens an appointment in the window (payload: the id).
pub(crate) const OPEN_EVENT: &str = "open-appointment";

const PREFIX: &str = "bedside://appointment/";

/// The appointment id in a deep link, if the link is exactly `bedside://appointment/<id>`.
pub(crate) fn parse(url: &str) -> Option<i64> {
    let digits = url.strip_prefix(PREFIX)?;
    if digits.is_empty()
        || digits.len() > 18
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

/// An appointment asked for while the app was locked.
#[derive(Default)]
pub(crate) struct PendingLink(Mutex<Option<i64>>);

/// Handles links from the deep-link plugin: shows the window and opens the (last valid)
/// appointment now, or after sign-in.
pub(crate) fn open(app: &AppHandle, urls: &[String]) {
    let Some(id) = urls.iter().rev().find_map(|u| parse(u)) else {
        tracing::info!(links = urls.len(), "deep link refused");
        return;
    };
    crate::show_main(app);
    if app.state::<AppState>().is_unlocked() {
        emit(app, id);
    } else {
        tracing::info!("deep link kept until sign-in");
        if let Ok(mut pending) = app.state::<PendingLink>().0.lock() {
            *pending = Some(id);
        }
    }
}

/// After a sign-in: opens the appointment a link asked for while locked.
pub(crate) fn after_unlock(app: &AppHandle) {
    let id = match app.state::<PendingLink>().0.lock() {
        Ok(mut pending) => pending.take(),
        Err(_) => None,
    };
    if let Some(id) = id {
        emit(app, id);
    }
}

fn emit(app: &AppHandle, id: i64) {
    tracing::info!("deep link opens an appointment");
    if let Err(error) = app.emit_to("main", OPEN_EVENT, id) {
        tracing::warn!(%error, "could not open the linked appointment");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_appointment_link_gives_its_id() {
        assert_eq!(parse("bedside://appointment/42"), Some(42));
        assert_eq!(parse("bedside://appointment/1"), Some(1));
        assert_eq!(
            parse("bedside://appointment/999999999999999999"),
            Some(999_999_999_999_999_999)
        );
    }

    #[test]
    fn bad_ids_are_refused() {
        for bad in [
            "bedside://appointment/",
            "bedside://appointment/0",
            "bedside://appointment/042",
            "bedside://appointment/-4",
            "bedside://appointment/+4",
            "bedside://appointment/4a",
            "bedside://appointment/4 ",
            "bedside://appointment/ 4",
            "bedside://appointment/4.0",
            "bedside://appointment/１２",
            "bedside://appointment/9999999999999999999",
            "bedside://appointment/4/",
            "bedside://appointment/4?x=1",
            "bedside://appointment/4#top",
            "bedside://appointment/4%00",
            "bedside://appointment/4/../5",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn other_paths_and_schemes_are_refused() {
        for bad in [
            "bedside://patient/4",
            "bedside://appointments/4",
            "bedside://appointment",
            "bedside:///appointment/4",
            "bedside://user@appointment/4",
            "bedside://appointment:80/4",
            "bedside:appointment/4",
            "BEDSIDE://appointment/4",
            "bedside://APPOINTMENT/4",
            "https://appointment/4",
            "http://bedside/appointment/4",
            "file:///appointment/4",
            "javascript:alert(1)//bedside://appointment/4",
            " bedside://appointment/4",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
