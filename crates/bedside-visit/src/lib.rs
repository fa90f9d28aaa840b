//! Sans-IO visit logic shared by the clinician core, the relay and (as a
//! specification) the patient page: signed invite tokens, call
//! authentication and the waiting room. Nothing here does IO or reads a
//! clock; time is an input.
//!
//! **Invariant:** the relay needs only [`invite::verify`] and public keys; it
//! never sees an invite secret, so it can neither read a knock nor forge an
//! SDP tag.

pub mod auth;
pub mod device;
pub mod invite;
pub mod lobby;
pub mod sealed;
