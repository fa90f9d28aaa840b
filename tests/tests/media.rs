//! A real call: the real relay, the headless clinician answering with synthetic media
//! (`bedside_host::run_with_media`, what `bedsidectl visit host --media synthetic
//! --auto-admit` runs), and a headless Chromium patient with fake devices on the real
//! join page (`tests/browser/call.mjs`). Both directions carry VP8 (H.264 when
//! `allow_h264` is set: policy `AllowH264`) and Opus; after 2 s of warm-up from the first
//! decoded frame, 10 s are measured.

use bedside_host::{HostEvent, MediaOptions};
use bedside_media::{CallStats, PeerConfig};
use bedside_visit::invite;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::browser::{Scene, missing_tools, scene};
use crate::patient::{
    Relay, drive_script, event, one_browser, random, relay_with_turn, step, steps, token,
};

/// The headless clinician with synthetic media on loopback; stop it with the sender.
fn spawn_media_host(
    relay: &Relay,
    visit: [u8; 16],
    secret: [u8; 32],
) -> (mpsc::UnboundedReceiver<HostEvent>, oneshot::Sender<()>) {
    let peer = PeerConfig {
        udp_addrs: vec!["127.0.0.1:0".parse().expect("addr")],
        ..PeerConfig::default()
    };
    spawn_media_host_with(relay, visit, secret, peer)
}

pub(crate) fn spawn_media_host_with(
    relay: &Relay,
    visit: [u8; 16],
    secret: [u8; 32],
    peer: PeerConfig,
) -> (mpsc::UnboundedReceiver<HostEvent>, oneshot::Sender<()>) {
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let media = MediaOptions {
        peer,
        turn_urls: Vec::new(),
    };
    let rx = bedside_testkit::spawn_host_until(relay, visit, secret, Some(media), async {
        let _ = stop_rx.await;
    });
    (rx, stop_tx)
}

/// Seconds of warm-up after the first decoded frame before measuring (both sides).
const WARMUP_S: f64 = 2.0;

/// Frames the clinician decoded per second, from its once-a-second stats, over the
/// seconds after the first decoded frame and the warm-up.
fn rust_fps(stats: &[CallStats]) -> f64 {
    let mut after = stats.iter().filter(|s| {
        s.first_frame_ms
            .is_some_and(|ms| s.elapsed_s >= ms as f64 / 1000.0 + WARMUP_S)
    });
    let (Some(first), Some(last)) = (after.next(), stats.last()) else {
        return 0.0;
    };
    let secs = last.elapsed_s - first.elapsed_s;
    if secs < 1.0 {
        return 0.0;
    }
    (last.totals.video_frames_decoded - first.totals.video_frames_decoded) as f64 / secs
}

/// What one browser call measured: the browser's `media` step and the clinician's stats.
struct CallRun {
    media: serde_json::Value,
    stats: Vec<CallStats>,
}

