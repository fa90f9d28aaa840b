//! Sources and sinks of one peer: the synthetic test pattern and tone
//! encoded and sent at their real frame durations, the patient's VP8 (or
//! H.264 where negotiated, feature `h264`) and Opus
//! received, reassembled and decoded, keyframe requests both ways, and a
//! simple bandwidth adaptation.
//!
//! Threads: encoding and decoding run on their own OS threads (a VP8 frame
//! takes milliseconds of CPU, which would stall the async runtime that drives
//! ICE and DTLS). The async receive task hands complete VP8 frames to the
//! decoder thread through a channel of 4: when it is full the frame is
//! dropped and a PLI asks the patient for a fresh keyframe.
//!
//! **Invariant:** no unbounded frame queue. Decoded remote pictures and the
//! local preview go out through [`FrameSlot`]s (`tokio::sync::watch`): newest
//! frame wins, a slow consumer skips frames and never grows memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bedside_codec::synthetic::{Stamp, TestPattern, Tone};
use bedside_codec::{
    CodecError, EncodedFrame, I420Frame, OpusDecoder, OpusEncoder, Vp8Config, Vp8Decoder,
    Vp8Encoder,
};
#[cfg(feature = "h264")]
use bedside_codec::{H264Decoder, H264Encoder};
use bytes::Bytes;
use rtc::media::Sample;
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::packetizer::Depacketizer;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use crate::jitter::{self, JitterBuffer, JitterConfig, Playout};
use crate::peer::{PeerShared, VideoCodec, VideoSettings};
use crate::stats::{CallStats, Counters};

/// A decoded or captured picture, shared without copying.
pub type Frame = Arc<I420Frame>;

/// Newest-frame-wins output: consumers `subscribe()` and read the latest.
pub type FrameSlot = tokio::sync::watch::Sender<Option<Frame>>;

/// How far the sender has stepped down: 0 = as configured, 1 = half frame
/// rate, 2 = half frame rate and half resolution.
pub(crate) fn level_settings(base: VideoSettings, level: u8) -> (u32, u32, u32) {
    let even = |v: u32| (v / 2).max(2) & !1;
    match level {
        0 => (base.width, base.height, base.fps),
        1 => (base.width, base.height, (base.fps / 2).max(1)),
        _ => (even(base.width), even(base.height), (base.fps / 2).max(1)),
    }
}

/// The video encoder of the negotiated codec.
// One per sending thread, for the whole call: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum VideoEncoder {
    Vp8(Vp8Encoder),
    #[cfg(feature = "h264")]
    H264(H264Encoder),
}

impl VideoEncoder {
    pub(crate) fn new(codec: VideoCodec, cfg: &Vp8Config) -> Result<Self, CodecError> {
        match codec {
            #[cfg(feature = "h264")]
            VideoCodec::H264 => H264Encoder::new(cfg).map(Self::H264),
            // Without the feature `VideoCodec::for_offer` never picks H.264.
            _ => Vp8Encoder::new(cfg).map(Self::Vp8),
        }
    }

    pub(crate) fn encode(
        &mut self,
        frame: &I420Frame,
        pts: i64,
        force: bool,
    ) -> Result<Vec<EncodedFrame>, CodecError> {
        match self {
            Self::Vp8(e) => e.encode(frame, pts, force),
            #[cfg(feature = "h264")]
            Self::H264(e) => e.encode(frame, pts, force),
        }
    }

    pub(crate) fn set_bitrate(&mut self, kbps: u32) -> Result<(), CodecError> {
        match self {
            Self::Vp8(e) => e.set_bitrate(kbps),
            #[cfg(feature = "h264")]
            Self::H264(e) => e.set_bitrate(kbps),
        }
    }
}

/// The video decoder of the negotiated codec.
enum VideoDecoder {
    Vp8(Vp8Decoder),
    #[cfg(feature = "h264")]
    H264(H264Decoder),
}

