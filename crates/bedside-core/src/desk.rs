//! The clinician's working data, as the desktop app asks for it: patients,
//! the schedule in the clinician's time zone, notes, invite links, the audit
//! log and the user's settings. Each method is one call the shell's command
//! makes; inputs arrive as the UI typed them (local times, dates as text) and
//! are parsed here, so the shell stays thin and the rules stay testable.
//!
//! **Invariant:** reading a patient's record or an invite link is audited
//! (`patient.view`, `invite.view`); audit subjects carry ids only.

use bedside_store::time::{parse_date, parse_tz};
use bedside_store::{
    AppointmentId, AppointmentStatus, AppointmentView, AuditEvent, AuditVerdict, Invite,
    NewAppointment, NewPatient, Note, Patient, PatientId, PatientUpdate,
};
use chrono::{NaiveDateTime, TimeZone, Utc};
use ring::signature::Ed25519KeyPair;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::invites::{self, InviteLink};
use crate::{Core, CoreError};

/// A patient as the UI's form sends it (create, or the full record on edit).
#[derive(Clone, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct PatientInput {
    /// Full name.
    pub name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub dob: String,
    /// Phone (empty = none).
    #[serde(default)]
    pub phone: Option<String>,
    /// E-mail (empty = none).
    #[serde(default)]
    pub email: Option<String>,
    /// Medical record number (empty = none).
    #[serde(default)]
    pub mrn: Option<String>,
}

impl std::fmt::Debug for PatientInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientInput([redacted])")
    }
}

fn optional(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A new appointment as the UI sends it: a local wall-clock start in `tz`.
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct AppointmentInput {
    /// The patient.
    pub patient: i64,
    /// Local start, `YYYY-MM-DDTHH:MM` (seconds optional), in `tz`.
    pub local_start: String,
    /// The clinician's IANA time zone.
    pub tz: String,
    /// Minutes.
    pub duration_min: u32,
    /// Reason for the visit (PHI; empty = none).
    #[serde(default)]
    pub reason: Option<String>,
    /// Book even if it overlaps another active appointment.
    #[serde(default)]
    pub force: bool,
}

impl std::fmt::Debug for AppointmentInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppointmentInput")
            .field("patient", &self.patient)
            .field("tz", &self.tz)
            .finish_non_exhaustive()
    }
}

/// Turns a local wall-clock time in `tz` into a UTC instant. A time that
/// does not exist (inside a DST gap) is refused; an ambiguous one (the
/// repeated hour) takes the earlier instant.
pub fn local_to_utc(local: &str, tz: &str) -> Result<chrono::DateTime<Utc>, CoreError> {
    let zone = parse_tz(tz)?;
    let s = local.trim();
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| CoreError::Invalid {
            field: "start",
            problem: "is not a date and time such as 2026-03-01T09:00".into(),
        })?;
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        .ok_or(CoreError::Invalid {
            field: "start",
            problem:
                "does not exist in this time zone (the clocks change then); choose another time"
                    .into(),
        })
}

/// Which audit events to list.
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct AuditFilter {
    /// Only actions starting with this (e.g. `patient.` or `invite.create`).
    #[serde(default)]
    pub action: Option<String>,
    /// At most this many, newest first (default 200, at most 5000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The user's own settings (policy may still cap them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct Settings {
    /// The relay invite links point at; `None` = the app's embedded relay.
    pub relay_url: Option<String>,
    /// Idle minutes before the app locks; never longer than policy allows.
    pub idle_lock_minutes: u32,
    /// The most policy allows.
    #[serde(default)]
    pub idle_lock_max_minutes: u32,
    /// The microphone, speaker and camera chosen for visits. Read-only here:
    /// [`Core::save_settings`] leaves them as they are and [`Core::save_device`]
    /// changes one kind, so a form that saves the relay and the idle lock never
    /// overwrites a device chosen meanwhile.
    #[serde(default)]
    pub devices: SavedDevices,
}

