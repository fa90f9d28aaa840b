//! `bedsidectl`: the headless Bedside CLI for admins, scripts and tests.
//!
//! A thin layer over `bedside-core`: parse arguments, call the core, print
//! text or `--json`. Exit codes: 0 ok, 1 the user's error, 2 the environment
//! (keychain, files, damaged data). Errors never carry PHI.

mod cli;
mod commands;
mod output;
mod visit_media;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => return usage_error(e),
    };
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

/// A command-line mistake is the user's error: exit 1 (help and version
/// exit 0), as JSON when `--json` was given.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if std::env::args().any(|a| a == "--json") {
        let first = e
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_owned();
        eprintln!(
            "{}",
            serde_json::json!({ "error": { "code": "usage", "message": first } })
        );
    } else {
        let _ = e.print();
    }
    ExitCode::from(1)
}

/// Logs go to stderr: Bedside's crates at `warn` or the level BEDSIDE_LOG gives, dependencies at
/// `error` (see `bedside_core::logging`). Log lines carry ids only (see SECURITY.md).
fn init_logging() {
    use bedside_core::logging::log_directive;
    let setting = std::env::var("BEDSIDE_LOG").ok();
    let filter = tracing_subscriber::EnvFilter::try_new(log_directive(setting.as_deref(), "warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_directive(None, "warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
