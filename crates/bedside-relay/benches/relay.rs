//! Relay benchmark (issue 3 §11): waiting patients held and forwarding
//! latency, the Bedside relay against a minimal Node.js relay on the npm
//! `ws` package (`benches/node/relay.js`), in the same run.
//!
//! Run with `cargo xtask bench relay` (= `npm ci` in `benches/node` if
//! needed, then `cargo bench -p bedside-relay --bench relay`). Options after
//! `--`: `--quick` (2,000 connections, short phases; a smoke test),
//! `--connections N` (default 50,000, or the open-file limit less 500 if
//! that is lower: a process cannot hold more sockets than that), `--json PATH` (append the result line to a file),
//! `--no-node` (skip the baseline). `BEDSIDE_BENCH_ENFORCE=1` makes a missed
//! goal exit 1 (with `--quick` the 50,000-connection goal is not enforced).
//!
//! Method, and why:
//! - Each relay runs in its own child process (the Rust one is this binary
//!   re-run with `--serve-rust`: the real `bedside_relay::serve` on
//!   127.0.0.1 with a trusted clinic key), so its memory is measured alone:
//!   VmRSS from `/proc/PID/status`. This process is the load generator.
//! - The bench raises its open-file limit (it re-runs itself under
//!   `ulimit -n`; children inherit it) and spreads client sockets over the
//!   source addresses 127.0.0.2–127.0.0.9, as one address has only ~28,000
//!   ephemeral ports. The bench relay's limits are raised (1,000,000 total
//!   connections, per address, visits per clinic); loopback peers are
//!   exempt from the per-address limits anyway (`per_ip_limits_on_loopback`
//!   off, the default).
//! - Latency: one clinician and one patient (a full handshake, knock, admit),
//!   then `message`s clinician → patient at a fixed schedule (5,000/s).
//!   The payload is 48 bytes like a sealed short text, base64url; it carries
//!   the send time in nanoseconds since the bench started, read at the
//!   patient socket in the same process. The first second is warm-up.
//! - Waiting patients: N patient WebSockets, each for its own visit with its
//!   own signed invite and its own P-256 device key, doing the whole
//!   handshake (hello → challenge → prove → welcome) and a knock (→
//!   waiting), 128 at a time; then each pings every few seconds (well within
//!   the relay's 60 s idle timeout) for a hold period. Held = connections
//!   still answering pings at the end. Memory per connection = (RSS after
//!   the hold − RSS before the first connection) ÷ held.
//! - The Node relay speaks the same JSON messages but verifies nothing (no
//!   invite signature, device proof or clinician signature) and keeps only
//!   a device → socket map: it does less work than the real relay.

use std::error::Error;
use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bedside_protocol::{ClinicianToRelay, PROTOCOL_VERSION, PatientToRelay, encode};
use bedside_visit::device::DeviceKey;
use bedside_visit::invite::{self, Claims, VisitId};
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::Ed25519KeyPair;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;
type Socket = WebSocketStream<TcpStream>;

/// Waiting patients held, the goal.
const GOAL_HELD: usize = 50_000;
/// Relay memory per held connection, bytes.
const GOAL_BYTES_PER_CONN: f64 = 16.0 * 1024.0;
/// Forwarding latency p99, milliseconds.
const GOAL_P99_MS: f64 = 2.0;
/// Messages per second in the latency phase.
const RATE: u64 = 5_000;
/// Handshakes in flight at once.
const PARALLEL: usize = 128;
/// Source addresses 127.0.0.2 ..= 127.0.0.(1 + SOURCES).
const SOURCES: u8 = 8;
const NOFILE_ENV: &str = "BEDSIDE_BENCH_NOFILE";

struct Args {
    quick: bool,
    connections: usize,
    json: Option<PathBuf>,
    node: bool,
}