/// A kind of device the clinician chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceSlot {
    /// Audio input.
    Microphone,
    /// Audio output.
    Speaker,
    /// Video input.
    Camera,
}

impl DeviceSlot {
    /// The settings key the choice is kept under.
    fn key(self) -> &'static str {
        match self {
            Self::Microphone => "device.microphone",
            Self::Speaker => "device.speaker",
            Self::Camera => "device.camera",
        }
    }

    /// Every kind, in the order the UI lists them.
    pub const ALL: [Self; 3] = [Self::Microphone, Self::Speaker, Self::Camera];
}

/// One chosen device: the capture layer's stable id and the name it had when it was
/// chosen (for "your saved microphone 'X' is not connected"). Device ids and names are
/// not PHI; they are kept in the encrypted store with the other settings all the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct SavedDevice {
    /// Stable id (`bedside_capture::DeviceId`).
    pub id: String,
    /// Human name when chosen.
    pub name: String,
}

/// Longest device id kept.
pub const MAX_DEVICE_ID: usize = 512;
/// Longest device name kept (in characters; longer names are cut).
pub const MAX_DEVICE_NAME: usize = 200;

impl SavedDevice {
    /// Checks an id and tidies a name from the shell: the id 1–[`MAX_DEVICE_ID`] bytes
    /// without control characters; the name without control characters, at most
    /// [`MAX_DEVICE_NAME`] characters (blank = the id).
    pub fn new(id: &str, name: &str) -> Result<Self, CoreError> {
        if id.is_empty() || id.len() > MAX_DEVICE_ID || id.chars().any(char::is_control) {
            return Err(CoreError::Invalid {
                field: "device",
                problem: "that device id is not valid; choose the device again".into(),
            });
        }
        let clean: String = name
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_DEVICE_NAME)
            .collect();
        let clean = clean.trim();
        Ok(Self {
            id: id.to_owned(),
            name: if clean.is_empty() {
                id.chars().take(MAX_DEVICE_NAME).collect()
            } else {
                clean.to_owned()
            },
        })
    }

    /// From the stored text; anything malformed (a damaged or foreign value) is no choice.
    fn parse(stored: &str) -> Option<Self> {
        let d: Self = serde_json::from_str(stored).ok()?;
        Self::new(&d.id, &d.name).ok()
    }
}

/// The devices chosen for visits (`None` = the system's default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct SavedDevices {
    /// Microphone.
    pub microphone: Option<SavedDevice>,
    /// Speaker.
    pub speaker: Option<SavedDevice>,
    /// Camera.
    pub camera: Option<SavedDevice>,
}

impl SavedDevices {
    /// The choice for one kind.
    pub fn get(&self, slot: DeviceSlot) -> Option<&SavedDevice> {
        match slot {
            DeviceSlot::Microphone => self.microphone.as_ref(),
            DeviceSlot::Speaker => self.speaker.as_ref(),
            DeviceSlot::Camera => self.camera.as_ref(),
        }
    }

    /// Sets the choice for one kind.
    pub fn set(&mut self, slot: DeviceSlot, device: Option<SavedDevice>) {
        match slot {
            DeviceSlot::Microphone => self.microphone = device,
            DeviceSlot::Speaker => self.speaker = device,
            DeviceSlot::Camera => self.camera = device,
        }
    }
}

/// What the waiting-room connection needs for one visit (secret inside:
/// never logged, never sent to the UI).
pub struct WatchedVisit {
    /// The appointment.
    pub appointment: AppointmentId,
    /// The stored invite (visit id, secret, relay origin).
    pub invite: Invite,
}

impl std::fmt::Debug for WatchedVisit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedVisit")
            .field("appointment", &self.appointment)
            .finish_non_exhaustive()
    }
}

const RELAY_URL: &str = "relay_url";
const IDLE_LOCK_MINUTES: &str = "idle_lock_minutes";

impl Core {
    /// Every patient, by name.
    pub fn list_patients(&mut self) -> Result<Vec<Patient>, CoreError> {
        Ok(self.unlocked()?.store_ref().list_patients()?)
    }

