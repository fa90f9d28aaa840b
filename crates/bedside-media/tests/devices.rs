//! The `devices` source end to end on loopback, against a private
//! PulseAudio server (`bedside_capture::testkit`): a Rust patient
//! (webrtc-rs, as in `loopback.rs`) hears the clinician's microphone (the
//! server's sine source), the clinician's speaker (the server's null sink)
//! plays the patient's tone, switching the microphone or the speaker mid-call
//! changes what is heard where, and with no camera the call is audio-only
//! while the patient's video still arrives and is decoded.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bedside_capture::testkit::{self, NULL_SINK, SINE_HZ, SINE_SOURCE, dominant_hz, tone_power};
use bedside_codec::synthetic::{Stamp, TestPattern, Tone};
use bedside_codec::{OpusDecoder, OpusEncoder, Vp8Config, Vp8Encoder};
use bedside_media::devices::DeviceId;
use bedside_media::{Call, CallAuth, CallStats, MediaSource, PeerConfig, PeerEvent, VideoSettings};
use bedside_visit::auth;
use data_encoding::BASE64URL_NOPAD as B64;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::Registry;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceCandidateInit,
    RTCPeerConnectionIceEvent, RTCSessionDescription, SettingEngineBuilder,
};

const SECRET: [u8; 32] = [7; 32];
const VISIT: [u8; 16] = [3; 16];
const DEVICE: &str = "device-1";

struct PatientHandler {
    candidates: mpsc::UnboundedSender<String>,
    video_packets: Arc<AtomicU64>,
    audio_packets: Arc<AtomicU64>,
    heard: Arc<Mutex<VecDeque<i16>>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PatientHandler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json()
            && let Ok(json) = serde_json::to_string(&init)
        {
            let _ = self.candidates.send(json);
        }
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let video = track.kind().await == RtpCodecKind::Video;
        let counter = if video {
            Arc::clone(&self.video_packets)
        } else {
            Arc::clone(&self.audio_packets)
        };
        let heard = Arc::clone(&self.heard);
        tokio::spawn(async move {
            // What the clinician's microphone sends, decoded (the last second).
            let mut opus = OpusDecoder::new(1).expect("opus decoder");
            while let Some(e) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(p) = e {
                    counter.fetch_add(1, Ordering::Relaxed);
                    if !video
                        && let Ok(pcm) = opus.decode(Some(&p.payload))
                        && let Ok(mut h) = heard.lock()
                    {
                        h.extend(pcm);
                        while h.len() > 48_000 {
                            h.pop_front();
                        }
                    }
                }
            }
        });
    }
}