fn args() -> Res<Args> {
    let mut a = Args {
        quick: false,
        connections: 0,
        json: None,
        node: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => {}
            "--quick" => a.quick = true,
            "--no-node" => a.node = false,
            "--connections" => {
                a.connections = it.next().ok_or("--connections needs a number")?.parse()?;
            }
            "--json" => a.json = Some(it.next().ok_or("--json needs a path")?.into()),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if a.connections == 0 {
        // One process can hold no more sockets than its open-file limit:
        // stay under it (the relay and this process each hold one per patient).
        let cap = nofile_limit().map_or(GOAL_HELD, |l| l.saturating_sub(500));
        a.connections = if a.quick { 2_000 } else { GOAL_HELD.min(cap) };
    }
    Ok(a)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--serve-rust") {
        return match serve_rust(argv.get(2).map(String::as_str).unwrap_or_default()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench relay (child): {e}");
                ExitCode::FAILURE
            }
        };
    }
    // Re-run once under a raised open-file limit; the relays inherit it.
    if std::env::var_os(NOFILE_ENV).is_none() {
        let status = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@""#)
            .args(&argv)
            .env(NOFILE_ENV, "1")
            .status();
        return match status {
            Ok(s) if s.success() => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("bench relay: cannot re-run under ulimit: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let run = || -> Res<bool> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(bench())
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench relay: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The child: the real relay with one trusted clinic, limits raised, on
/// 127.0.0.1; prints its port, runs until stdin closes.
fn serve_rust(clinic_key: &str) -> Res<()> {
    let dir = tempfile::tempdir()?;
    let mut config = bedside_relay::Config::new(
        dir.path().to_path_buf(),
        vec![bedside_relay::ClinicConfig {
            name: "Bench Clinic".into(),
            public_key: clinic_key.into(),
        }],
    );
    let l = &mut config.limits;
    l.max_connections = 1_000_000;
    l.max_connections_per_ip = 1_000_000;
    l.connections_per_ip_per_minute = 1_000_000;
    l.max_visits_per_clinic = 1_000_000;
    l.per_ip_limits_on_loopback = false;
    let state = bedside_relay::AppState::new(&config, Arc::new(bedside_relay::SystemClock))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        let stdin_closed = async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            })
            .await;
        };
        bedside_relay::serve(listener, state, stdin_closed).await?;
        Ok::<_, Box<dyn Error + Send + Sync>>(())
    })
}

/// A relay child process.
struct Relay {
    name: &'static str,
    child: Child,
    port: u16,
}

impl Relay {
    fn start(name: &'static str, mut cmd: Command) -> Res<Self> {
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let port = line
            .trim()
            .parse()
            .map_err(|_| format!("{name} relay did not print its port: {line:?}"))?;
        Ok(Self { name, child, port })
    }

    /// Resident memory of the relay process, bytes.
    fn rss(&self) -> Res<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or("no VmRSS")?;
        Ok(kib * 1024)
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn random<const N: usize>() -> Res<[u8; N]> {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| "no randomness")?;
    Ok(b)
}

fn client_config() -> WebSocketConfig {
    // Small client buffers: the load generator holds as many sockets as the relay.
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

async fn connect(port: u16, path: &str, source: u8) -> Res<Socket> {
    let sock = TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, source)),
        0,
    ))?;
    let stream = sock
        .connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
        .await?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        format!("ws://127.0.0.1:{port}{path}"),
        stream,
        Some(client_config()),
    )
    .await?;
    Ok(ws)
}

async fn send_json(s: &mut Socket, text: String) -> Res<()> {
    s.send(Ws::text(text)).await?;
    Ok(())
}

/// The next text message as JSON, within 15 s.
async fn recv_json<S>(s: &mut S) -> Res<serde_json::Value>
where
    S: futures_util::Stream<Item = Result<Ws, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), s.next())
            .await
            .map_err(|_| "no reply within 15 s")?;
        match frame {
            Some(Ok(Ws::Text(t))) => return Ok(serde_json::from_str(t.as_str())?),
            Some(Ok(Ws::Close(_))) | None => return Err("closed".into()),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(_)) => {}
        }
    }
}