    /// Patients whose name contains `text`.
    pub fn search_patients(&mut self, text: &str) -> Result<Vec<Patient>, CoreError> {
        Ok(self.unlocked()?.store_ref().search_patients(text)?)
    }

    /// One patient's record (audited as viewed).
    pub fn view_patient(&mut self, id: i64) -> Result<Patient, CoreError> {
        let u = self.unlocked()?;
        let p = u.store_ref().patient(PatientId(id))?;
        u.store().audit("patient.view", json!({ "patient": id }))?;
        Ok(p)
    }

    /// Adds a patient.
    pub fn create_patient(&mut self, input: PatientInput) -> Result<Patient, CoreError> {
        let dob = parse_date("date of birth", &input.dob)?;
        let u = self.unlocked()?;
        let id = u.store().add_patient(&NewPatient {
            name: input.name.trim().to_owned(),
            dob: Some(dob),
            phone: optional(input.phone),
            email: optional(input.email),
            mrn: optional(input.mrn),
        })?;
        Ok(u.store_ref().patient(id)?)
    }

    /// Replaces a patient's record with the form's values (empty optional
    /// fields are cleared).
    pub fn update_patient(&mut self, id: i64, input: PatientInput) -> Result<Patient, CoreError> {
        let dob = parse_date("date of birth", &input.dob)?;
        let u = self.unlocked()?;
        u.store().update_patient(
            PatientId(id),
            &PatientUpdate {
                name: Some(input.name.trim().to_owned()),
                dob: Some(dob),
                phone: Some(optional(input.phone)),
                email: Some(optional(input.email)),
                mrn: Some(optional(input.mrn)),
            },
        )?;
        Ok(u.store_ref().patient(PatientId(id))?)
    }

    /// The appointments of a local day (`YYYY-MM-DD`) in `tz`.
    pub fn appointments_day(
        &mut self,
        date: &str,
        tz: &str,
    ) -> Result<Vec<AppointmentView>, CoreError> {
        let date = parse_date("date", date)?;
        Ok(self.unlocked()?.store_ref().list_day(date, tz)?)
    }

    /// The appointments of the Monday-to-Sunday week containing `date`, in `tz`.
    pub fn appointments_week(
        &mut self,
        date: &str,
        tz: &str,
    ) -> Result<Vec<AppointmentView>, CoreError> {
        let date = parse_date("date", date)?;
        Ok(self.unlocked()?.store_ref().list_week(date, tz)?)
    }

    /// One appointment with its patient's name, its start shown in `tz`.
    pub fn appointment(&mut self, id: i64, tz: &str) -> Result<AppointmentView, CoreError> {
        let zone = parse_tz(tz)?;
        let u = self.unlocked()?;
        let a = u.store_ref().appointment(AppointmentId(id))?;
        let p = u.store_ref().patient(a.patient)?;
        Ok(AppointmentView {
            local_start: a.start.with_timezone(&zone).to_rfc3339(),
            patient_name: p.name,
            appointment: a,
        })
    }

    /// Books an appointment. An overlap is refused (code `overlap`, naming the
    /// other appointment) unless `force`.
    pub fn book(&mut self, input: AppointmentInput) -> Result<AppointmentView, CoreError> {
        let start = local_to_utc(&input.local_start, &input.tz)?;
        let tz = input.tz.clone();
        let id = self.unlocked()?.store().add_appointment(
            &NewAppointment {
                patient: PatientId(input.patient),
                start,
                tz: input.tz.trim().to_owned(),
                duration_min: input.duration_min,
                reason: optional(input.reason),
            },
            input.force,
        )?;
        self.appointment(id.0, &tz)
    }

    /// Moves a booked appointment to a new local start (and duration).
    pub fn reschedule(
        &mut self,
        id: i64,
        local_start: &str,
        tz: &str,
        duration_min: Option<u32>,
        force: bool,
    ) -> Result<AppointmentView, CoreError> {
        let start = local_to_utc(local_start, tz)?;
        self.unlocked()?
            .store()
            .reschedule(AppointmentId(id), start, duration_min, force)?;
        self.appointment(id, tz)
    }