/// Relay + headless clinician with `peer` + a Chromium patient for 10 s, with the checks
/// every codec must pass: ≥ `min_fps` decoded both ways, Opus at 45–55 packets/s, 640×480,
/// no authentication failure, the same SAS. `None` when Chromium or node is missing.
async fn browser_call(peer: PeerConfig, min_fps: f64) -> Option<CallRun> {
    let Scene {
        relay,
        visit,
        secret,
        _browser,
    } = scene().await?;
    let (mut host, stop) = spawn_media_host_with(&relay, visit, secret, peer);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    let args = vec![
        "--seconds".into(),
        "10".into(),
        "--warmup".into(),
        WARMUP_S.to_string(),
    ];
    let run = drive_script("call.mjs", link, args, 90).await;
    let _ = stop.send(());
    let mut events = vec![];
    while let Some(e) = host.recv().await {
        events.push(e);
    }
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );

    let stats: Vec<CallStats> = events
        .iter()
        .filter_map(|e| match e {
            HostEvent::CallStats { stats, .. } => Some((**stats).clone()),
            _ => None,
        })
        .collect();
    for s in &stats {
        println!(
            "clinician t={:.0}s {} sent {:.1} fps at {} kbit/s (target {}), decoded {:.1} fps, loss sent {:.3}, remb {:?}",
            s.elapsed_s,
            s.video_codec,
            s.fps_sent,
            s.send_kbps as u32,
            s.target_kbps,
            s.fps_decoded,
            s.loss_sent,
            s.remb_kbps
        );
    }
    let seen = steps(&run.stdout);
    let media = step(&seen, "media").expect("a media step").clone();
    let fps = media["fps"].as_f64().unwrap_or(0.0);
    let audio_pps = media["audio_pps"].as_f64().unwrap_or(0.0);
    assert!(fps >= min_fps, "browser decoded {fps:.1} fps: {media}");
    assert!(
        (45.0..=55.0).contains(&audio_pps),
        "browser received {audio_pps:.1} Opus packets/s: {media}"
    );
    assert_eq!(media["width"], 640, "{media}");

    let auth_failures: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, HostEvent::CallAuthFailed { .. }))
        .collect();
    assert!(auth_failures.is_empty(), "{auth_failures:?}");
    let host_sas = events
        .iter()
        .find_map(|e| match e {
            HostEvent::CallAnswered { sas, .. } => Some(sas.clone()),
            _ => None,
        })
        .expect("the host answered the call");
    assert_eq!(media["sas"].as_str(), Some(host_sas.as_str()), "{media}");

    let fps = rust_fps(&stats);
    let last = stats.last().expect("stats");
    println!(
        "browser: {:.1} fps {}, {audio_pps:.1} audio pkt/s; clinician: {fps:.1} fps decoded, first frame {:?} ms, {:?}",
        media["fps"].as_f64().unwrap_or(0.0),
        media["codec"],
        last.first_frame_ms,
        last.recv_resolution
    );
    assert!(
        fps >= min_fps,
        "the clinician decoded {fps:.1} fps: {last:?}"
    );
    assert!(
        last.totals.audio_frames_decoded > 400,
        "the clinician decoded {} audio frames",
        last.totals.audio_frames_decoded
    );
    Some(CallRun { media, stats })
}

fn loopback_peer(allow_h264: bool) -> PeerConfig {
    PeerConfig {
        udp_addrs: vec!["127.0.0.1:0".parse().expect("addr")],
        allow_h264,
        ..PeerConfig::default()
    }
}

/// The codec each direction used: the browser's inbound and outbound, and the clinician's.
fn assert_codec(run: &CallRun, mime: &str) {
    let media = &run.media;
    assert_eq!(media["codec"], mime, "the browser received: {media}");
    assert_eq!(media["sent_codec"], mime, "the browser sent: {media}");
    assert!(
        run.stats.iter().all(|s| s.video_codec == mime),
        "the clinician reported {:?}",
        run.stats.last().map(|s| &s.video_codec)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_patient_and_the_rust_clinician_exchange_media_for_ten_seconds() {
    // AllowH264 off (the default): VP8 both ways, though this build has H.264 and
    // Chromium offers it.
    let Some(run) = browser_call(loopback_peer(false), 25.0).await else {
        return;
    };
    assert_codec(&run, "video/VP8");
}

/// Policy `AllowH264` on (`PeerConfig::allow_h264`), in a build with the `h264` feature:
/// the same call negotiates H.264 (packetization-mode 1, constrained baseline) and both
/// directions decode at least 20 fps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_allow_h264_a_browser_call_negotiates_h264_both_ways() {
    let Some(run) = browser_call(loopback_peer(true), 20.0).await else {
        return;
    };
    assert_codec(&run, "video/H264");
}

async fn fingerprint_swapping_proxy(relay_origin: &str) -> String {
    let upstream = relay_origin.trim_start_matches("http://").to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = match server_read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    swap_fingerprints(&mut buf[..n]);
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    origin
}

fn swap_fingerprints(bytes: &mut [u8]) -> usize {
    const NEEDLE: &[u8] = b"a=fingerprint:sha-256 ";
    let mut swapped = 0;
    let mut i = 0;
    while let Some(p) = bytes[i..].windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let at = i + p + NEEDLE.len();
        if let Some(b) = bytes.get_mut(at) {
            *b = if *b == b'0' { b'1' } else { b'0' };
            swapped += 1;
        }
        i = at;
    }
    swapped
}

