//! One WebRTC peer connection that answers one patient device's offer, and
//! the [`Call`] that holds the peers of a visit (one patient device today;
//! an interpreter later is a second entry in the same map).
//!
//! **Invariant:** the offer tag is verified (`bedside_visit::auth::verify_offer`)
//! before anything else is done with an offer: no peer connection is built,
//! no socket bound, no media sent for an offer that does not authenticate.
//! A new offer on an existing peer (ICE restart, renegotiation) is verified
//! the same way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bedside_protocol::TurnCredentials;
use bedside_visit::auth::{self, AuthError};
use data_encoding::BASE64URL_NOPAD as B64;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{Registry, Slot};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder, StatsSelector,
};
use webrtc::rtp_transceiver::RtpSender;
use zeroize::Zeroizing;

use crate::feedback::{FEEDBACK_SLOT, Feedback, FeedbackInterceptor};
use crate::media::{self, FrameSlot};
use crate::stats::{CallStats, Counters, Snapshot, Totals};

/// Dynamic payload type for VP8 in our media engine.
pub const VP8_PT: u8 = 96;
/// Dynamic payload type for Opus in our media engine.
pub const OPUS_PT: u8 = 111;
/// Dynamic payload type for H.264 in our media engine (the answer uses the offer's).
pub const H264_PT: u8 = 102;
/// The H.264 format we accept: packetization-mode 1 (FU-A/STAP-A), constrained
/// baseline (`42e0`, any level), as OpenH264 encodes and every WebRTC browser offers.
pub const H264_FMTP: &str =
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

/// The video codec of a peer, chosen from the offer before the peer is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VideoCodec {
    /// VP8 through libvpx: the default, always available.
    Vp8,
    /// H.264 constrained baseline through OpenH264 (feature `h264`, policy `AllowH264`).
    H264,
}

impl VideoCodec {
    /// The RTP mime type (`video/VP8`, `video/H264`).
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Vp8 => MIME_TYPE_VP8,
            Self::H264 => MIME_TYPE_H264,
        }
    }

    /// The codec this build answers `offer_sdp` with. H.264 only when the
    /// build has the `h264` feature, `allow_h264` is set (policy
    /// `AllowH264`), and the offer's video section lists H.264 with
    /// packetization-mode 1 and a constrained-baseline profile; then it is
    /// preferred over VP8 whatever the offer's order (an organisation allows
    /// H.264 to use it: hardware codecs, devices whose VP8 is weak).
    /// Otherwise VP8, exactly as without the feature.
    pub fn for_offer(offer_sdp: &str, allow_h264: bool) -> Self {
        if cfg!(feature = "h264") && allow_h264 && offer_has_h264(offer_sdp) {
            Self::H264
        } else {
            Self::Vp8
        }
    }
}

/// Whether the offer's first video section lists H.264 we can take
/// (packetization-mode=1, profile-level-id `42e0xx`).
pub(crate) fn offer_has_h264(sdp: &str) -> bool {
    let mut in_video = false;
    let mut h264_pts: Vec<&str> = vec![];
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            if in_video {
                break; // only the first video section
            }
            in_video = m.starts_with("video ");
            continue;
        }
        if !in_video {
            continue;
        }
        if let Some(rest) = line.strip_prefix("a=rtpmap:")
            && let Some((pt, enc)) = rest.split_once(' ')
            && enc.to_ascii_uppercase().starts_with("H264/90000")
        {
            h264_pts.push(pt);
        } else if let Some(rest) = line.strip_prefix("a=fmtp:")
            && let Some((pt, params)) = rest.split_once(' ')
            && h264_pts.contains(&pt)
        {
            let mut mode1 = false;
            let mut cb = false;
            for kv in params.split(';').map(str::trim) {
                match kv.split_once('=') {
                    Some(("packetization-mode", v)) => mode1 = v == "1",
                    Some(("profile-level-id", v)) => {
                        cb = v.len() == 6 && v[..4].eq_ignore_ascii_case("42e0");
                    }
                    _ => {}
                }
            }
            if mode1 && cb {
                return true;
            }
        }
    }
    false
}

