//! `visit host --media synthetic --auto-admit --duration S --stats-json FILE`, the real
//! binary: a real relay in this process trusting the profile's clinic key, the invite link
//! from `invite create`, and a headless Chromium patient (`tests/browser/call.mjs`) on the
//! real join page. The host exits 0 on its own and its stats report shows media decoded.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use crate::support::Clinic;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A relay on 127.0.0.1 trusting `public_key`, serving the built join page; runs until
/// the test process ends.
fn relay(public_key: &str, dir: &Path) -> String {
    let mut config = bedside_relay::Config::new(
        dir.to_path_buf(),
        vec![bedside_relay::ClinicConfig {
            name: "Riverside Practice".into(),
            public_key: public_key.to_owned(),
        }],
    );
    config.join_page_dir = Some(workspace().join("ui/dist-join"));
    let state = bedside_relay::AppState::new(&config, Arc::new(bedside_relay::SystemClock))
        .expect("relay state");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let _ = tx.send(format!("http://{}", listener.local_addr().expect("addr")));
            bedside_relay::serve(listener, state, std::future::pending()).await
        })
    });
    rx.recv().expect("relay origin")
}

#[test]
fn visit_host_runs_a_synthetic_call_with_a_browser_patient() {
    let Some(clinic) = Clinic::new("visit_host_runs_a_synthetic_call_with_a_browser_patient")
    else {
        return;
    };
    if !Path::new("/usr/bin/chromium").exists()
        || !workspace().join("ui/dist-join/join.html").is_file()
    {
        eprintln!("note: skipped: needs /usr/bin/chromium and a built ui/dist-join");
        return;
    }
    let mut p = clinic.init("dr.call");
    let s = p.ready();
    let pid = p
        .with(&s)
        .json()
        .args([
            "patient",
            "add",
            "--name",
            "Call Patient",
            "--dob",
            "1970-01-01",
        ])
        .ok()
        .id();
    let start = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let aid = p
        .with(&s)
        .json()
        .args([
            "appointment",
            "add",
            "--patient",
            &pid.to_string(),
            "--start",
            &start,
        ])
        .args(["--duration", "30m", "--tz", "UTC"])
        .ok()
        .id()
        .to_string();
    let key = p.with(&s).json().args(["clinic-key", "show"]).ok().json();
    let relay_dir = tempfile::tempdir().expect("tmp");
    let origin = relay(
        key["public_key"].as_str().expect("public key"),
        relay_dir.path(),
    );
    let link = p
        .with(&s)
        .json()
        .args(["invite", "create", &aid, "--relay", &origin])
        .ok()
        .json()["link"]
        .as_str()
        .expect("link")
        .to_owned();

    // The patient first (it takes a few seconds to reach the knock), then the host.
    let shots = tempfile::tempdir().expect("shots");
    let script = workspace().join("tests/browser/call.mjs");
    let shot_dir = shots.path().to_path_buf();
    let browser = std::thread::spawn(move || {
        Command::new("node")
            .arg(script)
            .arg(&link)
            .arg(&shot_dir)
            .args(["--seconds", "8", "--warmup", "2"])
            .stdin(Stdio::null())
            .output()
            .expect("node runs")
    });
    let stats = clinic.path().join("stats.json");
    let out = p
        .with(&s)
        .args([
            "visit",
            "host",
            &aid,
            "--media",
            "synthetic",
            "--auto-admit",
        ])
        .args([
            "--duration",
            "14",
            "--udp-addr",
            "127.0.0.1:0",
            "--stats-json",
        ])
        .arg(&stats)
        .ok();
    let browser = browser.join().expect("browser thread");
    let browser_out = String::from_utf8_lossy(&browser.stdout).into_owned();
    assert!(
        browser.status.success(),
        "browser:\n{browser_out}{}",
        String::from_utf8_lossy(&browser.stderr)
    );
    assert!(out.stdout.contains("\"event\":\"call_answered\""), "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&stats).expect("--stats-json wrote the file"))
            .expect("JSON");
    let fps = report["fps_decoded"].as_f64().unwrap_or(0.0);
    assert!(
        fps >= 25.0,
        "the host decoded {fps:.1} fps: {}",
        report["last"]
    );
    assert_eq!(report["auth_failures"], 0);
    assert_eq!(report["video_codec"], "video/VP8");
    assert!(
        report["first_frame_ms"].as_u64().is_some(),
        "{}",
        report["first_frame_ms"]
    );
    assert!(report["bytes_received"].as_u64() > Some(100_000));
    let media = browser_out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["step"] == "media")
        .expect("a media step");
    assert_eq!(media["sas"], report["sas"], "the same SAS on both sides");
    assert!(media["fps"].as_f64() >= Some(25.0), "{media}");
}
