//! `cargo xtask bench app`: the release desktop app against a blank Tauri 2 window built in the
//! same command (`xtask/blank-app`, same Tauri/wry/WebKitGTK versions, same release profile).
//!
//! - Cold start: from spawning the process to its first screen painted (Bedside: the sign-in
//!   screen, with one profile on disk; blank: its page). Both pages report the paint after two
//!   animation frames through one IPC call and the shell logs `first screen painted`; the bench
//!   times spawn → that line. Warm file cache, fresh data directory and a fresh Xvfb per run.
//! - Idle memory: the proportional set size (Pss, so shared libraries are not counted twice) of
//!   every process in the app's process group — the app, WebKitWebProcess,
//!   WebKitNetworkProcess — summed, after the painted app has idled for a few seconds.
//! - The release .deb's size (from `cargo xtask bundle`, which this runs first).
//!
//! Runs alternate between the two apps so load drifts hit both; medians are reported.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::util::{Workspace, check, step};
use crate::{bundle, keychain};

/// Cold start may take at most this multiple of the blank window's.
const START_LIMIT: f64 = 1.3;
/// Idle memory may take at most this multiple of the blank window's.
const MEMORY_LIMIT: f64 = 1.15;
/// The .deb may be at most this large.
const DEB_LIMIT_BYTES: u64 = 15 * 1024 * 1024;
/// How long a painted app idles before its memory is read.
const SETTLE: Duration = Duration::from_secs(4);

/// What one run of one app measured.
struct Run {
    start: Duration,
    pss_kib: u64,
    processes: usize,
    /// Pss (KiB) by process name (`/proc/PID/comm`), to see which process carries a difference.
    by_process: Vec<(String, u64)>,
}