fn codec(kind: RtpCodecKind) -> RTCRtpCodec {
    match kind {
        RtpCodecKind::Video => RTCRtpCodec {
            mime_type: MIME_TYPE_VP8.into(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
        _ => RTCRtpCodec {
            mime_type: MIME_TYPE_OPUS.into(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
    }
}

struct Patient {
    pc: Arc<dyn PeerConnection>,
    video: Arc<TrackLocalStaticSample>,
    audio: Arc<TrackLocalStaticSample>,
    candidates: mpsc::UnboundedReceiver<String>,
    video_packets: Arc<AtomicU64>,
    audio_packets: Arc<AtomicU64>,
    heard: Arc<Mutex<VecDeque<i16>>>,
}

async fn patient() -> Patient {
    let mut engine = MediaEngine::default();
    for (kind, pt) in [(RtpCodecKind::Video, 96), (RtpCodecKind::Audio, 111)] {
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: codec(kind),
                    payload_type: pt,
                },
                kind,
            )
            .expect("codec");
    }
    let registry = register_default_interceptors(Registry::new(), &mut engine).expect("registry");
    let (tx, candidates) = mpsc::unbounded_channel();
    let video_packets = Arc::new(AtomicU64::new(0));
    let audio_packets = Arc::new(AtomicU64::new(0));
    let heard = Arc::new(Mutex::new(VecDeque::new()));
    let pc = PeerConnectionBuilder::new()
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_multicast_dns_mode(MulticastDnsMode::Disabled)
                .build(),
        )
        .with_handler(Arc::new(PatientHandler {
            candidates: tx,
            video_packets: Arc::clone(&video_packets),
            audio_packets: Arc::clone(&audio_packets),
            heard: Arc::clone(&heard),
        }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
        .build()
        .await
        .expect("patient pc");
    let pc: Arc<dyn PeerConnection> = Arc::new(pc);
    let (mut video, mut audio) = (None, None);
    for (kind, ssrc) in [(RtpCodecKind::Video, 1111), (RtpCodecKind::Audio, 2222)] {
        let track = Arc::new(
            TrackLocalStaticSample::new(
                Instant::now(),
                MediaStreamTrack::new(
                    "patient".into(),
                    format!("patient-{kind}"),
                    format!("patient-{kind}"),
                    kind,
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters {
                            ssrc: Some(ssrc),
                            ..Default::default()
                        },
                        codec: codec(kind),
                        ..Default::default()
                    }],
                ),
            )
            .expect("track"),
        );
        pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .expect("add track");
        if kind == RtpCodecKind::Video {
            video = Some(track);
        } else {
            audio = Some(track);
        }
    }
    Patient {
        pc,
        video: video.expect("video track"),
        audio: audio.expect("audio track"),
        candidates,
        video_packets,
        audio_packets,
        heard,
    }
}

/// The patient's tone, which the clinician's speaker should play.
const PATIENT_HZ: f64 = 700.0;

/// What the clinician's events told so far: the newest stats, every one-second Opus rate
/// (`(elapsed_s, packets/s)`), and the device codes.
#[derive(Default)]
struct Seen {
    stats: Option<Box<CallStats>>,
    audio_pps: Vec<(f64, f64)>,
    codes: Vec<String>,
}

/// Drives signalling and events for `dur`, keeping what the events say.
async fn pump(
    call: &Call,
    p: &mut Patient,
    events: &mut mpsc::Receiver<PeerEvent>,
    dur: Duration,
    seen: &mut Seen,
) {
    let deadline = tokio::time::Instant::now() + dur;
    while tokio::time::Instant::now() < deadline {
        tokio::select! {
            Some(c) = p.candidates.recv() => {
                let _ = call.remote_candidate(DEVICE, &c).await;
            }
            Some(e) = events.recv() => match e {
                PeerEvent::LocalCandidate { candidate, .. } => {
                    let init: RTCIceCandidateInit = serde_json::from_str(&candidate).expect("json");
                    let _ = p.pc.add_ice_candidate(init).await;
                }
                PeerEvent::Device { code, .. } => seen.codes.push(code),
                PeerEvent::Stats { stats: s, .. } => {
                    seen.audio_pps.push((s.elapsed_s, s.audio_pps_sent));
                    seen.stats = Some(s);
                }
                _ => {}
            },
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// 3 s of what a source hears, off the runtime's threads.
async fn record(pulse: &testkit::Pulse, source: &str) -> Vec<i16> {
    let (pulse, source) = (pulse.clone(), source.to_owned());
    tokio::task::spawn_blocking(move || pulse.record(&source, 3.0))
        .await
        .expect("join")
        .expect("parec records")
}

fn heard(p: &Patient) -> Vec<i16> {
    p.heard
        .lock()
        .map(|h| h.iter().copied().collect())
        .unwrap_or_default()
}

/// The dominant frequency of the last half second the patient heard.
fn last_half_second_hz(p: &Patient) -> f64 {
    let got = heard(p);
    dominant_hz(&got[got.len().saturating_sub(24_000)..], 48_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_call_sends_the_microphone_plays_the_speaker_and_switches_mid_call() {
    let Some(pulse) = testkit::in_private_pulse(
        "devices_call_sends_the_microphone_plays_the_speaker_and_switches_mid_call",
    ) else {
        return;
    };
    pulse
        .load_sine_microphone("bedside_sine_2", 1000)
        .expect("second microphone");
    pulse
        .load_module("module-null-sink", "sink_name=bedside_null_2 rate=48000")
        .expect("second speaker");

    let mut p = patient().await;
    let offer = p.pc.create_offer(None).await.expect("offer");
    p.pc.set_local_description(offer).await.expect("sld");
    let sdp = p.pc.local_description().await.expect("local").sdp;
    let k = auth::sdp_auth_key(&SECRET);
    let offer_tag = auth::offer_tag(&k, &VISIT, DEVICE, &auth::sdp_identity(&sdp).expect("id"));
    let config = PeerConfig {
        udp_addrs: vec!["127.0.0.1:0".parse().expect("addr")],
        source: MediaSource::Devices,
        video: VideoSettings {
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 500,
        },
        ..PeerConfig::default()
    };
    let (mut call, mut events) = Call::new(CallAuth::new(&SECRET, VISIT), config);
    let answer = call
        .offer(DEVICE, &sdp, &B64.encode(&offer_tag))
        .await
        .expect("answer");
    p.pc.set_remote_description(RTCSessionDescription::answer(answer.sdp).expect("answer"))
        .await
        .expect("srd");

    // The patient sends video (a pattern) and a 700 Hz tone.
    let (video, audio) = (Arc::clone(&p.video), Arc::clone(&p.audio));
    let sender = tokio::spawn(async move {
        let mut enc = Vp8Encoder::new(&Vp8Config {
            width: 320,
            height: 240,
            fps: 30,
            bitrate_kbps: 300,
        })
        .expect("encoder");
        let mut pattern = TestPattern::new(320, 240);
        let mut opus = OpusEncoder::new(1).expect("opus");
        let mut tone = Tone::new(PATIENT_HZ as f32, 1);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for i in 0..3_000u32 {
            tick.tick().await;
            if let Ok(packet) = opus.encode(&tone.next_frame(960)) {
                let _ = audio
                    .sample_writer(2222, 111)
                    .write_sample(&Sample {
                        data: packet.into(),
                        duration: Duration::from_millis(20),
                        ..Sample::new(Instant::now())
                    })
                    .await;
            }
            if i % 2 == 0 {
                let frame = pattern.frame(Stamp {
                    counter: i,
                    capture_micros: 0,
                });
                for ef in enc
                    .encode(&frame, i64::from(i), i % 60 == 0)
                    .expect("encode")
                {
                    let _ = video
                        .sample_writer(1111, 96)
                        .write_sample(&Sample {
                            data: ef.data.into(),
                            duration: Duration::from_millis(40),
                            ..Sample::new(Instant::now())
                        })
                        .await;
                }
            }
        }
    });

    let mut seen = Seen::default();
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_secs(5),
        &mut seen,
    )
    .await;
    let s = seen.stats.clone().expect("stats");
    assert_eq!(s.state, "connected");

    // The microphone (the default sine source, 440 Hz) reaches the patient.
    let got = heard(&p);
    assert!(
        got.len() >= 24_000,
        "the patient decoded {} samples",
        got.len()
    );
    let hz = dominant_hz(&got, 48_000);
    assert!(
        (hz - f64::from(SINE_HZ)).abs() <= 10.0,
        "patient heard {hz} Hz"
    );

    // No camera here: audio-only, said plainly; we send no video, the patient's arrives.
    assert!(
        seen.codes.iter().any(|c| c == "no_camera"),
        "events: {:?}",
        seen.codes
    );
    let report = s.devices.clone().expect("device report in the stats");
    assert!(report.audio_only && report.camera.is_none());
    assert!(report.notices.iter().any(|n| n.code == "no_camera"));
    assert_eq!(report.microphone.as_deref().map(str::is_empty), Some(false));
    assert_eq!(p.video_packets.load(Ordering::Relaxed), 0, "no video sent");
    assert!(p.audio_packets.load(Ordering::Relaxed) > 150, "audio sent");
    assert!(
        s.fps_decoded >= 10.0,
        "patient video decoded at {} fps",
        s.fps_decoded
    );

    // The microphone stalls: its source is suspended for 2.5 s, so it delivers nothing.
    // Silence fills each 20 ms slot: the patient hears silence, and Opus keeps its cadence.
    pulse
        .pactl(&["suspend-source", SINE_SOURCE, "1"])
        .expect("suspend the microphone's source");
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_millis(2_500),
        &mut seen,
    )
    .await;
    let got = heard(&p);
    let stalled = &got[got.len().saturating_sub(24_000)..];
    let tone = tone_power(stalled, 48_000, f64::from(SINE_HZ));
    pulse
        .pactl(&["suspend-source", SINE_SOURCE, "0"])
        .expect("resume the microphone's source");
    assert!(
        stalled.len() == 24_000 && tone < 1e-6,
        "the microphone did not stall: {} samples, 440 Hz power {tone:e}",
        stalled.len()
    );
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_millis(1_500),
        &mut seen,
    )
    .await;
    let hz = last_half_second_hz(&p);
    assert!(
        (hz - f64::from(SINE_HZ)).abs() <= 10.0,
        "after the stall the patient heard {hz} Hz"
    );

    // Opus kept its 20 ms cadence in every whole second since it started (the samples up
    // to the first with packets hold the connection set-up), through the stall.
    let rates: Vec<String> = seen
        .audio_pps
        .iter()
        .map(|(t, r)| format!("{t:.1}s {r:.1}"))
        .collect();
    println!("Opus packets/s per second: {}", rates.join(", "));
    let started = seen
        .audio_pps
        .iter()
        .position(|(_, r)| *r > 0.0)
        .map_or(seen.audio_pps.len(), |i| i + 1);
    let whole = &seen.audio_pps[started..];
    assert!(whole.len() >= 6, "stats samples: {rates:?}");
    assert!(
        whole.iter().all(|(_, r)| *r >= 40.0),
        "Opus below 40 packets/s in a one-second sample: {rates:?}"
    );
    // And on average since the first of those seconds.
    let s = seen.stats.clone().expect("stats");
    let (t0, _) = seen.audio_pps[started - 1];
    let sent: f64 = whole.iter().map(|(_, r)| r).sum();
    let mean_pps = sent / whole.len() as f64;
    assert!(
        (45.0..=55.0).contains(&mean_pps),
        "Opus at {mean_pps:.1} packets/s on average after {t0:.1} s ({} in all)",
        s.totals.audio_packets_sent
    );

    // The speaker (the default null sink) plays the patient's tone.
    let played = record(&pulse, &format!("{NULL_SINK}.monitor")).await;
    let hz = dominant_hz(&played, 48_000);
    assert!((hz - PATIENT_HZ).abs() <= 10.0, "speaker played {hz} Hz");

    // Switch the microphone mid-call: the patient now hears 1 kHz.
    let peer = call.peer(DEVICE).expect("peer").clone();
    peer.set_microphone(Some(DeviceId::from("pulseaudio:bedside_sine_2")));
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_secs(3),
        &mut seen,
    )
    .await;
    let hz = last_half_second_hz(&p);
    assert!(
        (hz - 1000.0).abs() <= 10.0,
        "after the switch the patient heard {hz} Hz"
    );

    // Switch the speaker: the second null sink now plays the patient.
    peer.set_speaker(Some(DeviceId::from("pulseaudio:bedside_null_2")));
    pump(
        &call,
        &mut p,
        &mut events,
        Duration::from_millis(500),
        &mut seen,
    )
    .await;
    let played = record(&pulse, "bedside_null_2.monitor").await;
    let hz = dominant_hz(&played, 48_000);
    assert!(
        (hz - PATIENT_HZ).abs() <= 10.0,
        "second speaker played {hz} Hz"
    );
    let report = peer.devices().expect("report");
    assert!(
        report.speaker.is_some() && report.microphone.is_some(),
        "{report:?}"
    );

    sender.abort();
    call.close().await;
    let _ = p.pc.close().await;
}
