//! H.264 (constrained baseline, Annex B byte stream) through Cisco's
//! OpenH264, behind the `h264` cargo feature.
//!
//! The `openh264` crate builds OpenH264 from its BSD source and exposes a
//! safe API, so this module has no `unsafe` of its own: the crate keeps its
//! one unsafe module (`vp8`). The shape mirrors the VP8 wrapper —
//! an [`H264Encoder`] tuned for real-time (bitrate rate control, no frame
//! skipping, IDR on demand) and an [`H264Decoder`] that refuses to feed the
//! library anything before the first IDR and never panics on network input.
//!
//! OpenH264 re-initialises its rate control on a bitrate change and starts
//! over with an IDR, so [`H264Encoder::set_bitrate`] applies a change only
//! when it moves the target by a quarter or more (the adaptation in
//! bedside-media nudges the target every second).

use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Level, Profile,
    RateControlMode, UsageType,
};
use openh264::formats::YUVSource;

use crate::{CodecError, EncodedFrame, I420Frame, MAX_DECODE_PIXELS, Vp8Config};

/// Encoder settings: the same fields as VP8's.
pub type H264Config = Vp8Config;

/// The largest picture OpenH264 encodes (level 5.2).
const MAX_ENCODE_SIDE: u32 = 3840;

/// A planar view OpenH264 reads from; checked well-formed and even-sized.
struct Planes<'a>(&'a I420Frame);

impl YUVSource for Planes<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width as usize, self.0.height as usize)
    }
    fn strides(&self) -> (usize, usize, usize) {
        let cw = self.0.width.div_ceil(2) as usize;
        (self.0.width as usize, cw, cw)
    }
    fn y(&self) -> &[u8] {
        &self.0.y
    }
    fn u(&self) -> &[u8] {
        &self.0.u
    }
    fn v(&self) -> &[u8] {
        &self.0.v
    }
}

/// A real-time H.264 encoder producing constrained-baseline Annex B access
/// units (SPS and PPS precede every IDR), as WebRTC's packetization-mode 1
/// carries them.
pub struct H264Encoder {
    inner: Encoder,
    cfg: H264Config,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

fn open_encoder(cfg: &H264Config) -> Result<Encoder, CodecError> {
    let config = EncoderConfig::new()
        .usage_type(UsageType::CameraVideoRealTime)
        .rate_control_mode(RateControlMode::Bitrate)
        .bitrate(BitRate::from_bps(cfg.bitrate_kbps.saturating_mul(1000)))
        .max_frame_rate(FrameRate::from_hz(cfg.fps as f32))
        // One picture in, one access unit out (as the VP8 wrapper):
        // with skipping on, OpenH264 drops whole frames at start and under load, which the
        // call's frame rate pays for. OpenH264 warns once per encoder that the target is
        // then looser; measured within bounds in tests/h264.rs.
        .skip_frames(false)
        .profile(Profile::Baseline)
        .level(Level::Level_3_1)
        // Keyframes on request (PLI/FIR) and every 100 s as a backstop, like VP8's kf_max_dist.
        .intra_frame_period(IntraFramePeriod::from_num_frames(
            cfg.fps.saturating_mul(100),
        ))
        .num_threads(1);
    Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| CodecError::Init(format!("openh264 encoder: {e}")))
}

impl H264Encoder {
    /// An encoder for pictures of exactly `cfg.width × cfg.height` (both even).
    pub fn new(cfg: &H264Config) -> Result<Self, CodecError> {
        if cfg.width == 0
            || cfg.height == 0
            || cfg.width.max(cfg.height) > MAX_ENCODE_SIDE
            || cfg.width.min(cfg.height) > 2160
        {
            return Err(CodecError::BadInput("picture size out of range".into()));
        }
        if !cfg.width.is_multiple_of(2) || !cfg.height.is_multiple_of(2) {
            return Err(CodecError::BadInput(
                "H.264 needs an even picture width and height".into(),
            ));
        }
        if cfg.fps == 0 || cfg.bitrate_kbps == 0 {
            return Err(CodecError::BadInput(
                "frame rate and bitrate must be positive".into(),
            ));
        }
        Ok(Self {
            inner: open_encoder(cfg)?,
            cfg: cfg.clone(),
        })
    }

