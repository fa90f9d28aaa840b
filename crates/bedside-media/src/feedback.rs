//! What the patient's browser says about the media we send it, caught in the
//! interceptor chain: keyframe requests (PLI, FIR), reception reports (loss,
//! jitter) and REMB estimates.
//!
//! webrtc 0.21 consumes inbound RTCP inside its interceptor chain, so the
//! browser's PLI/FIR never reach the application unless an interceptor
//! catches them. [`FeedbackInterceptor`] sits application-ward of the default
//! interceptors, passes every packet on unchanged, and records what matters in
//! a shared [`Feedback`] that the encoder threads read.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::sansio::Protocol;

/// Where the interceptor sits: application-ward of every default interceptor
/// (they use slots below 10 000), so it sees each inbound RTCP packet first
/// on its way to the application and last on its way out.
pub const FEEDBACK_SLOT: usize = 14_000;

/// Shared, lock-free record of the remote's feedback on one peer connection.
#[derive(Debug, Default)]
pub struct Feedback {
    keyframe_requests: AtomicU64,
    /// Last reported fraction lost (0–255 = 0–100 %) for our video stream.
    video_fraction_lost: AtomicU32,
    /// Last reported interarrival jitter for our video stream, in RTP units (90 kHz).
    video_jitter: AtomicU32,
    /// Last reported jitter for our audio stream, in RTP units (48 kHz).
    audio_jitter: AtomicU32,
    /// Last reported fraction lost for our audio stream (0–255).
    audio_fraction_lost: AtomicU32,
    /// The latest REMB estimate in bits per second (0 = none received).
    remb_bps: AtomicU64,
    video_ssrc: AtomicU32,
    audio_ssrc: AtomicU32,
}

impl Feedback {
    /// A fresh record for a peer that sends video on `video_ssrc` and audio on `audio_ssrc`.
    pub fn new(video_ssrc: u32, audio_ssrc: u32) -> Arc<Self> {
        let f = Self::default();
        f.video_ssrc.store(video_ssrc, Ordering::Relaxed);
        f.audio_ssrc.store(audio_ssrc, Ordering::Relaxed);
        Arc::new(f)
    }

    /// How many PLI/FIR the remote has sent so far (the encoder compares it
    /// with the count it last served).
    pub fn keyframe_requests(&self) -> u64 {
        self.keyframe_requests.load(Ordering::Relaxed)
    }

    /// Records one keyframe request (also used when the remote asks through other means).
    pub fn request_keyframe(&self) {
        self.keyframe_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Fraction of our video packets the remote last reported lost, 0.0–1.0.
    pub fn video_loss(&self) -> f64 {
        f64::from(self.video_fraction_lost.load(Ordering::Relaxed)) / 256.0
    }

    /// Fraction of our audio packets the remote last reported lost, 0.0–1.0.
    pub fn audio_loss(&self) -> f64 {
        f64::from(self.audio_fraction_lost.load(Ordering::Relaxed)) / 256.0
    }

    /// The remote's reported jitter on our video, in milliseconds.
    pub fn video_jitter_ms(&self) -> f64 {
        f64::from(self.video_jitter.load(Ordering::Relaxed)) / 90.0
    }

    /// The remote's reported jitter on our audio, in milliseconds.
    pub fn audio_jitter_ms(&self) -> f64 {
        f64::from(self.audio_jitter.load(Ordering::Relaxed)) / 48.0
    }

    /// The remote's REMB estimate, if it sends one.
    pub fn remb_bps(&self) -> Option<u64> {
        Some(self.remb_bps.load(Ordering::Relaxed)).filter(|b| *b > 0)
    }

    fn reception(&self, r: &ReceptionReport) {
        if r.ssrc == self.video_ssrc.load(Ordering::Relaxed) {
            self.video_fraction_lost
                .store(u32::from(r.fraction_lost), Ordering::Relaxed);
            self.video_jitter.store(r.jitter, Ordering::Relaxed);
        } else if r.ssrc == self.audio_ssrc.load(Ordering::Relaxed) {
            self.audio_fraction_lost
                .store(u32::from(r.fraction_lost), Ordering::Relaxed);
            self.audio_jitter.store(r.jitter, Ordering::Relaxed);
        }
    }

    /// Looks at one inbound RTCP packet.
    pub fn observe(&self, packet: &dyn rtc::rtcp::Packet) {
        let any = packet.as_any();
        if any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>() {
            self.request_keyframe();
        } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
            rr.reports.iter().for_each(|r| self.reception(r));
        } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
            sr.reports.iter().for_each(|r| self.reception(r));
        } else if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
            let bps = if remb.bitrate.is_finite() && remb.bitrate > 0.0 {
                remb.bitrate as u64
            } else {
                0
            };
            self.remb_bps.store(bps, Ordering::Relaxed);
        }
    }
}

/// The interceptor: observes inbound RTCP into a [`Feedback`], forwards everything unchanged.
pub struct FeedbackInterceptor {
    feedback: Arc<Feedback>,
    read_queue: VecDeque<TaggedPacket>,
    write_queue: VecDeque<TaggedPacket>,
}

impl FeedbackInterceptor {
    /// An interceptor that records into `feedback`.
    pub fn new(feedback: Arc<Feedback>) -> Self {
        Self {
            feedback,
            read_queue: VecDeque::new(),
            write_queue: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for FeedbackInterceptor {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for p in packets {
                self.feedback.observe(p.as_ref());
            }
        }
        self.read_queue.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read_queue.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write_queue.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write_queue.pop_front()
    }
}

impl Interceptor for FeedbackInterceptor {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pli_and_fir_count_as_keyframe_requests() {
        let f = Feedback::new(1, 2);
        f.observe(&PictureLossIndication {
            sender_ssrc: 9,
            media_ssrc: 1,
        });
        f.observe(&FullIntraRequest::default());
        assert_eq!(f.keyframe_requests(), 2);
    }

    #[test]
    fn reception_reports_are_attributed_by_ssrc() {
        let f = Feedback::new(1, 2);
        let rr = ReceiverReport {
            ssrc: 9,
            reports: vec![
                ReceptionReport {
                    ssrc: 1,
                    fraction_lost: 64,
                    jitter: 900,
                    ..Default::default()
                },
                ReceptionReport {
                    ssrc: 2,
                    fraction_lost: 0,
                    jitter: 480,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        f.observe(&rr);
        assert!((f.video_loss() - 0.25).abs() < 1e-9);
        assert!((f.video_jitter_ms() - 10.0).abs() < 1e-9);
        assert!((f.audio_jitter_ms() - 10.0).abs() < 1e-9);
        assert_eq!(f.remb_bps(), None);
        f.observe(&ReceiverEstimatedMaximumBitrate {
            sender_ssrc: 9,
            bitrate: 500_000.0,
            ssrcs: vec![1],
        });
        assert_eq!(f.remb_bps(), Some(500_000));
    }
}
