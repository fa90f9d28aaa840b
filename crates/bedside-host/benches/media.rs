//! Media benchmark (issue 4 §7): the Rust clinician (`bedside_host` with
//! `bedside-media`'s peer) against a Chromium clinician, both calling a real
//! headless Chromium patient on the real join page through the real relay, in
//! the same run.
//!
//! Run with `cargo xtask bench media` (= the test set-up, then
//! `cargo bench -p bedside-host --bench media`). Options after `--`:
//! `--calls N` (admission calls per side, default 10), `--seconds S` (steady
//! window, default 10), `--warmup W` (seconds after the first frame before
//! the window, default 3), `--quick` (2 calls, 4 s windows: a smoke test),
//! `--no-720` (skip 1280×720), `--json PATH` (append the result line to a
//! file). `BEDSIDE_BENCH_ENFORCE=1` makes a missed goal exit 1.
//!
//! Method (BENCHMARKS.md has the reasoning):
//! - **Admission → first frame.** Per call: a fresh visit, invite and
//!   Chromium patient (`tests/browser/bench-patient.mjs`) that knocks. The
//!   clinician admits at once. Time zero is the clinician sending `admit`
//!   (wall clock); the ends are the first video frame out of the decoder on
//!   each side: the Rust host's `first_remote_frame`, and in Chromium a clone
//!   of the remote track read by `MediaStreamTrackProcessor`. The Rust side is
//!   this binary re-run as a child (`BEDSIDE_MEDIA_BENCH_HOST=1`) running
//!   `bedside_host::run_with_control_and_media`; the baseline is this process
//!   speaking the same clinician protocol (same hello, auth, watch, knock
//!   opening, admit, offer-tag check, answer tag, trickled ICE) with a
//!   persistent headless Chromium page (`tests/browser/bench-clinician.mjs`)
//!   holding the peer connection. The sides alternate call by call.
//! - **Glass-to-glass** and **CPU**: one longer call per size with the Rust
//!   host sending its stamped test pattern and the patient sending a stamped
//!   canvas. Host → patient: the page reads the stamp of each frame its
//!   `<video>` presents (`requestVideoFrameCallback`, expected display time).
//!   Patient → host: the host reads the stamp of each decoded frame as it
//!   reaches the remote-video slot. CPU: the host child's utime + stime
//!   (`/proc/PID/stat`) over the steady window ÷ its wall time.

use std::collections::HashMap;
use std::error::Error;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bedside_host::{HostCommand, HostConfig, HostEvent, MediaOptions};
use bedside_media::{PeerConfig, VideoSettings};
use bedside_protocol::{ClinicianToRelay, PROTOCOL_VERSION, RelayToClinician};
use bedside_testkit::{Relay, RelayOptions};
use bedside_visit::auth;
use bedside_visit::invite;
use data_encoding::{BASE64URL_NOPAD as B64, HEXLOWER};
use futures_util::{SinkExt as _, StreamExt as _};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Rust ÷ Chromium median, admission → first frame, each direction.
const GOAL_RATIO: f64 = 1.0;
/// Glass-to-glass p50 and p95, milliseconds.
const GOAL_G2G_MS: f64 = 80.0;
/// Host CPU per call at 640×480@30 both ways, cores.
const GOAL_CPU: f64 = 0.35;
const HOST_ENV: &str = "BEDSIDE_MEDIA_BENCH_HOST";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Args {
    calls: usize,
    seconds: f64,
    warmup: f64,
    hd: bool,
    json: Option<PathBuf>,
}

