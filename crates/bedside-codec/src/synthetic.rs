//! Synthetic sources for tests and diagnostics: a moving test pattern that
//! carries a frame counter and a capture timestamp readable after lossy
//! coding, and a sine tone.
//!
//! # Stamp layout (for readers in any language)
//!
//! The stamp is a grid of **16 columns × 8 rows** of square cells anchored at
//! the picture's top-left pixel (0, 0). The cell size `C` in pixels is
//!
//! - `C = 16` when `width >= 256 && height >= 128` (each cell is one VP8
//!   macroblock, so coding noise never crosses a cell edge);
//! - `C = 8` when `width >= 128 && height >= 64`;
//! - otherwise the picture carries no stamp.
//!
//! Cell `(col, row)` covers pixels `x ∈ [col·C, col·C + C)`,
//! `y ∈ [row·C, row·C + C)` and carries bit number `i = row·16 + col`
//! (0‥127). A **white** cell (luma Y = 235, video range) is a 1, a **black**
//! cell (Y = 16) is a 0; chroma is neutral (128) over the whole grid, so in
//! RGB the cells are pure grey levels near 255 and 0.
//!
//! The 128 bits are a 16-byte message, **bit i = bit (7 − i mod 8) of byte
//! ⌊i / 8⌋** (most significant bit first):
//!
//! | bytes  | meaning                                               |
//! |--------|-------------------------------------------------------|
//! | 0‥3    | frame counter, u32 big-endian                         |
//! | 4‥11   | capture time in microseconds, u64 big-endian          |
//! | 12‥15  | CRC-32 (IEEE 802.3, as zlib/PNG) of bytes 0‥11, u32 BE |
//!
//! To read a cell, average the luma of its central `C/2 × C/2` pixels
//! (`x ∈ [col·C + C/4, col·C + 3C/4)`, same for `y`) and compare with 128: at
//! or above is a 1. From a canvas (`getImageData` on a canvas the size of
//! `video.videoWidth × videoHeight`), take luma as
//! `0.299·R + 0.587·G + 0.114·B`. A stamp whose CRC does not match is absent.
//! The CRC-32 is the reflected polynomial `0xEDB88320`, initial value and
//! final XOR `0xFFFFFFFF` (`crc32("123456789") = 0xCBF43926`).
//! Known answer: counter `0x01020304`, time `0x1122334455667788` gives the
//! message `010203041122334455667788fafde765`. A JavaScript reader for
//! playwright's `page.evaluate` is `tests/browser/stamp.mjs`.
//!
//! Everything outside the grid is moving content (scrolling diagonal stripes,
//! a bouncing square, drifting colour), so the encoder does real work.

use std::f64::consts::TAU;

use crate::I420Frame;

/// What the pattern carries in each frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Frame counter set by the sender.
    pub counter: u32,
    /// Capture time in microseconds (the sender's clock).
    pub capture_micros: u64,
}

/// Columns and rows of the stamp grid.
pub const STAMP_COLS: u32 = 16;
/// Rows of the stamp grid.
pub const STAMP_ROWS: u32 = 8;
const WHITE: u8 = 235;
const BLACK: u8 = 16;

/// The stamp's cell size for a picture, or `None` when it is too small to
/// carry one (see the module doc).
pub fn stamp_cell_size(width: u32, height: u32) -> Option<u32> {
    if width >= 16 * STAMP_COLS && height >= 16 * STAMP_ROWS {
        Some(16)
    } else if width >= 8 * STAMP_COLS && height >= 8 * STAMP_ROWS {
        Some(8)
    } else {
        None
    }
}

/// CRC-32 (IEEE, reflected, as zlib): a checksum against misreads, not a
/// security measure.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn message(stamp: Stamp) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0..4].copy_from_slice(&stamp.counter.to_be_bytes());
    m[4..12].copy_from_slice(&stamp.capture_micros.to_be_bytes());
    let crc = crc32(&m[0..12]);
    m[12..16].copy_from_slice(&crc.to_be_bytes());
    m
}

