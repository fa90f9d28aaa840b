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
#[cfg_attr(test, derive(schemars::JsonSchema))]
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
#[cfg_attr(test, derive(schemars::JsonSchema))]
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
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    username: String,
    password: String,
    code: String,
) -> Result<(), IpcError> {
    let password = Password::new(password);
    state.call("confirm_totp", |core| {
        core.confirm_totp(&username, &password, &code)
    })?;
    crate::devices::after_unlock(&app);
    crate::deeplink::after_unlock(&app);
    Ok(())
}

#[tauri::command(async)]
pub fn sign_in(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    username: String,
    password: String,
    totp: Option<String>,
) -> Result<(), IpcError> {
    let password = Password::new(password);
    state.call("sign_in", |core| {
        core.sign_in(&username, &password, totp.as_deref())
    })?;
    // The profile's saved devices, and hot-plug while signed in.
    crate::devices::after_unlock(&app);
    // A deep link that came while locked opens now.
    crate::deeplink::after_unlock(&app);
    Ok(())
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
pub fn lock(
    state: State<'_, AppState>,
    waiting: State<'_, crate::waiting::WaitingRoom>,
) -> Result<(), IpcError> {
    waiting.stop_all();
    state.call("lock", |core| {
        core.lock();
        Ok(())
    })
}

#[tauri::command(async)]
pub fn session_state(state: State<'_, AppState>) -> Result<SessionState, IpcError> {
    state.call("session_state", |core| Ok(core.session_state()))
}

/// The UI's first real screen (sign-in or first run) has been painted. Logged once, with the
/// time since start-up: support reads it, and `cargo xtask bench app` measures cold start by it.
/// The page's own timings, in ms from its navigation start, go in the same line: its script
/// running (`script_ms`), the first screen's data answered (`answered_ms`), the paint
/// (`painted_ms`). Then what waits for the first paint starts (the embedded relay, the tray:
/// `startup.rs`).
#[tauri::command]
pub fn ui_painted(app: tauri::AppHandle, script_ms: u32, answered_ms: u32, painted_ms: u32) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::info!(
            since_start_ms = crate::since_start_ms(),
            page_script_ms = script_ms,
            page_answered_ms = answered_ms,
            page_painted_ms = painted_ms,
            "first screen painted"
        );
    });
    crate::startup::after_first_screen(&app);
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
/// names a relay (now) or the embedded one could not start. Waits for a start under way.
#[tauri::command(async)]
pub fn relay_origin(app: tauri::AppHandle) -> Result<Option<String>, IpcError> {
    if !crate::relay::embedded_wanted(&crate::policy::current(&app)) {
        return Ok(None);
    }
    crate::relay::wait_started(&app);
    Ok(crate::relay::embedded_origin(&app))
}

// ---- The clinician's working screens: patients, schedule, notes, invites, audit, settings.
// Each command is one core call; `desk` in bedside-core parses and checks the input.

use bedside_core::{AppointmentInput, AuditFilter, PatientInput, Settings};
use bedside_store::{AppointmentView, AuditEvent, AuditVerdict, Note, Patient};

#[tauri::command(async)]
pub fn patients_list(state: State<'_, AppState>) -> Result<Vec<Patient>, IpcError> {
    state.call("patients_list", |core| core.list_patients())
}

#[tauri::command(async)]
pub fn patients_search(
    state: State<'_, AppState>,
    query: String,
) -> Result<Vec<Patient>, IpcError> {
    state.call("patients_search", |core| core.search_patients(&query))
}

#[tauri::command(async)]
pub fn patient_get(state: State<'_, AppState>, id: i64) -> Result<Patient, IpcError> {
    state.call("patient_get", |core| core.view_patient(id))
}

#[tauri::command(async)]
pub fn patient_create(
    state: State<'_, AppState>,
    patient: PatientInput,
) -> Result<Patient, IpcError> {
    state.call("patient_create", |core| core.create_patient(patient))
}