/// The invite secret and visit a call authenticates against.
pub struct CallAuth {
    secret: Zeroizing<[u8; 32]>,
    k_auth: Zeroizing<[u8; 32]>,
    visit: [u8; 16],
}

impl CallAuth {
    /// From the invite secret and the visit id.
    pub fn new(secret: &[u8; 32], visit: [u8; 16]) -> Self {
        Self {
            secret: Zeroizing::new(*secret),
            k_auth: auth::sdp_auth_key(secret),
            visit,
        }
    }
}

/// Which ICE candidates the clinician side may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IcePolicy {
    /// Host, server-reflexive and relay.
    #[default]
    All,
    /// Only TURN relay candidates (hides the clinician's addresses; proves the TURN path in tests).
    Relay,
}

/// What the clinician sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaSource {
    /// A moving test pattern with a readable frame stamp, and a tone.
    Synthetic,
    /// The microphone, camera and speaker of [`PeerConfig::devices`]
    /// (see [`crate::devices`]).
    Devices,
}

/// The video we send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoSettings {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Starting (and highest) bitrate, kbit/s.
    pub bitrate_kbps: u32,
}

impl Default for VideoSettings {
    fn default() -> Self {
        Self {
            width: 640,
            height: 480,
            fps: 30,
            bitrate_kbps: 1_000,
        }
    }
}

/// How peers are built.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Local UDP addresses to bind (port 0 = any). Loopback is allowed (tests);
    /// `0.0.0.0` gathers no loopback candidate.
    pub udp_addrs: Vec<SocketAddr>,
    /// TURN credentials from the relay, if any.
    pub turn: Option<TurnCredentials>,
    /// ICE transport policy.
    pub ice_policy: IcePolicy,
    /// The media source.
    pub source: MediaSource,
    /// Video settings.
    pub video: VideoSettings,
    /// Tone frequency for the synthetic audio source.
    pub tone_hz: f32,
    /// Accept H.264 when the offer lists it (policy `AllowH264`; see
    /// [`VideoCodec::for_offer`]). Without the `h264` cargo feature this has
    /// no effect: every call is VP8.
    pub allow_h264: bool,
    /// Which devices a [`MediaSource::Devices`] call starts with (`None` =
    /// the system default); switch mid-call with `Peer::set_microphone` & co.
    pub devices: crate::devices::DeviceSelection,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            udp_addrs: vec![SocketAddr::from(([0, 0, 0, 0], 0))],
            turn: None,
            ice_policy: IcePolicy::All,
            source: MediaSource::Synthetic,
            video: VideoSettings::default(),
            tone_hz: 440.0,
            allow_h264: false,
            devices: crate::devices::DeviceSelection::default(),
        }
    }
}

/// Why an offer or candidate was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The offer did not authenticate: refused before any media.
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// The offer's tag is not base64url.
    #[error("the call could not be authenticated: the offer tag is malformed")]
    BadTag,
    /// A candidate was not understood.
    #[error("an ICE candidate was not understood")]
    BadCandidate,
    /// No call with that device.
    #[error("no call with this device")]
    UnknownPeer,
    /// The WebRTC stack refused.
    #[error("the call could not be set up: {0}")]
    WebRtc(String),
}

fn rtc_err(e: impl std::fmt::Display) -> CallError {
    CallError::WebRtc(e.to_string())
}

/// The answer to send back, with what the UI shows.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The answer SDP.
    pub sdp: String,
    /// base64url of the answer tag.
    pub tag: String,
    /// The short authentication string both sides show.
    pub sas: String,
    /// Our DTLS fingerprint (`sha-256 AB:…`).
    pub local_fingerprint: String,
    /// The patient's DTLS fingerprint.
    pub remote_fingerprint: String,
    /// Whether this answered a new offer on an existing peer (ICE restart).
    pub restart: bool,
}

