//! Errors as they cross IPC: `{code, message}`, always safe to show to the user.

use bedside_core::CoreError;
use serde::Serialize;

/// What a command returns to the UI on failure.
///
/// `code` is stable for the UI to branch on; `message` is the core error's Display, which the
/// core guarantees free of PHI and secrets. Internal errors get a generic message instead, so
/// details of a failure never reach the webview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct IpcError {
    code: &'static str,
    message: String,
    /// With `locked_out`: seconds until the next attempt, for the UI's countdown.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_secs: Option<u64>,
    /// With `overlap`: the appointment the new time would clash with, so the UI can show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    conflict_with: Option<i64>,
}

/// Shown for any error the UI cannot act on.
pub(crate) const GENERIC_MESSAGE: &str = "Something went wrong inside Bedside. Please try again; if it keeps happening, restart the app.";

impl IpcError {
    /// The error code (`signin_failed`, `locked_out`, `internal`, …).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message shown to the user.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// An error raised by the shell itself; `message` must be fixed text without PHI.
    pub(crate) fn new(code: &'static str, message: &str) -> Self {
        Self {
            code,
            message: message.to_owned(),
            retry_after_secs: None,
            conflict_with: None,
        }
    }

    /// An unexpected failure; the UI shows a generic message.
    pub(crate) fn internal() -> Self {
        Self {
            code: "internal",
            message: GENERIC_MESSAGE.to_owned(),
            retry_after_secs: None,
            conflict_with: None,
        }
    }
}

impl From<&CoreError> for IpcError {
    fn from(error: &CoreError) -> Self {
        let retry_after_secs = match error {
            CoreError::LockedOut { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let conflict_with = match error {
            CoreError::Store(bedside_store::StoreError::Overlap { with }) => Some(with.0),
            _ => None,
        };
        match error.code() {
            "internal" => Self::internal(),
            code => Self {
                code,
                message: error.to_string(),
                retry_after_secs,
                conflict_with,
            },
        }
    }
}

impl From<CoreError> for IpcError {
    fn from(error: CoreError) -> Self {
        Self::from(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(error: CoreError) -> serde_json::Value {
        serde_json::to_value(IpcError::from(error)).expect("serializes")
    }

    #[test]
    fn carries_code_and_message() {
        assert_eq!(
            json(CoreError::SigninFailed),
            serde_json::json!({"code": "signin_failed", "message": "The password or the code is incorrect."})
        );
        assert_eq!(
            json(CoreError::WeakPassword { min: 12 })["code"],
            "weak_password"
        );
    }

    #[test]
    fn lockout_carries_the_wait() {
        let v = json(CoreError::LockedOut {
            retry_after_secs: 90,
        });
        assert_eq!(v["code"], "locked_out");
        assert_eq!(v["retry_after_secs"], 90);
    }

    #[test]
    fn overlap_names_the_other_appointment() {
        let v = json(CoreError::Store(bedside_store::StoreError::Overlap {
            with: bedside_store::AppointmentId(7),
        }));
        assert_eq!(v["code"], "overlap");
        assert_eq!(v["conflict_with"], 7);
    }

    #[test]
    fn internal_errors_get_the_generic_message() {
        let error = CoreError::Vault(bedside_vault::VaultError::Rng);
        assert_eq!(error.code(), "internal");
        let v = json(error);
        assert_eq!(
            v,
            serde_json::json!({"code": "internal", "message": GENERIC_MESSAGE})
        );
    }
}
