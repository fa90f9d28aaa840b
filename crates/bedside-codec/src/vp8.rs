//! VP8 through libvpx: a realtime CBR encoder and a decoder, each owning one
//! `vpx_codec_ctx_t` that is freed on drop.
//!
//! **Invariant:** this is the only module in the workspace that may write
//! `unsafe`. Each unsafe block states why it holds; the checks that make them
//! hold are in safe code right before them (plane sizes against dimensions,
//! bitstream length against `u32`, keyframe dimensions against a limit, image
//! strides and plane pointers from libvpx against the picture they describe).

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::raw::{c_int, c_long, c_uint, c_ulong};

use vpx_sys as ffi;

use crate::{CodecError, I420Frame};

/// Largest picture the decoder accepts (in pixels); a keyframe that declares
/// more is refused before libvpx allocates buffers for it. 4096×2304 covers
/// every camera a visit will meet; a forged header could otherwise make
/// libvpx allocate gigabytes.
pub const MAX_DECODE_PIXELS: u32 = 4096 * 2304;

/// Encoder settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vp8Config {
    /// Picture width in pixels (every frame must have it).
    pub width: u32,
    /// Picture height in pixels (every frame must have it).
    pub height: u32,
    /// Nominal frame rate, used for rate control.
    pub fps: u32,
    /// Target bitrate in kilobits per second (CBR).
    pub bitrate_kbps: u32,
}

/// One compressed VP8 frame.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The frame as it goes into RTP (RFC 7741 payload without descriptor).
    pub data: Vec<u8>,
    /// Whether this is a keyframe (decodable on its own).
    pub keyframe: bool,
    /// The `pts` passed to [`Vp8Encoder::encode`] for this frame.
    pub pts: i64,
}

impl std::fmt::Debug for EncodedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedFrame")
            .field("len", &self.data.len())
            .field("keyframe", &self.keyframe)
            .field("pts", &self.pts)
            .finish()
    }
}

/// The library's static text for an error code.
fn err_text(err: ffi::vpx_codec_err_t) -> String {
    // SAFETY: vpx_codec_err_to_string returns a pointer to a static,
    // NUL-terminated string for every value (unknown ones included), and
    // never NULL.
    let p = unsafe { ffi::vpx_codec_err_to_string(err) };
    if p.is_null() {
        return format!("{err:?}");
    }
    // SAFETY: p is non-null and points to a static NUL-terminated C string
    // (see above), alive for the whole program.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn check(
    err: ffi::vpx_codec_err_t,
    make: fn(String) -> CodecError,
    what: &str,
) -> Result<(), CodecError> {
    if err == ffi::vpx_codec_err_t::VPX_CODEC_OK {
        Ok(())
    } else {
        Err(make(format!("{what}: {}", err_text(err))))
    }
}

/// A VP8 encoder for realtime video: one pass, CBR, no lag (every input frame
/// gives its output at once), error resilient (a lost frame damages only
/// until the next keyframe), never drops a frame on its own, fast CPU preset.
pub struct Vp8Encoder {
    // Boxed: libvpx keeps the context's address in its private state between
    // calls, so it must not move after init.
    ctx: Box<ffi::vpx_codec_ctx_t>,
    cfg: ffi::vpx_codec_enc_cfg_t,
    config: Vp8Config,
}

// SAFETY: a libvpx encoder context has no thread affinity (no thread-local
// state, no callbacks); it may be used from any one thread at a time. Every
// use goes through `&mut self`, so moving the owner to another thread is sound.
// It is deliberately not `Sync`.
unsafe impl Send for Vp8Encoder {}

/// `VP8E_SET_CPUUSED` for realtime: -6 is what WebRTC uses for VP8 on
/// desktop (speed over quality; negative means "realtime, adapt").
const CPU_USED: c_int = -6;