/// What a call reports, for the host to forward.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PeerEvent {
    /// A local ICE candidate to trickle to the device: JSON `RTCIceCandidateInit`.
    LocalCandidate {
        /// Device id.
        device: String,
        /// `{"candidate": "...", "sdpMid": ..., "sdpMLineIndex": ...}`.
        candidate: String,
    },
    /// The peer connection state changed (`connecting`, `connected`, `disconnected`, `failed`, `closed`).
    State {
        /// Device id.
        device: String,
        /// New state.
        state: String,
    },
    /// The first remote video frame was decoded.
    FirstFrame {
        /// Device id.
        device: String,
        /// Milliseconds since the answer.
        ms: u64,
    },
    /// A device could not be opened or went away (`code`: `no_camera`,
    /// `device_vanished`, …; `message` is safe to show and holds no PHI).
    Device {
        /// Device id (of the patient's device, as everywhere here).
        device: String,
        /// Which local device.
        kind: crate::devices::DeviceKind,
        /// Stable code.
        code: String,
        /// What to tell the clinician.
        message: String,
    },
    /// Once a second.
    Stats {
        /// Device id.
        device: String,
        /// The snapshot.
        stats: Box<CallStats>,
    },
    /// A chat message arrived on the call's data channel (see [`crate::chat`]).
    Chat {
        /// Device id.
        device: String,
        /// The message (its text is PHI; `Debug` redacts it).
        message: crate::chat::ChatMessage,
    },
    /// A chat frame from the device was refused (too large, malformed, too many).
    ChatRefused {
        /// Device id.
        device: String,
        /// Why (no content).
        reason: crate::chat::ChatRefusal,
    },
}

/// Local switches.
#[derive(Debug, Default)]
pub struct Controls {
    /// Send silence instead of the microphone / tone.
    pub muted: AtomicBool,
    /// Send no picture (black, once a second).
    pub camera_off: AtomicBool,
}

/// State shared by one peer's tasks and threads.
pub(crate) struct PeerShared {
    pub device: String,
    pub config: PeerConfig,
    pub counters: Counters,
    pub feedback: Arc<Feedback>,
    pub controls: Controls,
    pub stop: AtomicBool,
    pub media_started: AtomicBool,
    /// Bumped each time the connection (re)connects: a new network path, so
    /// the receivers drop half-built frames from the old one and ask for a
    /// keyframe.
    pub path_epoch: std::sync::atomic::AtomicU64,
    /// Bandwidth adaptation step (see `media::level_settings`).
    pub video_level: AtomicU8,
    /// Consecutive seconds the adaptation wanted another level.
    pub level_streak: std::sync::atomic::AtomicU32,
    pub answered_at: Mutex<Instant>,
    pub events: mpsc::Sender<PeerEvent>,
    pub state: Mutex<String>,
    pub video_track: Arc<TrackLocalStaticSample>,
    pub video_ssrc: u32,
    pub video_pt: AtomicU8,
    pub audio_track: Arc<TrackLocalStaticSample>,
    pub audio_ssrc: u32,
    pub audio_pt: AtomicU8,
    pub remote_video: FrameSlot,
    pub local_preview: FrameSlot,
    /// The negotiated video codec (both directions).
    pub video_codec: VideoCodec,
    pub runtime: tokio::runtime::Handle,
    /// Device selection, switches, the speaker and the device report.
    pub io: crate::devices::DeviceIo,
}

impl PeerShared {
    pub(crate) fn emit(&self, e: PeerEvent) {
        // Control events are few; if the consumer is gone or far behind, drop.
        let _ = self.events.try_send(e);
    }
}