fn args() -> Res<Args> {
    let mut a = Args {
        calls: 10,
        seconds: 10.0,
        warmup: 3.0,
        hd: true,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => {
                a.calls = 2;
                a.seconds = 4.0;
                a.warmup = 2.0;
            }
            "--calls" => a.calls = it.next().ok_or("--calls needs N")?.parse()?,
            "--seconds" => a.seconds = it.next().ok_or("--seconds needs S")?.parse()?,
            "--warmup" => a.warmup = it.next().ok_or("--warmup needs W")?.parse()?,
            "--no-720" => a.hd = false,
            "--json" => a.json = Some(it.next().ok_or("--json needs a path")?.into()),
            // cargo bench passes --bench.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if a.calls == 0 || a.seconds <= 0.0 {
        return Err("--calls and --seconds must be positive".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let result = if std::env::var_os(HOST_ENV).is_some() {
        host_child()
    } else {
        bench()
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench media: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn random<const N: usize>() -> Res<[u8; N]> {
    let mut b = [0; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "no randomness")?;
    Ok(b)
}

// ---------------------------------------------------------------------------
// The Rust host, as a child process (so its CPU is measured alone).

/// What the parent tells the child on its stdin (one JSON line).
#[derive(serde::Serialize, serde::Deserialize)]
struct ChildConfig {
    relay_origin: String,
    pkcs8_hex: String,
    visit_hex: String,
    secret_hex: String,
    width: u32,
    height: u32,
    bitrate_kbps: u32,
    read_stamps: bool,
}

/// Prints one JSON line with the wall-clock time.
fn emit(mut v: Value) {
    v["at_us"] = json!(wall_us());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn host_child() -> Res<ExitCode> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let c: ChildConfig = serde_json::from_str(&line)?;
    let pkcs8 = HEXLOWER.decode(c.pkcs8_hex.as_bytes())?;
    let key = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| "bad key")?;
    let visit: [u8; 16] = HEXLOWER
        .decode(c.visit_hex.as_bytes())?
        .try_into()
        .map_err(|_| "bad visit")?;
    let secret: [u8; 32] = HEXLOWER
        .decode(c.secret_hex.as_bytes())?
        .try_into()
        .map_err(|_| "bad secret")?;
    let rt = runtime()?;
    rt.block_on(async move {
        // Stdin closing is the signal to stop.
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut rest = String::new();
            while std::io::stdin().read_line(&mut rest).is_ok_and(|n| n > 0) {}
            let _ = stop_tx.send(());
        });
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let (tap_tx, mut tap_rx) = mpsc::unbounded_channel::<(String, Arc<bedside_media::Peer>)>();
        if c.read_stamps {
            tokio::spawn(async move {
                while let Some((_, peer)) = tap_rx.recv().await {
                    let mut frames = peer.remote_video();
                    tokio::spawn(async move {
                        while frames.changed().await.is_ok() {
                            let frame = frames.borrow_and_update().clone();
                            let Some(frame) = frame else { continue };
                            if let Some(s) = bedside_codec::synthetic::read_stamp(&frame) {
                                emit(json!({ "stamp": s.capture_micros, "counter": s.counter }));
                            }
                        }
                    });
                }
            });
        }
        let cfg = HostConfig {
            relay_origin: c.relay_origin,
            key: Arc::new(key),
            visit,
            secret: zeroize::Zeroizing::new(secret),
            auto_admit: false,
        };
        let media = MediaOptions {
            peer: PeerConfig {
                udp_addrs: vec![std::net::SocketAddr::from(([127, 0, 0, 1], 0))],
                video: VideoSettings {
                    width: c.width,
                    height: c.height,
                    fps: 30,
                    bitrate_kbps: c.bitrate_kbps,
                },
                ..PeerConfig::default()
            },
            turn_urls: Vec::new(),
        };
        // Admits the first knock as the desktop app's button does (a control command).
        let mut admitted = false;
        let on_event = move |e: HostEvent| {
            if let HostEvent::Knock {
                device,
                extra_device: false,
                ..
            } = &e
                && !admitted
            {
                admitted = true;
                let _ = control_tx.send(HostCommand::Admit {
                    device: device.clone(),
                });
            }
            emit(json!({ "event": e }));
        };
        let r = bedside_host::run_with_control_and_media(
            cfg,
            media,
            tap_tx,
            on_event,
            control_rx,
            async {
                let _ = stop_rx.await;
            },
        )
        .await;
        if let Err(e) = r {
            emit(json!({ "error": e.to_string() }));
        }
    });
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------
// Processes that talk in JSON lines.

/// A child process whose stdout JSON lines arrive on a channel.
struct Lines {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: mpsc::UnboundedReceiver<Value>,
}

impl Lines {
    fn spawn(mut cmd: Command) -> Res<Self> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                } else if !line.trim().is_empty() {
                    eprintln!("  | {line}");
                }
            }
        });
        Ok(Self { child, stdin, rx })
    }

    fn send(&mut self, v: &Value) -> Res<()> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "{v}")?;
        stdin.flush()?;
        Ok(())
    }

    async fn next(&mut self) -> Res<Value> {
        Ok(self.rx.recv().await.ok_or("the process ended")?)
    }

    /// Closes stdin and waits up to 10 s, then kills it (by its own PID).
    async fn finish(mut self) {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node(script: &str) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(workspace().join("tests/browser").join(script));
    cmd
}

