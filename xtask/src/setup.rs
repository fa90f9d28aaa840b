//! `cargo xtask setup`: system packages, Node.js, the UI's npm dependencies and its build.

use std::env;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use crate::util::{Exit, Workspace, check, is_root, on_path, step};
use crate::{apt, packages};

/// Set to skip the system package check (for non-Debian systems set up by hand).
pub const SKIP_PACKAGES_VAR: &str = "XTASK_SKIP_PACKAGES";

/// What the machine is being set up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Building and running the app.
    Run,
    /// Everything `Run` needs, plus what the tests need.
    Test,
}

impl Purpose {
    /// Parses `run` or `test`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "run" => Ok(Self::Run),
            "test" => Ok(Self::Test),
            other => bail!("unknown setup purpose `{other}`: expected `run` or `test`"),
        }
    }

    fn packages(self) -> Vec<&'static str> {
        match self {
            Self::Run => packages::RUN.to_vec(),
            Self::Test => [packages::RUN, packages::TEST].concat(),
        }
    }
}

/// Makes the machine ready for `purpose` and builds the UI into `ui/dist`.
pub fn setup(ws: &Workspace, purpose: Purpose) -> Result<()> {
    system_packages(purpose)?;
    if purpose == Purpose::Test {
        tauri_driver(ws)?;
        crate::cross::ensure_targets()?;
        crate::camera_vm::ensure(ws)?;
    }
    ui(ws)
}

/// The WebDriver proxy the real-window test drives the app through (recipes.md).
pub const TAURI_DRIVER_VERSION: &str = "2.1.0";

/// Installs `tauri-driver` with cargo when it is not on PATH or in `~/.cargo/bin`.
fn tauri_driver(ws: &Workspace) -> Result<()> {
    let in_cargo_home = env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .is_some_and(|home| home.join("bin/tauri-driver").is_file());
    if on_path("tauri-driver") || in_cargo_home {
        step("tauri-driver is installed");
        return Ok(());
    }
    step(format!("cargo install tauri-driver {TAURI_DRIVER_VERSION}"));
    check(&mut ws.cargo(&[
        "install",
        "tauri-driver",
        "--locked",
        "--version",
        TAURI_DRIVER_VERSION,
    ]))
}

fn system_packages(purpose: Purpose) -> Result<()> {
    let wanted = purpose.packages();
    let node_missing: Vec<&str> = packages::NODE
        .iter()
        .filter(|(bin, _)| !on_path(bin))
        .map(|&(_, pkg)| pkg)
        .collect();
    if env::var_os(SKIP_PACKAGES_VAR).is_some_and(|v| !v.is_empty()) {
        step(format!(
            "{SKIP_PACKAGES_VAR} is set: not checking system packages"
        ));
        if !node_missing.is_empty() {
            eprintln!("xtask: Node.js and npm must be on PATH.");
            return Err(Exit(2).into());
        }
        return Ok(());
    }
    if !apt::is_dpkg_system() {
        eprintln!(
            "xtask: this is not a Debian/Ubuntu system (no dpkg-query). Bedside needs the \
             equivalents of these Debian packages, plus Node.js and npm:\n  {}\n\
             Install them, then re-run with {SKIP_PACKAGES_VAR}=1.",
            wanted.join(" ")
        );
        return Err(Exit(2).into());
    }

    step(format!("checking {} system packages", wanted.len()));
    apt::wait_for_locks()?;
    let mut missing = apt::missing(&wanted)?;
    missing.extend(node_missing);
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        eprintln!(
            "xtask: missing system packages: {list}\nInstall them with:\n  sudo apt-get install -y {list}",
            list = missing.join(" ")
        );
        return Err(Exit(2).into());
    }
    step(format!("installing {}", missing.join(" ")));
    apt::install(&missing)?;
    for (bin, _) in packages::NODE {
        anyhow::ensure!(
            on_path(bin),
            "`{bin}` is still not on PATH after installing it"
        );
    }
    Ok(())
}

fn ui(ws: &Workspace) -> Result<()> {
    let ui = ws.ui();
    if !ui.join("package.json").is_file() {
        step("ui/package.json does not exist yet: skipping npm ci and the UI build");
        return Ok(());
    }
    if needs_npm_ci(&ui)? {
        step("npm ci (ui/)");
        check(npm(&ui).args(["ci", "--no-audit", "--no-fund"]))?;
    } else {
        step("ui/node_modules is up to date");
    }
    step("npm run build (ui/ -> ui/dist)");
    check(npm(&ui).args(["run", "build"]))
}

/// `npm` in `dir`.
pub fn npm(dir: &Path) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir);
    cmd
}

/// Whether `ui/node_modules` is missing or older than `ui/package-lock.json`.
fn needs_npm_ci(ui: &Path) -> Result<bool> {
    let lock = ui.join("package-lock.json");
    let lock_time = mtime(&lock).with_context(|| {
        format!(
            "{} is missing: run `npm install` in ui/ and commit the lockfile",
            lock.display()
        )
    })?;
    Ok(match mtime(&ui.join("node_modules/.package-lock.json")) {
        Ok(installed) => lock_time > installed,
        Err(_) => true,
    })
}

fn mtime(path: &Path) -> Result<SystemTime> {
    Ok(fs::metadata(path)?.modified()?)
}