struct Handler {
    shared: Arc<PeerShared>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json()
            && let Ok(json) = serde_json::to_string(&init)
        {
            // Candidates must not be lost: wait for room.
            let _ = self
                .shared
                .events
                .send(PeerEvent::LocalCandidate {
                    device: self.shared.device.clone(),
                    candidate: json,
                })
                .await;
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let name = state.to_string().to_ascii_lowercase();
        if let Ok(mut g) = self.shared.state.lock() {
            g.clone_from(&name);
        }
        tracing::info!(state = %name, "peer connection state");
        if state == RTCPeerConnectionState::Connected {
            if self.shared.media_started.swap(true, Ordering::AcqRel) {
                self.shared.counters.reconnected();
            } else {
                media::start_senders(Arc::clone(&self.shared));
            }
            // A fresh path (first connect or after an ICE restart): start clean
            // both ways — our next frame is a keyframe, and we ask for theirs.
            self.shared.feedback.request_keyframe();
            self.shared.path_epoch.fetch_add(1, Ordering::AcqRel);
        }
        // Failed is not the end: an ICE restart can bring the path back.
        if state == RTCPeerConnectionState::Closed {
            self.shared.stop.store(true, Ordering::Release);
        }
        self.shared.emit(PeerEvent::State {
            device: self.shared.device.clone(),
            state: name,
        });
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let shared = Arc::clone(&self.shared);
        let kind = track.kind().await;
        tokio::spawn(async move {
            match kind {
                RtpCodecKind::Video => media::receive_video(shared, track).await,
                RtpCodecKind::Audio => media::receive_audio(shared, track).await,
                _ => {}
            }
        });
    }
}

/// One patient device's peer connection.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    pub(crate) shared: Arc<PeerShared>,
    offer_tag: Mutex<[u8; 32]>,
    /// The negotiated chat data channel (see [`crate::chat`]).
    chat: Arc<crate::chat::ChatChannel>,
}

fn random_ssrc() -> u32 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    // SystemRandom only fails when the OS has no entropy source at all.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u32::from_be_bytes(b).max(1)
}

fn video_codec(codec: VideoCodec) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: codec.mime_type().to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: match codec {
            VideoCodec::Vp8 => String::new(),
            VideoCodec::H264 => H264_FMTP.to_owned(),
        },
        rtcp_feedback: vec![],
    }
}

