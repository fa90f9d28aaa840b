//! The patient join page in real headless Firefox (Debian's `firefox-esr`), driven by
//! puppeteer-core over WebDriver BiDi (`tests/browser/firefox.mjs`): a real invite link,
//! the device check with Firefox's fake devices, the knock, admission by the real headless
//! host, the device key kept across a reload; refused links; and a real call with media
//! both ways. Firefox gathers no 127.0.0.1 ICE candidates, so for the call Firefox runs in
//! its own network namespace joined by a veth pair (as the network-drop test does): root
//! only, and elsewhere it says so and passes without running.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use bedside_host::HostEvent;
use bedside_media::{CallStats, PeerConfig};
use bedside_visit::invite;
use tokio::sync::MutexGuard;

use crate::media::spawn_media_host_with;
use crate::network::{Netns, forward};
use crate::patient::{
    Relay, csp_clean, devices, drive_script, drive_script_in, event, expired_token, forged_token,
    knocks, one_browser, one_device_kept, random, refused_by_relay, relay, spawn_host, step, steps,
    token,
};

const FIREFOX: &str = "/usr/bin/firefox-esr";
const PATIENT: &str = "Zoë O'Brien-Ngata";

/// Why the Firefox tests cannot run here, if they cannot.
fn missing_firefox() -> Option<String> {
    if !Path::new(FIREFOX).exists() {
        return Some(format!(
            "{FIREFOX} is missing (apt-get install firefox-esr; cargo xtask setup does)"
        ));
    }
    if !Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ui/node_modules/puppeteer-core/package.json")
        .is_file()
    {
        return Some("puppeteer-core is not installed: run `npm ci` in ui/".into());
    }
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("`node` is not on PATH".into()),
    }
}

/// The browser slot and a relay, or `None` (saying why) when Firefox cannot run here.
async fn firefox_scene() -> Option<(MutexGuard<'static, ()>, Relay)> {
    if let Some(why) = missing_firefox() {
        println!("skipped: {why}");
        return None;
    }
    let slot = one_browser().await;
    Some((slot, relay().await))
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

/// Firefox opens a real invite link, passes the device check with its fake camera and
/// microphone, knocks (sealed in the page with WebCrypto), and the real host admits it.
/// Its device key is a non-extractable ECDSA key in Firefox's IndexedDB: after a reload
/// Firefox proves the same key, so the host sees the same device, not an extra one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_knocks_is_admitted_and_a_reload_is_the_same_device() {
    let Some((_slot, relay)) = firefox_scene().await else {
        return;
    };
    let (visit, secret) = (random::<16>(), random::<32>());
    let mut host = spawn_host(&relay, visit, secret);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    let run = drive_script(
        "firefox.mjs",
        link,
        args(&["--name", PATIENT, "--reload"]),
        90,
    )
    .await;
    assert!(run.ok, "Firefox failed:\n{}{}", run.stdout, run.stderr);
    let seen = steps(&run.stdout);
    let launched = step(&seen, "launched").expect("a launched step");
    assert!(
        launched["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("firefox/")),
        "not Firefox: {launched}"
    );
    let preview = &step(&seen, "device_check").expect("a device_check step")["preview"];
    assert!(
        preview["width"].as_u64().unwrap_or(0) > 0,
        "the fake camera does not play in the preview: {preview}"
    );
    assert_eq!(preview["tracks"], serde_json::json!(["audio", "video"]));
    assert_eq!(
        step(&seen, "knock_form").map(|s| s["dob_asked"].clone()),
        Some(false.into())
    );

    let page_id = one_device_kept(&devices(&seen, "admitted"), &devices(&seen, "rewaiting"));
    assert_eq!(
        step(&seen, "rewaiting").map(|s| s["card"].clone()),
        Some("waiting".into()),
        "after the reload the host (auto-admitting the first knock only) keeps it waiting"
    );

    // Strict CSP holds in Firefox: the page needed nothing it forbids, and an inline
    // script injected afterwards was blocked and reported (so the listener hears).
    csp_clean(
        &step(&seen, "admitted").expect("an admitted step")["csp_violations"],
        step(&seen, "csp_probe").expect("a csp_probe step"),
    );

    // The host opened the sealed knock, admitted it, and saw the reloaded page's knock
    // from the same key, not flagged as an extra device (max devices is 1).
    assert_eq!(
        knocks(&mut host, 2, PATIENT).await,
        vec![(page_id.clone(), false), (page_id, false)],
        "both knocks come from the page's key"
    );
}

/// Firefox without usable devices — the patient blocked the camera and microphone, or
/// there are none — gets the device check's plain explanation (how to allow them, or that
/// none were found), no preview, and can still go on without a camera and be let in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_explains_blocked_or_missing_devices_and_lets_the_patient_in_without_camera() {
    let Some((_slot, relay)) = firefox_scene().await else {
        return;
    };
    for (devices, says) in [
        (
            "blocked",
            "Your browser is not allowing the camera or microphone. To allow them",
        ),
        (
            "none",
            "We could not find a camera or microphone on this device.",
        ),
    ] {
        let (visit, secret) = (random::<16>(), random::<32>());
        let mut host = spawn_host(&relay, visit, secret);
        event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
        let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);
        let run = drive_script(
            "firefox.mjs",
            link,
            args(&["--devices", devices, "--name", PATIENT]),
            90,
        )
        .await;
        assert!(run.ok, "Firefox ({devices}):\n{}{}", run.stdout, run.stderr);
        let seen = steps(&run.stdout);
        let check = step(&seen, "device_check").expect("a device_check step");
        assert!(
            check["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(says)),
            "{devices}: {check}"
        );
        assert_eq!(check["preview"], false, "{devices}: {check}");
        assert!(step(&seen, "admitted").is_some(), "{devices}: not admitted");
        match event(&mut host, |e| matches!(e, HostEvent::Knock { .. })).await {
            HostEvent::Knock { name, .. } => assert_eq!(name, PATIENT),
            other => panic!("{other:?}"),
        }
    }
}

