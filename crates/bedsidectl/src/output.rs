//! Printing results and errors, as text or JSON.

use std::io::Write;

use serde::Serialize;

use crate::commands::CliError;

/// Prints `value` as JSON, or `text` otherwise.
pub fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        line(&serde_json::to_string(value).unwrap_or_else(|_| "{}".into()));
    } else {
        let t = text();
        if !t.is_empty() {
            line(&t);
        }
    }
}

/// Writes one line to stdout; a closed pipe (`| head`) is not an error.
pub fn line(s: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{s}");
}

/// One `visit host` event as a JSON line. Without `show_phi`, the patient's
/// name and date of birth (knocks) and chat text are replaced by their lengths
/// in characters: stdout is often redirected to a file.
pub fn host_event(e: &bedside_host::HostEvent, show_phi: bool) -> String {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if !show_phi {
        redact_phi(&mut v);
    }
    v.to_string()
}

/// Replaces each PHI field of a serialised host event by `<field>_chars`.
fn redact_phi(v: &mut serde_json::Value) {
    use serde_json::Value;
    fn swap(obj: &mut serde_json::Map<String, Value>, field: &str) {
        if let Some(Value::String(s)) = obj.remove(field) {
            obj.insert(format!("{field}_chars"), s.chars().count().into());
        }
    }
    let Some(obj) = v.as_object_mut() else { return };
    match obj.get("event").and_then(Value::as_str) {
        Some("knock") => {
            swap(obj, "name");
            swap(obj, "dob");
        }
        Some("chat" | "chat_sent") => {
            if let Some(Value::Object(m)) = obj.get_mut("message") {
                swap(m, "text");
            }
        }
        _ => {}
    }
}

/// Prints an error to stderr: a plain sentence, or `{"error":{code,message}}`.
pub fn error(json: bool, e: &CliError) {
    if json {
        let v = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
        eprintln!("{v}");
    } else {
        eprintln!("bedsidectl: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bedside_host::HostEvent;

    #[test]
    fn knock_and_chat_lines_carry_lengths_unless_asked() {
        let knock = HostEvent::Knock {
            device: "dev1".into(),
            name: "Zoë Q. Marker".into(),
            dob: Some("1970-01-02".into()),
            extra_device: false,
            waiting_since: 5,
        };
        let line = host_event(&knock, false);
        assert!(!line.contains("Marker") && !line.contains("1970"), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["event"], "knock");
        assert_eq!(v["device"], "dev1");
        assert_eq!(v["name_chars"], 13);
        assert_eq!(v["dob_chars"], 10);
        assert!(host_event(&knock, true).contains("Zoë Q. Marker"));

        let chat = HostEvent::Chat {
            device: "dev1".into(),
            message: bedside_media::ChatMessage {
                id: "m1".into(),
                text: "my chest hurts".into(),
                sent_at: 1,
            },
        };
        let line = host_event(&chat, false);
        assert!(!line.contains("chest"), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["message"]["text_chars"], 14);
        assert_eq!(v["message"]["id"], "m1");
        assert!(host_event(&chat, true).contains("my chest hurts"));
    }
}