fn video_pt(codec: VideoCodec) -> u8 {
    match codec {
        VideoCodec::Vp8 => VP8_PT,
        VideoCodec::H264 => H264_PT,
    }
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

fn local_track(
    kind: RtpCodecKind,
    ssrc: u32,
    codec: RTCRtpCodec,
) -> Result<TrackLocalStaticSample, CallError> {
    let track = MediaStreamTrack::new(
        "bedside-clinician".to_owned(),
        format!("bedside-{kind}"),
        format!("bedside-{kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    );
    TrackLocalStaticSample::new(Instant::now(), track).map_err(rtc_err)
}

async fn negotiated_pt(sender: &Arc<dyn RtpSender>, fallback: u8) -> u8 {
    sender
        .get_parameters()
        .await
        .ok()
        .and_then(|p| p.rtp_parameters.codecs.first().map(|c| c.payload_type))
        .unwrap_or(fallback)
}

impl Peer {
    async fn build(
        device: &str,
        config: &PeerConfig,
        codec: VideoCodec,
        events: mpsc::Sender<PeerEvent>,
    ) -> Result<(Self, Arc<dyn RtpSender>, Arc<dyn RtpSender>), CallError> {
        // One video codec per peer, chosen from the offer: the answer then
        // carries exactly it, and both directions use it.
        let mut engine = MediaEngine::default();
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: video_codec(codec),
                    payload_type: video_pt(codec),
                },
                RtpCodecKind::Video,
            )
            .map_err(rtc_err)?;
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: opus_codec(),
                    payload_type: OPUS_PT,
                },
                RtpCodecKind::Audio,
            )
            .map_err(rtc_err)?;
        let video_ssrc = random_ssrc();
        let audio_ssrc = random_ssrc();
        let feedback = Feedback::new(video_ssrc, audio_ssrc);
        let registry = register_default_interceptors(Registry::new(), &mut engine)
            .map_err(rtc_err)?
            .with(
                Slot::from(FEEDBACK_SLOT),
                FeedbackInterceptor::new(Arc::clone(&feedback)),
            );
        // Answer `setup:passive`: the browser is the DTLS client and sends its ClientHello as
        // soon as its ICE connects. As the client we sent ours when *our* ICE connected, often
        // before the browser had the answer, and it was dropped: ~200 ms of retransmit wait.
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_answering_dtls_role(rtc::peer_connection::transport::RTCDtlsRole::Server)
            .build();
        let mut rtc_config =
            RTCConfigurationBuilder::new().with_ice_transport_policy(match config.ice_policy {
                IcePolicy::All => RTCIceTransportPolicy::All,
                IcePolicy::Relay => RTCIceTransportPolicy::Relay,
            });
        if let Some(turn) = &config.turn {
            rtc_config = rtc_config.with_ice_servers(vec![RTCIceServer {
                urls: turn.urls.clone(),
                username: turn.username.clone(),
                credential: turn.credential.clone(),
            }]);
        }
        let video_track = Arc::new(local_track(
            RtpCodecKind::Video,
            video_ssrc,
            video_codec(codec),
        )?);
        let audio_track = Arc::new(local_track(RtpCodecKind::Audio, audio_ssrc, opus_codec())?);
        let shared = Arc::new(PeerShared {
            device: device.to_owned(),
            config: config.clone(),
            counters: Counters::default(),
            feedback,
            controls: Controls::default(),
            stop: AtomicBool::new(false),
            media_started: AtomicBool::new(false),
            path_epoch: std::sync::atomic::AtomicU64::new(0),
            video_level: AtomicU8::new(0),
            level_streak: std::sync::atomic::AtomicU32::new(0),
            answered_at: Mutex::new(Instant::now()),
            events,
            state: Mutex::new("new".into()),
            video_track: Arc::clone(&video_track),
            video_ssrc,
            video_pt: AtomicU8::new(video_pt(codec)),
            audio_track: Arc::clone(&audio_track),
            audio_ssrc,
            audio_pt: AtomicU8::new(OPUS_PT),
            remote_video: watch::channel(None).0,
            local_preview: watch::channel(None).0,
            video_codec: codec,
            runtime: tokio::runtime::Handle::current(),
            io: crate::devices::DeviceIo::new(&config.devices),
        });
        let pc = PeerConnectionBuilder::new()
            .with_configuration(rtc_config.build())
            .with_media_engine(engine)
            .with_interceptor_registry(registry)
            .with_setting_engine(settings)
            .with_handler(Arc::new(Handler {
                shared: Arc::clone(&shared),
            }))
            .with_udp_addrs(config.udp_addrs.clone())
            .build()
            .await
            .map_err(rtc_err)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let video_sender = pc
            .add_track(video_track as Arc<dyn TrackLocal>)
            .await
            .map_err(rtc_err)?;
        let audio_sender = pc
            .add_track(audio_track as Arc<dyn TrackLocal>)
            .await
            .map_err(rtc_err)?;
        let chat = Arc::new(crate::chat::ChatChannel::new(
            pc.create_data_channel(
                crate::chat::CHAT_LABEL,
                Some(webrtc::data_channel::RTCDataChannelInit {
                    ordered: true,
                    negotiated: Some(crate::chat::CHAT_STREAM_ID),
                    ..Default::default()
                }),
            )
            .await
            .map_err(rtc_err)?,
        ));
        Ok((
            Self {
                pc,
                shared,
                offer_tag: Mutex::new([0; 32]),
                chat,
            },
            video_sender,
            audio_sender,
        ))
    }

    /// Applies an authenticated offer and produces the answer.
    async fn answer(
        &self,
        auth_ctx: &CallAuth,
        offer_sdp: &str,
        offer_tag: [u8; 32],
        restart: bool,
    ) -> Result<Answer, CallError> {
        let offer = RTCSessionDescription::offer(offer_sdp.to_owned()).map_err(rtc_err)?;
        self.pc
            .set_remote_description(offer)
            .await
            .map_err(rtc_err)?;
        let answer = self.pc.create_answer(None).await.map_err(rtc_err)?;
        self.pc
            .set_local_description(answer)
            .await
            .map_err(rtc_err)?;
        let local = self
            .pc
            .local_description()
            .await
            .ok_or_else(|| CallError::WebRtc("no local description".into()))?;
        let local_id = auth::sdp_identity(&local.sdp)?;
        let remote_id = auth::sdp_identity(offer_sdp)?;
        let tag = auth::answer_tag(
            &auth_ctx.k_auth,
            &auth_ctx.visit,
            &self.shared.device,
            &local_id,
            &offer_tag,
        );
        if let Ok(mut g) = self.offer_tag.lock() {
            *g = offer_tag;
        }
        if !restart && let Ok(mut g) = self.shared.answered_at.lock() {
            *g = Instant::now();
        }
        Ok(Answer {
            sdp: local.sdp,
            tag: B64.encode(&tag),
            sas: auth::sas(
                &auth_ctx.secret,
                &local_id.fingerprint,
                &remote_id.fingerprint,
            ),
            local_fingerprint: local_id.fingerprint,
            remote_fingerprint: remote_id.fingerprint,
            restart,
        })
    }

    /// Adds a trickled remote candidate (JSON `RTCIceCandidateInit`, or a bare
    /// `candidate:` line).
    pub async fn add_remote_candidate(&self, candidate: &str) -> Result<(), CallError> {
        let init = parse_candidate(candidate)?;
        if init.candidate.is_empty() {
            // End of candidates.
            return Ok(());
        }
        self.pc.add_ice_candidate(init).await.map_err(rtc_err)
    }

    /// The video codec this peer negotiated.
    pub fn video_codec(&self) -> VideoCodec {
        self.shared.video_codec
    }

    /// The newest decoded remote picture (newest wins; `None` until the first).
    pub fn remote_video(&self) -> watch::Receiver<Option<media::Frame>> {
        self.shared.remote_video.subscribe()
    }

    /// The newest local picture as sent (newest wins).
    pub fn local_preview(&self) -> watch::Receiver<Option<media::Frame>> {
        self.shared.local_preview.subscribe()
    }

    /// Mute or unmute the audio we send.
    pub fn set_muted(&self, muted: bool) {
        self.shared.controls.muted.store(muted, Ordering::Relaxed);
    }

    /// Turn the camera off (black, once a second) or on.
    pub fn set_camera_off(&self, off: bool) {
        self.shared
            .controls
            .camera_off
            .store(off, Ordering::Relaxed);
        self.shared.feedback.request_keyframe();
    }

    /// Current counters as a stats snapshot (`previous` = last call's totals).
    async fn stats(&self, previous: Totals) -> (CallStats, Totals) {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        let rtt_ms = report
            .candidate_pairs()
            .filter(|p| p.nominated && p.current_round_trip_time > 0.0)
            .map(|p| p.current_round_trip_time * 1000.0)
            .next();
        let started = self
            .shared
            .answered_at
            .lock()
            .map(|g| *g)
            .unwrap_or_else(|_| Instant::now());
        let f = &self.shared.feedback;
        Snapshot {
            counters: &self.shared.counters,
            previous,
            started,
            state: self
                .shared
                .state
                .lock()
                .map(|g| g.clone())
                .unwrap_or_default(),
            video_codec: self.shared.video_codec.mime_type(),
            rtt_ms,
            loss_sent: f.video_loss(),
            jitter_ms: f.video_jitter_ms(),
            remb_bps: f.remb_bps(),
            keyframe_requests: f.keyframe_requests(),
            devices: self.shared.io.report(),
        }
        .build()
    }

    /// Sends a chat message to the patient on the call's data channel; returns it as
    /// sent (id and time) for the clinician's own list. Refused when the text is blank,
    /// over 2,000 characters or has control characters, when over the rate limit, or
    /// while the channel is not open.
    pub async fn send_chat(
        &self,
        text: &str,
    ) -> Result<crate::chat::ChatMessage, crate::chat::ChatRefusal> {
        self.chat.send(text).await
    }

    /// Chat counters (no content).
    pub fn chat_counts(&self) -> crate::chat::ChatCounts {
        self.chat.counts()
    }

    /// Whether the chat channel is open.
    pub fn chat_open(&self) -> bool {
        self.chat.is_open()
    }

    /// Closes the connection and stops the media threads.
    pub async fn close(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.chat.close().await;
        let _ = self.pc.close().await;
    }
}

