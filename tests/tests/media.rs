//! A real call: the real relay, the headless clinician answering with synthetic media
//! (`bedside_host::run_with_media`, what `bedsidectl visit host --media synthetic
//! --auto-admit` runs), and a headless Chromium patient with fake devices on the real
//! join page (`tests/browser/call.mjs`). Both directions carry VP8 and Opus for 10 s.

use bedside_host::{HostConfig, HostEvent, MediaOptions};
use bedside_media::{CallStats, PeerConfig};
use bedside_visit::invite;
use tokio::sync::{mpsc, oneshot};

use crate::browser::{
    Relay, drive_script, event, missing_tools, random, relay, step, steps, token,
};

/// The headless clinician with synthetic media on loopback; stop it with the sender.
fn spawn_media_host(
    relay: &Relay,
    visit: [u8; 16],
    secret: [u8; 32],
) -> (mpsc::UnboundedReceiver<HostEvent>, oneshot::Sender<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let cfg = HostConfig {
        relay_origin: relay.origin.clone(),
        key: relay.key.clone(),
        visit,
        secret: zeroize::Zeroizing::new(secret),
        auto_admit: true,
    };
    let media = MediaOptions {
        peer: PeerConfig {
            udp_addrs: vec!["127.0.0.1:0".parse().expect("addr")],
            ..PeerConfig::default()
        },
    };
    tokio::spawn(async move {
        let events = tx.clone();
        let r =
            bedside_host::run_with_media(cfg, Some(media), move |e| drop(events.send(e)), async {
                let _ = stop_rx.await;
            })
            .await;
        if let Err(e) = r {
            let _ = tx.send(HostEvent::RelayError {
                code: "host".into(),
                message: e.to_string(),
            });
        }
    });
    (rx, stop_tx)
}

/// Frames the clinician decoded per second, from its once-a-second stats, over the
/// seconds after the first decoded frame.
fn rust_fps(stats: &[CallStats]) -> f64 {
    let mut after = stats.iter().filter(|s| s.first_frame_ms.is_some());
    let (Some(first), Some(last)) = (after.next(), stats.last()) else {
        return 0.0;
    };
    let secs = last.elapsed_s - first.elapsed_s;
    if secs < 1.0 {
        return 0.0;
    }
    (last.totals.video_frames_decoded - first.totals.video_frames_decoded) as f64 / secs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_patient_and_the_rust_clinician_exchange_media_for_ten_seconds() {
    if let Some(why) = missing_tools() {
        println!("skipped: {why}");
        return;
    }
    let relay = relay().await;
    let visit = random::<16>();
    let secret = random::<32>();
    let (mut host, stop) = spawn_media_host(&relay, visit, secret);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    let args = vec![
        "--seconds".into(),
        "10".into(),
        "--visit".into(),
        data_encoding::HEXLOWER.encode(&visit),
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

    let seen = steps(&run.stdout);
    let media = step(&seen, "media").expect("a media step");
    let fps = media["fps"].as_f64().unwrap_or(0.0);
    let audio_pps = media["audio_pps"].as_f64().unwrap_or(0.0);
    assert!(fps >= 25.0, "browser decoded {fps:.1} fps: {media}");
    assert!(
        (45.0..=55.0).contains(&audio_pps),
        "browser received {audio_pps:.1} Opus packets/s: {media}"
    );
    assert_eq!(media["codec"], "video/VP8", "{media}");
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

    let stats: Vec<CallStats> = events
        .iter()
        .filter_map(|e| match e {
            HostEvent::CallStats { stats, .. } => Some((**stats).clone()),
            _ => None,
        })
        .collect();
    let fps = rust_fps(&stats);
    let last = stats.last().expect("stats");
    println!(
        "browser: {:.1} fps, {audio_pps:.1} audio pkt/s; clinician: {fps:.1} fps decoded, first frame {:?} ms, {:?}",
        media["fps"].as_f64().unwrap_or(0.0),
        last.first_frame_ms,
        last.recv_resolution
    );
    assert!(fps >= 25.0, "the clinician decoded {fps:.1} fps: {last:?}");
    assert!(
        last.totals.audio_frames_decoded > 400,
        "the clinician decoded {} audio frames",
        last.totals.audio_frames_decoded
    );
}
