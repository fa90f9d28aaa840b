//! The 20 ms cadence of the microphone's Opus stream, as a sans-IO state
//! machine: time is an input (`poll(now)`), so the pacing is tested faster
//! than real time with stalls, bursts, backlogs and clock drift.
//!
//! A slot clock says when the next packet is due. While the microphone
//! delivers, its frames go out on that clock, and the clock follows the
//! microphone's own by at most [`SLEW`] a frame (so a sound card a little
//! fast or slow against the system clock neither starves nor floods the
//! stream). When the microphone stalls (a starved sound server, a device
//! being reopened), a slot still empty [`GRACE`] after it was due is filled
//! with silence, and the next silence is due a frame later: the stream keeps
//! 50 packets a second whatever the microphone does.
//!
//! **Invariant:** never a burst. There is no catch-up after a stall or a
//! blocked thread (the clock is re-anchored instead), two packets are never
//! closer than [`MIN_GAP`], and at most [`BACKLOG`] captured frames wait
//! (older ones are dropped), so neither the packet rate nor the latency a
//! backlog adds can grow without bound.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One Opus frame.
pub(crate) const FRAME: Duration = Duration::from_millis(20);
/// How long after its due time a slot waits for the microphone before it is
/// filled with silence (one frame: ordinary capture jitter stays well inside).
pub(crate) const GRACE: Duration = FRAME;
/// How far the slot clock moves toward the microphone's timing per frame
/// (1 ms in 20: it tracks clocks up to 5 % apart).
pub(crate) const SLEW: Duration = Duration::from_millis(1);
/// The smallest gap between two packets.
pub(crate) const MIN_GAP: Duration = Duration::from_millis(10);
/// Captured frames that may wait for their slot; a longer backlog loses its
/// oldest frames (60 ms of latency at most).
pub(crate) const BACKLOG: usize = 3;

/// What the sender does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<F> {
    /// Send this captured frame now.
    Send(F),
    /// Send a silent frame now (the microphone has nothing for this slot).
    Silence,
    /// Nothing is due before this instant: wait for a captured frame until
    /// then, and poll again when one comes or the time is up.
    Wait(Instant),
}

/// The slot clock and the frames waiting for it.
#[derive(Debug)]
pub(crate) struct Cadence<F> {
    /// When the next packet is due.
    next: Instant,
    /// When the last packet went out.
    last: Option<Instant>,
    queue: VecDeque<F>,
    dropped: u64,
}