impl Vp8Encoder {
    /// A realtime CBR encoder for `cfg`.
    pub fn new(cfg: &Vp8Config) -> Result<Self, CodecError> {
        if cfg.width == 0 || cfg.height == 0 || cfg.width > 16383 || cfg.height > 16383 {
            return Err(CodecError::BadInput("picture size out of range".into()));
        }
        if cfg.fps == 0 || cfg.fps > 240 || cfg.bitrate_kbps == 0 {
            return Err(CodecError::BadInput(
                "frame rate or bitrate out of range".into(),
            ));
        }
        let mut raw = std::mem::MaybeUninit::<ffi::vpx_codec_enc_cfg_t>::uninit();
        // SAFETY: vpx_codec_vp8_cx() returns a pointer to libvpx's static
        // VP8 encoder interface, valid for the program's life.
        let iface = unsafe { ffi::vpx_codec_vp8_cx() };
        // SAFETY: iface is valid (above); raw.as_mut_ptr() is writable
        // storage for one config struct, which libvpx fills in completely on
        // success; usage 0 is the only usage VP8 defines.
        let err = unsafe { ffi::vpx_codec_enc_config_default(iface, raw.as_mut_ptr(), 0) };
        check(err, CodecError::Init, "default config")?;
        // SAFETY: config_default returned OK, so it wrote every field (with
        // valid enum values: bit depth 8, one pass, VBR, auto keyframes).
        // (Zeroed memory would not do: 0 is no valid bit depth.)
        let mut raw = unsafe { raw.assume_init() };

        raw.g_w = cfg.width;
        raw.g_h = cfg.height;
        // pts are microseconds.
        raw.g_timebase = ffi::vpx_rational {
            num: 1,
            den: 1_000_000,
        };
        raw.g_threads = if cfg.width * cfg.height >= 1280 * 720 {
            2
        } else {
            1
        };
        raw.g_error_resilient = ffi::VPX_ERROR_RESILIENT_DEFAULT;
        raw.g_pass = ffi::vpx_enc_pass::VPX_RC_ONE_PASS;
        raw.g_lag_in_frames = 0;
        raw.rc_end_usage = ffi::vpx_rc_mode::VPX_CBR;
        raw.rc_target_bitrate = cfg.bitrate_kbps;
        // Never drop a frame on our own: the caller decides frame rate (and
        // the stamp test counts on one output per input).
        raw.rc_dropframe_thresh = 0;
        raw.rc_resize_allowed = 0;
        // WebRTC's VP8 rate-control settings.
        raw.rc_min_quantizer = 2;
        raw.rc_max_quantizer = 56;
        raw.rc_undershoot_pct = 100;
        raw.rc_overshoot_pct = 15;
        raw.rc_buf_initial_sz = 500;
        raw.rc_buf_optimal_sz = 600;
        raw.rc_buf_sz = 1000;
        raw.kf_mode = ffi::vpx_kf_mode::VPX_KF_AUTO;
        raw.kf_min_dist = 0;
        // A keyframe every 100 s at most on its own; the peer asks (PLI) when
        // it needs one sooner.
        raw.kf_max_dist = 3000;

        // SAFETY: vpx_codec_ctx_t is a plain C struct (pointers, integers, a
        // union of pointers); all-zero is its documented "not initialised"
        // state, and vpx_codec_enc_init_ver fills it in.
        let mut ctx: Box<ffi::vpx_codec_ctx_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: ctx points to a boxed, writable context that is not yet
        // initialised; iface and &raw are valid for the call (libvpx copies
        // the config); the ABI version is the one these bindings were
        // generated for (libvpx 1.12).
        let err = unsafe {
            ffi::vpx_codec_enc_init_ver(
                &mut *ctx,
                iface,
                &raw,
                0,
                ffi::VPX_ENCODER_ABI_VERSION as c_int,
            )
        };
        if err != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            // A failed init leaves nothing to destroy.
            return Err(CodecError::Init(format!("encoder init: {}", err_text(err))));
        }
        // From here on Drop frees the context.
        let enc = Self {
            ctx,
            cfg: raw,
            config: cfg.clone(),
        };
        enc.control(ffi::vp8e_enc_control_id::VP8E_SET_CPUUSED, CPU_USED)?;
        enc.control(ffi::vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY, 0)?;
        enc.control(ffi::vp8e_enc_control_id::VP8E_SET_STATIC_THRESHOLD, 1)?;
        // Keyframes no larger than 3× an average frame (WebRTC's cap for
        // this buffer size), so a forced keyframe does not stall the link.
        enc.control(
            ffi::vp8e_enc_control_id::VP8E_SET_MAX_INTRA_BITRATE_PCT,
            300,
        )?;
        Ok(enc)
    }

    fn control(&self, id: ffi::vp8e_enc_control_id, value: c_int) -> Result<(), CodecError> {
        let ctx: *const ffi::vpx_codec_ctx_t = &*self.ctx;
        // SAFETY: the context is initialised (constructor) and not yet
        // destroyed (Drop); every control id used here takes one `int`
        // argument, which is what the variadic call passes. libvpx does not
        // retain the pointer.
        let err = unsafe { ffi::vpx_codec_control_(ctx.cast_mut(), id as c_int, value) };
        check(err, CodecError::Init, "encoder control")
    }

    /// Encodes one frame. `pts` is the capture time in microseconds
    /// (monotonic, any origin); it drives rate control and comes back in
    /// [`EncodedFrame::pts`]. With lag 0 and frame dropping off, one frame in
    /// gives one frame out.
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        pts: i64,
        force_keyframe: bool,
    ) -> Result<Vec<EncodedFrame>, CodecError> {
        if !frame.is_well_formed() {
            return Err(CodecError::BadInput(
                "frame planes do not match its size".into(),
            ));
        }
        if frame.width != self.config.width || frame.height != self.config.height {
            return Err(CodecError::BadInput(
                "frame size differs from the encoder's; make a new encoder".into(),
            ));
        }
        // SAFETY: vpx_image_t is a plain C struct; all-zero is a valid value
        // that vpx_img_wrap overwrites.
        let mut img: ffi::vpx_image_t = unsafe { std::mem::zeroed() };
        // SAFETY: vpx_img_wrap only computes plane pointers and strides into
        // `img` from the given buffer (it neither reads nor writes the pixel
        // data, nor frees it); with alignment 1 the strides are width and
        // (width+1)/2, matching I420Frame's packing.
        let wrapped = unsafe {
            ffi::vpx_img_wrap(
                &mut img,
                ffi::vpx_img_fmt::VPX_IMG_FMT_I420,
                frame.width,
                frame.height,
                1,
                frame.y.as_ptr().cast_mut(),
            )
        };
        if wrapped.is_null() {
            return Err(CodecError::BadInput(
                "frame could not be described to libvpx".into(),
            ));
        }
        let cw = frame.width.div_ceil(2);
        // Point each plane at its own Vec; is_well_formed() proved each holds
        // exactly stride × rows bytes, which is all libvpx reads.
        img.planes[0] = frame.y.as_ptr().cast_mut();
        img.planes[1] = frame.u.as_ptr().cast_mut();
        img.planes[2] = frame.v.as_ptr().cast_mut();
        img.stride[0] = frame.width as c_int;
        img.stride[1] = cw as c_int;
        img.stride[2] = cw as c_int;

        let fps = u64::from(self.config.fps);
        let duration = (1_000_000 / fps) as c_ulong;
        let flags = if force_keyframe {
            ffi::VPX_EFLAG_FORCE_KF as ffi::vpx_enc_frame_flags_t
        } else {
            0
        };
        // SAFETY: the context is initialised and live; `img` describes
        // I420 planes of exactly the configured size whose buffers (borrowed
        // from `frame`) outlive the call, and libvpx only reads them (it
        // copies the picture into its own lookahead buffer before
        // returning, since lag is 0, and keeps no pointer to it).
        let err = unsafe {
            ffi::vpx_codec_encode(
                &mut *self.ctx,
                &img,
                pts,
                duration,
                flags,
                c_ulong::from(ffi::VPX_DL_REALTIME),
            )
        };
        check(err, CodecError::Encode, "encode")?;

        let mut out = Vec::new();
        let mut iter: ffi::vpx_codec_iter_t = std::ptr::null();
        loop {
            // SAFETY: the context is live; `iter` starts NULL and is only
            // advanced by libvpx, as the API requires.
            let pkt = unsafe { ffi::vpx_codec_get_cx_data(&mut *self.ctx, &mut iter) };
            if pkt.is_null() {
                break;
            }
            // SAFETY: a non-null packet from get_cx_data points to a valid
            // packet owned by the context, valid until the next encode call.
            let pkt = unsafe { &*pkt };
            if pkt.kind != ffi::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                continue;
            }
            // SAFETY: `kind` is FRAME_PKT, so the `frame` member of the union
            // is the one libvpx wrote.
            let f = unsafe { pkt.data.frame };
            if f.buf.is_null() || f.sz == 0 {
                continue;
            }
            // SAFETY: for a frame packet, `buf` points to `sz` bytes of
            // compressed data owned by the context, valid until the next
            // encode call; we copy them out at once.
            let data = unsafe { std::slice::from_raw_parts(f.buf.cast::<u8>(), f.sz as usize) };
            out.push(EncodedFrame {
                data: data.to_vec(),
                keyframe: f.flags & ffi::VPX_FRAME_IS_KEY != 0,
                pts: f.pts,
            });
        }
        Ok(out)
    }

    /// Changes the target bitrate from the next frame on.
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), CodecError> {
        if kbps == 0 {
            return Err(CodecError::BadInput("bitrate must be positive".into()));
        }
        let mut cfg = self.cfg;
        cfg.rc_target_bitrate = kbps;
        // SAFETY: the context is live; &cfg is a complete configuration
        // (the one the encoder was made with, one field changed) that libvpx
        // copies.
        let err = unsafe { ffi::vpx_codec_enc_config_set(&mut *self.ctx, &cfg) };
        check(err, CodecError::Encode, "set bitrate")?;
        self.cfg = cfg;
        self.config.bitrate_kbps = kbps;
        Ok(())
    }

    /// The current settings (the bitrate follows [`Self::set_bitrate`]).
    pub fn config(&self) -> &Vp8Config {
        &self.config
    }
}

