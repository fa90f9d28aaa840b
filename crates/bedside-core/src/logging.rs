//! What the clinician's programs (the desktop app, `bedsidectl`) log: the
//! `tracing` filter directive behind `BEDSIDE_LOG`.
//!
//! Bedside's own crates log ids and counts (see SECURITY.md, "Logs"). Their
//! dependencies do not: the WebRTC stack logs the patient's ICE candidates,
//! which are the patient's IP addresses (a HIPAA identifier), at `info`, and
//! other libraries log peers and payloads at `debug`. Their text is not ours
//! to vet, so a level — the default, or `BEDSIDE_LOG=debug` — applies to
//! Bedside's crates only and keeps every dependency at `error`. A directive
//! that names targets (`BEDSIDE_LOG=info,rtc_ice=debug`) is a deliberate
//! diagnostic choice and is used as written.
//!
//! **Invariant:** no level alone turns on a dependency's logs.

/// The prefix every Bedside crate's target starts with (`bedside_core`,
/// `bedside_media`, the desktop shell, the embedded relay, …).
const OURS: &str = "bedside";

/// The levels `tracing` filters by, as `BEDSIDE_LOG` may give them.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// The filter directive for `setting` (the value of `BEDSIDE_LOG`, if set):
/// Bedside's crates at `setting` when it is a bare level (else at
/// `default_level`) and dependencies at `error`; `setting` itself when it is
/// anything else.
pub fn log_directive(setting: Option<&str>, default_level: &str) -> String {
    let level = match setting.map(str::trim) {
        None | Some("") => default_level.to_ascii_lowercase(),
        Some(s) if LEVELS.iter().any(|l| l.eq_ignore_ascii_case(s)) => s.to_ascii_lowercase(),
        Some(directive) => return directive.to_owned(),
    };
    format!("error,{OURS}={level}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_applies_to_bedside_and_leaves_dependencies_at_error() {
        assert_eq!(log_directive(None, "info"), "error,bedside=info");
        assert_eq!(log_directive(Some(""), "warn"), "error,bedside=warn");
        assert_eq!(log_directive(Some("debug"), "info"), "error,bedside=debug");
        assert_eq!(
            log_directive(Some(" TRACE "), "info"),
            "error,bedside=trace"
        );
        assert_eq!(log_directive(Some("off"), "info"), "error,bedside=off");
    }

    #[test]
    fn a_directive_naming_targets_is_used_as_written() {
        assert_eq!(
            log_directive(Some("info,rtc_ice=debug"), "info"),
            "info,rtc_ice=debug"
        );
        assert_eq!(
            log_directive(Some("bedside_media=trace"), "warn"),
            "bedside_media=trace"
        );
    }
}
