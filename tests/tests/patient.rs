//! What every patient-browser test shares, whichever engine drives the join page (Chromium
//! in `browser.rs`, Firefox in `firefox.rs`, WebKit in `webkit.rs`): a real relay serving the
//! built page, invite links, the real headless host, the browser slot, the Node driver
//! scripts' runner and their `{"step": …}` lines, and the checks every engine must pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bedside_host::HostEvent;
use bedside_testkit::{RelayOptions, claims};
use bedside_visit::invite::{self, Claims};
use ring::signature::Ed25519KeyPair;
use serde_json::Value;
use tokio::sync::mpsc;

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub(crate) fn join_page_dir() -> PathBuf {
    let dir = workspace().join("ui").join("dist-join");
    assert!(
        dir.join("join.html").is_file(),
        "{} has no built join page: run `npm run build` in ui/ (cargo xtask test does)",
        dir.display()
    );
    dir
}

pub(crate) use bedside_testkit::{Relay, event, now, random};

/// A relay that also serves the built patient page.
pub(crate) async fn relay() -> Relay {
    relay_with_turn(None).await
}

/// A relay that serves the patient page and hands admitted patients TURN credentials for `turn`.
pub(crate) async fn relay_with_turn(turn: Option<bedside_relay::TurnConfig>) -> Relay {
    Relay::start(RelayOptions {
        join_page_dir: Some(join_page_dir()),
        turn,
    })
    .await
}

pub(crate) fn token(key: &Ed25519KeyPair, visit: [u8; 16]) -> String {
    token_asking_dob(key, visit, false)
}

pub(crate) fn token_asking_dob(key: &Ed25519KeyPair, visit: [u8; 16], dob: bool) -> String {
    invite::sign(
        key,
        &Claims {
            knock_requires_dob: dob,
            ..claims(key, visit)
        },
    )
}

/// A token for `visit` with one character of its signature changed: the relay must refuse it.
pub(crate) fn forged_token(key: &Ed25519KeyPair, visit: [u8; 16]) -> String {
    let mut forged = token(key, visit).into_bytes();
    // One character inside the signature (not the last, whose low bits are padding).
    let i = forged.len() - 5;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(forged).expect("ascii")
}

/// A properly signed token whose window closed an hour ago.
pub(crate) fn expired_token(key: &Ed25519KeyPair, visit: [u8; 16]) -> String {
    invite::sign(
        key,
        &Claims {
            not_before: now() - 7200,
            token_id: 2,
            ..claims(key, visit)
        },
    )
}

/// The real headless host (`bedsidectl visit host --auto-admit`'s engine) for `visit`,
/// admitting the first knock; its events arrive on the returned channel.
pub(crate) fn spawn_host(
    relay: &Relay,
    visit: [u8; 16],
    secret: [u8; 32],
) -> mpsc::UnboundedReceiver<HostEvent> {
    bedside_testkit::spawn_host(relay, visit, secret, None)
}

pub(crate) struct Run {
    pub(crate) ok: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// One browser test at a time: the call tests measure frame rates, and several browsers
/// encoding and decoding video at once on a small machine starve each other. The CPU-heavy
/// store workloads (`crash`, `logs`) take it too, for the same reason. A test holds
/// it from its start, so no clinician or host waits on a knock while another test's
/// browser runs.
pub(crate) static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Takes the browser slot for the rest of the test.
pub(crate) async fn one_browser() -> tokio::sync::MutexGuard<'static, ()> {
    BROWSER.lock().await
}

/// Runs `tests/browser/SCRIPT LINK SHOTDIR EXTRA...`, killed after `kill_after_s`.
pub(crate) async fn drive_script(
    script: &'static str,
    link: String,
    extra: Vec<String>,
    kill_after_s: u64,
) -> Run {
    drive_script_in(Vec::new(), script, link, extra, kill_after_s).await
}