/// Runs the benchmark: `-- --runs N` (default 7), `--no-build` (reuse the release builds).
pub fn run(ws: &Workspace, extra: &[String]) -> Result<ExitCode> {
    let mut runs = 7usize;
    let mut build = true;
    let mut args = extra.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .context("--runs needs a positive number")?;
            }
            "--no-build" => build = false,
            other => bail!("unknown argument `{other}` (known: --runs N, --no-build)"),
        }
    }
    let target = ws.target_dir();
    let deb = if build {
        bundle::build_deb(ws, &target)?
    } else {
        bundle::newest_deb(&target.join("release/bundle/deb"))?
    };
    let blank_dir = ws.root.join("xtask/blank-app");
    if build {
        step("cargo build --release (xtask/blank-app, with the workspace's Cargo.lock)");
        std::fs::copy(ws.root.join("Cargo.lock"), blank_dir.join("Cargo.lock"))?;
        check(
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args(["build", "--release", "--manifest-path"])
                .arg(blank_dir.join("Cargo.toml"))
                .env("CARGO_TARGET_DIR", &target),
        )?;
        check(
            Command::new("strip")
                .args([
                    "--strip-unneeded",
                    "--remove-section=.comment",
                    "--remove-section=.note",
                ])
                .arg(target.join("release/bedside-blank-app")),
        )?;
    }
    let bedside = target.join("release/bedside-desktop");
    let blank = target.join("release/bedside-blank-app");
    for bin in [&bedside, &blank] {
        anyhow::ensure!(bin.is_file(), "{} is not built", bin.display());
    }

    // One session bus with an unlocked keyring for every run of both apps: Bedside opens its
    // core (the keychain) before it shows the sign-in screen.
    let bus = keychain::Bus::start()?;
    step(format!(
        "{runs} cold starts of each, alternating, under Xvfb"
    ));
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for i in 0..runs {
        ours.push(
            measure(&bedside, true, &bus.address)
                .with_context(|| format!("Bedside, run {}", i + 1))?,
        );
        base.push(
            measure(&blank, false, &bus.address)
                .with_context(|| format!("blank, run {}", i + 1))?,
        );
    }
    drop(bus);
    let median = |v: &[Run], f: fn(&Run) -> f64| {
        let mut x: Vec<f64> = v.iter().map(f).collect();
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    let start = |r: &Run| r.start.as_secs_f64() * 1000.0;
    let mem = |r: &Run| r.pss_kib as f64 / 1024.0;
    let (s_ours, s_base) = (median(&ours, start), median(&base, start));
    let (m_ours, m_base) = (median(&ours, mem), median(&base, mem));
    let deb_size = std::fs::metadata(&deb)?.len();
    let start_ratio = s_ours / s_base;
    let mem_ratio = m_ours / m_base;
    let ok = |pass: bool| if pass { "ok" } else { "OVER" };
    println!();
    println!("| figure (median of {runs}) | Bedside | blank Tauri 2 | ratio | limit |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| cold start → first screen painted | {s_ours:.0} ms | {s_base:.0} ms | {start_ratio:.2} | ≤ {START_LIMIT} {} |",
        ok(start_ratio <= START_LIMIT)
    );
    println!(
        "| idle memory, Pss of all processes | {m_ours:.1} MiB | {m_base:.1} MiB | {mem_ratio:.2} | ≤ {MEMORY_LIMIT} {} |",
        ok(mem_ratio <= MEMORY_LIMIT)
    );
    println!(
        "| processes counted | {} | {} | | |",
        ours[0].processes, base[0].processes
    );
    println!(
        "| release .deb | {:.2} MiB | | | ≤ 15 MiB {} |",
        deb_size as f64 / 1_048_576.0,
        ok(deb_size <= DEB_LIMIT_BYTES)
    );
    println!(
        "\nper run (ms): Bedside {:?}; blank {:?}",
        ours.iter().map(|r| r.start.as_millis()).collect::<Vec<_>>(),
        base.iter().map(|r| r.start.as_millis()).collect::<Vec<_>>()
    );
    println!(
        "per run (Pss MiB): Bedside {:?}; blank {:?}",
        ours.iter().map(|r| mib(r.pss_kib)).collect::<Vec<_>>(),
        base.iter().map(|r| mib(r.pss_kib)).collect::<Vec<_>>()
    );
    println!(
        "Pss by process (MiB, median): Bedside {}; blank {}",
        by_process(&ours),
        by_process(&base)
    );
    let pass =
        start_ratio <= START_LIMIT && mem_ratio <= MEMORY_LIMIT && deb_size <= DEB_LIMIT_BYTES;
    Ok(if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// KiB as MiB with one decimal, for printing.
fn mib(kib: u64) -> f64 {
    (kib as f64 / 102.4).round() / 10.0
}

/// The median Pss of each process name over the runs, e.g. `WebKitWebProcess 150.2`.
fn by_process(runs: &[Run]) -> String {
    let mut names: Vec<&str> = runs
        .iter()
        .flat_map(|r| r.by_process.iter().map(|(n, _)| n.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .iter()
        .map(|name| {
            let mut v: Vec<u64> = runs
                .iter()
                .map(|r| {
                    r.by_process
                        .iter()
                        .filter(|(n, _)| n == name)
                        .map(|(_, k)| k)
                        .sum()
                })
                .collect();
            v.sort_unstable();
            format!("{name} {}", mib(v[v.len() / 2]))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Starts `bin` in a fresh Xvfb and data directory, times it to `first screen painted`, lets it
/// idle, sums its process group's Pss, and stops it. `profile`: put one profile on disk first,
/// so Bedside opens on its sign-in screen (as it does every day) rather than first run.
fn measure(bin: &Path, profile: bool, bus: &str) -> Result<Run> {
    let home = bundle::tempdir("bedside-bench-app")?;
    let data = home.join("data");
    if profile {
        let dir = data.join("profiles/bench0000000000000000");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("profile.json"),
            r#"{"id":"bench0000000000000000","username":"bench","display_name":"Dr Bench","totp_enabled":true}"#,
        )?;
    }
    let (mut xvfb, display) = bundle::start_xvfb()?;
    let result = (|| -> Result<Run> {
        let t0 = Instant::now();
        let mut app = Command::new(bin)
            .env("HOME", &home)
            .env("DISPLAY", &display)
            .env("BEDSIDE_DATA_DIR", &data)
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("XDG_DATA_HOME")
            .env("NO_AT_BRIDGE", "1")
            .env("GTK_A11Y", "none")
            .env("BEDSIDE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stderr = app.stderr.take().context("stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("first screen painted") {
                    let _ = tx.send(Instant::now());
                }
            }
        });
        let painted = rx.recv_timeout(Duration::from_secs(60));
        let outcome = match painted {
            Ok(at) => {
                std::thread::sleep(SETTLE);
                let by_process = group_pss_kib(app.id())?;
                Ok(Run {
                    start: at - t0,
                    pss_kib: by_process.iter().map(|(_, k)| k).sum(),
                    processes: by_process.len(),
                    by_process,
                })
            }
            Err(_) => Err(anyhow::anyhow!(
                "{} did not report its first screen painted within 60 s",
                bin.display()
            )),
        };
        bundle::stop_group(&mut app);
        outcome
    })();
    bundle::stop_group(&mut xvfb);
    let _ = std::fs::remove_dir_all(&home);
    result
}

/// The Pss (KiB) of every process whose process group is `pgid`, with its name.
fn group_pss_kib(pgid: u32) -> Result<Vec<(String, u64)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state ppid pgrp …
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if rest
            .split_whitespace()
            .nth(2)
            .and_then(|g| g.parse::<u32>().ok())
            != Some(pgid)
        {
            continue;
        }
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        if let Some(kib) = rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
        {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|n| n.trim().to_owned())
                .unwrap_or_else(|_| format!("pid {pid}"));
            found.push((name, kib));
        }
    }
    anyhow::ensure!(!found.is_empty(), "no processes in group {pgid}");
    Ok(found)
}
