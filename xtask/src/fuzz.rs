//! `cargo xtask fuzz [TARGET] [--secs N]`: runs the cargo-fuzz (libFuzzer)
//! targets in `fuzz/` — the protocol decoder, invite-token parsing and
//! `sdp_identity` — each for N seconds (default 60). cargo-fuzz wants
//! nightly for its sanitizer flags; on the stable toolchain this sets
//! `RUSTC_BOOTSTRAP=1`. The short property tests in `cargo xtask test`
//! cover the same code on every run; this is the longer search.

use std::process::ExitCode;

use anyhow::Result;

use crate::util::{Exit, Workspace, exit_code, status, step};

/// The targets, in `fuzz/Cargo.toml`.
pub const TARGETS: [&str; 3] = ["protocol_decode", "invite_token", "sdp_identity"];

/// Runs one target or all of them.
pub fn fuzz(ws: &Workspace, target: Option<&str>, secs: u64) -> Result<ExitCode> {
    let targets: Vec<&str> = match target {
        None => TARGETS.to_vec(),
        Some(t) if TARGETS.contains(&t) => vec![t],
        Some(t) => {
            eprintln!(
                "xtask: unknown fuzz target `{t}`; targets: {}",
                TARGETS.join(", ")
            );
            return Err(Exit(2).into());
        }
    };
    let installed = ws
        .cargo(&["fuzz", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("xtask: cargo-fuzz is not installed: run `cargo install cargo-fuzz --locked`");
        return Err(Exit(2).into());
    }
    let max_time = format!("-max_total_time={secs}");
    for t in targets {
        step(format!("fuzz {t} for {secs} s"));
        let mut cmd = ws.cargo(&["fuzz", "run", t, "--", &max_time]);
        cmd.current_dir(&ws.root).env("RUSTC_BOOTSTRAP", "1");
        let st = status(&mut cmd)?;
        if !st.success() {
            eprintln!(
                "xtask: fuzz target {t} failed; the crashing input is under fuzz/artifacts/{t}/"
            );
            return Ok(exit_code(st));
        }
    }
    step("fuzz done: no crash found");
    Ok(ExitCode::SUCCESS)
}
