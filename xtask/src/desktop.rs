//! `cargo xtask run`: set up, then run the desktop app.

use std::env;
use std::process::ExitCode;

use anyhow::Result;

use crate::setup::{self, Purpose};
use crate::util::{Exit, Workspace, describe, exit_code, status, step};

/// Runs the desktop app with `args` passed through to it.
pub fn run(ws: &Workspace, args: &[String]) -> Result<ExitCode> {
    setup::setup(ws, Purpose::Run)?;
    if needs_display() && !has_display() {
        eprintln!(
            "No display: Bedside is a desktop app and needs a graphical session. \
             Run it from a desktop, or under Xvfb: xvfb-run -a cargo xtask run"
        );
        return Err(Exit(2).into());
    }
    let mut cmd = ws.cargo(&["run", "-p", "bedside-desktop"]);
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    step(describe(&cmd));
    Ok(exit_code(status(&mut cmd)?))
}

/// Whether windows need an X11 or Wayland display (not on macOS or Windows).
fn needs_display() -> bool {
    cfg!(all(unix, not(target_os = "macos")))
}

fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| env::var_os(var).is_some_and(|v| !v.is_empty()))
}