#[tauri::command(async)]
pub fn patient_update(
    state: State<'_, AppState>,
    id: i64,
    patient: PatientInput,
) -> Result<Patient, IpcError> {
    state.call("patient_update", |core| core.update_patient(id, patient))
}

#[tauri::command(async)]
pub fn appointments_day(
    state: State<'_, AppState>,
    date: String,
    tz: String,
) -> Result<Vec<AppointmentView>, IpcError> {
    state.call("appointments_day", |core| core.appointments_day(&date, &tz))
}

#[tauri::command(async)]
pub fn appointments_week(
    state: State<'_, AppState>,
    date: String,
    tz: String,
) -> Result<Vec<AppointmentView>, IpcError> {
    state.call("appointments_week", |core| {
        core.appointments_week(&date, &tz)
    })
}

#[tauri::command(async)]
pub fn appointment_get(
    state: State<'_, AppState>,
    id: i64,
    tz: String,
) -> Result<AppointmentView, IpcError> {
    state.call("appointment_get", |core| core.appointment(id, &tz))
}

/// Books an appointment; an overlap fails with code `overlap` and `conflict_with`.
#[tauri::command(async)]
pub fn appointment_create(
    state: State<'_, AppState>,
    appointment: AppointmentInput,
) -> Result<AppointmentView, IpcError> {
    state.call("appointment_create", |core| core.book(appointment))
}

#[tauri::command(async)]
pub fn appointment_reschedule(
    state: State<'_, AppState>,
    id: i64,
    local_start: String,
    tz: String,
    duration_min: Option<u32>,
    force: bool,
) -> Result<AppointmentView, IpcError> {
    state.call("appointment_reschedule", |core| {
        core.reschedule(id, &local_start, &tz, duration_min, force)
    })
}

/// Replaces (or with `null`/blank, clears) the visit reason; audited without the text.
#[tauri::command(async)]
pub fn appointment_set_reason(
    state: State<'_, AppState>,
    id: i64,
    reason: Option<String>,
    tz: String,
) -> Result<AppointmentView, IpcError> {
    state.call("appointment_set_reason", |core| {
        core.set_reason(id, reason.as_deref(), &tz)
    })
}

#[tauri::command(async)]
pub fn appointment_cancel(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    state.call("appointment_cancel", |core| {
        core.set_status(id, "cancelled")
    })
}

#[tauri::command(async)]
pub fn appointment_no_show(state: State<'_, AppState>, id: i64) -> Result<(), IpcError> {
    state.call("appointment_no_show", |core| core.set_status(id, "no_show"))
}

#[tauri::command(async)]
pub fn appointment_set_status(
    state: State<'_, AppState>,
    id: i64,
    status: String,
) -> Result<(), IpcError> {
    state.call("appointment_set_status", |core| {
        core.set_status(id, &status)
    })
}

#[tauri::command(async)]
pub fn note_get(state: State<'_, AppState>, appointment: i64) -> Result<Option<Note>, IpcError> {
    state.call("note_get", |core| core.note(appointment))
}

/// Saves a new version of the note (every edit is kept); returns the version number.
#[tauri::command(async)]
pub fn note_save(
    state: State<'_, AppState>,
    appointment: i64,
    text: String,
) -> Result<i64, IpcError> {
    state.call("note_save", |core| core.save_note(appointment, &text))
}

/// An invite link as the UI shows it, with its QR code.
#[derive(Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub struct InviteView {
    link: String,
    not_before: i64,
    expires: i64,
    /// `data:image/png;base64,...` (the CSP allows `data:` images only).
    qr_data_url: String,
}

impl std::fmt::Debug for InviteView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteView([redacted])")
    }
}

impl InviteView {
    fn new(l: bedside_core::invites::InviteLink) -> Result<Self, bedside_core::CoreError> {
        let png = bedside_vault::qr_png(l.link.as_bytes())?;
        Ok(Self {
            qr_data_url: format!(
                "data:image/png;base64,{}",
                data_encoding::BASE64.encode(&png)
            ),
            link: l.link,
            not_before: l.not_before,
            expires: l.expires,
        })
    }
}

