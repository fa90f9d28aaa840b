//! The Windows builds of the device tests, run under Wine (Debian's `wine64`): the
//! DirectShow camera against vivid in the camera VM (`tests/camera_windows.rs`, see
//! `camera_vm.rs`) and the WASAPI microphone and speaker against a private PulseAudio on
//! this machine (`tests/audio_windows.rs`). Each Linux test runs its Windows build, which
//! `cargo xtask test` cross-compiles here with MinGW and names in an environment variable;
//! without it (a plain `cargo test`, or no Wine or MinGW here) those tests skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::util::{Workspace, check, describe, on_path, output, step};

/// The Windows test binaries: `(test target, the variable that names its build)`.
pub const TESTS: &[(&str, &str)] = &[
    ("camera_windows", "BEDSIDE_CAMERA_WINE_EXE"),
    ("audio_windows", "BEDSIDE_AUDIO_WINE_EXE"),
];

const WINDOWS_TARGET: &str = "x86_64-pc-windows-gnu";
const MINGW_CC: &str = "x86_64-w64-mingw32-gcc";
const WINE: &str = "/usr/lib/wine/wine64";

/// Cross-compiles [`TESTS`] when Wine and MinGW are here, with Wine's missing
/// `bcryptprimitives.dll` beside them; each variable with its executable, or none.
pub fn windows_tests(ws: &Workspace) -> Result<Vec<(&'static str, PathBuf)>> {
    if !Path::new(WINE).is_file() || !on_path(MINGW_CC) {
        step("Wine or MinGW is missing: the Windows device tests will be skipped");
        return Ok(Vec::new());
    }
    let mut args = vec![
        "test",
        "--no-run",
        "--quiet",
        "--message-format=json",
        "--target",
        WINDOWS_TARGET,
        "-p",
        "bedside-capture",
    ];
    for (test, _) in TESTS {
        args.extend(["--test", test]);
    }
    let mut cmd = ws.cargo(&args);
    step(format!("{} (the Windows device tests)", describe(&cmd)));
    let json = output(&mut cmd)?;
    let mut out = Vec::new();
    for (test, var) in TESTS {
        let exe = json
            .lines()
            .filter(|l| l.contains(&format!("\"name\":\"{test}\"")))
            .find_map(executable)
            .with_context(|| format!("cargo named no {test} executable"))?;
        out.push((*var, exe));
    }
    // Rust's standard library takes its random numbers from `ProcessPrng`
    // (bcryptprimitives.dll, Windows 10); Wine 8 lacks the DLL, so a shim beside the
    // tests asks the system's RNG instead (`RtlGenRandom`).
    if let Some((_, exe)) = out.first() {
        let shim = ws
            .root
            .join("crates/bedside-capture/tests/wine/bcryptprimitives.c");
        let dll = exe
            .parent()
            .context("the test executable has no directory")?
            .join("bcryptprimitives.dll");
        check(
            Command::new(MINGW_CC)
                .args(["-O2", "-shared", "-s", "-o"])
                .arg(&dll)
                .arg(&shim)
                .arg("-ladvapi32"),
        )?;
    }
    Ok(out)
}

/// The `"executable"` of one line of cargo's JSON messages.
fn executable(line: &str) -> Option<PathBuf> {
    let rest = line.split_once("\"executable\":\"")?.1;
    let path = rest.split_once('"')?.0;
    (!path.contains('\\')).then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_executable_is_read_from_cargo_json() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"camera_windows"},"executable":"/t/x86_64-pc-windows-gnu/debug/deps/camera_windows-1a.exe","fresh":true}"#;
        assert_eq!(
            executable(line),
            Some(PathBuf::from(
                "/t/x86_64-pc-windows-gnu/debug/deps/camera_windows-1a.exe"
            ))
        );
        assert_eq!(executable(r#"{"executable":null}"#), None);
        assert_eq!(executable(r#"{"executable":"C:\\x.exe"}"#), None);
    }
}
