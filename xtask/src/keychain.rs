//! A throwaway Secret Service for `cargo test`: a temporary HOME, a private D-Bus session
//! and an unlocked gnome-keyring, all cleaned up afterwards.

use std::env;
use std::ffi::OsStr;
use std::fs::{self, DirBuilder};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{self, Command, ExitStatus};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::util::{Workspace, step};

/// Marks every process of the session (through the environment it inherits), so that
/// daemons that outlive `dbus-run-session` can be found and stopped.
const MARKER_VAR: &str = "BEDSIDE_XTASK_SESSION";

/// Variables that could point the session at the real user's files or keyring.
const CLEARED_VARS: &[&str] = &[
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "DBUS_SESSION_BUS_ADDRESS",
    "GNOME_KEYRING_CONTROL",
];

/// Unlocks a fresh login keyring (password `pw`) on the session bus, then becomes the
/// command given as arguments. `$0` is a name for messages; the command is `"$@"`.
const SESSION_SCRIPT: &str = r#"printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null || { echo "xtask: gnome-keyring-daemon could not unlock a keyring" >&2; exit 1; }
exec "$@""#;

/// Unlocks a fresh login keyring (password `pw`) on the session bus in the environment; the
/// first line of [`SESSION_SCRIPT`] does the same inside `dbus-run-session`.
const UNLOCK_KEYRING: &str = "printf pw | gnome-keyring-daemon --unlock --components=secrets";

/// Runs `command` (a program and its arguments) in the workspace root inside a throwaway
/// Secret Service session, with stdout handled by `run` (which spawns and waits).
pub fn in_session(
    ws: &Workspace,
    command: &[&OsStr],
    env_vars: &[(&str, &str)],
    run: impl FnOnce(&mut Command) -> Result<ExitStatus>,
) -> Result<ExitStatus> {
    let real_home = env::var_os("HOME").context("HOME is not set")?;
    let real_home = Path::new(&real_home);
    // Resolve these before HOME changes, or cargo and rustup would look in the new HOME.
    let cargo_home =
        env::var_os("CARGO_HOME").map_or_else(|| real_home.join(".cargo"), PathBuf::from);
    let rustup_home =
        env::var_os("RUSTUP_HOME").map_or_else(|| real_home.join(".rustup"), PathBuf::from);

    let home = TempHome::create()?;
    step(format!(
        "throwaway HOME for the keyring: {}",
        home.path.display()
    ));
    let mut cmd = Command::new("dbus-run-session");
    cmd.args(["--", "sh", "-c", SESSION_SCRIPT, "xtask-session"])
        .args(command)
        .current_dir(&ws.root)
        .env("HOME", &home.path)
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env("XDG_RUNTIME_DIR", home.path.join("run"))
        .env("NO_AT_BRIDGE", "1")
        .env(MARKER_VAR, &home.path)
        .envs(env_vars.iter().copied());
    for var in CLEARED_VARS {
        cmd.env_remove(var);
    }
    let result = run(&mut cmd);
    stop_leftovers(&home.path);
    result
}

/// A private D-Bus session bus with an unlocked gnome-keyring on it, for programs started
/// one after another (`cargo xtask bench app`); stopped, daemons and all, on drop.
pub struct Bus {
    /// `DBUS_SESSION_BUS_ADDRESS` of the bus.
    pub address: String,
    daemon: process::Child,
    home: TempHome,
}

impl Bus {
    /// Starts `dbus-daemon --session` and unlocks a fresh keyring on it.
    pub fn start() -> Result<Bus> {
        use std::io::BufRead;
        let home = TempHome::create()?;
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .env("HOME", &home.path)
            .env(MARKER_VAR, &home.path)
            .stdout(process::Stdio::piped())
            .spawn()
            .context("cannot start dbus-daemon")?;
        let mut address = String::new();
        let stdout = daemon.stdout.take().context("dbus-daemon stdout")?;
        std::io::BufReader::new(stdout).read_line(&mut address)?;
        let address = address.trim().to_owned();
        anyhow::ensure!(!address.is_empty(), "dbus-daemon printed no address");
        let mut keyring = Command::new("sh");
        keyring
            .args(["-c", UNLOCK_KEYRING])
            .env("HOME", &home.path)
            .env("XDG_RUNTIME_DIR", home.path.join("run"))
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env(MARKER_VAR, &home.path)
            .stdout(process::Stdio::null());
        for var in CLEARED_VARS
            .iter()
            .filter(|v| **v != "DBUS_SESSION_BUS_ADDRESS")
        {
            keyring.env_remove(var);
        }
        let bus = Bus {
            address,
            daemon,
            home,
        };
        anyhow::ensure!(
            keyring.status()?.success(),
            "gnome-keyring-daemon could not unlock a keyring"
        );
        Ok(bus)
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        stop_leftovers(&self.home.path);
    }
}

/// A private temporary HOME laid out the way gnome-keyring expects, removed on drop.
struct TempHome {
    path: PathBuf,
}

impl TempHome {
    fn create() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = env::temp_dir().join(format!("bedside-xtask-home-{}-{nanos}", process::id()));
        DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        let home = Self { path };
        // Without .cache, gnome-keyring waits 120 s on D-Bus activation.
        for dir in [".cache", ".local/share/keyrings", "run"] {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(home.path.join(dir))
                .with_context(|| format!("creating {dir} in the throwaway HOME"))?;
        }
        Ok(home)
    }
}

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Stops the session's processes that are still alive (typically gnome-keyring-daemon,
/// which daemonises and outlives the bus). Exited ones stay as zombies: PID 1 here does not
/// reap orphans, and nothing but their parent can.
fn stop_leftovers(session: &Path) {
    let mut pids = marked_live_processes(session);
    for &pid in &pids {
        step(format!("stopping leftover {} (pid {pid})", comm(pid)));
    }
    for signal in ["-TERM", "-KILL"] {
        if pids.is_empty() {
            return;
        }
        let _ = Command::new("kill")
            .arg(signal)
            .args(pids.iter().map(u32::to_string))
            .status();
        for _ in 0..20 {
            thread::sleep(Duration::from_millis(100));
            pids.retain(|&pid| is_alive(pid));
            if pids.is_empty() {
                return;
            }
        }
    }
}

/// Live processes (other than us) whose environment carries this session's marker.
fn marked_live_processes(session: &Path) -> Vec<u32> {
    let mut needle = format!("{MARKER_VAR}=").into_bytes();
    needle.extend_from_slice(session.as_os_str().as_encoded_bytes());
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != process::id())
        .filter(|&pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle))
        })
        .filter(|&pid| is_alive(pid))
        .collect()
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_or_else(|_| "process".into(), |s| s.trim().to_owned())
}

/// Whether `pid` exists and is not a zombie.
fn is_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| state(&stat) != Some('Z'))
}

/// The state letter from `/proc/PID/stat` (`1234 (comm) S ...`; comm may hold spaces or `)`).
fn state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_state_from_stat() {
        assert_eq!(state("12474 (gnome-keyring-d) Z 1 12473"), Some('Z'));
        assert_eq!(state("42 (odd) name)) S 1 42"), Some('S'));
        assert_eq!(state("garbage"), None);
    }

    #[test]
    fn we_are_alive_and_not_marked() {
        assert!(is_alive(process::id()));
        assert!(marked_live_processes(Path::new("/nonexistent/session")).is_empty());
    }
}