    /// Replaces an appointment's visit reason; `None` or blank clears it.
    /// Audited as `appointment.reason` without the text.
    pub fn set_reason(
        &mut self,
        id: i64,
        reason: Option<&str>,
        tz: &str,
    ) -> Result<AppointmentView, CoreError> {
        parse_tz(tz)?;
        self.unlocked()?
            .store()
            .set_reason(AppointmentId(id), reason)?;
        self.appointment(id, tz)
    }

    /// Changes an appointment's status (`cancelled`, `no_show`, `arrived`, …),
    /// within the allowed transitions.
    pub fn set_status(&mut self, id: i64, status: &str) -> Result<(), CoreError> {
        let to = AppointmentStatus::parse(status).ok_or_else(|| CoreError::Invalid {
            field: "status",
            problem: "use booked, arrived, in_progress, finished, cancelled or no_show".into(),
        })?;
        Ok(self.unlocked()?.store().set_status(AppointmentId(id), to)?)
    }

    /// The latest version of an appointment's note.
    pub fn note(&mut self, appointment: i64) -> Result<Option<Note>, CoreError> {
        Ok(self
            .unlocked()?
            .store_ref()
            .note(AppointmentId(appointment))?)
    }

    /// Saves the note as a new version (every edit is kept); returns the version.
    pub fn save_note(&mut self, appointment: i64, text: &str) -> Result<i64, CoreError> {
        Ok(self
            .unlocked()?
            .store()
            .set_note(AppointmentId(appointment), text)?)
    }

    /// The relay a new invite link uses: policy's `RelayUrl`, else the user's
    /// setting, else `fallback` (the embedded relay). Decided at each call from
    /// the policy in force, so a `RelayUrl` change applies to the next invite.
    pub fn relay_for_invites(&mut self, fallback: Option<&str>) -> Result<String, CoreError> {
        let by_policy = self.profiles.policy().relay_url.clone();
        let setting = self.unlocked()?.store_ref().setting(RELAY_URL)?;
        by_policy
            .or(setting.filter(|r| !r.is_empty()))
            .or_else(|| fallback.map(str::to_owned))
            .ok_or(CoreError::Invalid {
                field: "relay",
                problem: "no relay is configured; set one in Settings".into(),
            })
    }

    /// Creates (or regenerates) an appointment's invite link. Returns the new
    /// link and the invites it replaced (to tell their relay).
    pub fn create_invite(
        &mut self,
        appointment: i64,
        relay_origin: &str,
    ) -> Result<(InviteLink, Vec<Invite>), CoreError> {
        let Self {
            profiles, unlocked, ..
        } = self;
        let u = unlocked.as_mut().ok_or(CoreError::NotSignedIn)?;
        let id = AppointmentId(appointment);
        let replaced = u.store_ref().active_invites(id)?;
        let link = invites::create(profiles, u, id, relay_origin)?;
        Ok((link, replaced))
    }

    /// The current invite link of an appointment (audited as viewed).
    pub fn show_invite(&mut self, appointment: i64) -> Result<Option<InviteLink>, CoreError> {
        let u = self.unlocked()?;
        let link = invites::current(u, AppointmentId(appointment))?;
        if link.is_some() {
            u.store()
                .audit("invite.view", json!({ "appointment": appointment }))?;
        }
        Ok(link)
    }

    /// Revokes an appointment's links; returns the withdrawn invites (to tell
    /// their relay).
    pub fn revoke_invite(&mut self, appointment: i64) -> Result<Vec<Invite>, CoreError> {
        let u = self.unlocked()?;
        let id = AppointmentId(appointment);
        let active = u.store_ref().active_invites(id)?;
        invites::revoke(u, id)?;
        Ok(active)
    }

    /// The clinic signing key (for relay revocations and the waiting room).
    pub fn clinic_key(&mut self) -> Result<Ed25519KeyPair, CoreError> {
        let Self {
            profiles, unlocked, ..
        } = self;
        let u = unlocked.as_mut().ok_or(CoreError::NotSignedIn)?;
        invites::clinic_key(profiles, u)
    }