/// A moving test pattern carrying a [`Stamp`] in each frame.
pub struct TestPattern {
    width: u32,
    height: u32,
    t: u32,
}

impl TestPattern {
    /// A pattern of this size (any size; below 128×64 it carries no stamp).
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            t: 0,
        }
    }

    /// The next frame: the content moves on by one step and the stamp is
    /// drawn in the top-left grid.
    pub fn frame(&mut self, stamp: Stamp) -> I420Frame {
        let (w, h) = (self.width, self.height);
        let t = self.t;
        self.t = self.t.wrapping_add(1);
        let mut f = I420Frame::new_black(w, h);
        if w == 0 || h == 0 {
            return f;
        }
        let wu = w as usize;
        // A bright square bouncing across the picture.
        let side = (w.min(h) / 6).max(4);
        let bounce = |pos: u32, span: u32| {
            let span = span.saturating_sub(side).max(1);
            let p = pos % (2 * span);
            if p < span { p } else { 2 * span - p }
        };
        let (sx, sy) = (bounce(t * 7, w), bounce(t * 5, h));
        for y in 0..h {
            let row = &mut f.y[y as usize * wu..(y as usize + 1) * wu];
            for (x, px) in (0..w).zip(row.iter_mut()) {
                let in_square = x >= sx && x < sx + side && y >= sy && y < sy + side;
                *px = if in_square {
                    225
                } else {
                    // Diagonal sawtooth stripes scrolling 3 px a frame.
                    let s = (x + y + 3 * t) % 64;
                    (40 + s * 2 + (x / 32 % 2) * 20) as u8
                };
            }
        }
        let (cw, ch) = I420Frame::chroma_size(w, h);
        for cy in 0..ch {
            for cx in 0..cw {
                let i = cy * cw + cx;
                f.u[i] = ((cx * 200 / cw.max(1)) as u32 + t) as u8;
                f.v[i] = ((cy * 200 / ch.max(1)) as u32 + 2 * t) as u8;
            }
        }
        if let Some(c) = stamp_cell_size(w, h) {
            draw_stamp(&mut f, c, stamp);
        }
        f
    }
}

fn draw_stamp(f: &mut I420Frame, c: u32, stamp: Stamp) {
    let m = message(stamp);
    let wu = f.width as usize;
    for row in 0..STAMP_ROWS {
        for col in 0..STAMP_COLS {
            let i = (row * STAMP_COLS + col) as usize;
            let bit = (m[i / 8] >> (7 - i % 8)) & 1;
            let val = if bit == 1 { WHITE } else { BLACK };
            for y in row * c..(row + 1) * c {
                let start = y as usize * wu + (col * c) as usize;
                f.y[start..start + c as usize].fill(val);
            }
        }
    }
    // Neutral chroma under the whole grid.
    let (cw, _) = I420Frame::chroma_size(f.width, f.height);
    let (gw, gh) = ((STAMP_COLS * c / 2) as usize, (STAMP_ROWS * c / 2) as usize);
    for cy in 0..gh {
        f.u[cy * cw..cy * cw + gw].fill(128);
        f.v[cy * cw..cy * cw + gw].fill(128);
    }
}

/// Reads the stamp back from a (decoded) frame: `None` when the picture is
/// too small, malformed, or the CRC does not match.
pub fn read_stamp(frame: &I420Frame) -> Option<Stamp> {
    if !frame.is_well_formed() {
        return None;
    }
    let c = stamp_cell_size(frame.width, frame.height)?;
    let wu = frame.width as usize;
    let mut m = [0u8; 16];
    for row in 0..STAMP_ROWS {
        for col in 0..STAMP_COLS {
            let (x0, y0) = (col * c + c / 4, row * c + c / 4);
            let mut sum = 0u32;
            for y in y0..y0 + c / 2 {
                let start = y as usize * wu + x0 as usize;
                sum += frame
                    .y
                    .get(start..start + (c / 2) as usize)?
                    .iter()
                    .map(|&v| u32::from(v))
                    .sum::<u32>();
            }
            let avg = sum / (c / 2 * (c / 2));
            if avg >= 128 {
                let i = (row * STAMP_COLS + col) as usize;
                m[i / 8] |= 1 << (7 - i % 8);
            }
        }
    }
    let crc = u32::from_be_bytes([m[12], m[13], m[14], m[15]]);
    if crc != crc32(&m[0..12]) {
        return None;
    }
    Some(Stamp {
        counter: u32::from_be_bytes([m[0], m[1], m[2], m[3]]),
        capture_micros: u64::from_be_bytes([m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11]]),
    })
}