/// Reads until a message of type `want`.
async fn expect<S>(s: &mut S, want: &str) -> Res<serde_json::Value>
where
    S: futures_util::Stream<Item = Result<Ws, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    for _ in 0..10 {
        let m = recv_json(s).await?;
        if m["type"] == want {
            return Ok(m);
        }
        if m["type"] == "error" {
            return Err(format!("expected {want}, got an error: {m}").into());
        }
    }
    Err(format!("no {want}").into())
}

/// A patient for its own visit: hello → challenge → prove → welcome,
/// knock → waiting. Returns the socket, visit hex and device id.
async fn patient(port: u16, source: u8, clinic: &Ed25519KeyPair) -> Res<(Socket, String, String)> {
    let visit: [u8; 16] = random()?;
    let now = unix_now();
    let claims = Claims {
        visit: VisitId(visit),
        key_id: invite::key_id(&invite::public_key(clinic)),
        not_before: u32::try_from(now.saturating_sub(60))?,
        lifetime_min: 240,
        max_devices: 1,
        token_id: 1,
        knock_requires_dob: false,
    };
    let token = invite::sign(clinic, &claims);
    let device = DeviceKey::generate().ok_or("device key")?;
    let mut s = connect(port, "/ws/patient", source).await?;
    let hello = PatientToRelay::Hello {
        v: PROTOCOL_VERSION,
        token,
        device_id: device.id(),
        public_key: BASE64URL_NOPAD.encode(device.public_key()),
    };
    send_json(&mut s, encode(&hello)).await?;
    let challenge = expect(&mut s, "challenge").await?;
    let nonce: [u8; 32] = BASE64URL_NOPAD
        .decode(challenge["nonce"].as_str().unwrap_or_default().as_bytes())?
        .try_into()
        .map_err(|_| "nonce is not 32 bytes")?;
    let sig = device.prove(&visit, &nonce).ok_or("prove")?;
    let prove = PatientToRelay::Prove {
        signature: BASE64URL_NOPAD.encode(&sig),
    };
    send_json(&mut s, encode(&prove)).await?;
    expect(&mut s, "welcome").await?;
    let knock = PatientToRelay::Knock {
        sealed: BASE64URL_NOPAD.encode(&random::<48>()?),
    };
    send_json(&mut s, encode(&knock)).await?;
    expect(&mut s, "waiting").await?;
    Ok((s, HEXLOWER.encode(&visit), device.id()))
}

async fn clinician(port: u16, clinic: &Ed25519KeyPair) -> Res<Socket> {
    let mut s = connect(port, "/ws/clinician", 1).await?;
    let hello = ClinicianToRelay::Hello {
        v: PROTOCOL_VERSION,
        public_key: BASE64URL_NOPAD.encode(&invite::public_key(clinic)),
    };
    send_json(&mut s, encode(&hello)).await?;
    let challenge = expect(&mut s, "challenge").await?;
    let nonce =
        BASE64URL_NOPAD.decode(challenge["nonce"].as_str().unwrap_or_default().as_bytes())?;
    let sig = clinic.sign(&bedside_protocol::auth_message(&nonce));
    let auth = ClinicianToRelay::Auth {
        signature: BASE64URL_NOPAD.encode(sig.as_ref()),
    };
    send_json(&mut s, encode(&auth)).await?;
    expect(&mut s, "ready").await?;
    Ok(s)
}

struct Latency {
    sent: usize,
    received: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    rate: f64,
}