    /// The clinic's display name and public key (base64url), for an
    /// embedded relay to trust.
    pub fn clinic_identity(&mut self) -> Result<(String, String), CoreError> {
        let Self {
            profiles, unlocked, ..
        } = self;
        let u = unlocked.as_mut().ok_or(CoreError::NotSignedIn)?;
        let public = invites::clinic_public_key(profiles, u)?;
        Ok((u.profile().meta.display_name.clone(), public))
    }

    /// Visits to watch in the waiting room: active appointments with an
    /// active invite that are today (in `tz`), and any other whose link
    /// lets the patient in right now. The second part is midnight: at 23:50
    /// the patient of a 00:05 visit, or of one that began at 23:30 the day
    /// before, can already (or still) knock, and must be seen.
    pub fn watched_visits(&mut self, tz: &str) -> Result<Vec<WatchedVisit>, CoreError> {
        let zone = parse_tz(tz)?;
        let now_secs = self.profiles.now();
        let now = chrono::DateTime::from_timestamp(now_secs, 0).unwrap_or_default();
        let today = now.with_timezone(&zone).date_naive();
        let u = self.unlocked()?;
        let mut out = Vec::new();
        // A link opens 15 minutes before its visit and closes an hour after it ends:
        // yesterday and tomorrow hold every other visit whose link can be open now.
        let (first, last) = (
            today.pred_opt().unwrap_or(today),
            today.succ_opt().unwrap_or(today),
        );
        for a in u.store_ref().list_days(first, last, tz)? {
            if !a.appointment.status.is_active() {
                continue;
            }
            let Some(invite) = u.store_ref().active_invite(a.appointment.id)? else {
                continue;
            };
            let is_today = a.appointment.start.with_timezone(&zone).date_naive() == today;
            let open_now = invite.not_before <= now_secs && now_secs < invite.expires;
            if is_today || open_now {
                out.push(WatchedVisit {
                    appointment: a.appointment.id,
                    invite,
                });
            }
        }
        Ok(out)
    }

    /// Records a waiting-room action (`visit.knock`, `visit.admit`,
    /// `visit.deny`, `visit.message`) against an appointment.
    pub fn audit_visit(&mut self, action: &str, appointment: i64) -> Result<(), CoreError> {
        self.unlocked()?
            .store()
            .audit(action, json!({ "appointment": appointment }))?;
        Ok(())
    }

    /// A visit's call was answered: the appointment is under way (`in_progress`, from
    /// `booked` or `arrived`; a later state is left as it is), audited `visit.call_start`.
    pub fn start_visit(&mut self, appointment: i64) -> Result<(), CoreError> {
        let store = self.unlocked()?.store();
        let id = AppointmentId(appointment);
        if matches!(
            store.appointment(id)?.status,
            AppointmentStatus::Booked | AppointmentStatus::Arrived
        ) {
            store.set_status(id, AppointmentStatus::InProgress)?;
        }
        store.audit("visit.call_start", json!({ "appointment": appointment }))?;
        Ok(())
    }

    /// The clinician ended the visit: the appointment is `finished` (through
    /// `in_progress` when the call never got that far), audited `visit.end`. Ending a
    /// visit that is already finished changes nothing but is audited again; a cancelled
    /// or no-show appointment is refused (`bad_transition`).
    pub fn end_visit(&mut self, appointment: i64) -> Result<(), CoreError> {
        let store = self.unlocked()?.store();
        let id = AppointmentId(appointment);
        let status = store.appointment(id)?.status;
        if matches!(
            status,
            AppointmentStatus::Booked | AppointmentStatus::Arrived
        ) {
            store.set_status(id, AppointmentStatus::InProgress)?;
        }
        if status != AppointmentStatus::Finished {
            store.set_status(id, AppointmentStatus::Finished)?;
        }
        store.audit("visit.end", json!({ "appointment": appointment }))?;
        Ok(())
    }