/// Creates or regenerates the invite link (earlier links stop working; their relay is
/// told in the background). The embedded relay learns the clinic key first (and, if it is
/// still starting, is waited for).
#[tauri::command(async)]
pub fn invite_create(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    appointment: i64,
) -> Result<InviteView, IpcError> {
    crate::relay::wait_started(&app);
    let embedded = crate::relay::embedded_origin(&app);
    let (link, replaced) = state.call("invite_create", |core| {
        let origin = core.relay_for_invites(embedded.as_deref())?;
        crate::relay::trust(&app, core)?;
        core.create_invite(appointment, &origin)
    })?;
    crate::relay::tell_revoked(&app, replaced);
    state.call("invite_create", |_| InviteView::new(link))
}

#[tauri::command(async)]
pub fn invite_show(
    state: State<'_, AppState>,
    appointment: i64,
) -> Result<Option<InviteView>, IpcError> {
    state.call("invite_show", |core| {
        core.show_invite(appointment)?
            .map(InviteView::new)
            .transpose()
    })
}

/// Revokes the appointment's links; the relay is told in the background.
#[tauri::command(async)]
pub fn invite_revoke(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    appointment: i64,
) -> Result<(), IpcError> {
    let revoked = state.call("invite_revoke", |core| core.revoke_invite(appointment))?;
    crate::relay::tell_revoked(&app, revoked);
    Ok(())
}

#[tauri::command(async)]
pub fn audit_list(
    state: State<'_, AppState>,
    filter: AuditFilter,
) -> Result<Vec<AuditEvent>, IpcError> {
    state.call("audit_list", |core| core.audit_events(&filter))
}

#[tauri::command(async)]
pub fn audit_verify(state: State<'_, AppState>) -> Result<AuditVerdict, IpcError> {
    state.call("audit_verify", |core| core.audit_verify())
}

#[tauri::command(async)]
pub fn settings_get(state: State<'_, AppState>) -> Result<Settings, IpcError> {
    state.call("settings_get", |core| core.settings())
}

#[tauri::command(async)]
pub fn settings_save(state: State<'_, AppState>, settings: Settings) -> Result<Settings, IpcError> {
    state.call("settings_save", |core| core.save_settings(&settings))
}

// ---- The waiting room (see waiting.rs).

/// Watches today's (in `tz`) visits that have an active invite; returns how many.
#[tauri::command(async)]
pub fn waiting_sync(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    tz: String,
) -> Result<usize, IpcError> {
    // The embedded relay must know the clinic key before the room connects to it.
    crate::relay::wait_started(&app);
    let (key, visits) = state.call("waiting_sync", |core| {
        crate::relay::trust(&app, core)?;
        Ok((
            std::sync::Arc::new(core.clinic_key()?),
            core.watched_visits(&tz)?,
        ))
    })?;
    use tauri::Manager;
    Ok(app
        .state::<crate::waiting::WaitingRoom>()
        .sync(&app, key, visits))
}

#[tauri::command(async)]
pub fn waiting_admit(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    state: State<'_, AppState>,
    visit: String,
    device: String,
) -> Result<(), IpcError> {
    let appointment = waiting.send(&visit, bedside_host::HostCommand::Admit { device })?;
    waiting.visits().admitted(appointment, &visit);
    state.call("waiting_admit", |core| {
        core.set_status(appointment, "arrived").or(Ok(()))
    })
}

#[tauri::command(async)]
pub fn waiting_deny(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    state: State<'_, AppState>,
    visit: String,
    device: String,
    reason: String,
) -> Result<(), IpcError> {
    let appointment = waiting.send(&visit, bedside_host::HostCommand::Deny { device, reason })?;
    state.call("waiting_deny", |core| {
        core.audit_visit("visit.deny", appointment)
    })
}

