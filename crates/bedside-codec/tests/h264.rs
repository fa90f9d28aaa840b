//! The H.264 wrapper (feature `h264`) against the real OpenH264: round trip
//! with stamps and quality, IDRs on demand, a new decoder waiting for an IDR,
//! and malformed access units giving errors rather than crashes.
#![cfg(feature = "h264")]

use bedside_codec::synthetic::{Stamp, TestPattern, read_stamp};
use bedside_codec::{CodecError, EncodedFrame, H264Config, H264Decoder, H264Encoder, I420Frame};
use proptest::prelude::*;

fn encoder(width: u32, height: u32, kbps: u32) -> H264Encoder {
    H264Encoder::new(&H264Config {
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

fn encode_one(enc: &mut H264Encoder, f: &I420Frame, k: u32, force: bool) -> EncodedFrame {
    let mut out = enc.encode(f, i64::from(k) * 33_333, force).expect("encode");
    assert_eq!(
        out.len(),
        1,
        "one frame in, one access unit out (frame {k})"
    );
    out.remove(0)
}

/// NAL unit types of an Annex B access unit.
fn nal_types(au: &[u8]) -> Vec<u8> {
    au.windows(4)
        .filter(|w| w[0] == 0 && w[1] == 0 && w[2] == 1)
        .map(|w| w[3] & 0x1f)
        .collect()
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
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
fn h264_codecs_are_send() {
    fn send<T: Send>() {}
    send::<H264Encoder>();
    send::<H264Decoder>();
}

#[test]
fn h264_round_trip_keeps_size_stamps_and_quality() {
    let (w, h) = (640, 480);
    let mut enc = encoder(w, h, 1500);
    let mut dec = H264Decoder::new().expect("decoder");
    let mut pat = TestPattern::new(w, h);
    let mut psnrs = vec![];
    for k in 0..45 {
        let src = pat.frame(stamp(k));
        let au = encode_one(&mut enc, &src, k, false);
        if k == 0 {
            assert!(au.keyframe);
            // SPS, PPS, then an IDR slice: what packetization-mode 1 needs first.
            let types = nal_types(&au.data);
            assert!(
                types.contains(&7) && types.contains(&8) && types.contains(&5),
                "{types:?}"
            );
        }
        let out = dec.decode(&au.data).expect("decode").expect("a picture");
        assert_eq!((out.width, out.height), (w, h));
        assert!(out.is_well_formed());
        assert_eq!(read_stamp(&out), Some(stamp(k)), "stamp of frame {k}");
        psnrs.push(psnr(&src.y, &out.y));
    }
    assert!(!dec.needs_keyframe());
    let avg = psnrs[15..].iter().sum::<f64>() / psnrs[15..].len() as f64;
    eprintln!("H.264 luma PSNR at 1500 kbps: avg {avg:.1} dB");
    assert!(avg > 30.0, "average luma PSNR {avg:.1} dB");
}

#[test]
fn forced_h264_keyframes_are_idrs_and_others_are_not() {
    let mut enc = encoder(320, 240, 500);
    let mut pat = TestPattern::new(320, 240);
    for k in 0..30u32 {
        let force = k == 12 || k == 25;
        let au = encode_one(&mut enc, &pat.frame(stamp(k)), k, force);
        let expect_key = k == 0 || force;
        assert_eq!(au.keyframe, expect_key, "frame {k}");
        assert_eq!(
            nal_types(&au.data).contains(&5),
            expect_key,
            "IDR NAL in {k}"
        );
    }
}

#[test]
fn a_new_h264_decoder_waits_for_an_idr() {
    let mut enc = encoder(320, 240, 500);
    let mut pat = TestPattern::new(320, 240);
    let aus: Vec<_> = (0..5)
        .map(|k| encode_one(&mut enc, &pat.frame(stamp(k)), k, k == 3))
        .collect();
    let mut dec = H264Decoder::new().expect("decoder");
    assert!(dec.needs_keyframe());
    assert!(dec.decode(&aus[1].data).expect("delta").is_none());
    assert!(dec.decode(&aus[2].data).expect("delta").is_none());
    let f = dec.decode(&aus[3].data).expect("idr").expect("picture");
    assert_eq!(read_stamp(&f), Some(stamp(3)));
    assert!(!dec.needs_keyframe());
    let f = dec.decode(&aus[4].data).expect("delta").expect("picture");
    assert_eq!(read_stamp(&f), Some(stamp(4)));
}

#[test]
fn h264_encoder_refuses_bad_sizes_and_mis_sized_frames() {
    let cfg = |width, height| H264Config {
        width,
        height,
        fps: 30,
        bitrate_kbps: 500,
    };
    assert!(matches!(
        H264Encoder::new(&cfg(321, 240)),
        Err(CodecError::BadInput(_))
    ));
    assert!(matches!(
        H264Encoder::new(&cfg(0, 240)),
        Err(CodecError::BadInput(_))
    ));
    assert!(matches!(
        H264Encoder::new(&cfg(8192, 240)),
        Err(CodecError::BadInput(_))
    ));
    let mut enc = encoder(320, 240, 500);
    let wrong = I420Frame::new_black(640, 480);
    assert!(matches!(
        enc.encode(&wrong, 0, false),
        Err(CodecError::BadInput(_))
    ));
    let mut short = I420Frame::new_black(320, 240);
    short.y.truncate(100);
    assert!(matches!(
        enc.encode(&short, 0, false),
        Err(CodecError::BadInput(_))
    ));
    assert!(enc.set_bitrate(0).is_err());
}

#[test]
fn h264_bitrate_changes_take_effect() {
    let (w, h) = (640, 480);
    let mut pat = TestPattern::new(w, h);
    let mut enc = encoder(w, h, 1500);
    let mut bytes = |enc: &mut H264Encoder, from: u32| -> usize {
        (from..from + 60)
            .map(|k| encode_one(enc, &pat.frame(stamp(k)), k, false).data.len())
            .skip(15)
            .sum()
    };
    let high = bytes(&mut enc, 0);
    enc.set_bitrate(1400).expect("small change");
    assert_eq!(enc.config().bitrate_kbps, 1500, "a change under 25 % waits");
    enc.set_bitrate(200).expect("big change");
    assert_eq!(enc.config().bitrate_kbps, 200);
    let low = bytes(&mut enc, 60);
    eprintln!("45 frames: {high} bytes at 1500 kbps, {low} bytes at 200 kbps");
    assert!(low * 3 < high, "{low} vs {high}");
}

fn check_decode(dec: &mut H264Decoder, data: &[u8]) -> Result<bool, CodecError> {
    match dec.decode(data)? {
        Some(f) => {
            assert!(f.is_well_formed(), "a decoded picture is well formed");
            Ok(true)
        }
        None => Ok(false),
    }
}

/// splitmix64, seeded, so a failure replays exactly.
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
}

#[test]
fn malformed_h264_gives_errors_not_crashes() {
    let mut enc = encoder(320, 240, 300);
    let mut pat = TestPattern::new(320, 240);
    let real: Vec<Vec<u8>> = (0..20)
        .map(|k| encode_one(&mut enc, &pat.frame(stamp(k)), k, k == 10).data)
        .collect();
    let mut rng = Rng(0x0264_5EED);
    let mut dec = H264Decoder::new().expect("decoder");
    let (mut errors, mut pictures, mut nones) = (0, 0, 0);
    for i in 0..3000 {
        if i % 500 == 0 {
            dec = H264Decoder::new().expect("decoder");
        }
        let input = match rng.below(5) {
            0 => {
                // A real IDR access unit, truncated.
                let f = &real[if rng.below(2) == 0 { 0 } else { 10 }];
                f[..4 + rng.below((f.len() - 4) as u64) as usize].to_vec()
            }
            1 | 2 => {
                // A real IDR access unit with bits flipped past its start code.
                let mut f = real[if rng.below(2) == 0 { 0 } else { 10 }].clone();
                for _ in 0..=rng.below(16) {
                    let at = 5 + rng.below((f.len() - 5) as u64) as usize;
                    f[at] ^= 1 << rng.below(8);
                }
                f
            }
            3 => {
                // An IDR NAL header followed by noise.
                let n = rng.below(2000) as usize;
                let mut f = vec![0, 0, 0, 1, 0x65];
                f.extend((0..n).map(|_| rng.next() as u8));
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
    assert!(errors > 100, "malformed input is reported: {errors}");
    assert!(
        pictures > 100,
        "real units still decode between bad ones: {pictures}"
    );
    // Still a working decoder afterwards: a fresh IDR decodes with its stamp.
    let mut enc = encoder(320, 240, 300);
    let au = encode_one(
        &mut enc,
        &TestPattern::new(320, 240).frame(stamp(7)),
        0,
        false,
    );
    let f = dec.decode(&au.data).expect("decode").expect("picture");
    assert_eq!(read_stamp(&f), Some(stamp(7)));
}

#[test]
fn empty_h264_input_is_refused() {
    let mut dec = H264Decoder::new().expect("decoder");
    assert!(matches!(dec.decode(&[]), Err(CodecError::BadInput(_))));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_crash_the_h264_decoder(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut dec = H264Decoder::new().expect("decoder");
        let mut idr = vec![0, 0, 0, 1, 0x65];
        idr.extend_from_slice(&data);
        let _ = check_decode(&mut dec, &data);
        let _ = check_decode(&mut dec, &idr);
    }
}