impl VideoDecoder {
    fn new(codec: VideoCodec) -> Result<Self, CodecError> {
        match codec {
            #[cfg(feature = "h264")]
            VideoCodec::H264 => H264Decoder::new().map(Self::H264),
            _ => Vp8Decoder::new().map(Self::Vp8),
        }
    }

    fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        match self {
            Self::Vp8(d) => d.decode(data),
            #[cfg(feature = "h264")]
            Self::H264(d) => d.decode(data),
        }
    }

    fn needs_keyframe(&self) -> bool {
        match self {
            Self::Vp8(d) => d.needs_keyframe(),
            #[cfg(feature = "h264")]
            Self::H264(d) => d.needs_keyframe(),
        }
    }
}

/// Starts the sending threads (once, when the connection first connects):
/// the synthetic sources, or the devices (`crate::devices`).
pub(crate) fn start_senders(shared: Arc<PeerShared>) {
    let devices = shared.config.source == crate::MediaSource::Devices;
    let v = Arc::clone(&shared);
    let spawned = std::thread::Builder::new()
        .name("bedside-video-send".into())
        .spawn(move || {
            if devices {
                crate::devices::video_sender(&v);
            } else {
                video_sender(&v);
            }
        });
    if spawned.is_err() {
        tracing::warn!("could not start the video sender");
    }
    let a = shared;
    let spawned = std::thread::Builder::new()
        .name("bedside-audio-send".into())
        .spawn(move || {
            if devices {
                crate::devices::audio_sender(&a);
            } else {
                audio_sender(&a);
            }
        });
    if spawned.is_err() {
        tracing::warn!("could not start the audio sender");
    }
}

pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Sleeps until `deadline`; if we are more than one period late, re-anchors.
pub(crate) fn pace(next: &mut Instant, period: Duration) {
    *next += period;
    let now = Instant::now();
    if *next > now {
        std::thread::sleep(*next - now);
    } else if now - *next > period {
        *next = now;
    }
}