/// Clinician → admitted patient `message`s at `RATE`/s for `secs` seconds.
async fn latency(port: u16, clinic: &Ed25519KeyPair, secs: u64) -> Res<Latency> {
    let c = clinician(port, clinic).await?;
    let (p, visit, device) = patient(port, 1, clinic).await?;
    let (mut c_tx, mut c_rx): (SplitSink<Socket, Ws>, SplitStream<Socket>) = c.split();
    // Drain everything the relay tells the clinician (knocks, device states).
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = c_rx.next().await {} });
    let admit = ClinicianToRelay::Admit {
        visit: visit.clone(),
        device: device.clone(),
    };
    c_tx.send(Ws::text(encode(&admit))).await?;
    let (_p_tx, mut p_rx) = p.split();
    expect(&mut p_rx, "admitted").await?;

    let total = usize::try_from(RATE * secs)?;
    let warmup = usize::try_from(RATE)?;
    let epoch = Instant::now();
    let receiver = tokio::spawn(async move {
        let mut lat = Vec::with_capacity(total);
        let mut got = 0usize;
        while got < total {
            let Ok(m) = recv_json(&mut p_rx).await else {
                break;
            };
            if m["type"] != "message" {
                continue;
            }
            let now = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let bytes = BASE64URL_NOPAD
                .decode(m["sealed"].as_str().unwrap_or_default().as_bytes())
                .unwrap_or_default();
            let (Some(seq), Some(sent)) = (
                bytes
                    .get(0..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes),
                bytes
                    .get(8..16)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes),
            ) else {
                continue;
            };
            got += 1;
            if seq >= warmup as u64 {
                lat.push(now.saturating_sub(sent));
            }
        }
        (got, lat)
    });
    let interval = Duration::from_nanos(1_000_000_000 / RATE);
    let start = Instant::now();
    let mut sent = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while sent < total {
        tick.tick().await;
        let due = usize::try_from(start.elapsed().as_nanos() / interval.as_nanos())?.min(total);
        while sent < due {
            let mut payload = [0u8; 48];
            payload[0..8].copy_from_slice(&(sent as u64).to_be_bytes());
            let at = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
            payload[8..16].copy_from_slice(&at.to_be_bytes());
            let m = ClinicianToRelay::Message {
                visit: visit.clone(),
                device: device.clone(),
                sealed: BASE64URL_NOPAD.encode(&payload),
            };
            c_tx.send(Ws::text(encode(&m))).await?;
            sent += 1;
        }
    }
    let send_secs = start.elapsed().as_secs_f64();
    let (received, mut lat) = receiver.await?;
    drain.abort();
    lat.sort_unstable();
    let pick = |q: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((lat.len() as f64 - 1.0) * q).round() as usize;
        lat[i.min(lat.len() - 1)] as f64 / 1e6
    };
    Ok(Latency {
        sent,
        received,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        max_ms: pick(1.0),
        rate: sent as f64 / send_secs,
    })
}

struct Held {
    attempted: usize,
    opened: usize,
    held: usize,
    open_secs: f64,
    rss_before: u64,
    rss_after: u64,
}

impl Held {
    fn bytes_per_conn(&self) -> f64 {
        if self.held == 0 {
            return f64::NAN;
        }
        self.rss_after.saturating_sub(self.rss_before) as f64 / self.held as f64
    }
}

/// Opens `n` waiting patients, holds them with pings, measures the relay.
async fn hold(relay: &Relay, clinic: Arc<Ed25519KeyPair>, n: usize, quick: bool) -> Res<Held> {
    let (ping_every, hold_for) = if quick {
        (Duration::from_secs(4), Duration::from_secs(10))
    } else {
        (Duration::from_secs(20), Duration::from_secs(45))
    };
    let rss_before = relay.rss()?;
    let port = relay.port;
    let dead = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let started = Instant::now();
    let handles: Vec<tokio::task::JoinHandle<()>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let clinic = clinic.clone();
            let dead = dead.clone();
            let failed = failed.clone();
            let first_error = first_error.clone();
            async move {
                let source = 2 + u8::try_from(i % usize::from(SOURCES)).unwrap_or(0);
                match patient(port, source, &clinic).await {
                    Ok((s, _, _)) => Some(tokio::spawn(keep_alive(s, ping_every, i, dead))),
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut f) = first_error.lock() {
                            f.get_or_insert_with(|| e.to_string());
                        }
                        None
                    }
                }
            }
        })
        .buffer_unordered(PARALLEL)
        .filter_map(std::future::ready)
        .collect()
        .await;
    let open_secs = started.elapsed().as_secs_f64();
    let opened = handles.len();
    println!(
        "  {}: {opened} of {n} waiting patients connected in {open_secs:.1} s ({} failed{}); holding {} s",
        relay.name,
        failed.load(Ordering::Relaxed),
        first_error
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .map(|e| format!(", first: {e}"))
            .unwrap_or_default(),
        hold_for.as_secs()
    );
    tokio::time::sleep(hold_for).await;
    let rss_after = relay.rss()?;
    let held = opened.saturating_sub(dead.load(Ordering::Relaxed));
    for h in &handles {
        h.abort();
    }
    Ok(Held {
        attempted: n,
        opened,
        held,
        open_secs,
        rss_before,
        rss_after,
    })
}