// ---------------------------------------------------------------------------
// The relay, the invite.

async fn relay() -> Res<Relay> {
    Ok(Relay::start(RelayOptions {
        join_page_dir: Some(workspace().join("ui/dist-join")),
        turn: None,
    })
    .await)
}

fn link(relay: &Relay, visit: [u8; 16], secret: &[u8; 32]) -> String {
    invite::link(&relay.origin, &relay.token(visit), secret)
}

/// The patient page for one call.
fn patient(link: &str, steady: Option<(&Size, f64, f64)>) -> Res<Lines> {
    let mut cmd = node("bench-patient.mjs");
    cmd.arg(link);
    if steady.is_none() {
        cmd.args(["--stats-after", &STATS_AFTER_S.to_string()]);
    }
    if let Some((size, warmup, hold)) = steady {
        cmd.args(["--canvas", &size.arg()])
            .args(["--warmup", &warmup.to_string()])
            .args(["--hold", &hold.to_string()]);
    }
    Lines::spawn(cmd)
}

// ---------------------------------------------------------------------------
// One call with each clinician.

/// Admission → first frame decoded, milliseconds, each way.
#[derive(Clone, Debug)]
struct FirstFrames {
    /// The patient decoded the clinician's first frame.
    at_patient_ms: f64,
    /// The clinician decoded the patient's first frame.
    at_clinician_ms: f64,
    /// Admission → the answer sent to the relay (timeline, not a goal).
    answer_ms: f64,
    /// Admission → the patient's peer connection connected.
    patient_connected_ms: f64,
    /// Admission → the clinician's peer connection connected.
    clinician_connected_ms: f64,
    /// The patient's receive counters a few seconds into the call (`getStats`).
    patient_inbound: Value,
}

impl FirstFrames {
    fn line(&self) -> String {
        format!(
            "→ patient {:>6.1} ms, → clinician {:>6.1} ms (answer {:>5.1}, connected: patient {:>6.1}, clinician {:>6.1}; patient jitter buffer video {:>5.1}, audio {:>5.1} ms)",
            self.at_patient_ms,
            self.at_clinician_ms,
            self.answer_ms,
            self.patient_connected_ms,
            self.clinician_connected_ms,
            self.patient_inbound["jitter_buffer_ms"]
                .as_f64()
                .unwrap_or(f64::NAN),
            self.patient_inbound["audio_jitter_buffer_ms"]
                .as_f64()
                .unwrap_or(f64::NAN),
        )
    }
}

struct Size {
    w: u32,
    h: u32,
    kbps: u32,
}

impl Size {
    fn arg(&self) -> String {
        format!("{}x{}", self.w, self.h)
    }
}

/// What the steady part of a Rust call measured.
#[derive(Default)]
struct Steady {
    cpu_cores: f64,
    to_patient_ms: Vec<f64>,
    to_host_ms: Vec<f64>,
    unread: u64,
    patient_saw: String,
    patient_inbound: Value,
    host_stats: Value,
}

/// The child's utime + stime, seconds.
fn cpu_seconds(pid: u32, tick: f64) -> Res<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').ok_or("bad stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime 15.
    let utime: f64 = f.get(11).ok_or("no utime")?.parse()?;
    let stime: f64 = f.get(12).ok_or("no stime")?.parse()?;
    Ok((utime + stime) / tick)
}

fn clock_tick() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Seconds from the patient's first frame to its receive counters, in admission calls.
const STATS_AFTER_S: f64 = 3.0;

