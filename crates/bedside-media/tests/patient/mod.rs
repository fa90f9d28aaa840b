//! The patient's side of a loopback call: a webrtc-rs peer that offers VP8
//! and Opus as the browser does, counts what it receives and decodes the
//! clinician's audio (`loopback.rs`, `devices.rs`, `camera_call.rs`).

// Shared by the test binaries that include it; not all use every item.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bedside_codec::OpusDecoder;
use bedside_media::{Call, CallAuth, CallStats, PeerConfig, PeerEvent};
use bedside_visit::auth;
use data_encoding::BASE64URL_NOPAD as B64;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::Registry;
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

pub const SECRET: [u8; 32] = [7; 32];
pub const VISIT: [u8; 16] = [3; 16];
pub const DEVICE: &str = "device-1";

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

pub fn codec(kind: RtpCodecKind) -> RTCRtpCodec {
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

pub struct Patient {
    pub pc: Arc<dyn PeerConnection>,
    pub video: Arc<TrackLocalStaticSample>,
    pub audio: Arc<TrackLocalStaticSample>,
    pub candidates: mpsc::UnboundedReceiver<String>,
    pub video_packets: Arc<AtomicU64>,
    pub audio_packets: Arc<AtomicU64>,
    pub heard: Arc<Mutex<VecDeque<i16>>>,
}

pub async fn patient() -> Patient {
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

/// A call from a fresh patient to a clinician's [`Call`] with `config`:
/// the patient's authenticated offer, answered and applied. Candidates
/// flow once [`pump`] runs.
pub async fn call(config: PeerConfig) -> (Call, mpsc::Receiver<PeerEvent>, Patient) {
    let p = patient().await;
    let offer = p.pc.create_offer(None).await.expect("offer");
    p.pc.set_local_description(offer).await.expect("sld");
    let sdp = p.pc.local_description().await.expect("local").sdp;
    let k = auth::sdp_auth_key(&SECRET);
    let offer_tag = auth::offer_tag(&k, &VISIT, DEVICE, &auth::sdp_identity(&sdp).expect("id"));
    let (mut call, events) = Call::new(CallAuth::new(&SECRET, VISIT), config);
    let answer = call
        .offer(DEVICE, &sdp, &B64.encode(&offer_tag))
        .await
        .expect("answer");
    p.pc.set_remote_description(RTCSessionDescription::answer(answer.sdp).expect("answer"))
        .await
        .expect("srd");
    (call, events, p)
}

/// What the clinician's events told so far: the newest stats, every one-second Opus rate
/// (`(elapsed_s, packets/s)`), and the device codes.
#[derive(Default)]
pub struct Seen {
    pub stats: Option<Box<CallStats>>,
    pub audio_pps: Vec<(f64, f64)>,
    pub codes: Vec<String>,
}

/// Drives signalling and events for `dur`, keeping what the events say.
pub async fn pump(
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
