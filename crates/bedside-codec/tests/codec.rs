//! The codec wrappers against the real libvpx and libopus: round trips,
//! keyframes, bitrate changes, resolution changes, stamps that survive lossy
//! coding, and malformed input that must give errors rather than crashes.

use bedside_codec::synthetic::{Stamp, TestPattern, Tone, read_stamp};
use bedside_codec::{
    CodecError, EncodedFrame, I420Frame, OPUS_FRAME_SAMPLES, OpusDecoder, OpusEncoder, Vp8Config,
    Vp8Decoder, Vp8Encoder,
};
use proptest::prelude::*;

const FRAME_MICROS: i64 = 33_333;

fn encoder(width: u32, height: u32, kbps: u32) -> Vp8Encoder {
    Vp8Encoder::new(&Vp8Config {
        width,
        height,
        fps: 30,
        bitrate_kbps: kbps,
    })
    .expect("encoder")
}

fn stamp(k: u32) -> Stamp {
    Stamp {
        counter: k,
        capture_micros: 1_700_000_000_000_000 + u64::from(k) * 33_333,
    }
}

/// Encodes one frame and insists on exactly one output frame (lag 0, no drops).
fn encode_one(enc: &mut Vp8Encoder, f: &I420Frame, k: u32, force: bool) -> EncodedFrame {
    let mut out = enc
        .encode(f, i64::from(k) * FRAME_MICROS, force)
        .expect("encode");
    assert_eq!(out.len(), 1, "one frame in, one frame out (frame {k})");
    out.remove(0)
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

#[test]
fn codecs_are_send() {
    fn send<T: Send>() {}
    send::<Vp8Encoder>();
    send::<Vp8Decoder>();
    send::<OpusEncoder>();
    send::<OpusDecoder>();
}

#[test]
fn vp8_round_trip_keeps_size_and_quality() {
    let (w, h) = (640, 480);
    let mut enc = encoder(w, h, 1500);
    let mut dec = Vp8Decoder::new().expect("decoder");
    let mut pat = TestPattern::new(w, h);
    let mut psnrs = vec![];
    for k in 0..45 {
        let src = pat.frame(stamp(k));
        let ef = encode_one(&mut enc, &src, k, false);
        assert_eq!(ef.pts, i64::from(k) * FRAME_MICROS);
        let out = dec.decode(&ef.data).expect("decode").expect("a picture");
        assert_eq!((out.width, out.height), (w, h));
        assert!(out.is_well_formed());
        psnrs.push(psnr(&src.y, &out.y));
    }
    assert!(!dec.needs_keyframe());
    let avg = psnrs[15..].iter().sum::<f64>() / psnrs[15..].len() as f64;
    let min = psnrs.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!("luma PSNR at 1500 kbps: avg {avg:.1} dB, min {min:.1} dB");
    assert!(avg > 30.0, "average luma PSNR {avg:.1} dB");
    assert!(min > 22.0, "worst luma PSNR {min:.1} dB");
}

#[test]
fn forced_keyframes_are_keyframes_and_others_are_not() {
    let mut enc = encoder(320, 240, 500);
    let mut pat = TestPattern::new(320, 240);
    let mut dec = Vp8Decoder::new().expect("decoder");
    for k in 0..40u32 {
        let force = k == 20 || k == 33;
        let ef = encode_one(&mut enc, &pat.frame(stamp(k)), k, force);
        let expect_key = k == 0 || force;
        assert_eq!(ef.keyframe, expect_key, "frame {k}");
        // The VP8 frame tag agrees (bit 0 clear on keyframes).
        assert_eq!(ef.data[0] & 1 == 0, expect_key, "frame tag of {k}");
        assert!(dec.decode(&ef.data).expect("decode").is_some());
    }
}

#[test]
fn a_new_decoder_waits_for_a_keyframe() {
    let mut enc = encoder(320, 240, 500);
    let mut pat = TestPattern::new(320, 240);
    let frames: Vec<_> = (0..5)
        .map(|k| encode_one(&mut enc, &pat.frame(stamp(k)), k, k == 3))
        .collect();
    let mut dec = Vp8Decoder::new().expect("decoder");
    assert!(dec.needs_keyframe());
    // Joining mid-stream: deltas give no picture until the forced keyframe.
    assert!(dec.decode(&frames[1].data).expect("delta").is_none());
    assert!(dec.decode(&frames[2].data).expect("delta").is_none());
    let f = dec
        .decode(&frames[3].data)
        .expect("keyframe")
        .expect("picture");
    assert_eq!(read_stamp(&f), Some(stamp(3)));
    assert!(dec.decode(&frames[4].data).expect("delta").is_some());
}

#[test]
fn bitrate_changes_take_effect() {
    let (w, h) = (640, 480);
    let mut enc = encoder(w, h, 1500);
    let mut pat = TestPattern::new(w, h);
    let mut sizes = vec![];
    for k in 0..120u32 {
        if k == 60 {
            enc.set_bitrate(200).expect("set bitrate");
            assert_eq!(enc.config().bitrate_kbps, 200);
        }
        sizes.push(
            encode_one(&mut enc, &pat.frame(stamp(k)), k, false)
                .data
                .len(),
        );
    }
    // Steady state of each half, in kbit/s at 30 fps.
    let kbps = |s: &[usize]| s.iter().sum::<usize>() as f64 * 8.0 * 30.0 / s.len() as f64 / 1000.0;
    let (high, low) = (kbps(&sizes[30..60]), kbps(&sizes[90..120]));
    eprintln!("measured {high:.0} kbit/s at 1500, {low:.0} kbit/s at 200");
    assert!(low < high / 3.0, "{low:.0} vs {high:.0} kbit/s");
    assert!(
        (100.0..450.0).contains(&low),
        "CBR near 200 kbit/s: {low:.0}"
    );
    assert!(high > 700.0, "the first half used its budget: {high:.0}");
    assert!(matches!(enc.set_bitrate(0), Err(CodecError::BadInput(_))));
}

#[test]
fn decoder_follows_a_resolution_change() {
    let mut dec = Vp8Decoder::new().expect("decoder");
    for (k, (w, h)) in [(640, 480), (320, 240), (1280, 720), (640, 360)]
        .into_iter()
        .enumerate()
    {
        let mut enc = encoder(w, h, 800);
        let mut pat = TestPattern::new(w, h);
        for j in 0..3u32 {
            let n = k as u32 * 10 + j;
            let ef = encode_one(&mut enc, &pat.frame(stamp(n)), j, false);
            let f = dec.decode(&ef.data).expect("decode").expect("picture");
            assert_eq!((f.width, f.height), (w, h));
            assert_eq!(read_stamp(&f), Some(stamp(n)), "{w}x{h} frame {j}");
        }
    }
}

fn stamps_survive(w: u32, h: u32, kbps: u32) {
    let mut enc = encoder(w, h, kbps);
    let mut dec = Vp8Decoder::new().expect("decoder");
    let mut pat = TestPattern::new(w, h);
    let mut bytes = 0;
    for k in 0..100u32 {
        let sent = stamp(k.wrapping_mul(2_654_435_761));
        let ef = encode_one(&mut enc, &pat.frame(sent), k, false);
        bytes += ef.data.len();
        let f = dec.decode(&ef.data).expect("decode").expect("picture");
        assert_eq!(
            read_stamp(&f),
            Some(sent),
            "{w}x{h} at {kbps} kbit/s, frame {k}"
        );
    }
    let rate = bytes as f64 * 8.0 * 30.0 / 100.0 / 1000.0;
    eprintln!("{w}x{h}: {rate:.0} kbit/s for a {kbps} kbit/s target");
    assert!(
        rate < f64::from(kbps) * 1.6,
        "the encoder kept to its budget"
    );
}

#[test]
fn stamps_survive_vp8_at_300_kbps_640x480() {
    stamps_survive(640, 480, 300);
}

#[test]
fn stamps_survive_vp8_at_300_kbps_320x240() {
    stamps_survive(320, 240, 300);
}

#[test]
fn stamps_survive_vp8_at_150_kbps_320x240() {
    stamps_survive(320, 240, 150);
}

#[test]
fn encoder_refuses_mis_sized_frames() {
    let mut enc = encoder(320, 240, 300);
    let wrong = I420Frame::new_black(640, 480);
    assert!(matches!(
        enc.encode(&wrong, 0, false),
        Err(CodecError::BadInput(_))
    ));
    let mut short = I420Frame::new_black(320, 240);
    short.v.pop();
    assert!(matches!(
        enc.encode(&short, 0, false),
        Err(CodecError::BadInput(_))
    ));
    assert!(
        Vp8Encoder::new(&Vp8Config {
            width: 0,
            height: 240,
            fps: 30,
            bitrate_kbps: 300
        })
        .is_err()
    );
    assert!(
        Vp8Encoder::new(&Vp8Config {
            width: 320,
            height: 240,
            fps: 0,
            bitrate_kbps: 300
        })
        .is_err()
    );
    // Odd sizes are fine.
    let mut odd = encoder(321, 241, 300);
    let mut dec = Vp8Decoder::new().expect("decoder");
    let ef = encode_one(
        &mut odd,
        &TestPattern::new(321, 241).frame(stamp(1)),
        0,
        false,
    );
    let f = dec.decode(&ef.data).expect("decode").expect("picture");
    assert_eq!((f.width, f.height), (321, 241));
    assert_eq!(read_stamp(&f), Some(stamp(1)));
}

/// splitmix64: a seeded generator, so a failure replays exactly.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn check_decode(dec: &mut Vp8Decoder, data: &[u8]) -> Result<bool, CodecError> {
    match dec.decode(data)? {
        Some(f) => {
            assert!(f.is_well_formed(), "a decoded picture is well formed");
            assert!(
                u64::from(f.width) * u64::from(f.height)
                    <= u64::from(bedside_codec::MAX_DECODE_PIXELS)
            );
            Ok(true)
        }
        None => Ok(false),
    }
}