/// A sine tone at 48 kHz, interleaved `i16`, the same signal on every
/// channel, at about −10 dBFS.
pub struct Tone {
    freq_hz: f64,
    channels: usize,
    phase: f64,
}

impl Tone {
    /// A tone of `freq_hz` on `channels` channels.
    pub fn new(freq_hz: f32, channels: u8) -> Self {
        Self {
            freq_hz: f64::from(freq_hz),
            channels: usize::from(channels.max(1)),
            phase: 0.0,
        }
    }

    /// The next `samples_per_channel` samples per channel, continuing the
    /// phase of the previous call.
    pub fn next_frame(&mut self, samples_per_channel: usize) -> Vec<i16> {
        let step = TAU * self.freq_hz / f64::from(crate::OPUS_SAMPLE_RATE);
        let mut out = Vec::with_capacity(samples_per_channel * self.channels);
        for _ in 0..samples_per_channel {
            let s = (self.phase.sin() * 0.316 * f64::from(i16::MAX)) as i16;
            out.extend(std::iter::repeat_n(s, self.channels));
            self.phase = (self.phase + step) % TAU;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    /// Pinned for the browser-side reader: tests/browser/stamp.mjs checks the
    /// same bytes (and Python's zlib.crc32 agrees on the checksum).
    #[test]
    fn stamp_message_known_answer() {
        let m = message(Stamp {
            counter: 0x0102_0304,
            capture_micros: 0x1122_3344_5566_7788,
        });
        let hex: String = m.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, STAMP_VECTOR_HEX);
    }

    const STAMP_VECTOR_HEX: &str = "010203041122334455667788fafde765";

    #[test]
    fn stamp_round_trips_uncompressed_at_every_cell_size() {
        for (w, h) in [(640, 480), (320, 240), (256, 128), (200, 100), (129, 64)] {
            let mut p = TestPattern::new(w, h);
            for k in 0..5u32 {
                let s = Stamp {
                    counter: k.wrapping_mul(0x9E37_79B9),
                    capture_micros: u64::MAX - u64::from(k),
                };
                assert_eq!(read_stamp(&p.frame(s)), Some(s), "{w}x{h}");
            }
        }
    }

    #[test]
    fn no_stamp_in_tiny_or_plain_pictures() {
        let mut p = TestPattern::new(100, 60);
        assert_eq!(
            read_stamp(&p.frame(Stamp {
                counter: 1,
                capture_micros: 2
            })),
            None
        );
        assert_eq!(read_stamp(&I420Frame::new_black(640, 480)), None);
    }

    #[test]
    fn a_flipped_cell_fails_the_check() {
        let mut p = TestPattern::new(320, 240);
        let mut f = p.frame(Stamp {
            counter: 7,
            capture_micros: 9,
        });
        // Flip cell (3, 2).
        for y in 32..48 {
            for x in 48..64 {
                let v = &mut f.y[y * 320 + x];
                *v = if *v > 128 { BLACK } else { WHITE };
            }
        }
        assert_eq!(read_stamp(&f), None);
    }

    #[test]
    fn the_pattern_moves() {
        let mut p = TestPattern::new(320, 240);
        let s = Stamp {
            counter: 0,
            capture_micros: 0,
        };
        let (a, b) = (p.frame(s), p.frame(s));
        let differing = a.y.iter().zip(&b.y).filter(|(x, y)| x != y).count();
        assert!(
            differing > 320 * 240 / 4,
            "only {differing} luma samples changed"
        );
    }
}