impl<F> Cadence<F> {
    /// A cadence whose first packet is due at `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            next: now,
            last: None,
            queue: VecDeque::with_capacity(BACKLOG),
            dropped: 0,
        }
    }

    /// A frame from the microphone (dropping the oldest waiting one when
    /// [`BACKLOG`] already wait).
    pub(crate) fn push(&mut self, frame: F) {
        if self.queue.len() >= BACKLOG {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(frame);
    }

    /// Forgets the waiting frames (the microphone was switched or failed).
    pub(crate) fn clear(&mut self) {
        self.queue.clear();
    }

    /// Captured frames dropped so far because the backlog was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// What to do at `now`.
    pub(crate) fn poll(&mut self, now: Instant) -> Step<F> {
        let earliest = self.last.map_or(now, |l| l + MIN_GAP);
        if !self.queue.is_empty() {
            let at = self
                .next
                .checked_sub(SLEW)
                .unwrap_or(self.next)
                .max(earliest);
            if now < at {
                return Step::Wait(at);
            }
            self.sent(now, true);
            return self.queue.pop_front().map_or(Step::Silence, Step::Send);
        }
        let at = (self.next + GRACE).max(earliest);
        if now < at {
            return Step::Wait(at);
        }
        self.sent(now, false);
        Step::Silence
    }

    fn sent(&mut self, now: Instant, captured: bool) {
        let mut next = self.next + FRAME;
        if captured {
            // Follow the microphone's clock, a little at a time.
            if now > self.next {
                next += (now - self.next).min(SLEW);
            } else {
                next = next
                    .checked_sub((self.next - now).min(SLEW))
                    .unwrap_or(next);
            }
        }
        // No catch-up: after a stall or a blocked thread the next packet is
        // due no earlier than a frame from now, less the grace.
        let floor = (now + FRAME).checked_sub(GRACE).unwrap_or(now);
        self.next = next.max(floor);
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What was sent, at which millisecond: `Some(frame)` captured, `None` silence.
    type Sent = Vec<(u64, Option<u32>)>;

    /// Runs a cadence for `ms` milliseconds of simulated time, a millisecond at
    /// a time: the frames `arrivals(t)` returns arrive at `t`, then the
    /// cadence is polled until it waits. Frames are numbered in arrival order.
    fn simulate(ms: u64, arrivals: impl Fn(u64) -> usize) -> (Sent, u64) {
        let t0 = Instant::now();
        let mut c = Cadence::new(t0);
        let mut sent = vec![];
        let mut n = 0u32;
        for t in 0..ms {
            for _ in 0..arrivals(t) {
                c.push(n);
                n += 1;
            }
            let now = t0 + Duration::from_millis(t);
            loop {
                match c.poll(now) {
                    Step::Send(f) => sent.push((t, Some(f))),
                    Step::Silence => sent.push((t, None)),
                    Step::Wait(at) => {
                        assert!(at > now, "a wait is always for the future");
                        break;
                    }
                }
            }
        }
        (sent, c.dropped())
    }

    /// Packets in each whole second.
    fn per_second(sent: &Sent, ms: u64) -> Vec<usize> {
        (0..ms / 1000)
            .map(|s| sent.iter().filter(|(t, _)| *t / 1000 == s).count())
            .collect()
    }

    fn gaps(sent: &Sent) -> (u64, u64) {
        let g: Vec<u64> = sent.windows(2).map(|w| w[1].0 - w[0].0).collect();
        (
            g.iter().copied().min().unwrap_or(0),
            g.iter().copied().max().unwrap_or(0),
        )
    }

    fn silences(sent: &Sent) -> usize {
        sent.iter().filter(|(_, f)| f.is_none()).count()
    }

    #[test]
    fn a_stalled_microphone_is_filled_with_silence_at_the_same_cadence() {
        // A frame every 20 ms, except from 1 s to 3 s where the microphone is silent.
        let (sent, dropped) = simulate(5_000, |t| {
            usize::from(t % 20 == 3 && !(1_000..3_000).contains(&t))
        });
        let rates = per_second(&sent, 5_000);
        assert!(
            rates.iter().all(|r| (49..=51).contains(r)),
            "packets per second: {rates:?}"
        );
        let (min, max) = gaps(&sent);
        assert!(min >= 10 && max <= 40, "gaps between {min} and {max} ms");
        let stall = sent
            .iter()
            .filter(|(t, f)| (1_050..2_950).contains(t) && f.is_none())
            .count();
        assert!(stall >= 93, "{stall} silent frames while stalled");
        assert_eq!(dropped, 0);
        // Every captured frame went out, in order.
        let frames: Vec<u32> = sent.iter().filter_map(|(_, f)| *f).collect();
        assert_eq!(frames, (0..frames.len() as u32).collect::<Vec<_>>());
        assert_eq!(frames.len(), 150);
    }

    #[test]
    fn a_microphone_with_no_frames_at_all_still_gives_50_packets_a_second() {
        let (sent, _) = simulate(3_000, |_| 0);
        let rates = per_second(&sent, 3_000);
        assert!(rates.iter().all(|r| (49..=50).contains(r)), "{rates:?}");
        assert_eq!(gaps(&sent), (20, 20));
    }

    #[test]
    fn a_jittery_or_bursty_microphone_passes_through_without_silence() {
        // Jitter: each frame up to 15 ms late, in a fixed pseudo-random pattern.
        let jitter = |k: u64| (k * 7_919) % 16;
        let (sent, dropped) = simulate(4_000, |t| {
            (0..200u64).filter(|k| k * 20 + jitter(*k) == t).count()
        });
        assert_eq!(silences(&sent), 0, "no silence for a jittery microphone");
        assert_eq!(dropped, 0);
        // Bursty: two frames every 40 ms (a 40 ms capture period).
        let (sent, dropped) = simulate(4_000, |t| if t % 40 == 5 { 2 } else { 0 });
        let skip = sent.iter().take_while(|(_, f)| f.is_none()).count();
        assert_eq!(silences(&sent), skip, "silence only before the first frame");
        assert_eq!(dropped, 0);
        let (min, _) = gaps(&sent);
        assert!(min >= 10, "a burst is spread out: min gap {min} ms");
    }

    #[test]
    fn a_backlog_after_a_stall_is_bounded_and_paced() {
        // 1 s stall, then the sound server delivers the whole second at once.
        let (sent, dropped) = simulate(3_000, |t| match t {
            1_500 => 50,
            t if t % 20 == 3 && !(500..1_500).contains(&t) => 1,
            _ => 0,
        });
        assert!(dropped >= 45, "the stale backlog is dropped ({dropped})");
        let rates = per_second(&sent, 3_000);
        assert!(rates.iter().all(|r| (49..=53).contains(r)), "{rates:?}");
        let (min, max) = gaps(&sent);
        assert!(min >= 10 && max <= 40, "gaps between {min} and {max} ms");
    }

    #[test]
    fn a_clock_a_little_fast_or_slow_is_followed() {
        for period_us in [19_600u64, 20_400] {
            let (sent, dropped) = simulate(10_000, |t| {
                (0..600u64)
                    .filter(|k| (k * period_us + 2_000) / 1_000 == t)
                    .count()
            });
            assert_eq!(dropped, 0, "period {period_us} µs");
            let late = sent.iter().filter(|(t, f)| *t > 200 && f.is_none()).count();
            assert_eq!(late, 0, "period {period_us} µs: silence inserted");
        }
    }

    #[test]
    fn a_blocked_sender_does_not_catch_up() {
        let t0 = Instant::now();
        let mut c: Cadence<u32> = Cadence::new(t0);
        assert_eq!(c.poll(t0 + Duration::from_millis(20)), Step::Silence);
        // The thread was blocked for half a second (a device being reopened).
        let now = t0 + Duration::from_millis(520);
        assert_eq!(c.poll(now), Step::Silence);
        assert_eq!(
            c.poll(now),
            Step::Wait(now + FRAME),
            "one silence, then the cadence"
        );
        // Frames waiting then are spaced too.
        c.push(1);
        c.push(2);
        assert_eq!(c.poll(now), Step::Wait(now + MIN_GAP));
        assert_eq!(c.poll(now + MIN_GAP), Step::Send(1));
        assert!(matches!(c.poll(now + MIN_GAP), Step::Wait(_)));
    }
}