    /// Encodes one picture. `pts` is in microseconds; `force_keyframe` makes
    /// this picture an IDR. Returns zero or one access unit (Annex B).
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        pts: i64,
        force_keyframe: bool,
    ) -> Result<Vec<EncodedFrame>, CodecError> {
        if !frame.is_well_formed() {
            return Err(CodecError::BadInput("picture planes are mis-sized".into()));
        }
        if (frame.width, frame.height) != (self.cfg.width, self.cfg.height) {
            return Err(CodecError::BadInput(
                "picture size differs from the encoder's".into(),
            ));
        }
        if force_keyframe {
            self.inner.force_intra_frame();
        }
        let millis = u64::try_from(pts.max(0) / 1000).unwrap_or(0);
        let bitstream = self
            .inner
            .encode_at(&Planes(frame), openh264::Timestamp::from_millis(millis))
            .map_err(|e| CodecError::Encode(format!("openh264: {e}")))?;
        let keyframe = match bitstream.frame_type() {
            FrameType::IDR | FrameType::I => true,
            FrameType::P | FrameType::IPMixed => false,
            FrameType::Skip | FrameType::Invalid => return Ok(vec![]),
        };
        let data = bitstream.to_vec();
        if data.is_empty() {
            return Ok(vec![]);
        }
        Ok(vec![EncodedFrame {
            data,
            keyframe,
            pts,
        }])
    }

    /// Changes the target bitrate. OpenH264 restarts its rate control (and
    /// the stream, with an IDR) on a change, so a change of less than a
    /// quarter of the current target is not applied; the call still
    /// succeeds.
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), CodecError> {
        if kbps == 0 {
            return Err(CodecError::BadInput("bitrate must be positive".into()));
        }
        let current = self.cfg.bitrate_kbps;
        if kbps.abs_diff(current).saturating_mul(4) < current {
            return Ok(());
        }
        let cfg = H264Config {
            bitrate_kbps: kbps,
            ..self.cfg.clone()
        };
        self.inner = open_encoder(&cfg)?;
        self.cfg = cfg;
        Ok(())
    }

    /// The settings in effect.
    pub fn config(&self) -> &H264Config {
        &self.cfg
    }
}

/// An H.264 decoder for Annex B access units. Until it has seen an IDR (at
/// the start, and again after any error) it gives no picture and
/// [`H264Decoder::needs_keyframe`] says so.
pub struct H264Decoder {
    inner: Decoder,
    needs_keyframe: bool,
}

impl std::fmt::Debug for H264Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Decoder")
            .field("needs_keyframe", &self.needs_keyframe)
            .finish_non_exhaustive()
    }
}

/// The NAL unit types in an Annex B buffer (start codes `00 00 01` or `00 00 00 01`).
fn nal_types(data: &[u8]) -> impl Iterator<Item = u8> + '_ {
    data.windows(4)
        .filter_map(|w| (w[0] == 0 && w[1] == 0 && w[2] == 1).then_some(w[3] & 0x1f))
}

impl H264Decoder {
    /// A decoder waiting for its first IDR.
    pub fn new() -> Result<Self, CodecError> {
        let inner = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
            .map_err(|e| CodecError::Init(format!("openh264 decoder: {e}")))?;
        Ok(Self {
            inner,
            needs_keyframe: true,
        })
    }

    /// Whether the decoder waits for an IDR (new, or after an error).
    pub fn needs_keyframe(&self) -> bool {
        self.needs_keyframe
    }

    /// Decodes one access unit (Annex B). `Ok(None)` while waiting for an IDR
    /// or when the unit completes no picture; an error for a malformed or
    /// oversized stream (ask the sender for a keyframe).
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        if data.is_empty() {
            return Err(CodecError::BadInput("empty H.264 access unit".into()));
        }
        if i32::try_from(data.len()).is_err() {
            return Err(CodecError::BadInput("H.264 access unit too large".into()));
        }
        if self.needs_keyframe && !nal_types(data).any(|t| t == 5) {
            return Ok(None);
        }
        let result = match self.inner.decode(data) {
            Ok(Some(yuv)) => copy_picture(&yuv).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(CodecError::Decode(format!("openh264: {e}"))),
        };
        match &result {
            Ok(Some(_)) => self.needs_keyframe = false,
            Ok(None) => {}
            Err(_) => self.needs_keyframe = true,
        }
        result
    }
}

/// Copies OpenH264's strided planes into a tightly packed [`I420Frame`],
/// checking every row against the buffers it was given.
fn copy_picture(yuv: &impl YUVSource) -> Result<I420Frame, CodecError> {
    let (w, h) = yuv.dimensions();
    let (width, height) = (
        u32::try_from(w).map_err(|_| CodecError::Decode("picture size".into()))?,
        u32::try_from(h).map_err(|_| CodecError::Decode("picture size".into()))?,
    );
    if width == 0
        || height == 0
        || u64::from(width) * u64::from(height) > u64::from(MAX_DECODE_PIXELS)
    {
        return Err(CodecError::Decode("picture size out of range".into()));
    }
    let (sy, su, sv) = yuv.strides();
    let (cw, ch) = I420Frame::chroma_size(width, height);
    let plane = |src: &[u8], stride: usize, pw: usize, ph: usize| -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(pw * ph);
        for row in 0..ph {
            let start = row
                .checked_mul(stride)
                .ok_or_else(|| CodecError::Decode("plane stride".into()))?;
            let line = src
                .get(start..start + pw)
                .ok_or_else(|| CodecError::Decode("decoded plane is short".into()))?;
            out.extend_from_slice(line);
        }
        Ok(out)
    };
    Ok(I420Frame {
        width,
        height,
        y: plane(yuv.y(), sy, w, h)?,
        u: plane(yuv.u(), su, cw, ch)?,
        v: plane(yuv.v(), sv, cw, ch)?,
    })
}
