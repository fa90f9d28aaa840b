//! Desktop notifications on a knock (tauri-plugin-notification; D-Bus on Linux).
//!
//! **Invariant:** a notification says "A patient is waiting" and nothing else, unless the
//! `NotificationsShowNames` policy is on; then it may carry the name the patient typed
//! (sanitised: one line, at most [`NAME_MAX`] characters). It never carries the date of
//! birth. The text is decided by [`knock_text`], a pure function.
//!
//! A missing notification daemon never blocks or crashes the app: the plugin delivers on a
//! background task, and a failure to prepare one is logged without any text.

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

/// The policy that lets notifications name the patient.
pub(crate) const SHOW_NAMES_POLICY: &str = "NotificationsShowNames";

/// The longest name a notification shows, in characters.
pub(crate) const NAME_MAX: usize = 40;

/// The PHI-free text of a knock notification.
pub(crate) const WAITING_TEXT: &str = "A patient is waiting";

/// Title and body of a knock notification.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct KnockText {
    /// The notification's title.
    pub title: &'static str,
    /// The notification's body.
    pub body: String,
}

/// What the notification for a knock says: the name only when `show_names` (the policy) is on
/// and the name has something printable in it.
pub(crate) fn knock_text(show_names: bool, name: Option<&str>) -> KnockText {
    let name = name
        .filter(|_| show_names)
        .map(|n| {
            n.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|n| !n.is_empty());
    let body = match name {
        Some(n) if n.chars().count() > NAME_MAX => {
            let cut: String = n.chars().take(NAME_MAX - 1).collect();
            format!("{WAITING_TEXT}: {cut}…")
        }
        Some(n) => format!("{WAITING_TEXT}: {n}"),
        None => WAITING_TEXT.to_owned(),
    };
    KnockText {
        title: "Bedside",
        body,
    }
}

/// Whether the policy in force lets notifications show names (read once at start).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NoticePolicy {
    /// `NotificationsShowNames`.
    pub show_names: bool,
}

impl NoticePolicy {
    /// From the merged policy.
    pub(crate) fn from_effective(e: &bedside_policy::Effective) -> Self {
        Self {
            show_names: e.bool(SHOW_NAMES_POLICY),
        }
    }
}

/// Shows the knock notification. Never fails: problems are logged without the text.
pub(crate) fn knock(app: &AppHandle, policy: NoticePolicy, name: Option<&str>) {
    let text = knock_text(policy.show_names, name);
    if let Err(error) = app
        .notification()
        .builder()
        .title(text.title)
        .body(text.body)
        .show()
    {
        // The plugin's error is about the platform (no daemon, no executable path), not the text.
        tracing::warn!(%error, "could not show a knock notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_a_knock_names_nobody() {
        let t = knock_text(false, Some("Ada Lovelace"));
        assert_eq!(t.body, "A patient is waiting");
        assert_eq!(t.title, "Bedside");
        assert!(!format!("{t:?}").contains("Ada"));
        assert_eq!(knock_text(false, None).body, "A patient is waiting");
        assert!(!NoticePolicy::default().show_names);
    }

    #[test]
    fn the_policy_lets_the_name_through_on_one_short_line() {
        assert_eq!(
            knock_text(true, Some("Ada Lovelace")).body,
            "A patient is waiting: Ada Lovelace"
        );
        assert_eq!(
            knock_text(true, Some("Ada\n\u{7}Lovelace\t ")).body,
            "A patient is waiting: Ada Lovelace"
        );
        let long = "x".repeat(200);
        let body = knock_text(true, Some(&long)).body;
        assert_eq!(
            body.chars().count(),
            WAITING_TEXT.len() + 2 + NAME_MAX,
            "{body}"
        );
        assert!(body.ends_with('…'));
        // Nothing printable, or no name at all: the plain text.
        assert_eq!(knock_text(true, Some(" \n ")).body, WAITING_TEXT);
        assert_eq!(knock_text(true, None).body, WAITING_TEXT);
    }

    #[test]
    fn the_policy_is_read_from_the_merged_layers() {
        let off = bedside_policy::merge(&serde_json::Map::new(), &[]);
        assert!(!NoticePolicy::from_effective(&off).show_names);
        let mut values = serde_json::Map::new();
        values.insert(SHOW_NAMES_POLICY.into(), serde_json::Value::Bool(true));
        let layer = bedside_policy::Layer {
            source: bedside_policy::Source::Platform {
                location: "/etc/bedside/policies/managed.json".into(),
            },
            level: bedside_policy::Level::Mandatory,
            values,
        };
        let on = bedside_policy::merge(&serde_json::Map::new(), &[layer]);
        assert!(NoticePolicy::from_effective(&on).show_names);
    }
}
