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

/// Prints an error to stderr: a plain sentence, or `{"error":{code,message}}`.
pub fn error(json: bool, e: &CliError) {
    if json {
        let v = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
        eprintln!("{v}");
    } else {
        eprintln!("bedsidectl: {e}");
    }
}
