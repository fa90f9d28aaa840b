//! Call statistics: counters the media threads bump lock-free, and the
//! once-a-second [`CallStats`] snapshot made from them for the UI and
//! `bedsidectl visit host --stats-json`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

/// Running totals for one peer. Every field only grows (except the
/// resolutions and the current bitrate target, which are the latest values).
#[derive(Debug, Default)]
pub struct Counters {
    /// Video frames encoded and handed to the track.
    pub video_frames_sent: AtomicU64,
    /// Encoded video bytes handed to the track.
    pub video_bytes_sent: AtomicU64,
    /// Keyframes sent.
    pub keyframes_sent: AtomicU64,
    /// Opus packets handed to the track.
    pub audio_packets_sent: AtomicU64,
    /// Encoded audio bytes handed to the track.
    pub audio_bytes_sent: AtomicU64,
    /// Remote video RTP payload bytes received.
    pub video_bytes_received: AtomicU64,
    /// Remote video frames decoded to pictures.
    pub video_frames_decoded: AtomicU64,
    /// Remote video frames the decoder refused (corrupt or missing a reference).
    pub video_decode_errors: AtomicU64,
    /// Remote video RTP packets received.
    pub video_packets_received: AtomicU64,
    /// RTP packets the sample builder reported missing.
    pub video_packets_lost: AtomicU64,
    /// PLIs we sent.
    pub plis_sent: AtomicU64,
    /// Remote Opus packets received.
    pub audio_packets_received: AtomicU64,
    /// Remote audio bytes received.
    pub audio_bytes_received: AtomicU64,
    /// Remote audio 20 ms frames decoded (played or concealed).
    pub audio_frames_decoded: AtomicU64,
    /// Remote audio frames concealed (lost, or not there at their turn).
    pub audio_frames_concealed: AtomicU64,
    /// Remote audio packets refused by the jitter buffer (late or duplicate).
    pub audio_packets_late: AtomicU64,
    /// The jitter buffer's current depth in milliseconds.
    pub audio_buffer_ms: AtomicU32,
    /// Width of the last decoded remote frame.
    pub remote_width: AtomicU32,
    /// Height of the last decoded remote frame.
    pub remote_height: AtomicU32,
    /// Width we currently encode.
    pub local_width: AtomicU32,
    /// Height we currently encode.
    pub local_height: AtomicU32,
    /// Frame rate we currently encode.
    pub local_fps: AtomicU32,
    /// The encoder's bitrate target in kbit/s.
    pub target_kbps: AtomicU32,
    first_frame: Mutex<Option<u64>>,
    first_frame_seen: AtomicBool,
    resume: Mutex<Resume>,
    resume_pending: AtomicBool,
}

/// The latest reconnection and how long its first decoded frame took.
#[derive(Debug, Default)]
struct Resume {
    since: Option<Instant>,
    /// The first remote video packet after the reconnection.
    packet: Option<Instant>,
    ms: Option<u64>,
    /// From `packet` to the first decoded frame.
    decode_ms: Option<u64>,
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Records the first decoded remote frame, `since` the answer; returns
    /// the milliseconds when this call was the first.
    pub fn first_frame(&self, since: Instant) -> Option<u64> {
        if self.first_frame_seen.swap(true, Ordering::AcqRel) {
            return None;
        }
        let ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
        if let Ok(mut g) = self.first_frame.lock() {
            *g = Some(ms);
        }
        Some(ms)
    }

    /// Milliseconds from answer to the first decoded remote frame, once seen.
    pub fn first_frame_ms(&self) -> Option<u64> {
        self.first_frame.lock().ok().and_then(|g| *g)
    }

    /// Records a reconnection (the connection back to `connected` after a
    /// drop or an ICE restart): the clock for [`Self::resume_frame_ms`] starts.
    pub fn reconnected(&self) {
        if let Ok(mut g) = self.resume.lock() {
            *g = Resume {
                since: Some(Instant::now()),
                ..Resume::default()
            };
            self.resume_pending.store(true, Ordering::Release);
        }
    }

    /// Records a remote video packet for [`Self::resume_decode_ms`]: the first
    /// one after a reconnection starts its clock (cheap unless a reconnection
    /// waits for its first frame).
    pub fn video_packet(&self) {
        if self.resume_pending.load(Ordering::Acquire)
            && let Ok(mut g) = self.resume.lock()
            && g.packet.is_none()
        {
            g.packet = Some(Instant::now());
        }
    }

    /// Records a decoded remote frame for [`Self::resume_frame_ms`] (cheap
    /// unless a reconnection waits for its first frame).
    pub fn frame_decoded(&self) {
        if self.resume_pending.swap(false, Ordering::AcqRel)
            && let Ok(mut g) = self.resume.lock()
        {
            let ms = |t: Instant| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX);
            g.ms = g.since.map(ms);
            g.decode_ms = g.packet.map(ms);
        }
    }

    /// Milliseconds from the latest reconnection to the first remote frame
    /// decoded after it (`None` before any reconnection and until that frame).
    pub fn resume_frame_ms(&self) -> Option<u64> {
        self.resume.lock().ok().and_then(|g| g.ms)
    }

    /// Milliseconds from the first remote video packet after the latest
    /// reconnection to the first frame decoded after it: our own part of
    /// resuming (keyframe request, the remote's keyframe, reassembly, decode),
    /// without the time the remote took to send anything at all.
    pub fn resume_decode_ms(&self) -> Option<u64> {
        self.resume.lock().ok().and_then(|g| g.decode_ms)
    }
}