#[test]
fn malformed_vp8_gives_errors_not_crashes() {
    let mut real = vec![];
    for (w, h) in [(320, 240), (176, 144)] {
        let mut enc = encoder(w, h, 300);
        let mut pat = TestPattern::new(w, h);
        for k in 0..20 {
            real.push(encode_one(&mut enc, &pat.frame(stamp(k)), k, k == 10).data);
        }
    }
    let mut rng = Rng(0x0005_EED0_FB0D);
    let mut dec = Vp8Decoder::new().expect("decoder");
    let (mut errors, mut pictures, mut nones) = (0, 0, 0);
    for i in 0..5000 {
        if i % 700 == 0 {
            dec = Vp8Decoder::new().expect("decoder");
        }
        let input = match rng.below(6) {
            0 => {
                let n = rng.below(1500) as usize;
                rng.bytes(n)
            }
            1 => {
                let f = &real[rng.below(real.len() as u64) as usize];
                f[..rng.below(f.len() as u64) as usize].to_vec()
            }
            2 => {
                let mut f = real[rng.below(real.len() as u64) as usize].clone();
                for _ in 0..=rng.below(8) {
                    let at = rng.below(f.len() as u64) as usize;
                    f[at] ^= 1 << rng.below(8);
                }
                f
            }
            3 => {
                // A keyframe header with random sizes (some absurd) and a random body.
                let size = rng.below(1 << 19) as u32;
                let mut f = vec![
                    (size << 5) as u8 & 0xf0 | 0x10,
                    (size >> 3) as u8,
                    (size >> 11) as u8,
                ];
                f.extend_from_slice(&[0x9d, 0x01, 0x2a]);
                let (w, h) = if rng.below(4) == 0 {
                    (rng.below(1 << 16) as u16, rng.below(1 << 16) as u16)
                } else {
                    (rng.below(800) as u16, rng.below(600) as u16)
                };
                f.extend_from_slice(&w.to_le_bytes());
                f.extend_from_slice(&h.to_le_bytes());
                let n = rng.below(3000) as usize;
                f.extend(rng.bytes(n));
                f
            }
            4 => {
                // A real keyframe with its body shuffled.
                let mut f = real[10].clone();
                let from = 10 + rng.below((f.len() - 10) as u64) as usize;
                for b in &mut f[from..] {
                    *b = rng.next() as u8;
                }
                f
            }
            _ => real[rng.below(real.len() as u64) as usize].clone(),
        };
        match check_decode(&mut dec, &input) {
            Ok(true) => pictures += 1,
            Ok(false) => nones += 1,
            Err(_) => errors += 1,
        }
    }
    eprintln!("{errors} errors, {pictures} pictures, {nones} skipped");
    assert!(errors > 1000, "malformed input is reported: {errors}");
    assert!(
        pictures > 100,
        "real frames still decode between the bad ones: {pictures}"
    );
    // Still a working decoder afterwards.
    let mut enc = encoder(320, 240, 300);
    let ef = encode_one(
        &mut enc,
        &TestPattern::new(320, 240).frame(stamp(5)),
        0,
        false,
    );
    let f = dec.decode(&ef.data).expect("decode").expect("picture");
    assert_eq!(read_stamp(&f), Some(stamp(5)));
}