/// A forged link and an expired one each get their plain page in Firefox, with the
/// relay's status, and never reach the knock form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_shows_forged_and_expired_links_plainly() {
    let Some((_slot, relay)) = firefox_scene().await else {
        return;
    };
    let visit = random::<16>();
    let forged = forged_token(&relay.key, visit);
    let run = drive_script(
        "firefox.mjs",
        invite::link(&relay.origin, &forged, &random::<32>()),
        args(&["--expect", "invalid"]),
        60,
    )
    .await;
    let seen = refused_by_relay(&run, "invalid", 404);
    assert!(step(&seen, "ready").is_none());

    let expired = expired_token(&relay.key, visit);
    let run = drive_script(
        "firefox.mjs",
        invite::link(&relay.origin, &expired, &random::<32>()),
        args(&["--expect", "expired"]),
        60,
    )
    .await;
    let seen = refused_by_relay(&run, "expired", 410);
    assert!(step(&seen, "ready").is_none());
}

/// Seconds of call measured in Firefox after its first decoded frame.
const CALL_S: u64 = 8;

/// Seconds the patient's link stays down in the drop test.
const DOWN_S: u64 = 6;

/// What a Firefox call run gives: the driver's output, the clinician's events and stats.
struct FirefoxCall {
    run: crate::patient::Run,
    events: Vec<HostEvent>,
    stats: Vec<CallStats>,
}