const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A call with the Rust host (a child process); with `steady`, also the
/// glass-to-glass and CPU window.
async fn rust_call(
    relay: &Relay,
    size: &Size,
    steady: Option<(f64, f64)>,
) -> Res<(FirstFrames, Option<Steady>)> {
    let visit = random::<16>()?;
    let secret = random::<32>()?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.env(HOST_ENV, "1");
    let mut host = Lines::spawn(cmd)?;
    host.send(&serde_json::to_value(ChildConfig {
        relay_origin: relay.origin.clone(),
        pkcs8_hex: HEXLOWER.encode(&relay.pkcs8),
        visit_hex: HEXLOWER.encode(&visit),
        secret_hex: HEXLOWER.encode(&secret),
        width: size.w,
        height: size.h,
        bitrate_kbps: size.kbps,
        read_stamps: steady.is_some(),
    })?)?;
    let pid = host.child.id();
    let result = tokio::time::timeout(CALL_TIMEOUT, async {
        loop {
            let v = host.next().await?;
            if let Some(e) = v.get("error") {
                return Err(format!("host: {e}").into());
            }
            if v["event"]["event"] == "ready" {
                break;
            }
        }
        let mut page = patient(
            &link(relay, visit, &secret),
            steady.map(|(w, s)| (size, w, s)),
        )?;
        let (mut admit, mut host_first, mut page_first) = (None, None, None);
        let (mut answered, mut host_connected, mut page_connected) = (None, None, None);
        let mut stamps: Vec<(u64, u64)> = Vec::new();
        let mut host_stats = Value::Null;
        let mut steady_line = None;
        let mut inbound = None;
        let mut window: Option<(u64, u64, f64)> = None;
        let tick = clock_tick();
        let mut cpu_at: Option<(Instant, f64, tokio::time::Instant)> = None;
        loop {
            let deadline = match (&cpu_at, steady) {
                (Some((_, _, end)), _) => *end,
                _ => tokio::time::Instant::now() + CALL_TIMEOUT,
            };
            tokio::select! {
                v = host.next() => {
                    let v = v?;
                    let at = v["at_us"].as_u64().unwrap_or(0);
                    match v["event"]["event"].as_str() {
                        Some("admitting") => admit = Some(at),
                        Some("first_remote_frame") => host_first = Some(at),
                        Some("call_answered") => answered = answered.or(Some(at)),
                        Some("call_state") if v["event"]["state"] == "connected" => {
                            host_connected = host_connected.or(Some(at));
                        }
                        Some("call_stats") => host_stats = v["event"]["stats"].clone(),
                        Some("call_auth_failed" | "call_refused" | "relay_error") => {
                            return Err(format!("host: {v}").into());
                        }
                        _ => {}
                    }
                    if let Some(s) = v["stamp"].as_u64() {
                        stamps.push((at, s));
                    }
                    if let Some(e) = v.get("error") {
                        return Err(format!("host: {e}").into());
                    }
                }
                v = page.next() => {
                    let v = v.map_err(|_| "the patient page failed (see above)")?;
                    match v["step"].as_str() {
                        Some("first_frame") => {
                            page_first = v["at_ms"].as_f64();
                            page_connected = v["connected_ms"].as_f64();
                        }
                        Some("steady") => steady_line = Some(v),
                        Some("inbound") => inbound = Some(v),
                        _ => {}
                    }
                }
                () = tokio::time::sleep_until(deadline), if cpu_at.is_some() => {
                    if let Some((t0, c0, _)) = cpu_at.take() {
                        let c1 = cpu_seconds(pid, tick)?;
                        let wall = t0.elapsed().as_secs_f64();
                        let now = wall_us();
                        window = Some((now - (wall * 1e6) as u64, now, (c1 - c0) / wall));
                    }
                }
            }
            let firsts_done = admit.is_some() && host_first.is_some() && page_first.is_some();
            match steady {
                None if firsts_done && inbound.is_some() => break,
                Some((warmup, seconds)) if firsts_done && window.is_none() && cpu_at.is_none() => {
                    // Warm-up from the later first frame, then the window.
                    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
                    // Drain what arrived meanwhile (stamps before the window).
                    while let Ok(v) = host.rx.try_recv() {
                        if let Some(s) = v["stamp"].as_u64() {
                            stamps.push((v["at_us"].as_u64().unwrap_or(0), s));
                        }
                    }
                    let c0 = cpu_seconds(pid, tick)?;
                    cpu_at = Some((
                        Instant::now(),
                        c0,
                        tokio::time::Instant::now() + Duration::from_secs_f64(seconds),
                    ));
                }
                Some(_) if window.is_some() && steady_line.is_some() => break,
                _ => {}
            }
        }
        let (Some(admit), Some(host_first), Some(page_first)) = (admit, host_first, page_first)
        else {
            return Err("a first frame is missing".into());
        };
        let since = |us: Option<u64>| us.map_or(f64::NAN, |t| (t as f64 - admit as f64) / 1000.0);
        let firsts = FirstFrames {
            at_patient_ms: page_first - admit as f64 / 1000.0,
            at_clinician_ms: (host_first as f64 - admit as f64) / 1000.0,
            answer_ms: since(answered),
            patient_connected_ms: page_connected.map_or(f64::NAN, |t| t - admit as f64 / 1000.0),
            clinician_connected_ms: since(host_connected),
            patient_inbound: inbound.unwrap_or_default(),
        };
        let steady = match (window, steady_line) {
            (Some((from, to, cores)), Some(line)) => Some(Steady {
                cpu_cores: cores,
                to_patient_ms: line["g2g_ms"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_f64).collect())
                    .unwrap_or_default(),
                to_host_ms: stamps
                    .iter()
                    .filter(|(at, _)| (from..=to).contains(at))
                    .map(|(at, cap)| (*at as f64 - *cap as f64) / 1000.0)
                    .collect(),
                unread: line["unread"].as_u64().unwrap_or(0),
                patient_saw: format!("{}x{}", line["width"], line["height"]),
                patient_inbound: line["inbound"].clone(),
                host_stats,
            }),
            _ => None,
        };
        page.finish().await;
        Ok::<_, Box<dyn Error + Send + Sync>>((firsts, steady))
    })
    .await;
    host.finish().await;
    result.map_err(|_| "the Rust call timed out")?
}

