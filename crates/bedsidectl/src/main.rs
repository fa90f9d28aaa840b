//! `bedsidectl`: the headless Bedside CLI for admins, scripts and tests.
//!
//! A thin layer over `bedside-core`: parse arguments, call the core, print
//! text or `--json`. Exit codes: 0 ok, 1 the user's error, 2 the environment
//! (keychain, files, damaged data). Errors never carry PHI.

mod cli;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_logging();
    let json = args.json;
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(json, &e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Logs go to stderr, warnings and up unless BEDSIDE_LOG says otherwise.
/// Log lines carry ids only (see SECURITY.md).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BEDSIDE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