#[test]
fn the_proxy_changes_each_fingerprint_in_place() {
    let mut m = br#"{"type":"answer","sdp":"v=0\r\na=fingerprint:sha-256 AB:CD\r\na=fingerprint:sha-256 01:23"}"#.to_vec();
    let before = m.len();
    assert_eq!(swap_fingerprints(&mut m), 2);
    assert_eq!(m.len(), before);
    let s = String::from_utf8(m).expect("utf-8");
    assert!(
        s.contains("sha-256 0B:CD") && s.contains("sha-256 11:23"),
        "{s}"
    );
}

/// A man in the middle swaps the clinician's DTLS fingerprint in the answer: the patient
/// page refuses the answer (its tag no longer verifies), tells the clinician side through
/// the relay, which stops and records the refusal in its encrypted audit chain (what
/// `bedsidectl visit host` does), and no media flows either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_fingerprint_in_the_answer_is_refused_by_the_patient() {
    let Some(Scene {
        relay,
        visit,
        secret,
        _browser,
    }) = scene().await
    else {
        return;
    };
    let (mut host, stop) = spawn_media_host(&relay, visit, secret);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let audit_dir = tempfile::tempdir().expect("tmp");
    let audit_key = bedside_vault::DbKey::generate().expect("rng");
    let mut store =
        bedside_store::Store::open(&audit_dir.path().join("bedside.db"), &audit_key, "dr.mitm")
            .expect("store");
    let proxy = fingerprint_swapping_proxy(&relay.origin).await;
    let link = invite::link(&proxy, &token(&relay.key, visit), &secret);

    let run = drive_script(
        "call.mjs",
        link,
        vec!["--expect".into(), "refused".into()],
        90,
    )
    .await;
    // The page's refusal reaches the clinician side through the relay.
    let mut events = vec![];
    let refusal = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(e) = host.recv().await {
            events.push(e.clone());
            if matches!(e, HostEvent::CallRefusedByPatient { .. }) {
                return Some(e);
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let _ = stop.send(());
    while let Some(e) = host.recv().await {
        events.push(e);
    }
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );
    let refusal =
        refusal.unwrap_or_else(|| panic!("the clinician never heard of the refusal: {events:?}"));
    let HostEvent::CallRefusedByPatient {
        reason, message, ..
    } = &refusal
    else {
        unreachable!("matched above");
    };
    assert_eq!(reason, "answer_tag_mismatch");
    assert!(message.contains("stopped the call"), "{message}");
    // Recorded as bedsidectl records it: through the store's audit chain.
    let action = refusal.audit_action().expect("a refusal is audited");
    store
        .audit(
            action,
            serde_json::json!({ "appointment": 1, "reason": reason }),
        )
        .expect("audit");
    let recorded = store.audit_export().expect("export");
    assert!(
        recorded
            .iter()
            .any(|e| e.action == "visit.call_refused_by_patient"
                && e.subject["reason"] == "answer_tag_mismatch"),
        "{recorded:?}"
    );
    assert!(matches!(
        store.audit_verify().expect("verify"),
        bedside_store::AuditVerdict::Ok { .. }
    ));
    let seen = steps(&run.stdout);
    let refused = step(&seen, "refused").expect("a refused step");
    assert_eq!(refused["call"]["state"], "refused", "{refused}");
    assert!(
        refused["call"]["authFailures"].as_u64() >= Some(1),
        "{refused}"
    );
    assert_eq!(refused["frames"], 0, "{refused}");
    assert_ne!(refused["state"], "connected", "{refused}");

    // The clinician answered (the offer was genuine) but never got media.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, HostEvent::CallAnswered { .. })),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, HostEvent::FirstRemoteFrame { .. })),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, HostEvent::CallState { state, .. } if state == "connected")),
        "{events:?}"
    );
}

