//! Shared plumbing: the workspace, running commands, teeing their output, exit codes.

use std::env;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

/// Stop with this exit code; the reason has already been printed.
#[derive(Debug)]
pub struct Exit(pub u8);

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// The Bedside workspace xtask works on.
pub struct Workspace {
    /// The workspace root (the directory holding the top-level Cargo.toml).
    pub root: PathBuf,
    cargo: OsString,
}

impl Workspace {
    /// The workspace `cargo xtask` was run in, driven by the cargo that runs it.
    ///
    /// `cargo run` sets `CARGO_MANIFEST_DIR` for the process, and that is
    /// preferred over the compile-time value: with a target directory shared
    /// between clones (CI's cache), the `target/debug/xtask` that cargo runs
    /// may have been built from another clone of the same sources.
    pub fn locate() -> Result<Self> {
        let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest_dir
            .parent()
            .context("xtask is not inside a workspace")?
            .to_path_buf();
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Ok(Self { root, cargo })
    }

    /// The cargo binary, as a path or a name to look up on PATH.
    pub fn cargo_bin(&self) -> &OsString {
        &self.cargo
    }

    /// `cargo <args>` in the workspace root.
    pub fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.cargo);
        cmd.args(args).current_dir(&self.root);
        cmd
    }

    /// The web UI's directory.
    pub fn ui(&self) -> PathBuf {
        self.root.join("ui")
    }

    /// Cargo's target directory: `CARGO_TARGET_DIR` (CI's persistent cache) or `target/`.
    pub fn target_dir(&self) -> PathBuf {
        env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join("target"))
    }
}

/// Prints one progress line.
pub fn step(msg: impl fmt::Display) {
    println!("xtask: {msg}");
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or(cmd.get_program());
    let mut line = program.to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

fn spawn_error(cmd: &Command) -> String {
    format!("could not start `{}`", describe(cmd))
}

/// Runs `cmd` with inherited stdio and returns how it ended.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    cmd.status().with_context(|| spawn_error(cmd))
}

/// Runs `cmd` and fails unless it succeeds.
pub fn check(cmd: &mut Command) -> Result<()> {
    let st = status(cmd)?;
    anyhow::ensure!(st.success(), "`{}` failed ({st})", describe(cmd));
    Ok(())
}

/// Runs `cmd`, returning its trimmed stdout if it succeeds.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| spawn_error(cmd))?;
    anyhow::ensure!(
        out.status.success(),
        "`{}` failed ({})",
        describe(cmd),
        out.status
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs `cmd`, copying its stdout to ours as it arrives and handing each line to `on_line`.
/// Stderr is inherited untouched.
pub fn tee_stdout(cmd: &mut Command, mut on_line: impl FnMut(&str)) -> Result<ExitStatus> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| spawn_error(cmd))?;
    let mut pipe = child.stdout.take().context("child has no stdout pipe")?;
    let mut console = io::stdout();
    let mut buf = [0u8; 8192];
    let mut line = Vec::new();
    let read = loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        };
        // A closed console (e.g. `| head`) must not stop the parsing or leave the child behind.
        let _ = console.write_all(&buf[..n]).and_then(|()| console.flush());
        for &b in &buf[..n] {
            if b == b'\n' {
                on_line(&String::from_utf8_lossy(&line));
                line.clear();
            } else {
                line.push(b);
            }
        }
    };
    if !line.is_empty() {
        on_line(&String::from_utf8_lossy(&line));
    }
    if read.is_err() {
        let _ = child.kill();
    }
    let st = child.wait().context("waiting for child")?;
    read.context("reading child output")?;
    Ok(st)
}

/// The exit code to pass on for a child that ended with `st` (128 + signal if killed).
pub fn exit_code(st: ExitStatus) -> ExitCode {
    let code = match (st.code(), st.signal()) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
        (None, None) => 1,
    };
    ExitCode::from(code)
}

/// Whether an executable called `name` is on PATH.
pub fn on_path(name: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|path| env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// Whether we run as root.
pub fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|uid| uid == "0")
}

/// A duration for humans: `0.4s`, `12.3s`, `3m07s`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_millis(420)), "0.4s");
        assert_eq!(human(Duration::from_secs(59)), "59.0s");
        assert_eq!(human(Duration::from_secs(187)), "3m07s");
    }

    #[test]
    fn commands_describe_themselves() {
        let mut cmd = Command::new("/usr/bin/cargo");
        cmd.args(["fmt", "--all"]);
        assert_eq!(describe(&cmd), "cargo fmt --all");
    }
}