fn video_sender(shared: &PeerShared) {
    let base = shared.config.video;
    let counters = &shared.counters;
    counters
        .target_kbps
        .store(base.bitrate_kbps, Ordering::Relaxed);
    let mut level = u8::MAX;
    let mut encoder: Option<VideoEncoder> = None;
    let mut pattern = TestPattern::new(base.width, base.height);
    let mut bitrate = base.bitrate_kbps;
    let mut served = shared.feedback.keyframe_requests();
    let mut force = true;
    let mut counter: u32 = 0;
    let started = Instant::now();
    let mut next = Instant::now();
    let mut period = Duration::from_secs(1) / base.fps.max(1);
    let mut last_capture: Option<Instant> = None;
    while !shared.stop.load(Ordering::Acquire) {
        let want = shared.video_level.load(Ordering::Relaxed).min(2);
        if want != level || encoder.is_none() {
            level = want;
            let (w, h, fps) = level_settings(base, level);
            let cfg = Vp8Config {
                width: w,
                height: h,
                fps,
                bitrate_kbps: bitrate,
            };
            match VideoEncoder::new(shared.video_codec, &cfg) {
                Ok(e) => encoder = Some(e),
                Err(e) => {
                    tracing::warn!(error = %e, "video encoder unavailable");
                    return;
                }
            }
            pattern = TestPattern::new(w, h);
            period = Duration::from_secs(1) / fps.max(1);
            counters.local_width.store(w, Ordering::Relaxed);
            counters.local_height.store(h, Ordering::Relaxed);
            counters.local_fps.store(fps, Ordering::Relaxed);
            force = true;
        }
        let Some(enc) = encoder.as_mut() else { return };
        let target = counters.target_kbps.load(Ordering::Relaxed);
        if target != bitrate && enc.set_bitrate(target).is_ok() {
            bitrate = target;
        }
        let requests = shared.feedback.keyframe_requests();
        if requests != served {
            served = requests;
            force = true;
        }
        let camera_off = shared.controls.camera_off.load(Ordering::Relaxed);
        let (w, h, _) = level_settings(base, level);
        let frame = if camera_off {
            I420Frame::new_black(w, h)
        } else {
            pattern.frame(Stamp {
                counter,
                capture_micros: now_micros(),
            })
        };
        counter = counter.wrapping_add(1);
        let captured = Instant::now();
        let pts = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
        let frame_period = if camera_off {
            Duration::from_secs(1)
        } else {
            period
        };
        // The RTP clock follows real capture time: when this thread runs late
        // the timestamps say so, rather than claiming 30 fps while delivering
        // fewer (which a receiver's delay-based estimator reads as a growing
        // queue, and answers with a collapsing REMB).
        let duration = last_capture
            .map_or(frame_period, |t: Instant| captured.duration_since(t))
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        last_capture = Some(captured);
        match enc.encode(&frame, pts, force) {
            Ok(out) => {
                force = false;
                for ef in out {
                    let len = ef.data.len() as u64;
                    if ef.keyframe {
                        Counters::add(&counters.keyframes_sent, 1);
                    }
                    let sample = Sample {
                        data: Bytes::from(ef.data),
                        duration,
                        ..Sample::new(captured)
                    };
                    let pt = shared.video_pt.load(Ordering::Relaxed);
                    let wrote = shared.runtime.block_on(
                        shared
                            .video_track
                            .sample_writer(shared.video_ssrc, pt)
                            .write_sample(&sample),
                    );
                    if wrote.is_ok() {
                        Counters::add(&counters.video_frames_sent, 1);
                        Counters::add(&counters.video_bytes_sent, len);
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "encode failed"),
        }
        shared.local_preview.send_replace(Some(Arc::new(frame)));
        pace(&mut next, frame_period);
    }
}

fn audio_sender(shared: &PeerShared) {
    const SAMPLES: usize = 960; // 20 ms at 48 kHz
    let counters = &shared.counters;
    let mut encoder = match OpusEncoder::new(1) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "audio encoder unavailable");
            return;
        }
    };
    let mut tone = Tone::new(shared.config.tone_hz, 1);
    let period = Duration::from_millis(20);
    let mut next = Instant::now();
    while !shared.stop.load(Ordering::Acquire) {
        let mut pcm = tone.next_frame(SAMPLES);
        if shared.controls.muted.load(Ordering::Relaxed) {
            pcm.iter_mut().for_each(|s| *s = 0);
        }
        if let Ok(packet) = encoder.encode(&pcm) {
            let len = packet.len() as u64;
            let sample = Sample {
                data: Bytes::from(packet),
                duration: period,
                ..Sample::new(Instant::now())
            };
            let pt = shared.audio_pt.load(Ordering::Relaxed);
            let wrote = shared.runtime.block_on(
                shared
                    .audio_track
                    .sample_writer(shared.audio_ssrc, pt)
                    .write_sample(&sample),
            );
            if wrote.is_ok() {
                Counters::add(&counters.audio_packets_sent, 1);
                Counters::add(&counters.audio_bytes_sent, len);
            }
        }
        pace(&mut next, period);
    }
}

/// Receives the patient's video: RTP → VP8 or H.264 frames → decoder thread → [`FrameSlot`].
pub(crate) async fn receive_video(shared: Arc<PeerShared>, track: Arc<dyn TrackRemote>) {
    match shared.video_codec {
        // H.264 arrives as Annex B access units (start codes), as OpenH264 reads them.
        VideoCodec::H264 => receive_video_as(shared, track, H264Packet::default).await,
        _ => receive_video_as(shared, track, Vp8Packet::default).await,
    }
}