#[tauri::command(async)]
pub fn waiting_message(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    state: State<'_, AppState>,
    visit: String,
    device: String,
    text: String,
) -> Result<(), IpcError> {
    let appointment = waiting.send(&visit, bedside_host::HostCommand::Message { device, text })?;
    state.call("waiting_message", |core| {
        core.audit_visit("visit.message", appointment)
    })
}

// ---- The visit room (see visit.rs).

/// Attaches the room's Channels to an admitted visit: call updates (JSON) and the
/// patient's and our own frames (binary). Returns the appointment.
#[tauri::command(async)]
pub fn visit_open(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    visit: String,
    events: tauri::ipc::Channel<crate::visit::VisitUpdate>,
    remote: tauri::ipc::Channel<tauri::ipc::InvokeResponseBody>,
    local: tauri::ipc::Channel<tauri::ipc::InvokeResponseBody>,
) -> Result<i64, IpcError> {
    let source = crate::visit::SourceChoice::current();
    let appointment = waiting
        .visits()
        .open(&visit, events, remote, local, source)?;
    tracing::debug!(command = "visit_open", "ok");
    Ok(appointment)
}

/// The room closed: stop sending it frames (the call goes on).
#[tauri::command(async)]
pub fn visit_close(waiting: State<'_, crate::waiting::WaitingRoom>, visit: String) {
    waiting.visits().close_view(&visit);
}

/// The window painted frame `seq` of `stream` (0 remote, 1 self view).
#[tauri::command(async)]
pub fn visit_frame_ack(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    visit: String,
    stream: u8,
    seq: u32,
) -> Result<(), IpcError> {
    waiting.visits().ack(&visit, stream, seq)
}

/// Mute and camera switches.
#[tauri::command(async)]
pub fn visit_controls(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    visit: String,
    muted: bool,
    camera_off: bool,
) -> Result<(), IpcError> {
    waiting.visits().controls(&visit, muted, camera_off)?;
    tracing::debug!(command = "visit_controls", "ok");
    Ok(())
}

/// The microphones, speakers and cameras on this computer (the visit room's device menu
/// and Settings → Devices), each list with the system's default first.
#[tauri::command(async)]
pub fn devices_list() -> crate::devices::DeviceList {
    crate::devices::DeviceList::current()
}

/// Chooses a device (Settings → Devices; `id` `None` = the system's default) and saves
/// the choice in the profile's settings: calls that start later use it, and a call in
/// progress switches to it. A device that is not connected cannot be chosen.
#[tauri::command(async)]
pub fn devices_choose(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    state: State<'_, AppState>,
    kind: crate::devices::DeviceSlot,
    id: Option<String>,
) -> Result<(), IpcError> {
    let device = crate::devices::choose(kind, crate::devices::parse_id(id)?)?;
    state.call("devices_choose", |core| {
        core.save_device(kind, device.clone())
    })?;
    waiting.visits().set_device(kind, device);
    Ok(())
}

/// Starts the Settings page's checks (replacing any running): the level of `microphone`
/// in dBFS on `level`, and the picture of `camera` as binary frames on `preview` (`None` =
/// the default microphone, the first camera). Says what could not start.
#[tauri::command(async)]
pub fn devices_monitor(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    microphone: Option<String>,
    camera: Option<String>,
    level: tauri::ipc::Channel<f32>,
    preview: tauri::ipc::Channel<tauri::ipc::InvokeResponseBody>,
) -> Result<crate::devices::MonitorStatus, IpcError> {
    let microphone = crate::devices::parse_id(microphone)?;
    let camera = crate::devices::parse_id(camera)?;
    Ok(waiting
        .visits()
        .monitor()
        .start(microphone.as_ref(), camera.as_ref(), level, preview))
}

/// Stops the Settings page's checks and releases the devices (the page closed).
#[tauri::command(async)]
pub fn devices_monitor_stop(waiting: State<'_, crate::waiting::WaitingRoom>) {
    waiting.visits().monitor().stop();
}

