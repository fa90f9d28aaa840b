//! End-to-end tests of `bedsidectl`: the real binary, the real Secret Service
//! keychain and real SQLCipher files in a throwaway data directory.
//!
//! They run under `cargo xtask test`, which provides an unlocked keyring on a
//! private D-Bus session and sets `BEDSIDE_TEST_KEYCHAIN=1`; without it each
//! test prints a note and passes without running.

#[path = "cli/bad_input.rs"]
mod bad_input;
#[path = "cli/call.rs"]
mod call;
#[path = "cli/credentials.rs"]
mod credentials;
#[path = "cli/damage.rs"]
mod damage;
#[path = "cli/init.rs"]
mod init;
#[path = "cli/plaintext.rs"]
mod plaintext;
#[path = "cli/policy.rs"]
mod policy;
#[path = "cli/profiles.rs"]
mod profiles;
#[path = "cli/signin.rs"]
mod signin;
#[path = "cli/support.rs"]
mod support;
#[path = "cli/workflow.rs"]
mod workflow;
