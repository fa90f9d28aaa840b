//! Compile checks for the other desktop targets. The macOS and Windows keychain stores
//! (`bedside-vault`), policy readers (`bedside-policy`) and device backends
//! (`bedside-capture`, and `bedside-dshow`'s `unsafe` COM code) are `cfg`-gated code that
//! the Linux build never compiles; `cargo clippy --target` type-checks and lints them here
//! (every `unsafe` block documented, as on Linux) so they cannot rot unseen. Nothing is linked, so no macOS SDK or Windows import libraries are needed:
//! ring's C parts build with MinGW for Windows, and for macOS with clang against the few
//! stub headers in `xtask/cross/macos-include/` (those objects are never used).
//! Running them on those systems is still for a Mac and a Windows machine.

use std::process::Command;

use anyhow::Result;

use crate::util::{Workspace, check, on_path, step};

/// The targets checked, with the C compiler each needs.
pub const TARGETS: &[(&str, &str)] = &[
    ("x86_64-pc-windows-gnu", "x86_64-w64-mingw32-gcc"),
    ("x86_64-apple-darwin", "clang"),
];

/// The crates with target-specific code.
pub const CRATES: &[&str] = &[
    "bedside-vault",
    "bedside-policy",
    "bedside-capture",
    "bedside-dshow",
];

/// Adds the targets' standard libraries with rustup when they are missing.
pub fn ensure_targets() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let missing: Vec<&str> = TARGETS
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        step("cross-check targets are installed");
        return Ok(());
    }
    step(format!("rustup target add {}", missing.join(" ")));
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add"]).args(&missing);
    check(&mut cmd)
}

/// One `cargo clippy` per target; `Err` names what is missing.
pub fn commands(ws: &Workspace) -> Result<Vec<(String, Command)>> {
    let mut out = Vec::new();
    for (target, cc) in TARGETS {
        if !on_path(cc) {
            anyhow::bail!(
                "{cc} is not installed (the cross-check for {target} needs it; `cargo xtask setup test` installs it)"
            );
        }
        let mut args = vec!["clippy", "--quiet", "--target", target];
        for c in CRATES {
            args.extend(["-p", c]);
        }
        args.extend(["--", "-D", "warnings"]);
        let mut cmd = ws.cargo(&args);
        if target.contains("apple") {
            let include = ws.root.join("xtask/cross/macos-include");
            cmd.env("CC_x86_64_apple_darwin", cc).env(
                "CFLAGS_x86_64_apple_darwin",
                format!("-nostdlibinc -I{}", include.display()),
            );
        }
        out.push(((*target).to_owned(), cmd));
    }
    Ok(out)
}
