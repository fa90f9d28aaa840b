//! The encrypted store: SQLCipher through rusqlite, forward-only migrations,
//! typed repositories for patients, appointments, notes and settings, and the
//! hash-chained audit log written in the same transaction as each change.
//!
//! **Invariant:** every mutation of clinical data appends an audit event in
//! the same SQLite transaction, so a crash leaves both or neither.
//!
//! **Invariant:** this crate never opens a database without a key, except
//! through [`Store::danger_open_unencrypted`], which exists for the benchmark
//! baseline only.

mod appointments;
pub mod audit;
mod checkpoint;
mod db;
mod error;
mod invites;
mod migrations;
mod model;
mod notes;
mod patients;
mod profile;
mod retention;
pub mod time;

pub use audit::{AuditEvent, AuditVerdict};
pub use db::{Clock, Store};
pub use error::StoreError;
pub use invites::{Invite, NewInvite};
pub use migrations::LATEST_VERSION;
pub use model::{
    Appointment, AppointmentId, AppointmentStatus, AppointmentView, NewAppointment, NewPatient,
    Note, Patient, PatientId, PatientUpdate, Profile,
};
pub use retention::Purged;

#[cfg(test)]
mod tests;