impl Drop for Vp8Encoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised in `new` (a Vp8Encoder exists
        // only after a successful init) and is destroyed exactly once, here.
        unsafe {
            ffi::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// A VP8 decoder. Survives any input: malformed, truncated or random data
/// gives an error, never a crash.
pub struct Vp8Decoder {
    // Boxed for a stable address, as for the encoder.
    ctx: Box<ffi::vpx_codec_ctx_t>,
    /// After an error (or at the start), delta frames are skipped until a
    /// keyframe arrives: decoding them would show garbage.
    need_keyframe: bool,
}

// SAFETY: as for Vp8Encoder: no thread affinity, every use through
// `&mut self`; not `Sync`.
unsafe impl Send for Vp8Decoder {}

/// What the first bytes of a VP8 frame say (RFC 6386 §9.1).
struct FrameHeader {
    keyframe: bool,
    /// For keyframes: the declared picture size.
    size: Option<(u32, u32)>,
}

fn parse_header(data: &[u8]) -> Option<FrameHeader> {
    let tag = data.get(..3)?;
    let keyframe = tag[0] & 1 == 0;
    if !keyframe {
        return Some(FrameHeader {
            keyframe,
            size: None,
        });
    }
    let k = data.get(3..10)?;
    if k[..3] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u32::from(u16::from_le_bytes([k[3], k[4]]) & 0x3fff);
    let h = u32::from(u16::from_le_bytes([k[5], k[6]]) & 0x3fff);
    Some(FrameHeader {
        keyframe,
        size: Some((w, h)),
    })
}

impl Vp8Decoder {
    /// A decoder (single-threaded, no post-processing).
    pub fn new() -> Result<Self, CodecError> {
        let cfg = ffi::vpx_codec_dec_cfg_t {
            threads: 1,
            w: 0,
            h: 0,
        };
        // SAFETY: all-zero is the "not initialised" state of this plain C
        // struct; vpx_codec_dec_init_ver fills it in.
        let mut ctx: Box<ffi::vpx_codec_ctx_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: vpx_codec_vp8_dx() returns libvpx's static VP8 decoder
        // interface; ctx is boxed and writable; &cfg is valid for the call
        // (libvpx copies it); the ABI version matches these bindings.
        let err = unsafe {
            ffi::vpx_codec_dec_init_ver(
                &mut *ctx,
                ffi::vpx_codec_vp8_dx(),
                &cfg,
                0,
                ffi::VPX_DECODER_ABI_VERSION as c_int,
            )
        };
        if err != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(CodecError::Init(format!("decoder init: {}", err_text(err))));
        }
        Ok(Self {
            ctx,
            need_keyframe: true,
        })
    }

    /// Whether the decoder is waiting for a keyframe (at the start, and after
    /// a frame failed to decode): the caller should ask the sender for one
    /// (PLI). Delta frames meanwhile give `Ok(None)`.
    pub fn needs_keyframe(&self) -> bool {
        self.need_keyframe
    }

    /// One complete VP8 frame (as reassembled from RTP). `Ok(None)` when the
    /// decoder produced no picture (a delta frame while waiting for a
    /// keyframe). Handles resolution changes (a keyframe of a new size).
    /// Malformed input → `Err`, never a crash; after an `Err` the decoder
    /// waits for a keyframe.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        let result = self.decode_inner(data);
        if result.is_err() {
            self.need_keyframe = true;
        }
        result
    }

    fn decode_inner(&mut self, data: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        let Some(header) = parse_header(data) else {
            return Err(CodecError::Decode("not a VP8 frame".into()));
        };
        if let Some((w, h)) = header.size
            && (w == 0 || h == 0 || w * h > MAX_DECODE_PIXELS)
        {
            return Err(CodecError::Decode("keyframe size out of range".into()));
        }
        if !header.keyframe && self.need_keyframe {
            return Ok(None);
        }
        let len = c_uint::try_from(data.len())
            .map_err(|_| CodecError::Decode("frame too large".into()))?;
        // SAFETY: the context is initialised and live; `data` is a valid
        // slice of `len` bytes that libvpx only reads during the call (no
        // input fragments mode, so it keeps no pointer); user_priv is unused.
        let err = unsafe {
            ffi::vpx_codec_decode(
                &mut *self.ctx,
                data.as_ptr(),
                len,
                std::ptr::null_mut(),
                0 as c_long,
            )
        };
        check(err, CodecError::Decode, "decode")?;

        let mut corrupted: c_int = 0;
        // SAFETY: VP8D_GET_FRAME_CORRUPTED takes one `int *`, which points to
        // a live local for the call.
        let err = unsafe {
            ffi::vpx_codec_control_(
                &mut *self.ctx,
                ffi::vp8_dec_control_id::VP8D_GET_FRAME_CORRUPTED as c_int,
                &mut corrupted as *mut c_int,
            )
        };
        check(err, CodecError::Decode, "corruption check")?;
        if corrupted != 0 {
            return Err(CodecError::Decode(
                "frame is corrupt; a keyframe is needed".into(),
            ));
        }

        let mut picture = None;
        let mut iter: ffi::vpx_codec_iter_t = std::ptr::null();
        loop {
            // SAFETY: the context is live; `iter` starts NULL and is only
            // advanced by libvpx.
            let img = unsafe { ffi::vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
            if img.is_null() {
                break;
            }
            // SAFETY: a non-null image from get_frame is valid until the next
            // decode call on this context (we copy it out at once), and its
            // enum fields hold values the bindings list (the VP8 decoder
            // only produces I420 with a known colour space and range).
            let img = unsafe { &*img };
            picture = Some(copy_image(img)?);
        }
        if picture.is_some() && header.keyframe {
            self.need_keyframe = false;
        }
        Ok(picture)
    }
}

/// Copies a decoded libvpx picture into a tightly packed I420Frame.
fn copy_image(img: &ffi::vpx_image_t) -> Result<I420Frame, CodecError> {
    let bad = || CodecError::Decode("decoder returned an unexpected picture".into());
    if img.fmt != ffi::vpx_img_fmt::VPX_IMG_FMT_I420
        || img.x_chroma_shift != 1
        || img.y_chroma_shift != 1
    {
        return Err(bad());
    }
    let (w, h) = (img.d_w, img.d_h);
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > u64::from(MAX_DECODE_PIXELS) {
        return Err(bad());
    }
    let (cw, ch) = I420Frame::chroma_size(w, h);
    let plane = |i: usize, width: usize, rows: usize| -> Result<Vec<u8>, CodecError> {
        let stride = usize::try_from(img.stride[i]).map_err(|_| bad())?;
        let base = img.planes[i];
        if base.is_null() || stride < width {
            return Err(bad());
        }
        let mut out = Vec::with_capacity(width * rows);
        for r in 0..rows {
            // SAFETY: libvpx's picture holds `rows` rows of `stride` bytes in
            // plane `i` (d_w×d_h within the allocated w×h, chroma halved for
            // I420, both checked above), and `width <= stride`, so each row
            // slice lies inside the plane; the picture stays valid until the
            // next decode call, after this copy.
            let row = unsafe { std::slice::from_raw_parts(base.add(r * stride), width) };
            out.extend_from_slice(row);
        }
        Ok(out)
    };
    Ok(I420Frame {
        width: w,
        height: h,
        y: plane(0, w as usize, h as usize)?,
        u: plane(1, cw, ch)?,
        v: plane(2, cw, ch)?,
    })
}

impl Drop for Vp8Decoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised in `new` and is destroyed
        // exactly once, here.
        unsafe {
            ffi::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing_reads_keyframe_size() {
        let mut kf = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
        kf.extend_from_slice(&640u16.to_le_bytes());
        kf.extend_from_slice(&(480u16 | 0x4000).to_le_bytes());
        let h = parse_header(&kf).expect("keyframe header");
        assert!(h.keyframe);
        assert_eq!(h.size, Some((640, 480)));
        let delta = parse_header(&[0x11, 0, 0]).expect("delta header");
        assert!(!delta.keyframe);
        assert!(parse_header(&[0x10, 0, 0, 1, 2, 3, 0, 0, 0, 0]).is_none());
        assert!(parse_header(&[0x10]).is_none());
    }
}