fn parse_candidate(candidate: &str) -> Result<RTCIceCandidateInit, CallError> {
    let trimmed = candidate.trim();
    if trimmed.starts_with('{') {
        serde_json::from_str(trimmed).map_err(|_| CallError::BadCandidate)
    } else if trimmed.is_empty() || trimmed.starts_with("candidate:") {
        Ok(RTCIceCandidateInit {
            candidate: trimmed.to_owned(),
            sdp_mline_index: Some(0),
            ..Default::default()
        })
    } else {
        Err(CallError::BadCandidate)
    }
}

/// A visit's call: its peers by device id, all authenticated with the same invite secret.
pub struct Call {
    auth: CallAuth,
    config: PeerConfig,
    peers: HashMap<String, Arc<Peer>>,
    events: mpsc::Sender<PeerEvent>,
}

impl Call {
    /// A call with no peer yet; events come out of the returned receiver.
    pub fn new(auth: CallAuth, config: PeerConfig) -> (Self, mpsc::Receiver<PeerEvent>) {
        let (events, rx) = mpsc::channel(1024);
        (
            Self {
                auth,
                config,
                peers: HashMap::new(),
                events,
            },
            rx,
        )
    }

    /// Handles a device's offer: verifies its tag first (refusing with
    /// [`CallError::Auth`] on mismatch, before anything else), then answers
    /// it — building the peer on the first offer, renegotiating (ICE restart)
    /// on later ones.
    pub async fn offer(&mut self, device: &str, sdp: &str, tag: &str) -> Result<Answer, CallError> {
        let tag = B64.decode(tag.as_bytes()).map_err(|_| CallError::BadTag)?;
        auth::verify_offer(&self.auth.k_auth, &self.auth.visit, device, sdp, &tag)?;
        let offer_tag: [u8; 32] = tag.as_slice().try_into().map_err(|_| CallError::BadTag)?;
        if let Some(peer) = self.peers.get(device) {
            return peer.answer(&self.auth, sdp, offer_tag, true).await;
        }
        let codec = VideoCodec::for_offer(sdp, self.config.allow_h264);
        let (peer, video_sender, audio_sender) =
            Peer::build(device, &self.config, codec, self.events.clone()).await?;
        let peer = Arc::new(peer);
        let answer = match peer.answer(&self.auth, sdp, offer_tag, false).await {
            Ok(a) => a,
            Err(e) => {
                peer.close().await;
                return Err(e);
            }
        };
        peer.shared.video_pt.store(
            negotiated_pt(&video_sender, video_pt(codec)).await,
            Ordering::Relaxed,
        );
        peer.shared.audio_pt.store(
            negotiated_pt(&audio_sender, OPUS_PT).await,
            Ordering::Relaxed,
        );
        spawn_stats(Arc::clone(&peer));
        crate::chat::spawn_receiver(
            Arc::clone(&peer.chat),
            device.to_owned(),
            self.events.clone(),
            {
                let shared = Arc::clone(&peer.shared);
                Box::new(move || shared.stop.load(Ordering::Acquire))
            },
        );
        self.peers.insert(device.to_owned(), peer);
        Ok(answer)
    }