/// Relay + headless clinician with synthetic media on the veth + Firefox in the namespace,
/// for a call of [`CALL_S`] seconds, then (with `down`) a dropped link. `None` (saying why)
/// when Firefox or network namespaces are unavailable.
async fn firefox_call(down: Option<u64>) -> Option<FirefoxCall> {
    if let Some(why) = missing_firefox() {
        println!("skipped: {why}");
        return None;
    }
    let netns = match Netns::create() {
        Ok(n) => n,
        Err(why) => {
            println!("skipped: network namespaces unavailable ({why}); run as root");
            return None;
        }
    };
    let (_slot, relay) = firefox_scene().await?;
    let relay_addr: SocketAddr = relay
        .origin
        .trim_start_matches("http://")
        .parse()
        .expect("relay origin is http://ip:port");
    let via = forward(SocketAddr::new(netns.host_ip.into(), 0), relay_addr).await;
    // The clinician's media binds the veth address: Firefox can reach only that.
    let peer = PeerConfig {
        udp_addrs: vec![SocketAddr::new(netns.host_ip.into(), 0)],
        ..PeerConfig::default()
    };
    let (visit, secret) = (random::<16>(), random::<32>());
    let (mut host, stop) = spawn_media_host_with(&relay, visit, secret, peer);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    let wrapper = args(&["ip", "netns", "exec", &netns.name]);
    let mut extra = vec![
        "--expect".into(),
        "media".into(),
        "--seconds".into(),
        CALL_S.to_string(),
        "--forward".into(),
        format!("{}={}", relay_addr.port(), via),
    ];
    if let Some(s) = down {
        extra.extend([
            "--iface".into(),
            netns.peer_if.clone(),
            "--down".into(),
            s.to_string(),
        ]);
    }
    let run = drive_script_in(wrapper, "firefox.mjs", link, extra, 200).await;
    let _ = stop.send(());
    let mut events = vec![];
    while let Some(e) = host.recv().await {
        events.push(e);
    }
    let stats: Vec<CallStats> = events
        .iter()
        .filter_map(|e| match e {
            HostEvent::CallStats { stats, .. } => Some((**stats).clone()),
            _ => None,
        })
        .collect();
    for s in &stats {
        println!(
            "clinician t={:.0}s {} {} sent {:.1} fps, decoded {:.1} fps ({} in all, {} video bytes in, {} decode errors, {} PLIs sent, resume {:?} ms, {:?} ms from its first packet), audio in {:.0} pps",
            s.elapsed_s,
            s.state,
            s.video_codec,
            s.fps_sent,
            s.fps_decoded,
            s.totals.video_frames_decoded,
            s.totals.video_bytes_received,
            s.totals.video_decode_errors,
            s.totals.plis_sent,
            s.resume_frame_ms,
            s.resume_decode_ms,
            s.audio_pps_received
        );
    }
    assert!(
        run.ok,
        "Firefox's call failed:\n{}{}",
        run.stdout, run.stderr
    );
    Some(FirefoxCall { run, events, stats })
}

/// A real call between Firefox and the headless clinician with synthetic media: Firefox
/// decodes the clinician's video and hears its audio, and the clinician decodes
/// Firefox's video — over a veth, because Firefox refuses loopback ICE candidates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_and_the_clinician_decode_each_others_video() {
    let Some(FirefoxCall { run, events, stats }) = firefox_call(None).await else {
        return;
    };

    // Firefox: the clinician's video decoded and still coming, its audio arriving, the
    // answer verified and a SAS shown, its own camera encoded and sent.
    let seen = steps(&run.stdout);
    let media = step(&seen, "media").expect("a media step");
    let (before, after) = (
        media["frames_before"].as_u64().unwrap_or(0),
        media["frames"].as_u64().unwrap_or(0),
    );
    assert!(
        after > before && media["fps"].as_f64().unwrap_or(0.0) >= 5.0,
        "Firefox's decoded frames are not rising: {media}"
    );
    assert!(
        media["audio_packets"].as_u64().unwrap_or(0) >= 25 * CALL_S,
        "Firefox receives no steady audio: {media}"
    );
    assert!(
        media["frames_sent"].as_u64().unwrap_or(0) > 0,
        "Firefox sends no video: {media}"
    );
    // And the page shows it: its remote <video> plays, with sound (not muted), through
    // Firefox's autoplay policy.
    assert_eq!(media["remote_video"]["paused"], false, "{media}");
    assert_eq!(media["remote_video"]["muted"], false, "{media}");
    assert!(
        media["remote_played_s"].as_f64().unwrap_or(0.0) >= CALL_S as f64 / 2.0,
        "the remote video does not play: {media}"
    );
    assert_eq!(media["page"]["verified"], true, "{media}");
    assert_eq!(
        media["csp_violations"],
        serde_json::json!([]),
        "Firefox reported CSP violations in the call: {media}"
    );
    assert!(
        media["page"]["sas"]
            .as_str()
            .is_some_and(|s| s.len() == 7 && s.as_bytes()[3] == b' '),
        "no SAS shown: {media}"
    );

    // The clinician: Firefox's video decoded, rising over the call's last seconds.
    let decoded: Vec<u64> = stats
        .iter()
        .map(|s| s.totals.video_frames_decoded)
        .collect();
    let last = decoded.last().copied().unwrap_or(0);
    let earlier = decoded
        .len()
        .checked_sub(5)
        .and_then(|i| decoded.get(i))
        .copied()
        .unwrap_or(0);
    assert!(
        last > earlier && last >= 30,
        "the clinician does not decode Firefox's video: {decoded:?}"
    );
    assert!(
        stats.iter().any(|s| s.audio_pps_received >= 25.0),
        "the clinician receives no steady audio from Firefox"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, HostEvent::CallRefused { .. })),
        "the clinician refused the call"
    );
}

