//! `cargo xtask bundle`: the release .deb with the Tauri bundler, checked by lintian, and the
//! relay's release binary with its systemd unit and example configuration; `--install-test`
//! then installs the .deb with dpkg, starts the installed app under Xvfb with a managed policy
//! applied, and removes it again.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::setup::{self, Purpose};
use crate::util::{Exit, Workspace, check, is_root, on_path, output, step};

/// Options for `cargo xtask bundle`.
pub struct Options {
    /// The release target directory (`--target-dir`, else `$CARGO_TARGET_DIR`, else `target`).
    pub target_dir: Option<PathBuf>,
    /// Install, start and remove the .deb afterwards (root only).
    pub install_test: bool,
    /// Skip the build; check and test the newest .deb already built.
    pub no_build: bool,
}

/// The Debian package name the Tauri bundler derives from `productName`.
const PACKAGE: &str = "bedside";
/// The installed binary (`mainBinaryName`).
const INSTALLED_BIN: &str = "/usr/bin/bedside-desktop";

/// Runs `cargo xtask bundle`.
pub fn bundle(ws: &Workspace, opts: &Options) -> Result<ExitCode> {
    let target = opts
        .target_dir
        .clone()
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| ws.root.join("target"));
    need_tool("lintian", "lintian")?;
    if !opts.no_build {
        build_deb(ws, &target)?;
        step("cargo build --release -p bedside-relay");
        check(
            ws.cargo(&["build", "--release", "-p", "bedside-relay"])
                .env("CARGO_TARGET_DIR", &target),
        )?;
    }
    let deb = newest_deb(&target.join("release/bundle/deb"))?;
    step(format!("lintian {}", deb.display()));
    let lint = Command::new("lintian")
        .args(["--fail-on", "error", "--no-tag-display-limit"])
        .arg(&deb)
        .status()
        .context("cannot run lintian")?;
    if !lint.success() {
        eprintln!("xtask: lintian reports errors on {}", deb.display());
        return Err(Exit(1).into());
    }
    step("lintian: no errors");
    let relay = stage_relay(ws, &target)?;
    step(format!("relay: {}", relay.display()));
    if opts.install_test {
        install_test(&deb)?;
    }
    println!("{}", deb.display());
    Ok(ExitCode::SUCCESS)
}

/// Builds the release app (`tauri build`), strips it and bundles the .deb into
/// `<target>/release/bundle/deb`; returns the .deb.
pub(crate) fn build_deb(ws: &Workspace, target: &Path) -> Result<PathBuf> {
    setup::setup(ws, Purpose::Run)?;
    step(format!(
        "tauri build, strip, tauri bundle --bundles deb (release, CARGO_TARGET_DIR={})",
        target.display()
    ));
    let tauri = ws.ui().join("node_modules/.bin/tauri");
    anyhow::ensure!(
        tauri.is_file(),
        "{} is missing: run `npm ci` in ui/ (@tauri-apps/cli is a devDependency)",
        tauri.display()
    );
    // Debian wants a gzipped changelog; -n keeps the file reproducible.
    let changelog = ws.root.join("packaging/deb/changelog");
    let gz = Command::new("gzip")
        .args(["-9nc"])
        .arg(&changelog)
        .output()?;
    anyhow::ensure!(gz.status.success(), "gzip {} failed", changelog.display());
    std::fs::write(ws.root.join("packaging/deb/changelog.gz"), gz.stdout)?;
    // Build, strip (lintian: unstripped-binary-or-object), then bundle. Stripping here
    // rather than with a release-profile setting keeps the shared build cache intact.
    let tauri_in_shell = |args: &[&str]| {
        let mut cmd = Command::new(&tauri);
        cmd.args(args)
            .current_dir(ws.root.join("src-tauri"))
            .env("CARGO_TARGET_DIR", target);
        cmd
    };
    check(&mut tauri_in_shell(&["build", "--no-bundle"]))?;
    check(
        Command::new("strip")
            .args([
                "--strip-unneeded",
                "--remove-section=.comment",
                "--remove-section=.note",
            ])
            .arg(target.join("release/bedside-desktop")),
    )?;
    check(&mut tauri_in_shell(&["bundle", "--bundles", "deb"]))?;
    newest_deb(&target.join("release/bundle/deb"))
}