    /// A trickled candidate from a device.
    pub async fn remote_candidate(&self, device: &str, candidate: &str) -> Result<(), CallError> {
        self.peers
            .get(device)
            .ok_or(CallError::UnknownPeer)?
            .add_remote_candidate(candidate)
            .await
    }

    /// A peer, by device id.
    pub fn peer(&self, device: &str) -> Option<&Arc<Peer>> {
        self.peers.get(device)
    }

    /// Ends one device's peer.
    pub async fn hang_up(&mut self, device: &str) {
        if let Some(p) = self.peers.remove(device) {
            p.close().await;
        }
    }

    /// Ends every peer.
    pub async fn close(&mut self) {
        for (_, p) in self.peers.drain() {
            p.close().await;
        }
    }
}

fn spawn_stats(peer: Arc<Peer>) {
    tokio::spawn(async move {
        let mut previous = Totals::take(&peer.shared.counters);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            if peer.shared.stop.load(Ordering::Acquire) {
                break;
            }
            let (stats, now) = peer.stats(previous).await;
            previous = now;
            media::adapt(&peer.shared, &stats);
            peer.shared.emit(PeerEvent::Stats {
                device: peer.shared.device.clone(),
                stats: Box::new(stats),
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The video section of a Chromium offer, trimmed: VP8 first, then H.264
    /// baseline (42001f) and constrained baseline (42e01f), then an audio section.
    const CHROME_OFFER: &str = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 102 106 108\r\n\
        a=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n\
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n\
        a=rtpmap:106 H264/90000\r\n\
        a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
        a=rtpmap:108 H264/90000\r\n\
        a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";

    #[test]
    fn h264_is_found_only_with_mode_1_constrained_baseline_in_the_video_section() {
        assert!(offer_has_h264(CHROME_OFFER));
        let no_cb = CHROME_OFFER.replace(
            "108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
            "108 packetization-mode=1;profile-level-id=640c1f",
        );
        assert!(
            !offer_has_h264(&no_cb),
            "High profile and mode 0 are not taken"
        );
        let vp8_only = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n\
            m=audio 9 X 102\r\na=rtpmap:102 H264/90000\r\n\
            a=fmtp:102 packetization-mode=1;profile-level-id=42e01f\r\n";
        assert!(!offer_has_h264(vp8_only), "H.264 outside the video section");
        assert!(!offer_has_h264(""));
    }

    #[test]
    fn allow_h264_changes_the_codec_only_with_the_feature() {
        assert_eq!(VideoCodec::for_offer(CHROME_OFFER, false), VideoCodec::Vp8);
        let allowed = VideoCodec::for_offer(CHROME_OFFER, true);
        if cfg!(feature = "h264") {
            assert_eq!(
                allowed,
                VideoCodec::H264,
                "preferred over VP8 though offered second"
            );
        } else {
            assert_eq!(allowed, VideoCodec::Vp8, "no H.264 in this build");
        }
        let vp8_only = "m=video 9 X 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(VideoCodec::for_offer(vp8_only, true), VideoCodec::Vp8);
    }

    #[test]
    fn candidates_parse_from_json_or_a_bare_line() {
        let j = r#"{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}"#;
        assert_eq!(
            parse_candidate(j)
                .map(|c| c.sdp_mid)
                .ok()
                .flatten()
                .as_deref(),
            Some("0")
        );
        assert!(parse_candidate("candidate:1 1 udp 1 127.0.0.1 5 typ host").is_ok());
        assert!(parse_candidate("").is_ok());
        assert!(matches!(
            parse_candidate("<script>"),
            Err(CallError::BadCandidate)
        ));
        assert!(matches!(parse_candidate("{"), Err(CallError::BadCandidate)));
    }
}