/// Pings every `every` (first one spread over the period); counts itself
/// dead if a pong does not come back.
async fn keep_alive(mut s: Socket, every: Duration, i: usize, dead: Arc<AtomicUsize>) {
    let spread = every.as_millis().max(1) as u64;
    tokio::time::sleep(Duration::from_millis((i as u64 * 7919) % spread)).await;
    let ping = encode(&PatientToRelay::Ping);
    loop {
        if send_json(&mut s, ping.clone()).await.is_err() || expect(&mut s, "pong").await.is_err() {
            dead.fetch_add(1, Ordering::Relaxed);
            return;
        }
        tokio::time::sleep(every).await;
    }
}

struct Side {
    latency: Latency,
    held: Held,
}

async fn run_side(relay: Relay, clinic: Arc<Ed25519KeyPair>, args: &Args) -> Res<Side> {
    let secs = if args.quick { 3 } else { 10 };
    println!(
        "  {}: forwarding latency, {RATE} messages/s for {secs} s",
        relay.name
    );
    // The load generator measures latency on one thread of its own (a
    // current-thread runtime), so it takes at most one of the cores from the
    // relay under test; the hold phase below needs the generator's workers.
    let (port, key) = (relay.port, Arc::clone(&clinic));
    let latency = tokio::task::spawn_blocking(move || -> Res<Latency> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(latency(port, &key, secs))
    })
    .await??;
    let held = hold(&relay, clinic, args.connections, args.quick).await?;
    relay.stop();
    Ok(Side { latency, held })
}

/// The soft open-file limit of this process.
fn nofile_limit() -> Option<usize> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        })
}

fn nofile() -> String {
    nofile_limit().map_or_else(|| "?".into(), |n| n.to_string())
}

