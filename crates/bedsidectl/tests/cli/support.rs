//! The harness: runs the real `bedsidectl` binary against a throwaway data
//! directory and the real OS keychain, and hands out TOTP codes the way an
//! authenticator app would.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bedside_vault::totp::{Algorithm, hotp};
use bedside_vault::{SecretStore, SystemKeychain};
use serde_json::Value;

/// A password that satisfies the default policy (12 characters or more).
pub const PASSWORD: &str = "correct horse battery staple";

/// Variables that would point a run at someone else's data or session.
const SCRUBBED_ENV: &[&str] = &[
    "BEDSIDE_SESSION",
    "BEDSIDE_DATA_DIR",
    "BEDSIDE_PROFILE",
    "BEDSIDE_TZ",
    "BEDSIDE_LOG",
    "BEDSIDE_POLICY_DIR",
];

/// How long one command may take before the test gives up on it (a keyring
/// prompt or a lock wait would otherwise hang the suite).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// These tests need a real, unlocked Secret Service: `cargo xtask test`
/// provides one and sets `BEDSIDE_TEST_KEYCHAIN=1`. Elsewhere each test
/// prints one line and passes without running.
pub fn keychain_available(test: &str) -> bool {
    if std::env::var_os("BEDSIDE_TEST_KEYCHAIN").is_some() {
        return true;
    }
    eprintln!(
        "note: {test} skipped: BEDSIDE_TEST_KEYCHAIN unset (run `cargo xtask test` for the real keychain)"
    );
    false
}

/// One data directory (a "computer"), removed with its keychain items on drop.
pub struct Clinic {
    dir: tempfile::TempDir,
}

impl Clinic {
    /// A fresh data directory, or `None` (after a note) without a test keychain.
    pub fn new(test: &str) -> Option<Self> {
        if !keychain_available(test) {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("bedsidectl-test-")
            .tempdir()
            .expect("create a temporary data directory");
        Some(Self { dir })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command on this data directory without `--profile`.
    pub fn cmd(&self) -> Cmd {
        Cmd::new().arg("--data-dir").arg(self.path())
    }

    /// `init` a profile (no escrow, no QR file).
    pub fn init(&self, username: &str) -> Profile<'_> {
        self.init_with(username, &[])
    }

    /// `init` a profile with extra `init` arguments.
    pub fn init_with(&self, username: &str, extra: &[&str]) -> Profile<'_> {
        let out = self
            .cmd()
            .json()
            .args(["init", "--username", username, "--display-name"])
            .arg(format!("Dr {username}"))
            .arg("--password-stdin")
            .args(extra)
            .stdin(format!("{PASSWORD}\n"))
            .ok();
        let v = out.json();
        let secret = v["secret"].as_str().expect("init --json prints the secret");
        let id = self.profile_id(username);
        Profile {
            clinic: self,
            username: username.to_owned(),
            id,
            password: PASSWORD.to_owned(),
            totp: TotpGen::from_base32(secret),
            init: v,
        }
    }

    /// The random id of a profile, from `profiles --json`.
    pub fn profile_id(&self, username: &str) -> String {
        let list = self.cmd().json().arg("profiles").ok().json();
        list.as_array()
            .expect("profiles --json is an array")
            .iter()
            .find(|p| p["username"] == username)
            .and_then(|p| p["id"].as_str())
            .unwrap_or_else(|| panic!("profile {username} listed in {list}"))
            .to_owned()
    }

    /// Every file under the data directory (recursively), sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let entries = std::fs::read_dir(dir).expect("read a data directory");
            for e in entries {
                let path = e.expect("directory entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = vec![];
        walk(self.path(), &mut out);
        out.sort();
        out
    }
}

impl Drop for Clinic {
    /// Leaves no keychain items behind (the profiles' directories go with the temp dir).
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.path().join("profiles")) else {
            return;
        };
        let Ok(keychain) = SystemKeychain::new() else {
            return;
        };
        for e in entries.flatten() {
            if let Some(id) = e.file_name().to_str() {
                let _ = keychain.delete(&format!("profile/{id}/kek-secret"));
            }
        }
    }
}

/// A profile in a [`Clinic`], with its password and authenticator.
pub struct Profile<'c> {
    /// Where it lives.
    pub clinic: &'c Clinic,
    /// Sign-in name.
    pub username: String,
    /// The random directory id.
    pub id: String,
    /// The current password.
    pub password: String,
    /// The authenticator.
    pub totp: TotpGen,
    /// What `init --json` printed.
    pub init: Value,
}