/// Firefox's link drops for [`DOWN_S`] seconds mid-call: the page restarts ICE by itself
/// (Firefox's `iceRestart` offer and rollback), Firefox decodes the clinician's video again,
/// the card never leaves the call, and the clinician admitted once, answered the restart and
/// receives Firefox's audio and video again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_rides_out_a_dropped_network_with_an_ice_restart() {
    let Some(FirefoxCall { run, events, stats }) = firefox_call(Some(DOWN_S)).await else {
        return;
    };
    let seen = steps(&run.stdout);
    let resumed = step(&seen, "resumed").expect("a resumed step");
    assert!(
        resumed["ice_restarts"].as_u64().unwrap_or(0) >= 1,
        "no ICE restart: {resumed}"
    );
    assert_eq!(resumed["pcs"], 1, "the same peer connection: {resumed}");
    assert!(
        resumed["cards"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c == "admitted")),
        "the page left the call: {resumed}"
    );
    assert!(
        resumed["states"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == "reconnecting")),
        "the page never said it was reconnecting: {resumed}"
    );
    let admissions = events
        .iter()
        .filter(|e| matches!(e, HostEvent::Admitting { .. }))
        .count();
    assert_eq!(admissions, 1, "the patient was admitted again");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, HostEvent::CallAnswered { restart: true, .. })),
        "the clinician answered no ICE restart"
    );
    // Firefox stayed 5 s in the call after its video resumed: its audio and video reach the
    // clinician again (how soon the clinician decodes it again is asserted below).
    let recent = &stats[stats.len().saturating_sub(3)..];
    let audio = recent
        .iter()
        .map(|s| s.audio_pps_received)
        .fold(0.0, f64::max);
    assert!(
        audio >= 25.0,
        "Firefox's audio does not reach the clinician after the drop ({audio:.0} pps)"
    );
    let bytes = |s: Option<&CallStats>| s.map_or(0, |s| s.totals.video_bytes_received);
    assert!(
        bytes(recent.last()) > bytes(recent.first()),
        "Firefox's video does not reach the clinician after the drop"
    );
    let fps = recent.iter().map(|s| s.fps_decoded).fold(0.0, f64::max);
    println!("clinician decoded {fps:.1} fps at best in the last 3 s");
    println!("Firefox after the drop: {resumed}");
    // The clinician decodes Firefox's video again after the reconnection. It took 1 s to
    // more than 6 s (5.5 s measured) while retransmissions from before the drop held the
    // frame builder, which waited for 128 packets; since the fix 2.5 s and 4.2 s (a CI run),
    // most of it with no video arriving from Firefox at all (its bytes-in stay flat). That
    // silence is Firefox's and varies, so the bound is 8 s: it catches a builder stuck for
    // good, not the seconds (1.7 s and 0.18 s since keyframe requests go out on a timer).
    let resume = stats.iter().rev().find_map(|s| s.resume_frame_ms);
    println!("clinician: reconnection → first decoded frame {resume:?} ms");
    assert!(
        resume.is_some_and(|ms| ms <= 8_000),
        "the clinician decoded Firefox's video {resume:?} ms after the reconnection"
    );
    // From Firefox's first video packet after the reconnection to the first decoded frame
    // (`resume_decode_ms`) is printed, not bounded here: it holds Firefox's answer to our
    // keyframe requests, which varied from 88 ms to 1,971 ms (a CI run) while Chromium's
    // stays near 100 ms (bounded in `network.rs`). What is ours is asserted: the requests
    // reached Firefox after the reconnection, not only the one at the call's start.
    let ours = stats.iter().rev().find_map(|s| s.resume_decode_ms);
    println!("clinician: first packet back → first decoded frame {ours:?} ms");
    let plis = resumed["pli_received"].as_u64().unwrap_or(0);
    assert!(
        plis >= 2,
        "Firefox received {plis} keyframe requests: none after the reconnection"
    );
}