    /// Audit events, newest first, filtered by action prefix.
    pub fn audit_events(&mut self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, CoreError> {
        let limit = filter.limit.unwrap_or(200).min(5000);
        let prefix = filter
            .action
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let events = self.unlocked()?.store_ref().audit_export()?;
        Ok(events
            .into_iter()
            .rev()
            .filter(|e| prefix.is_none_or(|p| e.action.starts_with(p)))
            .take(limit)
            .collect())
    }

    /// Recomputes the audit chain.
    pub fn audit_verify(&mut self) -> Result<AuditVerdict, CoreError> {
        let u = self.unlocked()?;
        let verdict = u.store_ref().audit_verify()?;
        u.store().audit("audit.verify", json!({}))?;
        Ok(verdict)
    }

    /// The user's settings, with policy's cap.
    pub fn settings(&mut self) -> Result<Settings, CoreError> {
        let max = self.profiles.policy().idle_lock_minutes;
        let store = self.unlocked()?.store_ref();
        let relay_url = store.setting(RELAY_URL)?.filter(|r| !r.is_empty());
        let idle = store
            .setting(IDLE_LOCK_MINUTES)?
            .and_then(|v| v.parse::<u32>().ok())
            .map_or(max, |v| v.clamp(1, max.max(1)));
        let devices = Self::read_devices(store)?;
        Ok(Settings {
            relay_url,
            idle_lock_minutes: idle,
            idle_lock_max_minutes: max,
            devices,
        })
    }

    fn read_devices(store: &bedside_store::Store) -> Result<SavedDevices, CoreError> {
        let mut out = SavedDevices::default();
        for slot in DeviceSlot::ALL {
            let saved = store
                .setting(slot.key())?
                .and_then(|v| SavedDevice::parse(&v));
            out.set(slot, saved);
        }
        Ok(out)
    }

    /// The devices chosen for visits (what [`Self::settings`] carries).
    pub fn saved_devices(&mut self) -> Result<SavedDevices, CoreError> {
        Self::read_devices(self.unlocked()?.store_ref())
    }

    /// Keeps the device chosen for one kind (`None` = the system's default), in the
    /// encrypted store (audited `setting.change` with the key only). Returns every choice.
    pub fn save_device(
        &mut self,
        slot: DeviceSlot,
        device: Option<SavedDevice>,
    ) -> Result<SavedDevices, CoreError> {
        let device = device
            .map(|d| SavedDevice::new(&d.id, &d.name))
            .transpose()?;
        let u = self.unlocked()?;
        let value = match &device {
            Some(d) => serde_json::to_string(d).map_err(|_| CoreError::Invalid {
                field: "device",
                problem: "that device cannot be saved".into(),
            })?,
            None => String::new(),
        };
        if device.is_some() || u.store_ref().setting(slot.key())?.is_some() {
            u.store().set_setting(slot.key(), &value)?;
        }
        Self::read_devices(u.store_ref())
    }

    /// Saves the user's settings: the relay URL is checked (https, or http on
    /// loopback); the idle lock must be between 1 minute and policy's maximum.
    /// The new idle period applies at once.
    pub fn save_settings(&mut self, s: &Settings) -> Result<Settings, CoreError> {
        let max = self.profiles.policy().idle_lock_minutes;
        if !(1..=max.max(1)).contains(&s.idle_lock_minutes) {
            return Err(CoreError::Invalid {
                field: "idle lock",
                problem: format!("must be between 1 and {max} minutes (your organisation's limit)"),
            });
        }
        let relay = s
            .relay_url
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(invites::parse_relay_origin)
            .transpose()?;
        let u = self.unlocked()?;
        match relay {
            Some(r) => u.store().set_setting(RELAY_URL, &r)?,
            None => {
                if u.store_ref().setting(RELAY_URL)?.is_some() {
                    u.store().set_setting(RELAY_URL, "")?;
                }
            }
        }
        u.store()
            .set_setting(IDLE_LOCK_MINUTES, &s.idle_lock_minutes.to_string())?;
        self.apply_idle_setting();
        self.settings()
    }
}
