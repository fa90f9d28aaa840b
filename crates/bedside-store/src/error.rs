//! The store's error type.

use std::path::PathBuf;

use crate::model::AppointmentId;

/// What can go wrong in the store. Messages never contain PHI: they carry
/// ids, file paths and field names, never names, dates of birth or notes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key does not open the database.
    #[error("password incorrect: the key does not open {path}")]
    WrongKey {
        /// The database file.
        path: PathBuf,
    },
    /// A page failed authentication or the file is structurally damaged.
    #[error(
        "the database {path} is damaged or has been tampered with ({detail}); restore it from a backup — Bedside will not read unauthenticated data"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's short description (no data).
        detail: String,
    },
    /// The database was written by a newer Bedside.
    #[error(
        "{path} was written by a newer version of Bedside (schema {found}, this build knows {known}); update Bedside"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Version found.
        found: i64,
        /// Latest version this build knows.
        known: i64,
    },
    /// Invalid input, with the field and what is expected.
    #[error("{field}: {problem}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// No such record.
    #[error("{what} {id} not found")]
    NotFound {
        /// "patient", "appointment", ...
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The appointment would overlap another.
    #[error("overlaps appointment {with}; choose another time or force it")]
    Overlap {
        /// The appointment it overlaps.
        with: AppointmentId,
    },
    /// The status change is not allowed from the current status.
    #[error("appointment {id} is {from}; it cannot be {to}")]
    BadTransition {
        /// The appointment.
        id: AppointmentId,
        /// Current status.
        from: &'static str,
        /// The requested change.
        to: &'static str,
    },
    /// The database is busy or locked by another process for too long.
    #[error("the database {path} is busy; try again")]
    Busy {
        /// The database file.
        path: PathBuf,
    },
    /// The audit checkpoint file beside the database cannot be written or read.
    #[error("audit checkpoints {path}: {detail}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// The I/O error.
        detail: String,
    },
    /// Another SQLite failure (disk full, I/O error...).
    #[error("database error on {path}: {detail}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's description.
        detail: String,
    },
}

impl StoreError {
    pub(crate) fn invalid(field: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            problem: problem.into(),
        }
    }
}