async fn receive_video_as<D: Depacketizer>(
    shared: Arc<PeerShared>,
    track: Arc<dyn TrackRemote>,
    depacketizer: impl Fn() -> D,
) {
    let media_ssrc = track.ssrcs().await.first().copied().unwrap_or(0);
    let need_keyframe = Arc::new(AtomicBool::new(true));
    let Some(decoder_tx) = spawn_decoder(Arc::clone(&shared), Arc::clone(&need_keyframe)) else {
        return;
    };
    // A frame waits at most 500 ms of media time for a missing packet (NACK's
    // retransmission); without the bound it waited for 128 packets, seconds at
    // the low rate a browser sends at after a network drop.
    let new_builder =
        || SampleBuilder::new(128, depacketizer(), 90_000).with_max_time_delay(MAX_FRAME_WAIT);
    let mut builder = new_builder();
    let mut epoch = shared.path_epoch.load(Ordering::Acquire);
    let mut last_pli: Option<Instant> = None;
    // The newest sequence number seen, and the floor below which a packet is
    // from before the latest reconnection.
    let mut highest: Option<u16> = None;
    let mut floor: Option<u16> = None;
    let counters = &shared.counters;
    // Keyframe requests go out on this tick too, not only when a packet
    // arrives: after a reconnection the first one leaves at once, before the
    // patient sends anything.
    let mut tick = tokio::time::interval(PLI_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Both are cancel-safe: `poll` is a channel receive behind a tokio mutex.
        let event = tokio::select! {
            event = track.poll() => match event {
                Some(event) => Some(event),
                None => break,
            },
            _ = tick.tick() => None,
        };
        if shared.stop.load(Ordering::Acquire) {
            break;
        }
        let now_epoch = shared.path_epoch.load(Ordering::Acquire);
        if now_epoch != epoch {
            // Reconnected (ICE restart): what the builder holds is from
            // before the gap, and it would wait for 128 packets past it.
            // Start over from the patient's next keyframe.
            epoch = now_epoch;
            builder = new_builder();
            need_keyframe.store(true, Ordering::Release);
            last_pli = None;
            floor = highest;
        }
        match event {
            Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                Counters::add(&counters.video_packets_received, 1);
                Counters::add(&counters.video_bytes_received, packet.payload.len() as u64);
                let seq = packet.header.sequence_number;
                if highest.is_none_or(|h| seq_after(seq, h)) {
                    highest = Some(seq);
                }
                // Retransmissions of packets from before the reconnection (our NACKs
                // for the gap) would become the fresh builder's head and hold it on
                // frames that can never complete: drop them.
                if floor.is_none_or(|f| seq_after(seq, f)) {
                    counters.video_packet();
                    builder.push(Instant::now(), packet);
                }
                while let Some(sample) = builder.pop(Instant::now()) {
                    // Padding (bandwidth probes) counts as dropped but is not loss.
                    let lost = sample
                        .prev_dropped_packets
                        .saturating_sub(sample.prev_padding_packets);
                    if lost > 0 {
                        Counters::add(&counters.video_packets_lost, u64::from(lost));
                        need_keyframe.store(true, Ordering::Release);
                    }
                    match decoder_tx.try_send(sample.data) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            // The decoder is behind: drop, and restart from a keyframe.
                            need_keyframe.store(true, Ordering::Release);
                        }
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
            }
            Some(TrackRemoteEvent::OnEnded | TrackRemoteEvent::OnError) => break,
            _ => {}
        }
        let due = last_pli.is_none_or(|t| t.elapsed() >= PLI_REPEAT);
        if due && need_keyframe.load(Ordering::Acquire) {
            last_pli = Some(Instant::now());
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            if track.write_rtcp(vec![Box::new(pli)]).await.is_ok() {
                Counters::add(&counters.plis_sent, 1);
            }
        }
    }
}

/// How often the receive loop wakes without a packet to send a due keyframe request.
const PLI_TICK: Duration = Duration::from_millis(100);

/// The least time between two keyframe requests while one is outstanding.
const PLI_REPEAT: Duration = Duration::from_millis(500);

/// How long a remote video frame waits for a missing packet, in media time.
const MAX_FRAME_WAIT: Duration = Duration::from_millis(500);

