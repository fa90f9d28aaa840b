//! A dropped network mid-call (issue 4 §6 "Network fault"): the patient's Chromium runs
//! in its own network namespace, joined to this one by a veth pair. Once admitted and
//! media flows, the patient's link goes down for 10 s and comes back: the page restarts
//! ICE, video and audio resume both ways, and nobody has to admit the patient again.
//!
//! Needs root (network namespaces), as `cargo xtask test` has in CI; elsewhere it says
//! so and passes without running, like the keychain tests.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;

use bedside_host::HostEvent;
use bedside_media::{CallStats, PeerConfig};
use bedside_visit::invite;
use tokio::net::{TcpListener, TcpStream};

use crate::browser::{Scene, scene};
use crate::media::spawn_media_host_with;
use crate::patient::{drive_script_in, event, step, steps, token};

/// Seconds the patient's link stays down.
const DOWN_S: u64 = 10;

/// A network namespace with a veth pair to this one; removed on drop.
pub(crate) struct Netns {
    pub(crate) name: String,
    host_if: String,
    pub(crate) peer_if: String,
    pub(crate) host_ip: Ipv4Addr,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    /// `Err` says why namespaces cannot be made here (not root, no `ip`).
    /// Several tests of one run may each hold a namespace at once (the Firefox call, the
    /// network drop): a sequence number keeps their names and subnets apart.
    pub(crate) fn create() -> Result<Self, String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10;
        let pid = std::process::id();
        let tag = pid % 100_000;
        let subnet = u8::try_from((pid + n) % 250).unwrap_or(0) + 1;
        let ns = Self {
            name: format!("bedside-pt-{pid}-{n}"),
            // At most 15 characters: "bsh" + 5 + 1 + 1.
            host_if: format!("bsh{tag}n{n}"),
            peer_if: format!("bsp{tag}n{n}"),
            host_ip: Ipv4Addr::new(10, 213, subnet, 1),
        };
        let peer_ip = Ipv4Addr::new(10, 213, subnet, 2);
        ip(&["netns", "add", &ns.name])?;
        // From here on, Drop cleans up whatever was made.
        let host_cidr = format!("{}/24", ns.host_ip);
        let peer_cidr = format!("{peer_ip}/24");
        ip(&[
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &ns.peer_if,
        ])?;
        ip(&["link", "set", &ns.peer_if, "netns", &ns.name])?;
        ip(&["addr", "add", &host_cidr, "dev", &ns.host_if])?;
        ip(&["link", "set", &ns.host_if, "up"])?;
        ip(&[
            "-n",
            &ns.name,
            "addr",
            "add",
            &peer_cidr,
            "dev",
            &ns.peer_if,
        ])?;
        ip(&["-n", &ns.name, "link", "set", &ns.peer_if, "up"])?;
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Forwards every connection to `listen` on to `to` (the relay on loopback).
pub(crate) async fn forward(listen: SocketAddr, to: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind(listen).await.expect("bind the forwarder");
    let local = listener.local_addr().expect("forwarder address");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    local
}

/// One line per host event for the test log: kinds, states and codes only (knock names
/// are test data, but the habit of printing no PHI holds here too).
fn host_event_line(e: &HostEvent) -> String {
    match e {
        HostEvent::Knock { .. } => "knock".into(),
        HostEvent::DeviceState { state, .. } => format!("device state {state}"),
        HostEvent::CallAnswered { restart, .. } => format!("call answered (restart {restart})"),
        HostEvent::CallState { state, .. } => format!("call state {state}"),
        HostEvent::CallRefused { reason, .. } => format!("call refused: {reason}"),
        HostEvent::CallRefusedByPatient { reason, .. } => {
            format!("call refused by the patient: {reason:?}")
        }
        HostEvent::FirstRemoteFrame { ms, .. } => format!("first remote frame after {ms} ms"),
        other => {
            let debug = format!("{other:?}");
            debug
                .split([' ', '{', '('])
                .next()
                .unwrap_or("event")
                .to_owned()
        }
    }
}

fn stats(events: &[HostEvent]) -> Vec<CallStats> {
    events
        .iter()
        .filter_map(|e| match e {
            HostEvent::CallStats { stats, .. } => Some((**stats).clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patients_network_drops_for_ten_seconds_and_the_call_resumes_without_readmission() {
    // Skipped only when this process cannot make namespaces at all.
    let netns = match Netns::create() {
        Ok(n) => n,
        Err(why) => {
            println!("skipped: network namespaces unavailable ({why}); run as root");
            return;
        }
    };
    let Some(Scene {
        relay,
        visit,
        secret,
        _browser,
    }) = scene().await
    else {
        return;
    };
    let relay_addr: SocketAddr = relay
        .origin
        .trim_start_matches("http://")
        .parse()
        .expect("relay origin is http://ip:port");
    let via = forward(SocketAddr::new(netns.host_ip.into(), 0), relay_addr).await;

    // The clinician's media binds the veth address: the patient can reach only that.
    let peer = PeerConfig {
        udp_addrs: vec![SocketAddr::new(netns.host_ip.into(), 0)],
        ..PeerConfig::default()
    };
    let (mut host, stop) = spawn_media_host_with(&relay, visit, secret, peer);
    event(&mut host, |e| matches!(e, HostEvent::Ready { .. })).await;
    let link = invite::link(&relay.origin, &token(&relay.key, visit), &secret);

    let wrapper = vec![
        "ip".into(),
        "netns".into(),
        "exec".into(),
        netns.name.clone(),
    ];
    let args = vec![
        "--iface".into(),
        netns.peer_if.clone(),
        "--forward".into(),
        format!("{}={}", relay_addr.port(), via),
        "--down".into(),
        DOWN_S.to_string(),
    ];
    let run = drive_script_in(wrapper, "netdrop.mjs", link, args, 200).await;
    let _ = stop.send(());
    let mut events = vec![];
    while let Some(e) = host.recv().await {
        events.push(e);
    }
    assert!(
        run.ok,
        "the patient's call did not survive the drop:\n{}{}",
        run.stdout, run.stderr
    );

    for e in &events {
        if !matches!(e, HostEvent::CallStats { .. }) {
            println!("clinician event: {}", host_event_line(e));
        }
    }
    let stats = stats(&events);
    for s in &stats {
        println!(
            "clinician t={:.0}s {} sent {:.1} fps at {} kbit/s (target {}), decoded {:.1} fps, loss sent {:.3}, level {:?}",
            s.elapsed_s,
            s.state,
            s.fps_sent,
            s.send_kbps as u32,
            s.target_kbps,
            s.fps_decoded,
            s.loss_sent,
            s.send_resolution
        );
    }
    let seen = steps(&run.stdout);
    let up = step(&seen, "link_up").expect("a link_up step");
    let resumed = step(&seen, "resumed").expect("a resumed step");
    // The drop was real: (almost) no video arrived while the link was down.
    let outage = up["outage_frames"].as_i64().unwrap_or(i64::MAX);
    assert!(
        outage <= 15,
        "frames kept arriving with the link down: {up}"
    );
    // And the page rode it out as a call: reconnecting, never back to the waiting room.
    let cards = resumed["cards"].as_array().cloned().unwrap_or_default();
    assert!(
        cards.iter().all(|c| c == "admitted"),
        "the page left the call: {resumed}"
    );
    assert!(
        resumed["states"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == "reconnecting")),
        "the page never said it was reconnecting: {resumed}"
    );
    // Steady video again (bandwidth adaptation may still hold the sender at half rate).
    let hold_fps = resumed["hold_fps"].as_f64().unwrap_or(0.0);
    assert!(
        hold_fps >= 10.0,
        "the browser's video did not recover its frame rate: {resumed}"
    );
    assert!(
        resumed["ice_restarts"].as_u64().unwrap_or(0) >= 1,
        "no ICE restart: {resumed}"
    );

    // The clinician: one admission only, an ICE restart answered, video decoded again.
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
    let recent = &stats[stats.len().saturating_sub(6)..];
    let fps = recent.iter().map(|s| s.fps_decoded).fold(0.0, f64::max);
    assert!(
        fps >= 10.0,
        "the clinician is not decoding video after the drop ({fps:.1} fps): {recent:?}"
    );
    // And soon: from the reconnection to the first frame decoded, and from the patient's
    // first video packet after it (our keyframe request, the browser's keyframe, reassembly,
    // decode: the part that is ours) to that frame.
    let resume = stats.iter().rev().find_map(|s| s.resume_frame_ms);
    let ours = stats.iter().rev().find_map(|s| s.resume_decode_ms);
    println!(
        "clinician: reconnection → first decoded frame {resume:?} ms, {ours:?} ms from the first packet back"
    );
    assert!(
        resume.is_some_and(|ms| ms <= RESUME_MAX_MS),
        "the clinician decoded the patient's video {resume:?} ms after the reconnection"
    );
    assert!(
        ours.is_some_and(|ms| ms <= RESUME_DECODE_MAX_MS),
        "the clinician decoded the patient's video {ours:?} ms after its first packet back"
    );
}

/// Reconnection → the clinician's first decoded frame (350 and 849 ms measured, and once 5,876 ms
/// in a CI run where Chromium sent no video for 5.9 s after the restart while our part took 11 ms).
/// Most of it is the browser's; what is ours is bounded by [`RESUME_DECODE_MAX_MS`], and a frame
/// builder stuck for good fails the fps check above. This catches video that never comes back.
const RESUME_MAX_MS: u64 = 10_000;

/// The patient's first video packet after the reconnection → the clinician's first decoded
/// frame (102 and 666 ms measured; Chromium answers a keyframe request within a few frames).
const RESUME_DECODE_MAX_MS: u64 = 3_000;
