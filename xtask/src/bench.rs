//! `cargo xtask bench <target>`: benchmarks, each comparing against its baseline in the same run.

use std::process::ExitCode;

use anyhow::{Result, anyhow};

use crate::setup::{self, Purpose};
use crate::util::{Workspace, describe, exit_code, status, step};

/// One benchmark target.
struct Target {
    name: &'static str,
    about: &'static str,
    /// What the machine must be set up for first.
    needs: Purpose,
    /// Runs the benchmark with extra arguments from after `--`.
    run: fn(&Workspace, &[String]) -> Result<ExitCode>,
}

/// The known targets.
const TARGETS: &[Target] = &[
    Target {
        name: "store",
        about: "the encrypted store (SQLCipher) against plain SQLite",
        needs: Purpose::Run,
        run: store,
    },
    Target {
        name: "relay",
        about: "waiting patients held and forwarding latency, against Node.js + ws",
        needs: Purpose::Run,
        run: relay,
    },
    Target {
        name: "app",
        about: "release app cold start, idle memory and .deb size, against a blank Tauri 2 window",
        needs: Purpose::Run,
        run: crate::bench_app::run,
    },
    Target {
        name: "media",
        about: "admission to first frame, glass-to-glass and CPU, against a Chromium clinician",
        // Chromium, node, playwright-core and the built join page.
        needs: Purpose::Test,
        run: media,
    },
];

/// The targets for the usage text, one `name  about` line each.
pub fn targets_help() -> String {
    TARGETS
        .iter()
        .map(|t| format!("    {:<24}{}\n", t.name, t.about))
        .collect()
}

fn known() -> String {
    TARGETS
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the bench target `name`, passing `extra` to the benchmark binary.
pub fn bench(ws: &Workspace, name: Option<&str>, extra: &[String]) -> Result<ExitCode> {
    let name = name.ok_or_else(|| anyhow!("which benchmark? known targets: {}", known()))?;
    let target = TARGETS
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| anyhow!("unknown bench target `{name}`; known targets: {}", known()))?;
    setup::setup(ws, target.needs)?;
    (target.run)(ws, extra)
}

fn store(ws: &Workspace, extra: &[String]) -> Result<ExitCode> {
    let mut cmd = ws.cargo(&["bench", "-p", "bedside-store", "--bench", "store"]);
    if !extra.is_empty() {
        cmd.arg("--").args(extra);
    }
    step(describe(&cmd));
    Ok(exit_code(status(&mut cmd)?))
}

/// The relay benchmark; first `npm ci` for its Node.js baseline if
/// `crates/bedside-relay/benches/node/node_modules` is missing.
fn relay(ws: &Workspace, extra: &[String]) -> Result<ExitCode> {
    let node = ws.root.join("crates/bedside-relay/benches/node");
    if !node.join("node_modules/ws").is_dir() {
        let mut npm = setup::npm(&node);
        npm.args(["ci", "--no-audit", "--no-fund"]);
        step(describe(&npm));
        let s = status(&mut npm)?;
        if !s.success() {
            return Ok(exit_code(s));
        }
    }
    let mut cmd = ws.cargo(&["bench", "-p", "bedside-relay", "--bench", "relay"]);
    if !extra.is_empty() {
        cmd.arg("--").args(extra);
    }
    step(describe(&cmd));
    Ok(exit_code(status(&mut cmd)?))
}

/// The media benchmark: the Rust clinician against a Chromium clinician, each calling a
/// headless Chromium patient through the relay (`crates/bedside-host/benches/media.rs`).
/// The set-up step has installed Chromium and built the join page.
fn media(ws: &Workspace, extra: &[String]) -> Result<ExitCode> {
    let mut cmd = ws.cargo(&["bench", "-p", "bedside-host", "--bench", "media"]);
    if !extra.is_empty() {
        cmd.arg("--").args(extra);
    }
    step(describe(&cmd));
    Ok(exit_code(status(&mut cmd)?))
}