/// Whether RTP sequence number `a` comes after `b` (modulo 2^16).
fn seq_after(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

fn spawn_decoder(
    shared: Arc<PeerShared>,
    need_keyframe: Arc<AtomicBool>,
) -> Option<SyncSender<Bytes>> {
    let (tx, rx) = sync_channel::<Bytes>(4);
    let spawned = std::thread::Builder::new()
        .name("bedside-video-decode".into())
        .spawn(move || {
            let mut decoder = match VideoDecoder::new(shared.video_codec) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(error = %e, "video decoder unavailable");
                    return;
                }
            };
            let counters = &shared.counters;
            while let Ok(data) = rx.recv() {
                match decoder.decode(&data) {
                    Ok(Some(frame)) => {
                        Counters::add(&counters.video_frames_decoded, 1);
                        counters.frame_decoded();
                        counters.remote_width.store(frame.width, Ordering::Relaxed);
                        counters
                            .remote_height
                            .store(frame.height, Ordering::Relaxed);
                        need_keyframe.store(false, Ordering::Release);
                        let since = shared
                            .answered_at
                            .lock()
                            .map(|g| *g)
                            .unwrap_or_else(|_| Instant::now());
                        if let Some(ms) = counters.first_frame(since) {
                            let _ = shared.events.try_send(crate::PeerEvent::FirstFrame {
                                device: shared.device.clone(),
                                ms,
                            });
                        }
                        shared.remote_video.send_replace(Some(Arc::new(frame)));
                    }
                    Ok(None) => {
                        if decoder.needs_keyframe() {
                            need_keyframe.store(true, Ordering::Release);
                        }
                    }
                    Err(_) => {
                        Counters::add(&counters.video_decode_errors, 1);
                        need_keyframe.store(true, Ordering::Release);
                    }
                }
            }
        });
    spawned.ok().map(|_| tx)
}

/// Receives the patient's Opus into a [`JitterBuffer`] and decodes one 20 ms
/// frame per playout tick: in order, concealing lost packets, at a depth that
/// follows the measured jitter; with the `devices` source each decoded frame
/// goes to the speaker's bounded buffer (`crate::devices`).
pub(crate) async fn receive_audio(shared: Arc<PeerShared>, track: Arc<dyn TrackRemote>) {
    let mut decoder = match OpusDecoder::new(2) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "audio decoder unavailable");
            return;
        }
    };
    let counters = &shared.counters;
    let mut buffer = JitterBuffer::new(JitterConfig::default());
    let origin = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(u64::from(jitter::FRAME_MS)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = track.poll() => {
                let Some(event) = event else { break };
                if shared.stop.load(Ordering::Acquire) {
                    break;
                }
                match event {
                    TrackRemoteEvent::OnRtpPacket(packet) => {
                        Counters::add(&counters.audio_packets_received, 1);
                        Counters::add(&counters.audio_bytes_received, packet.payload.len() as u64);
                        let at_ms = origin.elapsed().as_secs_f64() * 1000.0;
                        let h = &packet.header;
                        if buffer
                            .push(h.sequence_number, h.timestamp, at_ms, packet.payload.to_vec())
                            .is_err()
                        {
                            Counters::add(&counters.audio_packets_late, 1);
                        }
                    }
                    TrackRemoteEvent::OnEnded | TrackRemoteEvent::OnError => break,
                    _ => {}
                }
            }
            _ = tick.tick() => {
                if shared.stop.load(Ordering::Acquire) {
                    break;
                }
                let decoded = match buffer.pop() {
                    Playout::Packet(payload) => decoder.decode(Some(&payload)),
                    Playout::Conceal => {
                        Counters::add(&counters.audio_frames_concealed, 1);
                        decoder.decode(None)
                    }
                    Playout::Silence => continue,
                };
                if let Ok(pcm) = &decoded {
                    Counters::add(&counters.audio_frames_decoded, 1);
                    // To the speaker when the call uses devices (no-op otherwise).
                    shared.io.play(pcm, 2);
                }
                counters.audio_buffer_ms.store(buffer.depth_ms(), Ordering::Relaxed);
            }
        }
    }
}

