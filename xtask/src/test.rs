//! `cargo xtask test`: lints, the Rust tests against a real (throwaway) keychain, the UI
//! tests; one closing line `N passed, N failed`.

use std::ffi::OsStr;
use std::process::{Command, ExitCode, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::keychain;
use crate::parse::{self, Counts};
use crate::setup::{self, Purpose, npm};
use crate::util::{Exit, Workspace, describe, human, status, step, tee_stdout};

/// Which groups of steps to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Groups {
    /// `cargo fmt --check` and clippy.
    pub lint: bool,
    /// `cargo test --workspace`.
    pub rust: bool,
    /// The UI's vitest suite.
    pub ui: bool,
}

impl Groups {
    /// Every group.
    pub const ALL: Self = Self {
        lint: true,
        rust: true,
        ui: true,
    };

    /// Parses a comma-separated list of `lint`, `rust`, `ui`.
    pub fn parse(list: &str) -> Result<Self> {
        let mut groups = Self {
            lint: false,
            rust: false,
            ui: false,
        };
        for name in list.split(',') {
            match name.trim() {
                "lint" => groups.lint = true,
                "rust" => groups.rust = true,
                "ui" => groups.ui = true,
                other => bail!("unknown test group `{other}`: expected rust, ui or lint"),
            }
        }
        Ok(groups)
    }
}

/// Options of `cargo xtask test`.
#[derive(Debug)]
pub struct Options {
    /// Run `setup --for test` first.
    pub setup: bool,
    /// The groups to run.
    pub groups: Groups,
    /// Extra arguments for `cargo test` (after `--`).
    pub cargo_test_args: Vec<String>,
}