#[test]
fn empty_and_oversized_vp8_input_is_refused() {
    let mut dec = Vp8Decoder::new().expect("decoder");
    assert!(dec.decode(&[]).is_err());
    assert!(dec.decode(&[0x10]).is_err());
    // A keyframe claiming 16383×16383 is refused before libvpx allocates.
    let mut f = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0xff, 0x3f, 0xff, 0x3f];
    f.extend(vec![0u8; 100]);
    assert!(matches!(dec.decode(&f), Err(CodecError::Decode(_))));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_crash_the_vp8_decoder(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut dec = Vp8Decoder::new().expect("decoder");
        let _ = check_decode(&mut dec, &data);
    }

    #[test]
    fn arbitrary_bytes_never_crash_the_opus_decoder(data in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let mut dec = OpusDecoder::new(1).expect("decoder");
        if let Ok(pcm) = dec.decode(Some(&data)) {
            prop_assert!(pcm.len() <= 5760);
        }
        // And it still conceals afterwards.
        prop_assert_eq!(dec.decode(None).expect("plc").len(), OPUS_FRAME_SAMPLES);
    }
}

/// Power of `x` at `freq` (Goertzel), normalised per sample.
fn power_at(x: &[f64], freq: f64) -> f64 {
    let w = std::f64::consts::TAU * freq / 48_000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = v + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) / x.len() as f64
}