/// coturn on 127.0.0.1 with REST credentials (killed by PID on drop).
struct Coturn {
    child: std::process::Child,
    port: u16,
    secret: String,
    _dir: tempfile::TempDir,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port")
}

async fn coturn() -> Option<Coturn> {
    if !std::path::Path::new("/usr/bin/turnserver").exists() {
        return None;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_udp_port();
    let relay_port = free_udp_port().max(20_000);
    let secret = data_encoding::HEXLOWER.encode(&random::<16>());
    let child = std::process::Command::new("/usr/bin/turnserver")
        .args([
            "-n",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            &format!("--listening-port={port}"),
            &format!("--min-port={relay_port}"),
            &format!("--max-port={}", relay_port.saturating_add(200)),
            "--use-auth-secret",
            &format!("--static-auth-secret={secret}"),
            "--realm=bedside.test",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--allow-loopback-peers",
            "--no-stdout-log",
            "--simple-log",
        ])
        .arg(format!(
            "--log-file={}",
            dir.path().join("turn.log").display()
        ))
        .arg(format!(
            "--pidfile={}",
            dir.path().join("turn.pid").display()
        ))
        .arg(format!("--db={}", dir.path().join("turndb").display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("turnserver starts");
    // Give it a moment to open its listener.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    Some(Coturn {
        child,
        port,
        secret,
        _dir: dir,
    })
}

/// TURN: the relay hands both sides time-limited coturn REST credentials after admission
/// (the patient with `admitted`, the clinician with the patient's offer); the clinician
/// holds no TURN secret and uses only relay candidates: the call connects and carries media.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_clinician_reaches_the_patient_through_coturn() {
    if let Some(why) = missing_tools() {
        println!("skipped: {why}");
        return;
    }
    let _browser = one_browser().await;
    let Some(turn) = coturn().await else {
        println!("skipped: /usr/bin/turnserver (coturn) is missing");
        return;
    };
    let turn_config = bedside_relay::TurnConfig {
        urls: vec![format!("turn:127.0.0.1:{}?transport=udp", turn.port)],
        secret: turn.secret.clone(),
        ttl_secs: 600,
    };
    let relay = relay_with_turn(Some(turn_config)).await;
    let visit = random::<16>();
    let secret = random::<32>();
    // No TURN credentials and no secret on the clinician's side: the relay hands them
    // over with the admitted patient's offer.
    let peer = PeerConfig {
        udp_addrs: vec!["127.0.0.1:0".parse().expect("addr")],
        turn: None,
        ice_policy: bedside_media::IcePolicy::Relay,
        ..PeerConfig::default()
    };
    let (mut host, stop) = spawn_media_host_with(&relay, visit, secret, peer);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    let args = vec![
        "--seconds".into(),
        "4".into(),
        "--warmup".into(),
        "1".into(),
    ];
    let run = drive_script("call.mjs", link, args, 90).await;
    let _ = stop.send(());
    let mut events = vec![];
    while let Some(e) = host.recv().await {
        events.push(e);
    }
    drop(turn);
    assert!(
        run.ok,
        "the browser patient failed:\n{}{}",
        run.stdout, run.stderr
    );
    let seen = steps(&run.stdout);
    let media = step(&seen, "media").expect("a media step");
    assert!(media["fps"].as_f64() > Some(10.0), "{media}");
    assert!(media["audio_pps"].as_f64() > Some(40.0), "{media}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, HostEvent::FirstRemoteFrame { .. })),
        "the clinician decoded nothing through TURN"
    );
    // With the relay-only policy the clinician gathers nothing but coturn relay candidates,
    // so the media above went through coturn.
    assert!(
        !events.iter().any(|e| matches!(
            e,
            HostEvent::CallRefused { .. } | HostEvent::CallAuthFailed { .. }
        )),
        "{events:?}"
    );
}