/// [`drive_script`] with node started through `wrapper` (e.g. `ip netns exec NS`).
pub(crate) async fn drive_script_in(
    wrapper: Vec<String>,
    script: &'static str,
    link: String,
    extra: Vec<String>,
    kill_after_s: u64,
) -> Run {
    let shot_dir = tempfile::Builder::new()
        .prefix("bedside-browser-shots-")
        .tempdir()
        .expect("shot dir")
        .keep();
    println!("screenshots: {}", shot_dir.display());
    let run = tokio::task::spawn_blocking(move || {
        let mut argv: Vec<std::ffi::OsString> = wrapper.into_iter().map(Into::into).collect();
        argv.push("node".into());
        argv.push(workspace().join("tests/browser").join(script).into());
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .arg(&link)
            .arg(&shot_dir)
            .args(&extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        let deadline = Instant::now() + Duration::from_secs(kill_after_s);
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("node output");
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("driver task");
    print!("{}", run.stdout);
    eprint!("{}", run.stderr);
    run
}

/// The driver's `{"step": ...}` lines.
pub(crate) fn steps(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("step").is_some())
        .collect()
}

/// The first step called `name`.
pub(crate) fn step<'a>(steps: &'a [Value], name: &str) -> Option<&'a Value> {
    steps.iter().find(|v| v["step"] == name)
}

/// The driver ended on the `name` page, refused by the relay with `status`; its steps.
pub(crate) fn refused_by_relay(run: &Run, name: &str, status: u64) -> Vec<Value> {
    assert!(run.ok, "{name}:\n{}{}", run.stdout, run.stderr);
    let seen = steps(&run.stdout);
    refused_page(&seen, name, status);
    seen
}

/// The `name` step shows the relay's own plain page for a refused link, with `status`.
pub(crate) fn refused_page(seen: &[Value], name: &str, status: u64) {
    let shown = step(seen, name).unwrap_or_else(|| panic!("no {name} step: {seen:?}"));
    assert_eq!(
        (shown["by"].as_str(), shown["status"].as_u64()),
        (Some("relay"), Some(status)),
        "{shown}"
    );
}

/// The `devices` the `name` step carries (the page's device keys).
pub(crate) fn devices(seen: &[Value], name: &str) -> Vec<Value> {
    step(seen, name)
        .and_then(|s| s["devices"].as_array().cloned())
        .unwrap_or_else(|| panic!("no {name} step with devices: {seen:?}"))
}

/// The device keys the page kept in IndexedDB before and after a reload (`storedDevices` in
/// `tests/browser/probes.mjs`): one key for the visit, the same after the reload, and its
/// private half neither extractable nor exportable. Its id: the device the host sees.
pub(crate) fn one_device_kept(before: &[Value], after: &[Value]) -> String {
    assert_eq!(before.len(), 1, "one key for the visit: {before:?}");
    assert_eq!(before, after, "the reload kept the key");
    assert_eq!(before[0]["extractable"], false, "{before:?}");
    assert_eq!(
        before[0]["exported"], false,
        "the private key cannot be exported"
    );
    before[0]["id"].as_str().expect("a device id").to_owned()
}

/// Strict CSP holds: the page needed nothing it forbids (`violations`, what the browser
/// reported while the patient went through the page, is empty), and the control
/// (`cspProbe` in `tests/browser/probes.mjs`) shows the listener hears: an inline script
/// injected afterwards did not run and was reported against `script-src` (Firefox) or
/// `script-src-elem` (WebKit).
pub(crate) fn csp_clean(violations: &Value, probe: &Value) {
    assert_eq!(
        violations,
        &serde_json::json!([]),
        "CSP violations on the join page"
    );
    assert_eq!(probe["ran"], false, "an inline script ran: {probe}");
    assert!(
        probe["reported"].as_array().is_some_and(|r| r
            .iter()
            .any(|v| v.as_str().is_some_and(|v| v.starts_with("script-src")))),
        "the blocked inline script was not reported: {probe}"
    );
}

/// The next `n` knocks the host opened, as `(device, extra_device)`; each must carry
/// `name` and no date of birth (the host opened the sealed knock with the link's secret).
pub(crate) async fn knocks(
    host: &mut mpsc::UnboundedReceiver<HostEvent>,
    n: usize,
    name: &str,
) -> Vec<(String, bool)> {
    let mut seen = Vec::new();
    while seen.len() < n {
        if let HostEvent::Knock {
            device,
            name: knocked,
            dob,
            extra_device,
            ..
        } = event(host, |e| matches!(e, HostEvent::Knock { .. })).await
        {
            assert_eq!((knocked.as_str(), dob), (name, None));
            seen.push((device, extra_device));
        }
    }
    seen
}
