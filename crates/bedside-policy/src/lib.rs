//! Managed policy, Chrome's enterprise model plus signatures.
//!
//! - [`schema`]: every policy once — name, type, default, limits, floor —
//!   the single source of truth (the JSON schema and admin templates are
//!   generated from it).
//! - [`merge`]: layers in, effective values out, with each value's source,
//!   level and status. Precedence: managed > recommended > user > default.
//!   Unknown keys are reported, invalid values ignored with an error status,
//!   neither fatal. Floors no policy can loosen: the waiting room, call
//!   authentication, encryption at rest.
//! - [`bundle`]: organisation-signed bundles (Ed25519, monotonic version).
//! - [`sources`]: reading the platform's policy locations (the only IO here),
//!   with the OS adapters [`macos`] (managed preferences) and [`windows`] (the
//!   registry): a pure conversion each, and a thin read compiled for that OS only.
//!
//! **Invariant:** `schema`, `merge` and `bundle` do no IO and read no clock.

pub mod bundle;
pub mod macos;
pub mod merge;
pub mod schema;
pub mod sources;
pub mod templates;
pub mod windows;

pub use merge::{Effective, Layer, Level, PolicyEntry, Source, Status, merge};
pub use schema::{Kind, POLICIES, PolicyDef};
