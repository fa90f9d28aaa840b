//! The audio jitter buffer: the patient's Opus packets arrive late, early,
//! twice or not at all; playback wants exactly one 20 ms frame every 20 ms.
//!
//! [`JitterBuffer`] sits between the two. [`JitterBuffer::push`] files a
//! packet by its (extended) RTP sequence number; [`JitterBuffer::pop`], called
//! once per playout tick, hands back the next packet, a request to conceal a
//! missing one (Opus packet-loss concealment), or silence while it fills.
//!
//! - **Adaptive delay.** It estimates interarrival jitter as RFC 3550 does
//!   (arrival spacing against RTP timestamp spacing, smoothed by 1/16) and
//!   keeps a target depth of about twice the jitter plus one frame, clamped
//!   to [`JitterConfig::min_ms`]..[`JitterConfig::max_ms`]. It (re)starts
//!   playing only when that depth is buffered.
//! - **Bounded.** Never more than [`JitterConfig::capacity_ms`] of audio:
//!   beyond it the oldest packets go (catching up beats growing latency).
//! - **Late and duplicate packets** are dropped and counted, never played
//!   out of order.
//! - **Underrun.** With nothing buffered it conceals a few frames (the gap is
//!   probably short), then goes back to filling instead of inventing sound.
//!
//! Pure data structure: no clock, no IO. Times come in as milliseconds from
//! any fixed origin, so tests drive it deterministically.

use std::collections::BTreeMap;

/// Opus frame length the buffer plays out per tick (Chromium sends 20 ms).
pub const FRAME_MS: u32 = 20;

/// Opus RTP clock rate (RFC 7587: always 48 kHz).
const RTP_CLOCK_KHZ: f64 = 48.0;

/// Frames concealed on an empty buffer before going back to filling.
const MAX_BLIND_CONCEALS: u32 = 3;

/// Sizes, in milliseconds of audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Smallest target depth.
    pub min_ms: u32,
    /// Largest target depth.
    pub max_ms: u32,
    /// Hard cap on what is held; beyond it the oldest packets are dropped.
    pub capacity_ms: u32,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            min_ms: 40,
            max_ms: 200,
            capacity_ms: 500,
        }
    }
}

/// What playback does for this tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Decode and play this Opus payload.
    Packet(Vec<u8>),
    /// A packet is missing: run the decoder's loss concealment.
    Conceal,
    /// Still filling (or nothing received): play silence.
    Silence,
}

/// Why [`JitterBuffer::push`] did not keep a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its turn has passed.
    Late,
    /// Already buffered.
    Duplicate,
}

/// Running totals, for stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets handed to playback.
    pub played: u64,
    /// Frames concealed (lost or not yet arrived at their turn).
    pub concealed: u64,
    /// Packets that arrived after their turn.
    pub late: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Packets dropped because the buffer was over capacity.
    pub overflow_dropped: u64,
    /// Times playback ran dry and went back to filling.
    pub underruns: u64,
}

#[derive(Debug)]
struct Arrival {
    rtp_ts: u32,
    at_ms: f64,
}