/// A snapshot of totals, to diff against the next one.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Totals {
    at: Option<Instant>,
    video_frames_sent: u64,
    video_bytes_sent: u64,
    video_bytes_received: u64,
    video_frames_decoded: u64,
    audio_packets_sent: u64,
    audio_packets_received: u64,
    audio_bytes_sent: u64,
    audio_bytes_received: u64,
}

impl Totals {
    pub(crate) fn take(c: &Counters) -> Self {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Self {
            at: Some(Instant::now()),
            video_frames_sent: l(&c.video_frames_sent),
            video_bytes_sent: l(&c.video_bytes_sent),
            video_bytes_received: l(&c.video_bytes_received),
            video_frames_decoded: l(&c.video_frames_decoded),
            audio_packets_sent: l(&c.audio_packets_sent),
            audio_packets_received: l(&c.audio_packets_received),
            audio_bytes_sent: l(&c.audio_bytes_sent),
            audio_bytes_received: l(&c.audio_bytes_received),
        }
    }
}

/// One second of a call, as the UI and `--stats-json` see it. Rates are over
/// the interval since the previous snapshot; totals are since the answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct CallStats {
    /// Seconds since the answer.
    pub elapsed_s: f64,
    /// The peer connection state (`connecting`, `connected`, …).
    pub state: String,
    /// Video codec (`video/VP8`, or `video/H264` when negotiated).
    pub video_codec: String,
    /// Audio codec (`audio/opus`).
    pub audio_codec: String,
    /// ICE round-trip time of the selected candidate pair, in ms.
    pub rtt_ms: Option<f64>,
    /// Loss the remote reports on our video, 0–1.
    pub loss_sent: f64,
    /// Loss on the remote video we receive (packets missing / expected), 0–1.
    pub loss_received: f64,
    /// Jitter the remote reports on our video, ms.
    pub jitter_ms: f64,
    /// Video bitrate we send, kbit/s.
    pub send_kbps: f64,
    /// Video bitrate we receive, kbit/s.
    pub recv_kbps: f64,
    /// Encoder target, kbit/s.
    pub target_kbps: u32,
    /// REMB estimate from the remote, kbit/s.
    pub remb_kbps: Option<f64>,
    /// Frames per second encoded and sent.
    pub fps_sent: f64,
    /// Remote frames per second decoded.
    pub fps_decoded: f64,
    /// Opus packets per second sent.
    pub audio_pps_sent: f64,
    /// Opus packets per second received.
    pub audio_pps_received: f64,
    /// What we send: `[width, height]`.
    pub send_resolution: [u32; 2],
    /// What we decode: `[width, height]`.
    pub recv_resolution: [u32; 2],
    /// Milliseconds from the answer to the first decoded remote frame.
    pub first_frame_ms: Option<u64>,
    /// Milliseconds from the latest reconnection (the connection back to
    /// `connected` after a drop or an ICE restart) to the first remote frame
    /// decoded after it; `None` before any reconnection and until that frame.
    pub resume_frame_ms: Option<u64>,
    /// Milliseconds from the first remote video packet after the latest
    /// reconnection to the first frame decoded after it (keyframe request,
    /// the remote's keyframe, reassembly, decode): the part of resuming that
    /// is ours; `None` before any reconnection and until that frame.
    pub resume_decode_ms: Option<u64>,
    /// Remote audio held in the jitter buffer, ms.
    pub audio_buffer_ms: u32,
    /// Totals since the answer.
    pub totals: StatsTotals,
    /// The devices in use and what went wrong with them (`devices` source only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<crate::devices::DeviceReport>,
}

/// Totals since the answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(schemars::JsonSchema))]
pub struct StatsTotals {
    /// Video frames sent.
    pub video_frames_sent: u64,
    /// Video bytes sent.
    pub video_bytes_sent: u64,
    /// Keyframes sent.
    pub keyframes_sent: u64,
    /// Remote video frames decoded.
    pub video_frames_decoded: u64,
    /// Remote video bytes received.
    pub video_bytes_received: u64,
    /// Remote frames the decoder refused.
    pub video_decode_errors: u64,
    /// PLIs sent.
    pub plis_sent: u64,
    /// Keyframe requests (PLI/FIR) received from the remote.
    pub keyframe_requests_received: u64,
    /// Opus packets sent.
    pub audio_packets_sent: u64,
    /// Audio bytes sent.
    pub audio_bytes_sent: u64,
    /// Opus packets received.
    pub audio_packets_received: u64,
    /// Audio bytes received.
    pub audio_bytes_received: u64,
    /// Remote audio frames decoded.
    pub audio_frames_decoded: u64,
    /// Remote audio frames concealed (lost or late).
    pub audio_frames_concealed: u64,
    /// Remote audio packets refused as late or duplicate.
    pub audio_packets_late: u64,
}