/// The persistent Chromium clinician page.
struct ChromiumClinician {
    page: Lines,
}

impl ChromiumClinician {
    async fn start(size: &Size) -> Res<Self> {
        let mut cmd = node("bench-clinician.mjs");
        cmd.args(["--camera", &size.arg()]);
        let mut page = Lines::spawn(cmd)?;
        loop {
            if page.next().await?["ready"] == true {
                return Ok(Self { page });
            }
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Socket, m: &ClinicianToRelay) -> Res<()> {
    ws.send(Ws::text(bedside_protocol::encode(m))).await?;
    Ok(())
}

/// The clinician's relay login, as `bedside_host` does it: hello, signed challenge, watch.
async fn clinician_login(relay: &Relay, visit_hex: &str) -> Res<Socket> {
    let url = bedside_host::clinician_url(&relay.origin)?;
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    send(
        &mut ws,
        &ClinicianToRelay::Hello {
            v: PROTOCOL_VERSION,
            public_key: B64.encode(relay.key.public_key().as_ref()),
        },
    )
    .await?;
    loop {
        let Some(m) = ws.next().await else {
            return Err("relay closed".into());
        };
        let Ws::Text(t) = m? else { continue };
        match bedside_protocol::decode::<RelayToClinician>(t.as_bytes())? {
            RelayToClinician::Challenge { nonce } => {
                let nonce = B64.decode(nonce.as_bytes())?;
                let sig = relay.key.sign(&bedside_protocol::auth_message(&nonce));
                let signature = B64.encode(sig.as_ref());
                send(&mut ws, &ClinicianToRelay::Auth { signature }).await?;
            }
            RelayToClinician::Ready { .. } => {
                let visit = visit_hex.to_owned();
                send(&mut ws, &ClinicianToRelay::Watch { visit }).await?;
                return Ok(ws);
            }
            RelayToClinician::Error { message, .. } => return Err(message.into()),
            _ => {}
        }
    }
}

/// A call with the Chromium clinician: this process speaks the relay protocol and does
/// the tags, the page holds the peer connection.
async fn chromium_call(relay: &Relay, clinician: &mut ChromiumClinician) -> Res<FirstFrames> {
    let visit = random::<16>()?;
    let secret = random::<32>()?;
    let visit_hex = HEXLOWER.encode(&visit);
    let k_auth = auth::sdp_auth_key(&secret);
    let mut ws = clinician_login(relay, &visit_hex).await?;
    let mut page = patient(&link(relay, visit, &secret), None)?;
    let c = &mut clinician.page;
    let result = tokio::time::timeout(CALL_TIMEOUT, async {
        let (mut admit, mut clin_first, mut page_first) = (None, None, None);
        let (mut answered, mut clin_connected, mut page_connected) = (None, None, None);
        // The device in the call and its offer tag, once its offer authenticated.
        let mut call: Option<(String, [u8; 32])> = None;
        let mut admitted = false;
        let mut inbound = None;
        while admit.is_none() || clin_first.is_none() || page_first.is_none() || inbound.is_none() {
            tokio::select! {
                m = ws.next() => {
                    let Some(m) = m else { return Err("relay closed".into()) };
                    let Ws::Text(t) = m? else { continue };
                    match bedside_protocol::decode::<RelayToClinician>(t.as_bytes())? {
                        RelayToClinician::Knock { visit: v, device, sealed, extra_device, .. }
                            if v == visit_hex =>
                        {
                            let sealed = B64.decode(sealed.as_bytes())?;
                            let plain = auth::open_knock(&secret, &visit, &sealed)?;
                            let body: Value = serde_json::from_slice(&plain)?;
                            if body["name"].as_str().is_none() || extra_device || admitted {
                                continue;
                            }
                            admitted = true;
                            admit = Some(wall_us());
                            send(&mut ws, &ClinicianToRelay::Admit { visit: v, device }).await?;
                        }
                        RelayToClinician::Offer { visit: v, device, sdp, tag, .. } if v == visit_hex => {
                            let tag = B64.decode(tag.as_bytes())?;
                            auth::verify_offer(&k_auth, &visit, &device, &sdp, &tag)?;
                            let tag: [u8; 32] = tag.as_slice().try_into()?;
                            call = Some((device, tag));
                            c.send(&json!({ "offer": sdp }))?;
                        }
                        RelayToClinician::Ice { visit: v, candidate, .. } if v == visit_hex => {
                            c.send(&json!({ "candidate": candidate }))?;
                        }
                        RelayToClinician::CallRefused { reason, .. } => {
                            return Err(format!("the patient refused: {}", reason.as_str()).into());
                        }
                        _ => {}
                    }
                }
                v = c.next() => {
                    let v = v?;
                    let Some((device, offer_tag)) = &call else { continue };
                    if let Some(sdp) = v["answer"].as_str() {
                        let id = auth::sdp_identity(sdp)?;
                        let tag = auth::answer_tag(&k_auth, &visit, device, &id, offer_tag);
                        send(&mut ws, &ClinicianToRelay::Answer {
                            visit: visit_hex.clone(),
                            device: device.clone(),
                            sdp: sdp.to_owned(),
                            tag: B64.encode(&tag),
                        }).await?;
                        answered = Some(wall_us());
                    } else if let Some(candidate) = v["candidate"].as_str() {
                        send(&mut ws, &ClinicianToRelay::Ice {
                            visit: visit_hex.clone(),
                            device: device.clone(),
                            candidate: candidate.to_owned(),
                        }).await?;
                    } else if let Some(at) = v["first_frame_at"].as_f64() {
                        clin_first = Some(at);
                    } else if let Some(at) = v["connected_at"].as_f64() {
                        clin_connected = Some(at);
                    }
                }
                v = page.next() => {
                    let v = v.map_err(|_| "the patient page failed (see above)")?;
                    if v["step"] == "first_frame" {
                        page_first = v["at_ms"].as_f64();
                        page_connected = v["connected_ms"].as_f64();
                    } else if v["step"] == "inbound" {
                        inbound = Some(v);
                    }
                }
            }
        }
        let (Some(admit), Some(clin_first), Some(page_first)) = (admit, clin_first, page_first)
        else {
            return Err("a first frame is missing".into());
        };
        let admit_ms = admit as f64 / 1000.0;
        Ok::<_, Box<dyn Error + Send + Sync>>(FirstFrames {
            at_patient_ms: page_first - admit_ms,
            at_clinician_ms: clin_first - admit_ms,
            answer_ms: answered.map_or(f64::NAN, |t: u64| t as f64 / 1000.0 - admit_ms),
            patient_connected_ms: page_connected.map_or(f64::NAN, |t| t - admit_ms),
            clinician_connected_ms: clin_connected.map_or(f64::NAN, |t| t - admit_ms),
            patient_inbound: inbound.unwrap_or_default(),
        })
    })
    .await;
    page.finish().await;
    c.send(&json!({ "close": true }))?;
    loop {
        if c.next().await?["closed"] == true {
            break;
        }
    }
    let _ = ws.close(None).await;
    result.map_err(|_| "the Chromium call timed out")?
}

// ---------------------------------------------------------------------------
// Statistics and the report.

fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len() - 1) as f64 * p).round() as usize;
    s[i.min(s.len() - 1)]
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn missing_tools() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing"));
    }
    if !workspace().join("ui/dist-join/join.html").is_file() {
        return Some("ui/dist-join has no built join page: run `npm run build` in ui/".into());
    }
    if !workspace()
        .join("ui/node_modules/playwright-core/package.json")
        .is_file()
    {
        return Some("playwright-core is not installed: run `npm ci` in ui/".into());
    }
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("`node` is not on PATH".into()),
    }
}