/// Reorders and paces one remote audio stream. See the module docs.
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    packets: BTreeMap<u64, Vec<u8>>,
    /// Extended sequence number of the next packet to play; anything below
    /// it is late (kept across an underrun, so stragglers stay refused).
    next: Option<u64>,
    /// Highest extended sequence number seen, for extending the next one.
    highest: Option<u64>,
    playing: bool,
    blind_conceals: u32,
    last_arrival: Option<Arrival>,
    jitter_ms: f64,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> Self {
        let max_ms = config.max_ms.max(config.min_ms);
        Self {
            config: JitterConfig {
                min_ms: config.min_ms.max(FRAME_MS),
                max_ms,
                capacity_ms: config.capacity_ms.max(max_ms + FRAME_MS),
            },
            packets: BTreeMap::new(),
            next: None,
            highest: None,
            playing: false,
            blind_conceals: 0,
            last_arrival: None,
            jitter_ms: 0.0,
            stats: JitterStats::default(),
        }
    }

    /// Files a packet that arrived at `at_ms` (any fixed origin).
    pub fn push(
        &mut self,
        seq: u16,
        rtp_ts: u32,
        at_ms: f64,
        payload: Vec<u8>,
    ) -> Result<(), Refused> {
        let ext = self.extend(seq);
        self.note_arrival(rtp_ts, at_ms);
        if self.next.is_some_and(|next| ext < next) {
            self.stats.late += 1;
            return Err(Refused::Late);
        }
        if self.packets.contains_key(&ext) {
            self.stats.duplicates += 1;
            return Err(Refused::Duplicate);
        }
        self.packets.insert(ext, payload);
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        while self.depth_ms() > self.config.capacity_ms {
            self.drop_oldest();
        }
        Ok(())
    }

    /// What to play for this tick; call once per [`FRAME_MS`].
    pub fn pop(&mut self) -> Playout {
        if !self.playing {
            if self.packets.is_empty() || self.depth_ms() < self.target_ms() {
                return Playout::Silence;
            }
            self.playing = true;
            self.blind_conceals = 0;
            self.next = self.packets.keys().next().copied();
        }
        let Some(next) = self.next else {
            return Playout::Silence;
        };
        // Far over the target (a burst after a stall): skip ahead to cut the
        // latency it added. Modest excess is left to drain through loss.
        let target = self.target_ms();
        let catch_up = (2 * target).max(target + 100);
        while self.depth_ms() > catch_up {
            self.drop_oldest();
        }
        let next = self.next.unwrap_or(next);
        if let Some(payload) = self.packets.remove(&next) {
            self.next = Some(next + 1);
            self.blind_conceals = 0;
            self.stats.played += 1;
            return Playout::Packet(payload);
        }
        if self.packets.is_empty() {
            if self.blind_conceals >= MAX_BLIND_CONCEALS {
                self.playing = false;
                self.stats.underruns += 1;
                return Playout::Silence;
            }
            self.blind_conceals += 1;
        }
        // Missing while later ones wait (lost), or a short gap: conceal it.
        self.next = Some(next + 1);
        self.stats.concealed += 1;
        Playout::Conceal
    }

    /// Audio held, in milliseconds (from the next one to play to the newest).
    pub fn depth_ms(&self) -> u32 {
        let first = if self.playing {
            self.next
        } else {
            self.packets.keys().next().copied()
        };
        let (Some(first), Some(last)) = (first, self.packets.keys().next_back().copied()) else {
            return 0;
        };
        let frames = last.saturating_sub(first) + 1;
        u32::try_from(frames)
            .unwrap_or(u32::MAX)
            .saturating_mul(FRAME_MS)
    }

    /// The depth it aims for: about twice the jitter plus one frame.
    pub fn target_ms(&self) -> u32 {
        let wanted = 2.0 * self.jitter_ms + f64::from(FRAME_MS);
        let frames = (wanted / f64::from(FRAME_MS)).ceil();
        // Float to int: `frames` is small and positive; `as` saturates anyway.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ms = (frames as u32).saturating_mul(FRAME_MS);
        ms.clamp(self.config.min_ms, self.config.max_ms)
    }

    /// The smoothed interarrival jitter, in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter_ms
    }

    /// Running totals.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The 16-bit sequence number as a 64-bit one, nearest the highest seen.
    fn extend(&self, seq: u16) -> u64 {
        let Some(highest) = self.highest else {
            // Start well above zero so a few packets "before" the first still extend.
            return (1u64 << 32) + u64::from(seq);
        };
        let base = highest & !0xFFFF;
        let candidates = [
            base.wrapping_sub(0x1_0000) + u64::from(seq),
            base + u64::from(seq),
            base + 0x1_0000 + u64::from(seq),
        ];
        candidates
            .into_iter()
            .min_by_key(|c| c.abs_diff(highest))
            .unwrap_or(base + u64::from(seq))
    }

    fn note_arrival(&mut self, rtp_ts: u32, at_ms: f64) {
        if let Some(prev) = &self.last_arrival {
            // RFC 3550 §6.4.1: D = (Rj − Ri) − (Sj − Si), J += (|D| − J)/16.
            let media_ms = f64::from(rtp_ts.wrapping_sub(prev.rtp_ts) as i32) / RTP_CLOCK_KHZ;
            let d = (at_ms - prev.at_ms) - media_ms;
            self.jitter_ms += (d.abs() - self.jitter_ms) / 16.0;
        }
        self.last_arrival = Some(Arrival { rtp_ts, at_ms });
    }

    fn drop_oldest(&mut self) {
        if let Some((seq, _)) = self.packets.pop_first() {
            self.stats.overflow_dropped += 1;
            if self.next.is_some_and(|n| n <= seq) {
                self.next = Some(seq + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 ms of Opus at 48 kHz.
    const TS_STEP: u32 = 960;

    fn payload(seq: u16) -> Vec<u8> {
        seq.to_be_bytes().to_vec()
    }

    /// Pops until a packet or conceal comes out (filling first), at most `n` ticks.
    fn pops(jb: &mut JitterBuffer, n: usize) -> Vec<Playout> {
        (0..n).map(|_| jb.pop()).collect()
    }

    fn seqs(out: &[Playout]) -> Vec<Option<u16>> {
        out.iter()
            .filter(|p| **p != Playout::Silence)
            .map(|p| match p {
                Playout::Packet(b) => Some(u16::from_be_bytes([b[0], b[1]])),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn steady_packets_play_in_order_after_the_minimum_fill() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut out = Vec::new();
        for i in 0..10u16 {
            jb.push(i, u32::from(i) * TS_STEP, f64::from(i) * 20.0, payload(i))
                .expect("kept");
            out.push(jb.pop());
        }
        // 40 ms minimum: silence until two frames are buffered, then in order.
        assert_eq!(out[0], Playout::Silence);
        assert_eq!(seqs(&out), (0..9).map(Some).collect::<Vec<_>>());
        assert_eq!(jb.stats().concealed, 0);
        assert!(jb.jitter_ms() < 0.01, "perfect pacing has no jitter");
    }

    #[test]
    fn reordered_packets_come_out_in_sequence() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for (i, seq) in [0u16, 2, 1, 3, 5, 4].into_iter().enumerate() {
            jb.push(seq, u32::from(seq) * TS_STEP, i as f64 * 20.0, payload(seq))
                .expect("kept");
        }
        let out = pops(&mut jb, 6);
        assert_eq!(seqs(&out), (0..6).map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn a_lost_packet_is_concealed_and_its_late_arrival_refused() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for seq in [0u16, 1, 3, 4] {
            jb.push(
                seq,
                u32::from(seq) * TS_STEP,
                f64::from(seq) * 20.0,
                payload(seq),
            )
            .expect("kept");
        }
        let out = pops(&mut jb, 5);
        assert_eq!(seqs(&out), vec![Some(0), Some(1), None, Some(3), Some(4)]);
        assert_eq!(
            jb.push(2, 2 * TS_STEP, 120.0, payload(2)),
            Err(Refused::Late)
        );
        assert_eq!(jb.stats().concealed, 1);
        assert_eq!(jb.stats().late, 1);
    }

    #[test]
    fn duplicates_are_refused() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        jb.push(7, 0, 0.0, payload(7)).expect("kept");
        assert_eq!(jb.push(7, 0, 1.0, payload(7)), Err(Refused::Duplicate));
        assert_eq!(jb.stats().duplicates, 1);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let seqs_in = [65534u16, 65535, 0, 1, 2];
        for (i, seq) in seqs_in.into_iter().enumerate() {
            let i = u32::try_from(i).expect("small");
            jb.push(seq, i * TS_STEP, f64::from(i) * 20.0, payload(seq))
                .expect("kept");
        }
        let out = pops(&mut jb, 5);
        assert_eq!(
            seqs(&out),
            seqs_in.into_iter().map(Some).collect::<Vec<_>>()
        );
    }

    #[test]
    fn jitter_raises_the_target_within_bounds() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        // Arrivals alternate 0 and 40 ms apart for 20 ms of media each.
        let mut at = 0.0;
        for i in 0..200u16 {
            at += if i % 2 == 0 { 0.0 } else { 40.0 };
            let _ = jb.push(i, u32::from(i) * TS_STEP, at, payload(i));
            let _ = jb.pop();
        }
        assert!(jb.jitter_ms() > 15.0, "jitter {}", jb.jitter_ms());
        assert!(jb.target_ms() >= 60, "target {}", jb.target_ms());
        assert!(jb.target_ms() <= JitterConfig::default().max_ms);

        // A huge spike is clamped to the maximum.
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for i in 0..50u16 {
            let at = if i % 2 == 0 { 0.0 } else { 5_000.0 } + f64::from(i) * 20.0;
            let _ = jb.push(i, u32::from(i) * TS_STEP, at, payload(i));
        }
        assert_eq!(jb.target_ms(), JitterConfig::default().max_ms);
    }

    #[test]
    fn it_never_holds_more_than_its_capacity() {
        let config = JitterConfig {
            min_ms: 40,
            max_ms: 100,
            capacity_ms: 200,
        };
        let mut jb = JitterBuffer::new(config);
        // A burst of 100 packets with nobody popping (a stalled playout).
        for i in 0..100u16 {
            let _ = jb.push(i, u32::from(i) * TS_STEP, 0.0, payload(i));
            assert!(jb.depth_ms() <= config.capacity_ms);
        }
        assert!(jb.stats().overflow_dropped >= 90);
        // Playback resumes near the newest audio, not two seconds behind.
        let first = seqs(&pops(&mut jb, 20)).into_iter().flatten().next();
        assert!(first.is_some_and(|s| s >= 90), "first played {first:?}");
    }

    #[test]
    fn an_empty_buffer_conceals_briefly_then_refills() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for i in 0..3u16 {
            jb.push(i, u32::from(i) * TS_STEP, f64::from(i) * 20.0, payload(i))
                .expect("kept");
        }
        let out = pops(&mut jb, 10);
        assert_eq!(seqs(&out)[..3], [Some(0), Some(1), Some(2)]);
        let conceals = out.iter().filter(|p| **p == Playout::Conceal).count();
        assert_eq!(conceals, MAX_BLIND_CONCEALS as usize);
        assert_eq!(*out.last().expect("ten"), Playout::Silence);
        assert_eq!(jb.stats().underruns, 1);
        // The stream comes back after the gap: it fills and plays again.
        for i in 20..24u16 {
            jb.push(i, u32::from(i) * TS_STEP, f64::from(i) * 20.0, payload(i))
                .expect("kept after a gap");
        }
        let back = seqs(&pops(&mut jb, 4));
        assert!(back.contains(&Some(20)), "{back:?}");
    }
}