impl Profile<'_> {
    /// A command with `--profile` set to this profile.
    pub fn cmd(&self) -> Cmd {
        self.clinic.cmd().arg("--profile").arg(&self.username)
    }

    /// The profile's directory.
    pub fn dir(&self) -> PathBuf {
        self.clinic.path().join("profiles").join(&self.id)
    }

    /// The keychain item name.
    pub fn keychain_item(&self) -> String {
        format!("profile/{}/kek-secret", self.id)
    }

    /// The password on a line, for `--password-stdin`.
    pub fn password_line(&self) -> String {
        format!("{}\n", self.password)
    }

    /// `totp confirm` with a fresh code.
    pub fn confirm(&mut self) {
        let code = self.totp.next();
        let out = self
            .cmd()
            .json()
            .args(["totp", "confirm", "--password-stdin", "--code", &code])
            .stdin(self.password_line())
            .ok();
        assert_eq!(out.json()["totp_enabled"], true, "{out}");
    }

    /// `signin` with the password and a fresh code; returns the session token.
    pub fn signin(&mut self) -> String {
        let code = self.totp.next();
        let out = self
            .cmd()
            .args(["signin", "--password-stdin", "--totp", &code])
            .stdin(self.password_line())
            .ok();
        let token = out.stdout.trim().to_owned();
        assert!(token.starts_with("bds1."), "signin prints a token: {out}");
        token
    }

    /// `init` done; `totp confirm` and `signin`: the usual start of a test.
    pub fn ready(&mut self) -> String {
        self.confirm();
        self.signin()
    }

    /// A command with this profile and a session.
    pub fn with(&self, session: &str) -> Cmd {
        self.cmd().session(session)
    }
}

/// A command line being built.
pub struct Cmd {
    cmd: Command,
    args: Vec<String>,
    stdin: Vec<u8>,
}

impl Cmd {
    /// `bedsidectl` with the caller's BEDSIDE_* variables removed.
    pub fn new() -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bedsidectl"));
        for v in SCRUBBED_ENV {
            cmd.env_remove(v);
        }
        // If anything panics, make it loud: the tests assert no panic text.
        cmd.env("RUST_BACKTRACE", "1");
        Self {
            cmd,
            args: vec![],
            stdin: vec![],
        }
    }

    /// One argument.
    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.args.push(a.as_ref().to_string_lossy().into_owned());
        self.cmd.arg(a);
        self
    }

    /// Several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// `--json`.
    pub fn json(self) -> Self {
        self.arg("--json")
    }

    /// Sets an environment variable.
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    /// Sets BEDSIDE_SESSION.
    pub fn session(self, token: &str) -> Self {
        self.env("BEDSIDE_SESSION", token)
    }

    /// Standard input.
    pub fn stdin(mut self, s: impl Into<Vec<u8>>) -> Self {
        self.stdin = s.into();
        self
    }

    /// Runs to completion and checks the things every run must satisfy:
    /// no panic, no backtrace, an exit code of the contract.
    pub fn run(mut self) -> Out {
        let label = self.label();
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bedsidectl");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            // The command may exit without reading (that is its right).
            let _ = stdin.write_all(&input);
        });
        let mut out_pipe = child.stdout.take().expect("piped stdout");
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let out_reader = std::thread::spawn(move || {
            let mut v = vec![];
            let _ = out_pipe.read_to_end(&mut v);
            v
        });
        let err_reader = std::thread::spawn(move || {
            let mut v = vec![];
            let _ = err_pipe.read_to_end(&mut v);
            v
        });
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for bedsidectl") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{label}` did not finish within {COMMAND_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let _ = writer.join();
        let stdout = out_reader.join().expect("stdout reader");
        let stderr = err_reader.join().expect("stderr reader");
        let out = Out {
            label,
            code: status.code(),
            stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
        };
        assert!(
            matches!(out.code, Some(0..=2)),
            "exit code outside the contract: {out}"
        );
        for bad in ["panicked", "stack backtrace", "RUST_BACKTRACE"] {
            assert!(!out.stderr.contains(bad), "{bad:?} in stderr: {out}");
        }
        out
    }

    /// Runs and expects success.
    pub fn ok(self) -> Out {
        let out = self.run();
        assert_eq!(out.code, Some(0), "expected success: {out}");
        out
    }

    /// Runs and expects the user's-error exit code (1) with a message.
    pub fn user_error(self) -> Out {
        self.fails(1)
    }

    /// Runs and expects the environment's exit code (2) with a message.
    pub fn env_error(self) -> Out {
        self.fails(2)
    }

    /// Runs and expects `code`, a one-line message on stderr, nothing on stdout.
    pub fn fails(self, code: i32) -> Out {
        let json = self.args.iter().any(|a| a == "--json");
        let out = self.run();
        assert_eq!(out.code, Some(code), "expected exit {code}: {out}");
        assert!(
            !out.stderr.trim().is_empty(),
            "an error needs a message: {out}"
        );
        if json {
            let e = out.error();
            assert!(e["code"].is_string() && e["message"].is_string(), "{out}");
        } else {
            assert!(
                out.last_line().starts_with("bedsidectl: "),
                "plain error line: {out}"
            );
        }
        out
    }

    fn label(&self) -> String {
        let mut s = String::from("bedsidectl");
        for a in &self.args {
            s.push(' ');
            if a.chars().count() > 60 {
                s.extend(a.chars().take(60));
                s.push('…');
            } else {
                s.push_str(a);
            }
        }
        s
    }
}