fn need_tool(bin: &str, package: &str) -> Result<()> {
    if on_path(bin) {
        return Ok(());
    }
    if is_root() {
        step(format!("apt-get install -y {package}"));
        return check(Command::new("apt-get").args([
            "install",
            "-y",
            "--no-install-recommends",
            package,
        ]));
    }
    eprintln!("xtask: {bin} is missing; run: sudo apt-get install {package}");
    Err(Exit(2).into())
}

pub(crate) fn newest_deb(dir: &Path) -> Result<PathBuf> {
    let mut debs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("no bundles in {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    debs.sort();
    debs.pop()
        .map(|(_, p)| p)
        .with_context(|| format!("no .deb in {}", dir.display()))
}

/// The relay as a documented binary: `release/bundle/relay/` with the unit and the example.
fn stage_relay(ws: &Workspace, target: &Path) -> Result<PathBuf> {
    let out = target.join("release/bundle/relay");
    std::fs::create_dir_all(&out)?;
    let bin = target.join("release/bedside-relay");
    anyhow::ensure!(bin.is_file(), "{} was not built", bin.display());
    std::fs::copy(&bin, out.join("bedside-relay"))?;
    let deploy = ws.root.join("crates/bedside-relay/deploy");
    for name in ["bedside-relay.service", "relay.toml.example"] {
        std::fs::copy(deploy.join(name), out.join(name))?;
    }
    if on_path("systemd-analyze") {
        // Verifies the unit against this system's systemd, with the staged binary in place.
        let unit = std::fs::read_to_string(out.join("bedside-relay.service"))?.replace(
            "/usr/bin/bedside-relay",
            &out.join("bedside-relay").display().to_string(),
        );
        let check_dir = out.join("verify");
        std::fs::create_dir_all(&check_dir)?;
        std::fs::write(check_dir.join("bedside-relay.service"), unit)?;
        let verified = Command::new("systemd-analyze")
            .arg("verify")
            .arg(check_dir.join("bedside-relay.service"))
            .output()?;
        let text = String::from_utf8_lossy(&verified.stderr);
        anyhow::ensure!(
            verified.status.success() && text.trim().is_empty(),
            "systemd-analyze verify rejects the relay unit: {text}"
        );
        std::fs::remove_dir_all(&check_dir)?;
        step("systemd-analyze verify: the relay unit is valid");
    }
    Ok(out)
}

/// The managed policy the installed app must apply.
const TEST_POLICY: &str = "/etc/bedside/policies/managed/90-xtask-install-test.json";

/// Installs the .deb, starts the installed app under Xvfb with a managed policy in
/// `/etc/bedside/policies/managed`, checks it applied the policy, and removes the package
/// (user data stays; only `dpkg --purge` removes the package's own configuration).
fn install_test(deb: &Path) -> Result<()> {
    if !is_root() {
        eprintln!("xtask: --install-test installs a package: run it as root");
        return Err(Exit(2).into());
    }
    for tool in ["dpkg", "Xvfb", "pgrep"] {
        anyhow::ensure!(on_path(tool), "{tool} is missing");
    }
    let home = tempdir("bedside-install-home")?;
    std::fs::create_dir_all(home.join(".cache"))?;
    let data = home.join(".local/share/bedside");
    let result = (|| -> Result<()> {
        step(format!("dpkg -i {}", deb.display()));
        check(Command::new("dpkg").arg("-i").arg(deb))?;
        anyhow::ensure!(
            Path::new(INSTALLED_BIN).is_file(),
            "{INSTALLED_BIN} not installed"
        );
        let status = output(Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]))?;
        anyhow::ensure!(status == "install ok installed", "dpkg says: {status}");

        std::fs::create_dir_all(Path::new(TEST_POLICY).parent().context("policy dir")?)?;
        std::fs::write(
            TEST_POLICY,
            r#"{ "IdleLockMinutes": 7, "InviteMaxDevices": 2 }"#,
        )?;
        step("starting the installed app under Xvfb with a managed policy");
        let log = home.join("app.log");
        let (mut xvfb, display) = start_xvfb()?;
        // Its own process group, so the app and every WebKit helper it starts stop together.
        // No session bus: nothing D-Bus-activated (portals, at-spi) can outlive the test.
        let app = Command::new(INSTALLED_BIN)
            .env("HOME", &home)
            .env("DISPLAY", &display)
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", home.join("no-bus").display()),
            )
            .env_remove("BEDSIDE_DATA_DIR")
            .env_remove("BEDSIDE_POLICY_DIR")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_RUNTIME_DIR")
            .env("NO_AT_BRIDGE", "1")
            .env("GTK_A11Y", "none")
            .env("BEDSIDE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .process_group(0)
            .spawn();
        let mut app = match app {
            Ok(app) => app,
            Err(e) => {
                stop_group(&mut xvfb);
                bail!("cannot start the installed app: {e}");
            }
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let (seen, text) = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let applied = text.lines().any(|l| {
                l.contains("policy in force")
                    && l.contains("IdleLockMinutes")
                    && l.contains("InviteMaxDevices")
            });
            if applied && text.contains("embedded relay listening") {
                break (true, text);
            }
            if Instant::now() > deadline || matches!(app.try_wait(), Ok(Some(_))) {
                break (false, text);
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let app_group_left = stop_group(&mut app);
        stop_group(&mut xvfb);
        anyhow::ensure!(
            app_group_left.is_empty(),
            "processes of the app outlived it: {app_group_left:?}"
        );
        anyhow::ensure!(
            seen,
            "the installed app did not report the managed policy and a running relay:\n{text}"
        );
        step("the installed app started and applied /etc/bedside/policies/managed");
        anyhow::ensure!(
            data.is_dir(),
            "the app made no data directory in {}",
            data.display()
        );
        std::fs::write(data.join("kept-by-dpkg-remove"), "user data")?;

        step(format!("dpkg -r {PACKAGE}"));
        check(Command::new("dpkg").args(["-r", PACKAGE]))?;
        anyhow::ensure!(
            !Path::new(INSTALLED_BIN).exists(),
            "{INSTALLED_BIN} left behind"
        );
        anyhow::ensure!(
            data.join("kept-by-dpkg-remove").is_file(),
            "removing the package touched user data"
        );
        step(format!("dpkg -P {PACKAGE}"));
        check(Command::new("dpkg").args(["-P", PACKAGE]))?;
        let left = Command::new("dpkg-query").args(["-W", PACKAGE]).output()?;
        anyhow::ensure!(
            !left.status.success(),
            "dpkg still knows {PACKAGE} after purge"
        );
        for dir in ["/usr/share/bedside", "/usr/share/doc/bedside"] {
            anyhow::ensure!(!Path::new(dir).exists(), "{dir} left behind after purge");
        }
        step("removed cleanly; user data kept");
        Ok(())
    })();
    let _ = std::fs::remove_file(TEST_POLICY);
    if result.is_err() && Path::new(INSTALLED_BIN).exists() {
        let _ = Command::new("dpkg").args(["-P", PACKAGE]).status();
    }
    let _ = std::fs::remove_dir_all(&home);
    result.or_else(|e| bail!("install test failed: {e:#}"))
}

/// A free X display served by a fresh Xvfb (its own process group).
pub(crate) fn start_xvfb() -> Result<(std::process::Child, String)> {
    let n = (100..200)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .context("no free X display number")?;
    let display = format!(":{n}");
    let mut xvfb = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("cannot start Xvfb")?;
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        if Instant::now() > deadline || matches!(xvfb.try_wait(), Ok(Some(_))) {
            stop_group(&mut xvfb);
            bail!("Xvfb did not start on {display}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((xvfb, display))
}

/// Stops the process group led by `child` (SIGTERM, then SIGKILL) and returns the ids of any
/// of its processes still alive afterwards.
pub(crate) fn stop_group(child: &mut std::process::Child) -> Vec<String> {
    let group = format!("-{}", child.id());
    let quiet_kill = |signal: &str| {
        let _ = Command::new("kill")
            .args([signal, "--", &group])
            .stderr(Stdio::null())
            .status();
    };
    quiet_kill("-TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !matches!(child.try_wait(), Ok(Some(_))) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Helpers (WebKit's web and network processes) get a moment to notice and go.
    let alive = |pgid: u32| -> Vec<String> {
        Command::new("pgrep")
            .args(["-g", &pgid.to_string()])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !alive(child.id()).is_empty() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = alive(child.id());
    quiet_kill("-KILL");
    let _ = child.kill();
    let _ = child.wait();
    left
}

pub(crate) fn tempdir(prefix: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
