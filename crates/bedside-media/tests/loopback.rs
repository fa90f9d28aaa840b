//! A Rust patient (webrtc-rs as the offerer, like the browser) calls the
//! clinician's [`Call`] on loopback: authentication, SAS, trickle ICE and
//! VP8/Opus both ways with the real codecs.

mod patient;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bedside_codec::synthetic::{Stamp, TestPattern};
use bedside_codec::{Vp8Config, Vp8Encoder};
use bedside_media::{Call, CallAuth, CallError, PeerConfig, PeerEvent, VideoSettings};
use bedside_visit::auth;
use data_encoding::BASE64URL_NOPAD as B64;
use patient::{DEVICE, SECRET, VISIT, patient};
use rtc::media::Sample;
use webrtc::peer_connection::{RTCIceCandidateInit, RTCSessionDescription};

fn loopback_config() -> PeerConfig {
    PeerConfig {
        udp_addrs: vec!["127.0.0.1:0".parse().expect("addr")],
        video: VideoSettings {
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 500,
        },
        ..PeerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_with_a_wrong_tag_is_refused_before_any_peer_exists() {
    let mut p = patient().await;
    let offer = p.pc.create_offer(None).await.expect("offer");
    p.pc.set_local_description(offer).await.expect("sld");
    let sdp = p.pc.local_description().await.expect("local").sdp;
    let (mut call, _events) = Call::new(CallAuth::new(&SECRET, VISIT), loopback_config());
    // Tagged with another invite's secret.
    let id = auth::sdp_identity(&sdp).expect("identity");
    let wrong = auth::offer_tag(&auth::sdp_auth_key(&[8; 32]), &VISIT, DEVICE, &id);
    let r = call.offer(DEVICE, &sdp, &B64.encode(&wrong)).await;
    assert!(
        matches!(r, Err(CallError::Auth(auth::AuthError::Mismatch))),
        "{r:?}"
    );
    // Right tag, but for another device.
    let k = auth::sdp_auth_key(&SECRET);
    let other = auth::offer_tag(&k, &VISIT, "device-2", &id);
    let r = call.offer(DEVICE, &sdp, &B64.encode(&other)).await;
    assert!(matches!(r, Err(CallError::Auth(_))), "{r:?}");
    assert!(matches!(
        call.offer(DEVICE, &sdp, "!!").await,
        Err(CallError::BadTag)
    ));
    assert!(call.peer(DEVICE).is_none());
    let _ = p.candidates.try_recv();
    let _ = p.pc.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_authenticates_and_carries_vp8_and_opus_both_ways() {
    let mut p = patient().await;
    let offer = p.pc.create_offer(None).await.expect("offer");
    p.pc.set_local_description(offer).await.expect("sld");
    let sdp = p.pc.local_description().await.expect("local").sdp;
    let k = auth::sdp_auth_key(&SECRET);
    let offer_id = auth::sdp_identity(&sdp).expect("identity");
    let offer_tag = auth::offer_tag(&k, &VISIT, DEVICE, &offer_id);

    let (mut call, mut events) = Call::new(CallAuth::new(&SECRET, VISIT), loopback_config());
    let answer = call
        .offer(DEVICE, &sdp, &B64.encode(&offer_tag))
        .await
        .expect("answer");
    // The patient's checks: the answer tag verifies and the SAS matches.
    let tag = B64.decode(answer.tag.as_bytes()).expect("b64");
    let answer_id = auth::verify_answer(&k, &VISIT, DEVICE, &answer.sdp, &offer_tag, &tag)
        .expect("answer tag verifies");
    assert_eq!(answer.remote_fingerprint, offer_id.fingerprint);
    assert_eq!(answer.local_fingerprint, answer_id.fingerprint);
    assert_eq!(
        answer.sas,
        auth::sas(&SECRET, &offer_id.fingerprint, &answer_id.fingerprint)
    );
    p.pc.set_remote_description(RTCSessionDescription::answer(answer.sdp.clone()).expect("answer"))
        .await
        .expect("srd");

    // The patient sends a 320×240 pattern at 30 fps.
    let video = Arc::clone(&p.video);
    let sender = tokio::spawn(async move {
        let mut enc = Vp8Encoder::new(&Vp8Config {
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 400,
        })
        .expect("encoder");
        let mut pattern = TestPattern::new(320, 240);
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for counter in 0..600u32 {
            tick.tick().await;
            let frame = pattern.frame(Stamp {
                counter,
                capture_micros: 0,
            });
            for ef in enc
                .encode(&frame, i64::from(counter), counter % 60 == 0)
                .expect("encode")
            {
                let _ = video
                    .sample_writer(1111, 96)
                    .write_sample(&Sample {
                        data: ef.data.into(),
                        duration: Duration::from_millis(33),
                        ..Sample::new(Instant::now())
                    })
                    .await;
            }
        }
    });

    // Trickle both ways until the first remote frame is decoded and 3 s of stats pass.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut first_frame = None;
    let mut last_stats = None;
    let mut connected = false;
    while tokio::time::Instant::now() < deadline {
        tokio::select! {
            Some(c) = p.candidates.recv() => {
                call.remote_candidate(DEVICE, &c).await.expect("remote candidate");
            }
            Some(e) = events.recv() => match e {
                PeerEvent::LocalCandidate { candidate, .. } => {
                    let init: RTCIceCandidateInit = serde_json::from_str(&candidate).expect("json");
                    p.pc.add_ice_candidate(init).await.expect("patient add candidate");
                }
                PeerEvent::State { state, .. } => connected |= state == "connected",
                PeerEvent::FirstFrame { ms, .. } => first_frame = Some(ms),
                PeerEvent::Stats { stats, .. } => {
                    let done = stats.elapsed_s > 5.0 && first_frame.is_some();
                    last_stats = Some(stats);
                    if done { break; }
                }
                _ => {}
            },
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    assert!(connected, "never connected");
    let first = first_frame.expect("no remote frame decoded");
    assert!(first < 5_000, "first frame after {first} ms");
    let stats = last_stats.expect("stats");
    assert!(
        stats.fps_decoded >= 20.0,
        "decoded {} fps",
        stats.fps_decoded
    );
    assert!(stats.fps_sent >= 25.0, "sent {} fps", stats.fps_sent);
    assert_eq!(stats.recv_resolution, [320, 240]);
    assert!(stats.totals.audio_packets_sent > 100);
    assert!(
        p.video_packets.load(Ordering::Relaxed) > 100,
        "patient got no video"
    );
    assert!(
        p.audio_packets.load(Ordering::Relaxed) > 100,
        "patient got no audio"
    );
    let remote = call.peer(DEVICE).expect("peer").remote_video();
    let frame = remote
        .borrow()
        .clone()
        .expect("a decoded frame in the slot");
    assert!(
        bedside_codec::synthetic::read_stamp(&frame).is_some(),
        "stamp unreadable"
    );

    // ICE restart: a new offer (fresh ICE credentials) on the live call is verified like
    // the first, answered as a restart, and media keeps flowing.
    let decoded_before = stats.totals.video_frames_decoded;
    p.pc.restart_ice().await.expect("restart ice");
    let offer = p.pc.create_offer(None).await.expect("restart offer");
    p.pc.set_local_description(offer).await.expect("sld");
    let sdp = p.pc.local_description().await.expect("local").sdp;
    let id = auth::sdp_identity(&sdp).expect("identity");
    assert_ne!(
        id.ufrag, offer_id.ufrag,
        "the restart offer has fresh ICE credentials"
    );
    let forged = auth::offer_tag(&k, &VISIT, DEVICE, &offer_id);
    assert!(
        matches!(
            call.offer(DEVICE, &sdp, &B64.encode(&forged)).await,
            Err(CallError::Auth(_))
        ),
        "a restart offer with the old tag must be refused"
    );
    let tag2 = auth::offer_tag(&k, &VISIT, DEVICE, &id);
    let answer = call
        .offer(DEVICE, &sdp, &B64.encode(&tag2))
        .await
        .expect("restart answer");
    assert!(answer.restart);
    let t = B64.decode(answer.tag.as_bytes()).expect("b64");
    auth::verify_answer(&k, &VISIT, DEVICE, &answer.sdp, &tag2, &t).expect("restart answer tag");
    p.pc.set_remote_description(RTCSessionDescription::answer(answer.sdp).expect("answer"))
        .await
        .expect("srd");
    // Media must keep flowing: 60 more frames decoded within 8 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    let mut after: Option<Box<bedside_media::CallStats>> = None;
    while tokio::time::Instant::now() < deadline {
        tokio::select! {
            Some(c) = p.candidates.recv() => {
                call.remote_candidate(DEVICE, &c).await.expect("remote candidate");
            }
            Some(e) = events.recv() => match e {
                PeerEvent::LocalCandidate { candidate, .. } => {
                    let init: RTCIceCandidateInit = serde_json::from_str(&candidate).expect("json");
                    let _ = p.pc.add_ice_candidate(init).await;
                }
                PeerEvent::Stats { stats, .. } => {
                    let done = stats.totals.video_frames_decoded > decoded_before + 60;
                    after = Some(stats);
                    if done { break; }
                }
                _ => {}
            },
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    let after = after.expect("stats after the restart");
    assert_eq!(after.state, "connected");
    assert!(
        after.totals.video_frames_decoded > decoded_before + 60,
        "{} frames before, {} after the restart",
        decoded_before,
        after.totals.video_frames_decoded
    );
    sender.abort();
    call.close().await;
    let _ = p.pc.close().await;
}
