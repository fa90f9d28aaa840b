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

/// What `call_with_a_browser_patient` saw.
struct CallRun {
    host: crate::support::Out,
    report: serde_json::Value,
    media: serde_json::Value,
}

#[test]
fn visit_host_runs_a_synthetic_call_with_a_browser_patient() {
    let Some(clinic) = Clinic::new("visit_host_runs_a_synthetic_call_with_a_browser_patient")
    else {
        return;
    };
    let Some(run) = call_with_a_browser_patient(&clinic, "synthetic", "media", None) else {
        return;
    };
    let (report, media) = (run.report, run.media);
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
    assert_eq!(media["sas"], report["sas"], "the same SAS on both sides");
    assert!(media["fps"].as_f64() >= Some(25.0), "{media}");
}

/// `--media devices` on a machine with a (private PulseAudio) microphone and
/// speaker and no camera: an audio-only visit, said on stderr; the patient
/// hears Opus from the microphone and its video still reaches the host.
#[test]
fn visit_host_runs_an_audio_only_devices_call_without_a_camera() {
    let Some(clinic) = Clinic::new("visit_host_runs_an_audio_only_devices_call_without_a_camera")
    else {
        return;
    };
    if !bedside_capture::camera::cameras().is_empty() {
        eprintln!("note: skipped: this machine has a camera (the test is about having none)");
        return;
    }
    let Some(pulse) = bedside_capture::testkit::PulseServer::start() else {
        return;
    };
    let Some(run) =
        call_with_a_browser_patient(&clinic, "devices", "audio-only", Some(pulse.address()))
    else {
        return;
    };
    let (report, media) = (run.report, run.media);
    assert!(
        run.host
            .stderr
            .contains("no camera found: the visit will be audio-only"),
        "stderr: {}",
        run.host.stderr
    );
    assert!(
        run.host.stderr.contains("No camera found."),
        "the call's own notice: {}",
        run.host.stderr
    );
    assert_eq!(
        report["devices"]["audio_only"], true,
        "{}",
        report["devices"]
    );
    assert!(
        report["devices"]["microphone"].is_string(),
        "{}",
        report["devices"]
    );
    assert!(
        report["devices"]["speaker"].is_string(),
        "{}",
        report["devices"]
    );
    assert_eq!(report["auth_failures"], 0);
    let fps = report["fps_decoded"].as_f64().unwrap_or(0.0);
    assert!(fps >= 20.0, "the patient's video decoded at {fps:.1} fps");
    assert!(media["audio_pps"].as_f64() >= Some(40.0), "{media}");
    assert_eq!(
        media["frames"].as_f64().unwrap_or(0.0),
        0.0,
        "no video from us: {media}"
    );
}

/// Sets up an appointment, a relay and a Chromium patient (`expect`:
/// `media` or `audio-only`), and runs `visit host --media MEDIA` against them.
fn call_with_a_browser_patient(
    clinic: &Clinic,
    media_arg: &str,
    expect: &str,
    pulse_server: Option<&str>,
) -> Option<CallRun> {
    // One browser call at a time: two at once on a 2-core CI machine measure the
    // machine, not the call (both fell under their frame-rate floors that way).
    static ONE_CALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_CALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !Path::new("/usr/bin/chromium").exists()
        || !workspace().join("ui/dist-join/join.html").is_file()
    {
        eprintln!("note: skipped: needs /usr/bin/chromium and a built ui/dist-join");
        return None;
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
    let expect = expect.to_owned();
    let browser = std::thread::spawn(move || {
        Command::new("node")
            .arg(script)
            .arg(&link)
            .arg(&shot_dir)
            .args(["--seconds", "8", "--warmup", "2", "--expect", &expect])
            .stdin(Stdio::null())
            .output()
            .expect("node runs")
    });
    let stats = clinic.path().join("stats.json");
    let mut host = p.with(&s);
    if let Some(server) = pulse_server {
        host = host.env("PULSE_SERVER", server);
    }
    let out = host
        .args(["visit", "host", &aid, "--media", media_arg, "--auto-admit"])
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
    let media = browser_out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["step"] == "media")
        .expect("a media step");
    Some(CallRun {
        host: out,
        report,
        media,
    })
}
