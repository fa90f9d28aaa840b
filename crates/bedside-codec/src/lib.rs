//! Bedside's codecs: VP8 through libvpx, Opus through libopus, and synthetic
//! sources (a stamped moving test pattern and a tone) for tests and
//! diagnostics.
//!
//! **Boundary:** one of three crates in the workspace with `unsafe` code
//! (with `bedside-sqlcipher` and `bedside-dshow`, the Windows camera), and
//! only its [`vp8`] module holds any. Every block there carries a
//! `// SAFETY:` comment; the safe API checks every length libvpx will read
//! before handing it a pointer, so no input — a malformed bitstream from the
//! network or a mis-sized frame from a caller — reaches libvpx out of bounds.
//! Opus goes through `audiopus`, which is a safe API over libopus.
//!
//! With the `h264` feature (off by default), the [`h264`] module adds H.264
//! through Cisco's OpenH264 (built from its BSD source by the `openh264`
//! crate, whose API is safe): no `unsafe` outside [`vp8`] either way.
//!
//! The crate knows nothing of WebRTC, RTP, sockets or clocks: a frame goes
//! in, bytes come out, and back.

#[cfg(feature = "h264")]
pub mod h264;
mod opus;
pub mod synthetic;
mod vp8;

#[cfg(feature = "h264")]
pub use h264::{H264Config, H264Decoder, H264Encoder};
pub use opus::{OPUS_FRAME_SAMPLES, OPUS_SAMPLE_RATE, OpusDecoder, OpusEncoder};
pub use vp8::{EncodedFrame, MAX_DECODE_PIXELS, Vp8Config, Vp8Decoder, Vp8Encoder};

/// One uncompressed picture, tightly packed I420 (BT.601 limited range, as
/// VP8 carries it): the Y stride is `width`; the U and V strides are
/// `(width + 1) / 2` and the chroma height is `(height + 1) / 2`.
#[derive(Clone, PartialEq, Eq)]
pub struct I420Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Luma plane, `width * height` bytes.
    pub y: Vec<u8>,
    /// Cb plane, `chroma_width * chroma_height` bytes.
    pub u: Vec<u8>,
    /// Cr plane, `chroma_width * chroma_height` bytes.
    pub v: Vec<u8>,
}

impl std::fmt::Debug for I420Frame {
    // A picture may show a patient: never print its pixels.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I420Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl I420Frame {
    /// A black picture (Y = 16, U = V = 128).
    pub fn new_black(width: u32, height: u32) -> Self {
        let (cw, ch) = Self::chroma_size(width, height);
        Self {
            width,
            height,
            y: vec![16; width as usize * height as usize],
            u: vec![128; cw * ch],
            v: vec![128; cw * ch],
        }
    }

    /// Width and height of each chroma plane.
    pub fn chroma_size(width: u32, height: u32) -> (usize, usize) {
        (width.div_ceil(2) as usize, height.div_ceil(2) as usize)
    }

    /// Whether the planes hold exactly the bytes the dimensions call for.
    pub fn is_well_formed(&self) -> bool {
        let (cw, ch) = Self::chroma_size(self.width, self.height);
        self.width > 0
            && self.height > 0
            && self.y.len() == self.width as usize * self.height as usize
            && self.u.len() == cw * ch
            && self.v.len() == cw * ch
    }
}

/// What went wrong in a codec. The text is safe to log: it names the
/// operation and the library's static error text, never media content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The codec could not be set up (unsupported configuration, no memory).
    #[error("codec initialisation failed: {0}")]
    Init(String),
    /// The encoder refused a frame or a setting.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// The bitstream could not be decoded (malformed, truncated or corrupt);
    /// the caller should request a keyframe.
    #[error("decoding failed: {0}")]
    Decode(String),
    /// The caller passed something the codec cannot take (wrong sizes,
    /// channel count, empty packet).
    #[error("bad input: {0}")]
    BadInput(String),
}