async fn bench() -> Res<bool> {
    let args = args()?;
    let started = Instant::now();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| "clinic key")?;
    let clinic = Arc::new(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| "clinic key")?);
    let clinic_b64 = BASE64URL_NOPAD.encode(&invite::public_key(&clinic));
    println!(
        "bench relay: {} waiting patients per relay, {RATE} messages/s; open-file limit {}; sources 127.0.0.2-127.0.0.{}",
        args.connections,
        nofile(),
        1 + SOURCES
    );

    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--serve-rust").arg(&clinic_b64);
    let rust = run_side(Relay::start("rust", cmd)?, clinic.clone(), &args).await?;

    let node = if args.node {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/node/relay.js");
        let mut cmd = Command::new("node");
        cmd.arg(script);
        Some(run_side(Relay::start("node", cmd)?, clinic.clone(), &args).await?)
    } else {
        None
    };

    let kib = |b: f64| b / 1024.0;
    let ratio = |r: f64, n: Option<f64>| n.map(|n| r / n).unwrap_or(f64::NAN);
    println!();
    println!(
        "{:<40}{:>14}{:>14}{:>12}",
        "measure", "rust relay", "node ws", "rust/node"
    );
    let row = |label: &str, r: f64, n: Option<f64>, decimals: usize| {
        println!(
            "{label:<40}{r:>14.decimals$}{:>14}{:>12.3}",
            n.map(|n| format!("{n:.decimals$}"))
                .unwrap_or_else(|| "-".into()),
            ratio(r, n)
        );
    };
    let n = node.as_ref();
    row(
        "waiting patients held",
        rust.held.held as f64,
        n.map(|s| s.held.held as f64),
        0,
    );
    row(
        "relay RSS before, MiB",
        rust.held.rss_before as f64 / 1048576.0,
        n.map(|s| s.held.rss_before as f64 / 1048576.0),
        1,
    );
    row(
        "relay RSS while holding, MiB",
        rust.held.rss_after as f64 / 1048576.0,
        n.map(|s| s.held.rss_after as f64 / 1048576.0),
        1,
    );
    row(
        "memory per connection, KiB",
        kib(rust.held.bytes_per_conn()),
        n.map(|s| kib(s.held.bytes_per_conn())),
        2,
    );
    row(
        "connect + handshake + knock, conns/s",
        rust.held.opened as f64 / rust.held.open_secs,
        n.map(|s| s.held.opened as f64 / s.held.open_secs),
        0,
    );
    row(
        "latency p50, ms",
        rust.latency.p50_ms,
        n.map(|s| s.latency.p50_ms),
        3,
    );
    row(
        "latency p99, ms",
        rust.latency.p99_ms,
        n.map(|s| s.latency.p99_ms),
        3,
    );
    row(
        "latency max, ms",
        rust.latency.max_ms,
        n.map(|s| s.latency.max_ms),
        3,
    );
    row(
        "messages sent / s (achieved)",
        rust.latency.rate,
        n.map(|s| s.latency.rate),
        0,
    );
    row(
        "messages received",
        rust.latency.received as f64,
        n.map(|s| s.latency.received as f64),
        0,
    );

    let held_ok = rust.held.held >= GOAL_HELD;
    let mem_ok = rust.held.bytes_per_conn() <= GOAL_BYTES_PER_CONN;
    let lat_ok = rust.latency.p99_ms <= GOAL_P99_MS && rust.latency.received == rust.latency.sent;
    println!();
    println!(
        "goals (rust relay): held {} {} {GOAL_HELD}; {:.2} KiB per connection {} 16 KiB; p99 {:.3} ms {} {GOAL_P99_MS} ms; bench took {:.0} s",
        rust.held.held,
        if held_ok { ">=" } else { "<" },
        kib(rust.held.bytes_per_conn()),
        if mem_ok { "<=" } else { ">" },
        rust.latency.p99_ms,
        if lat_ok { "<=" } else { ">" },
        started.elapsed().as_secs_f64()
    );

    let side = |s: &Side| {
        serde_json::json!({
            "attempted": s.held.attempted,
            "opened": s.held.opened,
            "held": s.held.held,
            "open_s": s.held.open_secs,
            "rss_before": s.held.rss_before,
            "rss_after": s.held.rss_after,
            "bytes_per_conn": s.held.bytes_per_conn(),
            "latency": {
                "sent": s.latency.sent,
                "received": s.latency.received,
                "rate": s.latency.rate,
                "p50_ms": s.latency.p50_ms,
                "p99_ms": s.latency.p99_ms,
                "max_ms": s.latency.max_ms,
            },
        })
    };
    let json = serde_json::json!({
        "bench": "relay",
        "quick": args.quick,
        "connections": args.connections,
        "rate": RATE,
        "rust": side(&rust),
        "node": node.as_ref().map(side),
        "ratios": node.as_ref().map(|n| serde_json::json!({
            "held": rust.held.held as f64 / n.held.held as f64,
            "bytes_per_conn": rust.held.bytes_per_conn() / n.held.bytes_per_conn(),
            "p50": rust.latency.p50_ms / n.latency.p50_ms,
            "p99": rust.latency.p99_ms / n.latency.p99_ms,
        })),
        "goals": {
            "held": GOAL_HELD, "bytes_per_conn": GOAL_BYTES_PER_CONN, "p99_ms": GOAL_P99_MS,
            "held_met": held_ok, "bytes_per_conn_met": mem_ok, "p99_met": lat_ok,
        },
        "total_s": started.elapsed().as_secs_f64(),
    });
    println!("{json}");
    if let Some(path) = &args.json {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(f, "{json}")?;
    }
    let enforce = std::env::var("BEDSIDE_BENCH_ENFORCE").is_ok_and(|v| v == "1");
    if enforce && !((held_ok || args.quick) && mem_ok && lat_ok) {
        eprintln!("bench relay: a goal was missed (BEDSIDE_BENCH_ENFORCE=1)");
        return Ok(false);
    }
    Ok(true)
}