/// Switches a device mid-call (`id` `None` = the system's default); the choice is saved
/// in the profile's settings, as in Settings → Devices.
#[tauri::command(async)]
pub fn visit_set_device(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    state: State<'_, AppState>,
    visit: String,
    kind: crate::devices::DeviceSlot,
    id: Option<String>,
) -> Result<(), IpcError> {
    let device = crate::devices::choose(kind, crate::devices::parse_id(id)?)?;
    waiting
        .visits()
        .set_device_for(&visit, kind, device.clone())?;
    state.call("visit_set_device", |core| core.save_device(kind, device))?;
    Ok(())
}

/// Sends a chat message to the patient on the call's data channel (never the relay). The
/// line reaches the window through the visit's events Channel once sent. Not audited, not
/// logged, not stored (see visit.rs).
#[tauri::command(async)]
pub fn visit_chat_send(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    visit: String,
    text: String,
) -> Result<(), IpcError> {
    bedside_media::chat::check_text(&text)
        .map_err(|e| IpcError::new("invalid_input", &format!("Not sent: {e}.")))?;
    let device = waiting.visits().chat_device(&visit)?;
    waiting.send(&visit, bedside_host::HostCommand::Chat { device, text })?;
    tracing::debug!(command = "visit_chat_send", "ok");
    Ok(())
}

/// The patient read the SAS back and it matched: audited `visit.sas_confirmed`.
#[tauri::command(async)]
pub fn visit_confirm_sas(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    state: State<'_, AppState>,
    visit: String,
) -> Result<(), IpcError> {
    let appointment = waiting.visits().sas_shown(&visit)?;
    state.call("visit_confirm_sas", |core| {
        core.audit_visit("visit.sas_confirmed", appointment)
    })
}

/// Ends the visit: the call stops, the relay tells the patient, and the appointment is
/// finished (audited `visit.end`).
#[tauri::command]
pub async fn visit_end(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    state: State<'_, AppState>,
    visit: String,
) -> Result<(), IpcError> {
    let (appointment, device) = waiting.visits().finish(&visit).await?;
    if let Some(device) = device {
        // The relay may already have seen the patient go: nothing to tell it then.
        let _ = waiting.send(&visit, bedside_host::HostCommand::End { device });
    }
    state.call("visit_end", |core| core.end_visit(appointment))
}

/// Sends the patient back to the waiting room: the call stops, the device waits to be
/// admitted again, the appointment goes back to `arrived` (audited `visit.send_back`).
#[tauri::command]
pub async fn visit_send_back(
    waiting: State<'_, crate::waiting::WaitingRoom>,
    state: State<'_, AppState>,
    visit: String,
) -> Result<(), IpcError> {
    let (appointment, device) = waiting.visits().drop_peer(&visit).await?;
    let device = device.ok_or_else(|| IpcError::new("not_found", "No patient is in this call."))?;
    waiting.send(&visit, bedside_host::HostCommand::SendBack { device })?;
    state.call("visit_send_back", |core| {
        let _ = core.set_status(appointment, "arrived");
        core.audit_visit("visit.send_back", appointment)
    })
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

// ---- Signed updates (see updater.rs): endpoint, key and channel from the policy in force.

/// Asks the update server policy names whether a newer version exists (`off` without one).
#[tauri::command]
pub async fn update_check(app: tauri::AppHandle) -> Result<crate::updater::UpdateStatus, IpcError> {
    crate::updater::check(&app, &crate::policy::current(&app)).await
}

/// Downloads the newer version, verifies its signature against the policy key and installs
/// it; the user restarts the app when convenient.
#[tauri::command]
pub async fn update_install(
    app: tauri::AppHandle,
) -> Result<crate::updater::UpdateStatus, IpcError> {
    crate::updater::install(&app, &crate::policy::current(&app)).await
}