/// How one step ended.
enum Outcome {
    Ran(Counts),
    Skipped(&'static str),
}

struct Report {
    name: &'static str,
    outcome: Outcome,
    elapsed: Duration,
}

/// Runs the steps, prints a summary and exits non-zero if anything failed.
pub fn test(ws: &Workspace, opts: &Options) -> Result<ExitCode> {
    let mut reports = Vec::new();
    let mut code = ExitCode::SUCCESS;
    let mut setup_failed = false;
    if opts.setup {
        let start = Instant::now();
        if let Err(err) = setup::setup(ws, Purpose::Test) {
            if let Some(&Exit(c)) = err.downcast_ref::<Exit>() {
                code = ExitCode::from(c);
            } else {
                eprintln!("xtask: error: {err:#}");
            }
            reports.push(Report {
                name: "setup",
                outcome: Outcome::Ran(FAILED_STEP),
                elapsed: start.elapsed(),
            });
            setup_failed = true;
        }
    }
    if !setup_failed {
        let g = opts.groups;
        if g.lint {
            reports.push(run_step("fmt", || {
                plain(ws.cargo(&["fmt", "--all", "--check"]))
            }));
            reports.push(run_step("clippy", || {
                plain(ws.cargo(&[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]))
            }));
            reports.push(run_step("cross-check", || cross_check(ws)));
        }
        if g.rust {
            // The real-window test (tests/tests/desktop.rs) drives the built app binary.
            reports.push(run_step("desktop binary", || {
                plain(ws.cargo(&["build", "-p", "bedside-desktop"]))
            }));
            reports.push(run_step("rust", || rust_tests(ws, &opts.cargo_test_args)));
        }
        if g.ui {
            reports.push(run_step("ui", || ui_tests(ws)));
        }
    }

    let total = summarise(&reports);
    println!("{} passed, {} failed", total.passed, total.failed);
    if total.failed > 0 && code == ExitCode::SUCCESS {
        code = ExitCode::FAILURE;
    }
    Ok(code)
}

const PASSED_STEP: Counts = Counts {
    passed: 1,
    failed: 0,
};
const FAILED_STEP: Counts = Counts {
    passed: 0,
    failed: 1,
};

fn run_step(name: &'static str, body: impl FnOnce() -> Result<Outcome>) -> Report {
    let start = Instant::now();
    let outcome = body().unwrap_or_else(|err| {
        eprintln!("xtask: {name}: error: {err:#}");
        Outcome::Ran(FAILED_STEP)
    });
    let elapsed = start.elapsed();
    match &outcome {
        Outcome::Ran(c) => {
            let verdict = if c.failed == 0 { "ok" } else { "FAILED" };
            step(format!(
                "{name}: {verdict}, {} passed, {} failed ({})",
                c.passed,
                c.failed,
                human(elapsed)
            ));
        }
        Outcome::Skipped(why) => step(format!("{name}: skipped: {why}")),
    }
    Report {
        name,
        outcome,
        elapsed,
    }
}

/// A step that is not a test suite: it counts as one passed or one failed.
fn plain(mut cmd: Command) -> Result<Outcome> {
    step(describe(&cmd));
    let st = status(&mut cmd)?;
    Ok(Outcome::Ran(if st.success() {
        PASSED_STEP
    } else {
        FAILED_STEP
    }))
}

/// The counts of a suite that ended with `st`: a failure that no test accounts for (a
/// compile error, a crashed test binary) counts as one more failed; a suite that printed no
/// summary at all counts like a plain step.
fn suite(st: ExitStatus, counts: Option<Counts>) -> Outcome {
    let Some(mut counts) = counts else {
        return Outcome::Ran(if st.success() {
            PASSED_STEP
        } else {
            FAILED_STEP
        });
    };
    if !st.success() && counts.failed == 0 {
        counts.failed = 1;
    }
    Outcome::Ran(counts)
}

fn rust_tests(ws: &Workspace, extra: &[String]) -> Result<Outcome> {
    let mut command: Vec<&OsStr> = vec![ws.cargo_bin().as_os_str()];
    command.extend(["test", "--workspace", "--no-fail-fast"].map(OsStr::new));
    command.extend(extra.iter().map(OsStr::new));
    step(format!(
        "{} (in a throwaway Secret Service)",
        describe_args(&command)
    ));
    let mut counts = None::<Counts>;
    // The camera test's VM kernel (`camera_vm.rs`); when set, that test must run.
    let kernel = crate::camera_vm::ready_kernel(ws).map(|dir| dir.display().to_string());
    let mut env = vec![("BEDSIDE_TEST_KEYCHAIN", "1")];
    if let Some(dir) = &kernel {
        env.push((crate::camera_vm::KERNEL_VAR, dir.as_str()));
    }
    // The Windows device tests, run under Wine (`wine.rs`).
    let windows: Vec<(&str, String)> = crate::wine::windows_tests(ws)?
        .into_iter()
        .map(|(var, exe)| (var, exe.display().to_string()))
        .collect();
    for (var, exe) in &windows {
        env.push((var, exe.as_str()));
    }
    let st = keychain::in_session(ws, &command, &env, |cmd| {
        tee_stdout(cmd, |line| {
            if let Some(c) = parse::cargo_test_result(line) {
                *counts.get_or_insert_default() += c;
            }
        })
    })?;
    Ok(suite(st, counts))
}

/// `cargo clippy` of the macOS and Windows code (see `cross.rs`): one count per target.
fn cross_check(ws: &Workspace) -> Result<Outcome> {
    let mut counts = Counts::default();
    for (target, mut cmd) in crate::cross::commands(ws)? {
        step(format!("{} ({target})", describe(&cmd)));
        if status(&mut cmd)?.success() {
            counts.passed += 1;
        } else {
            counts.failed += 1;
        }
    }
    Ok(Outcome::Ran(counts))
}

fn ui_tests(ws: &Workspace) -> Result<Outcome> {
    let ui = ws.ui();
    if !ui.join("package.json").is_file() {
        return Ok(Outcome::Skipped("ui/package.json does not exist yet"));
    }
    let mut cmd = npm(&ui);
    cmd.arg("test")
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .env_remove("FORCE_COLOR");
    step("npm test (ui/)");
    let mut counts = None;
    let st = tee_stdout(&mut cmd, |line| {
        if let Some(c) = parse::vitest_summary(line) {
            counts = Some(c); // vitest prints one summary; keep the last.
        }
    })?;
    Ok(suite(st, counts))
}

fn describe_args(command: &[&OsStr]) -> String {
    let mut cmd = Command::new(command.first().copied().unwrap_or_default());
    cmd.args(command.iter().skip(1));
    describe(&cmd)
}

/// Prints a line per step and returns the totals.
fn summarise(reports: &[Report]) -> Counts {
    let mut total = Counts::default();
    step("summary:");
    let width = reports.iter().map(|r| r.name.len()).max().unwrap_or(0) + 2;
    for r in reports {
        let line = match &r.outcome {
            Outcome::Ran(c) => {
                total += *c;
                let verdict = if c.failed == 0 { "ok" } else { "FAILED" };
                format!("{verdict:<7}{:>6} passed{:>4} failed", c.passed, c.failed)
            }
            Outcome::Skipped(why) => format!("skipped ({why})"),
        };
        step(format!("  {:<width$}{line}  {}", r.name, human(r.elapsed)));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn counts(outcome: Outcome) -> Counts {
        match outcome {
            Outcome::Ran(c) => c,
            Outcome::Skipped(_) => panic!("skipped"),
        }
    }

    #[test]
    fn suite_failures_always_count() {
        let ok = ExitStatus::from_raw(0);
        let failed = ExitStatus::from_raw(1 << 8);
        let some = Some(Counts {
            passed: 5,
            failed: 0,
        });
        assert_eq!(
            counts(suite(ok, some)),
            Counts {
                passed: 5,
                failed: 0
            }
        );
        assert_eq!(
            counts(suite(failed, some)),
            Counts {
                passed: 5,
                failed: 1
            }
        );
        assert_eq!(counts(suite(failed, None)), FAILED_STEP);
        assert_eq!(counts(suite(ok, None)), PASSED_STEP);
        let none_ran = Some(Counts::default());
        assert_eq!(counts(suite(ok, none_ran)), Counts::default());
        let two_failed = Some(Counts {
            passed: 5,
            failed: 2,
        });
        assert_eq!(
            counts(suite(failed, two_failed)),
            Counts {
                passed: 5,
                failed: 2
            }
        );
    }

    #[test]
    fn groups_parse() {
        assert_eq!(
            Groups::parse("rust").ok(),
            Some(Groups {
                lint: false,
                rust: true,
                ui: false
            })
        );
        assert_eq!(
            Groups::parse("lint,ui").ok(),
            Some(Groups {
                lint: true,
                rust: false,
                ui: true
            })
        );
        assert!(Groups::parse("docs").is_err());
    }
}
