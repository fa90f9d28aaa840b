//! Domain types. PHI fields redact themselves in `Debug`, so a stray `{:?}`
//! in a log line cannot leak a name or a date of birth.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map(Self)
            }
        }
    };
}

id!(
    /// A patient's row id.
    PatientId
);
id!(
    /// An appointment's row id.
    AppointmentId
);

/// A new patient, as entered.
#[derive(Clone, Default)]
pub struct NewPatient {
    /// Full name (required).
    pub name: String,
    /// Date of birth.
    pub dob: Option<NaiveDate>,
    /// Phone number.
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Medical record number.
    pub mrn: Option<String>,
}

/// Changes to a patient; `None` leaves a field as it is.
#[derive(Clone, Default)]
pub struct PatientUpdate {
    /// New name.
    pub name: Option<String>,
    /// New date of birth.
    pub dob: Option<NaiveDate>,
    /// New phone (`Some(None)` clears it).
    pub phone: Option<Option<String>>,
    /// New e-mail (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New MRN (`Some(None)` clears it).
    pub mrn: Option<Option<String>>,
}

/// A stored patient.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct Patient {
    /// Id.
    pub id: PatientId,
    /// Full name.
    pub name: String,
    /// Date of birth.
    #[cfg_attr(feature = "ts", schemars(with = "String"))]
    pub dob: NaiveDate,
    /// Phone.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Medical record number.
    pub mrn: Option<String>,
}

impl fmt::Debug for Patient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Patient")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for NewPatient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPatient([redacted])")
    }
}

/// Appointment status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Scheduled.
    Booked,
    /// The patient is in the waiting room.
    Arrived,
    /// The visit is under way.
    InProgress,
    /// Done.
    Finished,
    /// Called off.
    Cancelled,
    /// The patient did not come.
    NoShow,
}

impl AppointmentStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Arrived => "arrived",
            Self::InProgress => "in_progress",
            Self::Finished => "finished",
            Self::Cancelled => "cancelled",
            Self::NoShow => "no_show",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "booked" => Self::Booked,
            "arrived" => Self::Arrived,
            "in_progress" => Self::InProgress,
            "finished" => Self::Finished,
            "cancelled" => Self::Cancelled,
            "no_show" => Self::NoShow,
            _ => return None,
        })
    }

    /// Whether the slot is taken (counts for overlap checks).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Booked | Self::Arrived | Self::InProgress)
    }
}

impl fmt::Display for AppointmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new appointment.
#[derive(Clone)]
pub struct NewAppointment {
    /// Who.
    pub patient: PatientId,
    /// When (UTC instant).
    pub start: DateTime<Utc>,
    /// The IANA time zone the appointment was booked in.
    pub tz: String,
    /// Minutes.
    pub duration_min: u32,
    /// Reason for the visit (PHI).
    pub reason: Option<String>,
}

impl fmt::Debug for NewAppointment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAppointment")
            .field("patient", &self.patient)
            .field("start", &self.start)
            .field("tz", &self.tz)
            .field("duration_min", &self.duration_min)
            .finish_non_exhaustive()
    }
}

/// A stored appointment.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct Appointment {
    /// Id.
    pub id: AppointmentId,
    /// Who.
    pub patient: PatientId,
    /// When (UTC).
    #[cfg_attr(feature = "ts", schemars(with = "String"))]
    pub start: DateTime<Utc>,
    /// IANA time zone.
    pub tz: String,
    /// Minutes.
    pub duration_min: u32,
    /// Reason (PHI).
    pub reason: Option<String>,
    /// Status.
    pub status: AppointmentStatus,
}

impl fmt::Debug for Appointment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Appointment")
            .field("id", &self.id)
            .field("patient", &self.patient)
            .field("start", &self.start)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// An appointment with the patient's name, for schedule views.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct AppointmentView {
    /// The appointment.
    #[serde(flatten)]
    pub appointment: Appointment,
    /// The patient's name (PHI).
    pub patient_name: String,
    /// Start in the requested time zone, RFC 3339 with offset.
    pub local_start: String,
}

impl fmt::Debug for AppointmentView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppointmentView")
            .field("appointment", &self.appointment)
            .finish_non_exhaustive()
    }
}

/// One version of a visit note.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct Note {
    /// The appointment.
    pub appointment: AppointmentId,
    /// 1 for the first save, then +1 per edit.
    pub version: i64,
    /// The text (PHI).
    pub text: String,
    /// When this version was saved.
    #[cfg_attr(feature = "ts", schemars(with = "String"))]
    pub saved_at: DateTime<Utc>,
}

impl fmt::Debug for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Note")
            .field("appointment", &self.appointment)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The clinician profile row.
#[derive(Clone, Serialize)]
pub struct Profile {
    /// Sign-in name.
    pub username: String,
    /// Name shown to patients and colleagues.
    pub display_name: String,
    /// Whether TOTP has been confirmed.
    pub totp_enabled: bool,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("username", &self.username)
            .field("totp_enabled", &self.totp_enabled)
            .finish()
    }
}