fn bench() -> Res<ExitCode> {
    let args = args()?;
    if let Some(why) = missing_tools() {
        return Err(why.into());
    }
    let rt = runtime()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Res<ExitCode> {
    let load_before = load();
    println!(
        "bench media: {} calls per side, steady windows {} s after {} s warm-up; load {load_before}",
        args.calls, args.seconds, args.warmup
    );
    let relay = relay().await?;
    let vga = Size {
        w: 640,
        h: 480,
        kbps: 1_000,
    };
    let mut clinician = ChromiumClinician::start(&vga).await?;

    // Admission → first frame, the sides alternating (which goes first alternates too).
    let mut rust: Vec<FirstFrames> = Vec::new();
    let mut chromium: Vec<FirstFrames> = Vec::new();
    for i in 0..args.calls {
        for side in if i % 2 == 0 { [0, 1] } else { [1, 0] } {
            if side == 0 {
                let (f, _) = rust_call(&relay, &vga, None).await?;
                println!("  call {:>2} rust     {}", i + 1, f.line());
                rust.push(f);
            } else {
                let f = chromium_call(&relay, &mut clinician).await?;
                println!("  call {:>2} chromium {}", i + 1, f.line());
                chromium.push(f);
            }
        }
    }
    clinician.page.finish().await;

    // Steady calls: glass-to-glass both ways and the host's CPU.
    let mut sizes = vec![vga];
    if args.hd {
        sizes.push(Size {
            w: 1280,
            h: 720,
            kbps: 2_500,
        });
    }
    let mut steady: Vec<(String, Steady)> = Vec::new();
    for size in &sizes {
        let (_, s) = rust_call(&relay, size, Some((args.warmup, args.seconds))).await?;
        let s = s.ok_or("no steady window")?;
        steady.push((size.arg(), s));
    }
    let load_after = load();

    let col = |v: &[FirstFrames], f: fn(&FirstFrames) -> f64| v.iter().map(f).collect::<Vec<_>>();
    let to_patient = |f: &FirstFrames| f.at_patient_ms;
    let to_clinician = |f: &FirstFrames| f.at_clinician_ms;
    let rows = [
        (
            "patient decodes clinician's first frame",
            to_patient as fn(&FirstFrames) -> f64,
        ),
        ("clinician decodes patient's first frame", to_clinician),
    ];
    println!();
    println!(
        "| admission → first frame decoded (median of {}) | Rust host ms | Chromium ms | ratio |",
        args.calls
    );
    println!("| --- | ---: | ---: | ---: |");
    let mut ratios = HashMap::new();
    let mut ratio_ok = true;
    for (name, f) in rows {
        let r = median(&col(&rust, f));
        let c = median(&col(&chromium, f));
        let ratio = r / c;
        ratio_ok &= ratio <= GOAL_RATIO;
        ratios.insert(
            name,
            json!({ "rust_ms": r, "chromium_ms": c, "ratio": ratio,
            "rust_all": col(&rust, f), "chromium_all": col(&chromium, f) }),
        );
        println!("| {name} | {r:.1} | {c:.1} | {ratio:.2} |");
    }
    println!();
    println!(
        "| at the patient, {STATS_AFTER_S} s into each call (median; not a goal) | with the Rust host | with Chromium |"
    );
    println!("| --- | ---: | ---: |");
    let mut inbound_json = Vec::new();
    for (name, key) in [
        (
            "video jitter-buffer delay per frame, ms",
            "jitter_buffer_ms",
        ),
        ("video decode time per frame, ms", "decode_ms"),
        ("audio jitter-buffer delay, ms", "audio_jitter_buffer_ms"),
    ] {
        let m = |v: &[FirstFrames]| {
            median(
                &v.iter()
                    .filter_map(|f| f.patient_inbound[key].as_f64())
                    .collect::<Vec<_>>(),
            )
        };
        println!("| {name} | {:.1} | {:.1} |", m(&rust), m(&chromium));
        inbound_json.push(json!({ "what": key, "rust": m(&rust), "chromium": m(&chromium) }));
    }
    println!();
    println!(
        "| steady call (Rust host) | host CPU cores | host→patient g2g p50 / p95 ms (frames) | patient→host g2g p50 / p95 ms (frames) | patient saw | host decoded |"
    );
    println!("| --- | ---: | ---: | ---: | --- | --- |");
    let mut g2g_ok = true;
    let mut cpu_ok = true;
    let mut steady_json = Vec::new();
    for (name, s) in &steady {
        let (hp50, hp95) = (
            percentile(&s.to_patient_ms, 0.5),
            percentile(&s.to_patient_ms, 0.95),
        );
        let (ph50, ph95) = (
            percentile(&s.to_host_ms, 0.5),
            percentile(&s.to_host_ms, 0.95),
        );
        if name == "640x480" {
            g2g_ok &= hp50 <= GOAL_G2G_MS && hp95 <= GOAL_G2G_MS;
            g2g_ok &= ph50 <= GOAL_G2G_MS && ph95 <= GOAL_G2G_MS;
            cpu_ok &= s.cpu_cores <= GOAL_CPU;
        }
        let res = |v: &Value| format!("{}x{}", v[0], v[1]);
        let decoded = format!(
            "{} at {:.1} fps (sent {} at {:.1} fps, {:.0} kbit/s)",
            res(&s.host_stats["recv_resolution"]),
            s.host_stats["fps_decoded"].as_f64().unwrap_or(0.0),
            res(&s.host_stats["send_resolution"]),
            s.host_stats["fps_sent"].as_f64().unwrap_or(0.0),
            s.host_stats["send_kbps"].as_f64().unwrap_or(0.0),
        );
        println!(
            "| {name}@30 both ways | {:.3} | {hp50:.1} / {hp95:.1} ({}) | {ph50:.1} / {ph95:.1} ({}) | {} ({} unread) | {decoded} |",
            s.cpu_cores,
            s.to_patient_ms.len(),
            s.to_host_ms.len(),
            s.patient_saw,
            s.unread,
        );
        steady_json.push(json!({
            "size": name, "cpu_cores": s.cpu_cores,
            "host_to_patient_ms": { "p50": hp50, "p95": hp95, "n": s.to_patient_ms.len() },
            "patient_to_host_ms": { "p50": ph50, "p95": ph95, "n": s.to_host_ms.len() },
            "host_stats": s.host_stats,
            "patient_inbound": s.patient_inbound,
        }));
    }
    for (name, s) in &steady {
        println!("patient inbound video at {name}: {}", s.patient_inbound);
    }
    let line = json!({
        "bench": "media",
        "at_unix": wall_us() / 1_000_000,
        "calls": args.calls,
        "load_before": load_before,
        "load_after": load_after,
        "first_frame": ratios,
        "patient_inbound": inbound_json,
        "steady": steady_json,
        "goals": { "ratio": ratio_ok, "g2g": g2g_ok, "cpu": cpu_ok },
    });
    println!();
    println!("load average before {load_before}, after {load_after}");
    println!("{line}");
    if let Some(path) = &args.json {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(f, "{line}")?;
    }
    let enforce = std::env::var("BEDSIDE_BENCH_ENFORCE").is_ok_and(|v| v == "1");
    if enforce && !(ratio_ok && g2g_ok && cpu_ok) {
        eprintln!("bench media: a goal was missed (BEDSIDE_BENCH_ENFORCE=1)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