/// Bandwidth adaptation, once a second: lower the bitrate on loss or the
/// remote's estimate (REMB), raise it slowly when clean; after three seconds
/// below 25 % of the configured bitrate halve the frame rate, below 12 % also
/// the resolution (and step back up after three seconds above). The first five
/// seconds are the estimators' ramp-up: no step down then.
pub(crate) fn adapt(shared: &PeerShared, stats: &CallStats) {
    let max = shared.config.video.bitrate_kbps.max(100);
    let current = shared.counters.target_kbps.load(Ordering::Relaxed);
    if current == 0 {
        return; // not sending yet
    }
    let next = next_bitrate(current, max, stats.loss_sent, stats.remb_kbps);
    shared.counters.target_kbps.store(next, Ordering::Relaxed);
    let level = shared.video_level.load(Ordering::Relaxed);
    let wanted = next_level(level, next, max);
    let streak = if wanted == level || stats.elapsed_s < 5.0 {
        0
    } else {
        shared.level_streak.fetch_add(1, Ordering::Relaxed) + 1
    };
    if streak == 0 {
        shared.level_streak.store(0, Ordering::Relaxed);
    } else if streak >= 3 {
        shared.level_streak.store(0, Ordering::Relaxed);
        shared.video_level.store(wanted, Ordering::Relaxed);
    }
}

pub(crate) fn next_bitrate(current: u32, max: u32, loss: f64, remb_kbps: Option<f64>) -> u32 {
    let c = f64::from(current);
    let mut next = if loss > 0.10 {
        c * 0.75
    } else if loss > 0.02 {
        c * 0.93
    } else {
        c * 1.08
    };
    if let Some(remb) = remb_kbps.filter(|r| *r > 0.0) {
        // Sending at the estimate lets a receive-side estimator (≤ 1.5 × the
        // incoming rate) keep growing.
        next = next.min(remb);
    }
    (next.round() as u32).clamp(100.min(max), max)
}

pub(crate) fn next_level(level: u8, kbps: u32, max: u32) -> u8 {
    let ratio = f64::from(kbps) / f64::from(max);
    match level {
        0 if ratio < 0.25 => 1,
        1 if ratio < 0.12 => 2,
        1 if ratio > 0.5 => 0,
        2 if ratio > 0.3 => 1,
        l => l.min(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_across_the_wrap() {
        assert!(seq_after(2, 1) && !seq_after(1, 2) && !seq_after(5, 5));
        assert!(seq_after(3, 65_530), "after the wrap");
        assert!(!seq_after(65_530, 3));
    }

    #[test]
    fn loss_lowers_the_bitrate_and_clean_paths_recover() {
        assert!(next_bitrate(1000, 1000, 0.2, None) < 800);
        assert!(next_bitrate(1000, 1000, 0.05, None) < 1000);
        assert_eq!(next_bitrate(1000, 1000, 0.0, None), 1000);
        assert!(next_bitrate(500, 1000, 0.0, None) > 500);
        assert_eq!(next_bitrate(1000, 1000, 0.0, Some(300.0)), 300);
        assert_eq!(next_bitrate(100, 1000, 0.5, None), 100);
    }

    #[test]
    fn low_bitrate_steps_down_frame_rate_then_resolution() {
        assert_eq!(next_level(0, 900, 1000), 0);
        assert_eq!(next_level(0, 300, 1000), 0);
        assert_eq!(next_level(0, 200, 1000), 1);
        assert_eq!(next_level(1, 100, 1000), 2);
        assert_eq!(next_level(2, 400, 1000), 1);
        assert_eq!(next_level(1, 700, 1000), 0);
        let base = VideoSettings::default();
        assert_eq!(level_settings(base, 0), (640, 480, 30));
        assert_eq!(level_settings(base, 1), (640, 480, 15));
        assert_eq!(level_settings(base, 2), (320, 240, 15));
    }
}