fn dominant_frequency(x: &[f64]) -> f64 {
    (5..=300)
        .map(|k| f64::from(k) * 10.0)
        .max_by(|a, b| power_at(x, *a).total_cmp(&power_at(x, *b)))
        .unwrap_or(0.0)
}

fn energy(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64
}

fn opus_round_trip(channels: u8, freq: f32) {
    let mut enc = OpusEncoder::new(channels).expect("encoder");
    let mut dec = OpusDecoder::new(channels).expect("decoder");
    let mut tone = Tone::new(freq, channels);
    let (mut sent, mut got) = (vec![], vec![]);
    for _ in 0..50 {
        let pcm = tone.next_frame(OPUS_FRAME_SAMPLES);
        assert_eq!(pcm.len(), OPUS_FRAME_SAMPLES * usize::from(channels));
        let packet = enc.encode(&pcm).expect("encode");
        assert!(
            !packet.is_empty() && packet.len() < 400,
            "a 20 ms packet: {}",
            packet.len()
        );
        let out = dec.decode(Some(&packet)).expect("decode");
        assert_eq!(out.len(), pcm.len());
        sent.extend(
            pcm.iter()
                .step_by(usize::from(channels))
                .map(|&s| f64::from(s)),
        );
        got.extend(
            out.iter()
                .step_by(usize::from(channels))
                .map(|&s| f64::from(s)),
        );
    }
    // Skip the codec's start-up (lookahead and the first frames).
    let (sent, got) = (&sent[9600..], &got[9600..]);
    let ratio = energy(got) / energy(sent);
    assert!((0.6..1.5).contains(&ratio), "energy ratio {ratio:.2}");
    let f = dominant_frequency(got);
    assert!(
        (f - f64::from(freq)).abs() <= 10.0,
        "dominant {f} Hz for a {freq} Hz tone"
    );
}

#[test]
fn opus_round_trip_keeps_a_tone_mono() {
    opus_round_trip(1, 440.0);
}

#[test]
fn opus_round_trip_keeps_a_tone_stereo() {
    opus_round_trip(2, 1000.0);
}

#[test]
fn opus_conceals_lost_packets() {
    let mut enc = OpusEncoder::new(1).expect("encoder");
    let mut dec = OpusDecoder::new(1).expect("decoder");
    let mut tone = Tone::new(440.0, 1);
    for _ in 0..20 {
        let p = enc
            .encode(&tone.next_frame(OPUS_FRAME_SAMPLES))
            .expect("encode");
        dec.decode(Some(&p)).expect("decode");
    }
    let lost = dec.decode(None).expect("concealment");
    assert_eq!(lost.len(), OPUS_FRAME_SAMPLES);
    let x: Vec<f64> = lost.iter().map(|&s| f64::from(s)).collect();
    assert!(
        energy(&x) > 1e5,
        "concealment continues the sound, not silence: {}",
        energy(&x)
    );
    // And decoding resumes.
    let p = enc
        .encode(&tone.next_frame(OPUS_FRAME_SAMPLES))
        .expect("encode");
    assert_eq!(
        dec.decode(Some(&p)).expect("decode").len(),
        OPUS_FRAME_SAMPLES
    );
}

#[test]
fn opus_refuses_bad_input() {
    assert!(OpusEncoder::new(0).is_err());
    assert!(OpusEncoder::new(3).is_err());
    assert!(OpusDecoder::new(3).is_err());
    let mut enc = OpusEncoder::new(2).expect("encoder");
    assert!(matches!(
        enc.encode(&[0; OPUS_FRAME_SAMPLES]),
        Err(CodecError::BadInput(_))
    ));
    assert!(enc.set_bitrate(24_000).is_ok());
    assert!(enc.set_bitrate(10).is_err());
    let mut dec = OpusDecoder::new(2).expect("decoder");
    assert!(matches!(
        dec.decode(Some(&[])),
        Err(CodecError::BadInput(_))
    ));
}