/// What a run produced.
pub struct Out {
    label: String,
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Out {
    /// Standard output as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }

    /// The last line of standard error: the error message (log lines,
    /// warnings and up by default, may come before it).
    pub fn last_line(&self) -> &str {
        self.stderr.trim_end().lines().last().unwrap_or_default()
    }

    /// The `{"error":{...}}` object on the last line of standard error
    /// (`--json` runs).
    pub fn error(&self) -> Value {
        let v: Value = serde_json::from_str(self.last_line())
            .unwrap_or_else(|e| panic!("stderr is not one JSON object ({e}): {self}"));
        v.get("error")
            .cloned()
            .unwrap_or_else(|| panic!("no \"error\" key: {self}"))
    }

    /// The `id` printed by an `add` command with `--json`.
    pub fn id(&self) -> i64 {
        self.json()["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no numeric id: {self}"))
    }

    /// Asserts that stderr contains every fragment.
    pub fn says(&self, fragments: &[&str]) -> &Self {
        for f in fragments {
            assert!(self.stderr.contains(f), "stderr lacks {f:?}: {self}");
        }
        self
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clip = |s: &str| -> String {
            if s.chars().count() > 2000 {
                let mut t: String = s.chars().take(2000).collect();
                t.push_str("…[clipped]");
                t
            } else {
                s.to_owned()
            }
        };
        write!(
            f,
            "`{}` exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.label,
            self.code,
            clip(&self.stdout),
            clip(&self.stderr)
        )
    }
}

/// An authenticator app: RFC 6238 codes (SHA-1, 30 s, 6 digits) for
/// strictly increasing steps, since each code is accepted once.
pub struct TotpGen {
    secret: Vec<u8>,
    last: Option<u64>,
}

/// A code handed out must still be inside the ±1 step window when the CLI
/// checks it, after process start and an Argon2id derivation.
const MARGIN_SECS: f64 = 5.0;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

impl TotpGen {
    /// From the base32 secret printed by `init --json`.
    pub fn from_base32(secret: &str) -> Self {
        let secret = data_encoding::BASE32_NOPAD
            .decode(secret.as_bytes())
            .expect("the TOTP secret is base32");
        assert_eq!(secret.len(), 20, "a 160-bit TOTP secret");
        Self { secret, last: None }
    }

    /// The raw secret (for the plaintext scan).
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    fn code(&self, step: u64) -> String {
        hotp(&self.secret, step, 6, Algorithm::Sha1)
    }

    /// The lowest step usable now, and the highest the CLI accepts now.
    fn window(&self) -> (u64, u64) {
        let now = unix_now();
        let now_step = (now / 30.0) as u64;
        let safe_step = ((now + MARGIN_SECS) / 30.0) as u64;
        let lo = safe_step
            .saturating_sub(1)
            .max(self.last.map_or(0, |l| l + 1));
        (lo, now_step + 1)
    }

    /// A fresh code, never reused: the step after the last one handed out,
    /// or the oldest still accepted. Waits for the next step when the
    /// window is used up.
    pub fn next(&mut self) -> String {
        loop {
            let (lo, hi) = self.window();
            if lo <= hi {
                self.last = Some(lo);
                return self.code(lo);
            }
            let now = unix_now();
            let wait = 30.0 - now % 30.0 + 0.05;
            std::thread::sleep(Duration::from_secs_f64(wait));
        }
    }

    /// A currently valid code without using it up: for attempts that must
    /// fail before the code is checked (wrong password, missing key...).
    pub fn peek(&self) -> String {
        let (lo, hi) = self.window();
        self.code(lo.min(hi))
    }

    /// A well-formed code that matches no step near now.
    pub fn wrong(&self) -> String {
        let now_step = (unix_now() / 30.0) as u64;
        let near: Vec<String> = (now_step.saturating_sub(3)..=now_step + 3)
            .map(|s| self.code(s))
            .collect();
        (0..1_000_000u32)
            .map(|n| format!("{:06}", (n * 7919 + 123_457) % 1_000_000))
            .find(|c| !near.contains(c))
            .expect("some 6-digit code is wrong")
    }
}
