//! The Tauri commands: each reads the state, calls one core function and maps the error.
//!
//! All run on Tauri's thread pool (`async`), never on the main thread: password hashing
//! takes a good fraction of a second and must not freeze the window.

use bedside_core::{NewProfile, ProfileSummary, SessionState, TotpEnrolment};
use bedside_vault::Password;
use serde::Serialize;
use tauri::State;

use crate::{AppState, IpcError};

/// A TOTP enrolment as the UI gets it: the QR code PNG as base64 for a `data:` URL.
#[derive(Serialize)]
pub struct Enrolment {
    otpauth_uri: String,
    secret_base32: String,
    qr_png_base64: String,
}

impl From<TotpEnrolment> for Enrolment {
    fn from(e: TotpEnrolment) -> Self {
        Self {
            qr_png_base64: data_encoding::BASE64.encode(&e.qr_png),
            otpauth_uri: e.otpauth_uri,
            secret_base32: e.secret_base32,
        }
    }
}

/// The password rules the UI explains before the core enforces them.
#[derive(Serialize)]
pub struct PasswordPolicy {
    min_length: usize,
}

#[tauri::command(async)]
pub fn profiles(state: State<'_, AppState>) -> Result<Vec<ProfileSummary>, IpcError> {
    state.call("profiles", |core| core.profiles())
}

#[tauri::command(async)]
pub fn password_policy(state: State<'_, AppState>) -> Result<PasswordPolicy, IpcError> {
    state.call("password_policy", |core| {
        Ok(PasswordPolicy {
            min_length: core.min_password_length(),
        })
    })
}

#[tauri::command(async)]
pub fn create_profile(
    state: State<'_, AppState>,
    username: String,
    display_name: String,
    password: String,
) -> Result<Enrolment, IpcError> {
    let req = NewProfile {
        username,
        display_name,
        password: Password::new(password),
    };
    state
        .call("create_profile", |core| core.create_profile(req))
        .map(Enrolment::from)
}

#[tauri::command(async)]
pub fn confirm_totp(
    state: State<'_, AppState>,
    username: String,
    password: String,
    code: String,
) -> Result<(), IpcError> {
    let password = Password::new(password);
    state.call("confirm_totp", |core| {
        core.confirm_totp(&username, &password, &code)
    })
}

#[tauri::command(async)]
pub fn sign_in(
    state: State<'_, AppState>,
    username: String,
    password: String,
    totp: Option<String>,
) -> Result<(), IpcError> {
    let password = Password::new(password);
    state.call("sign_in", |core| {
        core.sign_in(&username, &password, totp.as_deref())
    })
}

#[tauri::command(async)]
pub fn pending_enrolment(
    state: State<'_, AppState>,
    username: String,
    password: String,
) -> Result<Enrolment, IpcError> {
    let password = Password::new(password);
    state
        .call("pending_enrolment", |core| {
            core.pending_enrolment(&username, &password)
        })
        .map(Enrolment::from)
}

#[tauri::command(async)]
pub fn lock(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.call("lock", |core| {
        core.lock();
        Ok(())
    })
}

#[tauri::command(async)]
pub fn session_state(state: State<'_, AppState>) -> Result<SessionState, IpcError> {
    state.call("session_state", |core| Ok(core.session_state()))
}

#[tauri::command(async)]
pub fn touch(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.call("touch", |core| {
        core.touch();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_carries_the_qr_png_as_base64() {
        let png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2];
        let enrolment = Enrolment::from(TotpEnrolment {
            otpauth_uri: "otpauth://totp/Bedside:amorgan?secret=JBSWY3DPEHPK3PXP".into(),
            secret_base32: "JBSWY3DPEHPK3PXP".into(),
            qr_png: png.clone(),
        });
        let json = serde_json::to_value(&enrolment).expect("serializes");
        assert_eq!(json["secret_base32"], "JBSWY3DPEHPK3PXP");
        let b64 = json["qr_png_base64"].as_str().expect("string");
        assert_eq!(
            data_encoding::BASE64
                .decode(b64.as_bytes())
                .expect("base64"),
            png
        );
        assert!(json.get("qr_png").is_none(), "no raw byte array over IPC");
    }

    #[test]
    fn password_policy_serializes_as_the_ui_expects() {
        let json = serde_json::to_value(PasswordPolicy { min_length: 12 }).expect("serializes");
        assert_eq!(json, serde_json::json!({"min_length": 12}));
    }
}

/// The embedded relay's origin (`http://127.0.0.1:PORT`), or `None` when policy
/// names a relay or the embedded one has not started (yet).
#[tauri::command(async)]
pub fn relay_origin(app: tauri::AppHandle) -> Result<Option<String>, IpcError> {
    use tauri::Manager;
    Ok(app
        .try_state::<crate::relay::EmbeddedRelay>()
        .map(|r| r.origin.clone()))
}

/// Every policy with its value, source, level and status; ignored values, unreadable files
/// and signed bundles (the Policy page).
#[tauri::command(async)]
pub fn policy_effective(
    policy: State<'_, crate::policy::PolicyState>,
) -> Result<crate::policy::PolicyView, IpcError> {
    Ok(crate::policy::PolicyView::from(&policy.current()))
}

/// Reads the policy sources again now (the Policy page's Reload button) and applies a change.
#[tauri::command(async)]
pub fn policy_reload(app: tauri::AppHandle) -> Result<crate::policy::PolicyView, IpcError> {
    tracing::debug!(command = "policy_reload", "ok");
    Ok(crate::policy::PolicyView::from(&crate::policy::reload(
        &app,
    )))
}