pub(crate) struct Snapshot<'a> {
    pub counters: &'a Counters,
    pub previous: Totals,
    pub started: Instant,
    pub state: String,
    pub video_codec: &'static str,
    pub rtt_ms: Option<f64>,
    pub loss_sent: f64,
    pub jitter_ms: f64,
    pub remb_bps: Option<u64>,
    pub keyframe_requests: u64,
    pub devices: Option<crate::devices::DeviceReport>,
}

impl Snapshot<'_> {
    /// The stats and the totals to diff against next time.
    pub(crate) fn build(self) -> (CallStats, Totals) {
        let c = self.counters;
        let now = Totals::take(c);
        let p = self.previous;
        let secs = match (p.at, now.at) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        }
        .max(1e-3);
        let rate = |a: u64, b: u64| (a.saturating_sub(b)) as f64 / secs;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let l32 = |a: &AtomicU32| a.load(Ordering::Relaxed);
        let lost = l(&c.video_packets_lost);
        let stats = CallStats {
            elapsed_s: self.started.elapsed().as_secs_f64(),
            state: self.state,
            video_codec: self.video_codec.into(),
            audio_codec: "audio/opus".into(),
            rtt_ms: self.rtt_ms,
            loss_sent: self.loss_sent,
            loss_received: lost as f64 / ((lost + l(&c.video_packets_received)) as f64).max(1.0),
            jitter_ms: self.jitter_ms,
            send_kbps: rate(now.video_bytes_sent, p.video_bytes_sent) * 8.0 / 1000.0,
            recv_kbps: rate(now.video_bytes_received, p.video_bytes_received) * 8.0 / 1000.0,
            target_kbps: l32(&c.target_kbps),
            remb_kbps: self.remb_bps.map(|b| b as f64 / 1000.0),
            fps_sent: rate(now.video_frames_sent, p.video_frames_sent),
            fps_decoded: rate(now.video_frames_decoded, p.video_frames_decoded),
            audio_pps_sent: rate(now.audio_packets_sent, p.audio_packets_sent),
            audio_pps_received: rate(now.audio_packets_received, p.audio_packets_received),
            send_resolution: [l32(&c.local_width), l32(&c.local_height)],
            recv_resolution: [l32(&c.remote_width), l32(&c.remote_height)],
            first_frame_ms: c.first_frame_ms(),
            resume_frame_ms: c.resume_frame_ms(),
            resume_decode_ms: c.resume_decode_ms(),
            audio_buffer_ms: l32(&c.audio_buffer_ms),
            totals: StatsTotals {
                video_frames_sent: now.video_frames_sent,
                video_bytes_sent: now.video_bytes_sent,
                keyframes_sent: l(&c.keyframes_sent),
                video_frames_decoded: now.video_frames_decoded,
                video_bytes_received: now.video_bytes_received,
                video_decode_errors: l(&c.video_decode_errors),
                plis_sent: l(&c.plis_sent),
                keyframe_requests_received: self.keyframe_requests,
                audio_packets_sent: now.audio_packets_sent,
                audio_bytes_sent: now.audio_bytes_sent,
                audio_packets_received: now.audio_packets_received,
                audio_bytes_received: now.audio_bytes_received,
                audio_frames_decoded: l(&c.audio_frames_decoded),
                audio_frames_concealed: l(&c.audio_frames_concealed),
                audio_packets_late: l(&c.audio_packets_late),
            },
            devices: self.devices,
        };
        (stats, now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn resume_times_start_at_the_reconnection_and_at_its_first_packet() {
        let c = Counters::default();
        c.video_packet();
        c.frame_decoded();
        assert_eq!(c.resume_frame_ms(), None, "no reconnection yet");
        assert_eq!(c.resume_decode_ms(), None);

        c.reconnected();
        c.frame_decoded();
        // A frame decoded before any packet came back (one already in the decoder).
        assert!(c.resume_frame_ms().is_some());
        assert_eq!(c.resume_decode_ms(), None);

        c.reconnected();
        assert_eq!(c.resume_frame_ms(), None, "a new reconnection starts over");
        std::thread::sleep(Duration::from_millis(30));
        c.video_packet();
        c.video_packet();
        c.frame_decoded();
        let (all, ours) = (c.resume_frame_ms(), c.resume_decode_ms());
        let (Some(all), Some(ours)) = (all, ours) else {
            panic!("both times recorded: {all:?} {ours:?}");
        };
        assert!(all >= 30, "from the reconnection: {all} ms");
        assert!(ours < all, "from the first packet: {ours} ms of {all} ms");
        // Later frames and packets do not move them.
        std::thread::sleep(Duration::from_millis(5));
        c.video_packet();
        c.frame_decoded();
        assert_eq!(c.resume_frame_ms(), Some(all));
        assert_eq!(c.resume_decode_ms(), Some(ours));
    }
}
