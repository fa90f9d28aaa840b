//! Camera pixel formats to I420 (what the VP8/H.264 encoders and the visit's
//! frame sinks take): packed YUYV 4:2:2, semi-planar NV12 4:2:0, planar I420
//! (copied), and MJPEG (decoded by zune-jpeg to RGB, then BT.601 limited
//! range like the encoders expect).
//!
//! Every function checks the buffer length against the stated size before
//! reading and returns [`ConvertError`] rather than panicking: a camera (or
//! a driver) can hand over a short or garbled buffer.

/// An I420 picture: the same layout as `bedside_codec::I420Frame` (which
/// `bedside-media` moves these planes into), kept here so this crate does not
/// depend on the codec crate and its C libraries — it cross-checks for
/// Windows and macOS on its own.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Luma, `width × height` bytes.
    pub y: Vec<u8>,
    /// Cb, `width/2 × height/2` bytes.
    pub u: Vec<u8>,
    /// Cr, `width/2 × height/2` bytes.
    pub v: Vec<u8>,
}

impl std::fmt::Debug for Picture {
    // A picture may show a patient or the clinician's room: never print its pixels.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Picture")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl Picture {
    /// A black picture (Y 16, U = V = 128) of an even size.
    pub fn new_black(width: u32, height: u32) -> Self {
        let (w, h) = (width as usize, height as usize);
        let c = w.div_ceil(2) * h.div_ceil(2);
        Self {
            width,
            height,
            y: vec![16; w * h],
            u: vec![128; c],
            v: vec![128; c],
        }
    }
}

/// A camera buffer that does not hold the picture it claims to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// Width or height is zero or odd (4:2:0 needs even sizes), or too large.
    #[error("the camera picture size {width}×{height} is not supported")]
    BadSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The buffer is shorter than the format needs for that size.
    #[error("the camera sent a short picture ({got} bytes, {need} expected)")]
    Short {
        /// Bytes received.
        got: usize,
        /// Bytes needed.
        need: usize,
    },
    /// An MJPEG frame did not decode.
    #[error("the camera sent a picture that could not be decoded")]
    Jpeg,
}

/// The largest picture accepted from a camera (4096×2304, 4K UHD-ish).
pub const MAX_PIXELS: u64 = 4096 * 2304;

fn check_size(width: u32, height: u32) -> Result<(usize, usize), ConvertError> {
    let bad = ConvertError::BadSize { width, height };
    if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(bad);
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(bad);
    }
    Ok((width as usize, height as usize))
}

fn need(got: usize, need: usize) -> Result<(), ConvertError> {
    if got < need {
        Err(ConvertError::Short { got, need })
    } else {
        Ok(())
    }
}

/// YUYV (YUY2) 4:2:2 packed — `Y0 U Y1 V` per two pixels — to I420: luma
/// copied, chroma averaged over each pair of rows. `stride` is the bytes per
/// row (≥ `2 × width`; drivers may pad).
pub fn yuyv_to_i420(
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<Picture, ConvertError> {
    let (w, h) = check_size(width, height)?;
    let stride = stride.max(w * 2);
    need(data.len(), stride * (h - 1) + w * 2)?;
    let mut out = Picture::new_black(width, height);
    let cw = w / 2;
    for row in 0..h {
        let line = &data[row * stride..row * stride + w * 2];
        let y_out = &mut out.y[row * w..row * w + w];
        for (x, px) in y_out.iter_mut().enumerate() {
            *px = line[x * 2];
        }
    }
    for crow in 0..h / 2 {
        let a = &data[crow * 2 * stride..crow * 2 * stride + w * 2];
        let b = &data[(crow * 2 + 1) * stride..(crow * 2 + 1) * stride + w * 2];
        for cx in 0..cw {
            let i = cx * 4;
            out.u[crow * cw + cx] = avg2(a[i + 1], b[i + 1]);
            out.v[crow * cw + cx] = avg2(a[i + 3], b[i + 3]);
        }
    }
    Ok(out)
}

/// NV12 — a luma plane then one plane of interleaved `U V` at quarter
/// resolution — to I420. `stride` is the bytes per row of both planes.
pub fn nv12_to_i420(
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<Picture, ConvertError> {
    let (w, h) = check_size(width, height)?;
    let stride = stride.max(w);
    let uv_start = stride * h;
    need(data.len(), uv_start + stride * (h / 2 - 1) + w)?;
    let mut out = Picture::new_black(width, height);
    for row in 0..h {
        out.y[row * w..row * w + w].copy_from_slice(&data[row * stride..row * stride + w]);
    }
    let cw = w / 2;
    for crow in 0..h / 2 {
        let line = &data[uv_start + crow * stride..uv_start + crow * stride + w];
        for cx in 0..cw {
            out.u[crow * cw + cx] = line[cx * 2];
            out.v[crow * cw + cx] = line[cx * 2 + 1];
        }
    }
    Ok(out)
}

/// Planar I420 (V4L2's `YU12`), checked and copied. `stride` is the bytes
/// per luma row; each chroma row is `stride / 2` bytes, as V4L2 lays out
/// planar formats (a driver may pad rows).
pub fn i420_copy(
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
) -> Result<Picture, ConvertError> {
    let (w, h) = check_size(width, height)?;
    let stride = stride.max(w);
    let (cw, ch, cstride) = (w / 2, h / 2, stride / 2);
    let u_start = stride * h;
    let v_start = u_start + cstride * ch;
    need(data.len(), v_start + cstride * (ch - 1) + cw)?;
    let mut out = Picture::new_black(width, height);
    for row in 0..h {
        out.y[row * w..row * w + w].copy_from_slice(&data[row * stride..row * stride + w]);
    }
    for (plane, start) in [(&mut out.u, u_start), (&mut out.v, v_start)] {
        for row in 0..ch {
            let from = start + row * cstride;
            plane[row * cw..row * cw + cw].copy_from_slice(&data[from..from + cw]);
        }
    }
    Ok(out)
}

/// Packed RGB (3 bytes a pixel) to I420 with BT.601 limited-range
/// coefficients; chroma from the mean of each 2×2 block.
pub fn rgb_to_i420(rgb: &[u8], width: u32, height: u32) -> Result<Picture, ConvertError> {
    let (w, h) = check_size(width, height)?;
    need(rgb.len(), w * h * 3)?;
    let mut out = Picture::new_black(width, height);
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        (
            i32::from(rgb[i]),
            i32::from(rgb[i + 1]),
            i32::from(rgb[i + 2]),
        )
    };
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = px(x, y);
            out.y[y * w + x] = clamp8(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
        }
    }
    let cw = w / 2;
    for cy in 0..h / 2 {
        for cx in 0..cw {
            let (mut r, mut g, mut b) = (0, 0, 0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (pr, pg, pb) = px(cx * 2 + dx, cy * 2 + dy);
                r += pr;
                g += pg;
                b += pb;
            }
            let (r, g, b) = ((r + 2) / 4, (g + 2) / 4, (b + 2) / 4);
            out.u[cy * cw + cx] = clamp8(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
            out.v[cy * cw + cx] = clamp8(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
        }
    }
    Ok(out)
}

/// Packed BGR (3 bytes a pixel, blue first: V4L2's `BGR3`, DirectShow's
/// `RGB24`) to I420. `stride` is the bytes per row (DirectShow pads rows to
/// 4 bytes); `bottom_up` says the last row comes first, as in a Windows
/// bitmap with a positive height.
pub fn bgr24_to_i420(
    data: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    bottom_up: bool,
) -> Result<Picture, ConvertError> {
    let (w, h) = check_size(width, height)?;
    let stride = stride.max(w * 3);
    need(data.len(), stride * (h - 1) + w * 3)?;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for row in 0..h {
        let from = if bottom_up { h - 1 - row } else { row } * stride;
        for px in data[from..from + w * 3].chunks_exact(3) {
            rgb.extend_from_slice(&[px[2], px[1], px[0]]);
        }
    }
    rgb_to_i420(&rgb, width, height)
}

/// One MJPEG frame (a baseline JPEG) to I420. Cameras often leave the
/// Huffman tables out (UVC's MJPEG, like AVI's, assumes the standard ones):
/// such a frame gets [`STANDARD_HUFFMAN_TABLES`] before its scan. The
/// decoded size must be even and within [`MAX_PIXELS`]; the size is checked
/// from the header before the picture is decoded.
pub fn mjpeg_to_i420(jpeg: &[u8]) -> Result<Picture, ConvertError> {
    use zune_jpeg::JpegDecoder;
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;

    let completed = with_standard_huffman_tables(jpeg);
    let jpeg = completed.as_deref().unwrap_or(jpeg);
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    decoder.decode_headers().map_err(|_| ConvertError::Jpeg)?;
    let info = decoder.info().ok_or(ConvertError::Jpeg)?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_size(width, height)?;
    let rgb = decoder.decode().map_err(|_| ConvertError::Jpeg)?;
    rgb_to_i420(&rgb, width, height)
}

/// `jpeg` with [`STANDARD_HUFFMAN_TABLES`] put before its scan, when no DHT
/// segment comes before it; `None` when it has its own tables or its
/// segments cannot be walked (the decoder then says what is wrong).
fn with_standard_huffman_tables(jpeg: &[u8]) -> Option<Vec<u8>> {
    const DHT: u8 = 0xC4;
    const SOS: u8 = 0xDA;
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    loop {
        let marker = *jpeg.get(at..at + 2)?.get(1)?;
        if jpeg[at] != 0xFF {
            return None;
        }
        match marker {
            DHT => return None,
            SOS => {
                let mut out = Vec::with_capacity(jpeg.len() + STANDARD_HUFFMAN_TABLES.len());
                out.extend_from_slice(&jpeg[..at]);
                out.extend_from_slice(&STANDARD_HUFFMAN_TABLES);
                out.extend_from_slice(&jpeg[at..]);
                return Some(out);
            }
            _ => {
                let len = jpeg.get(at + 2..at + 4)?;
                at += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
            }
        }
    }
}

/// One DHT segment with the four tables of ITU T.81 Annex K.3 (what an
/// MJPEG frame without tables is coded with).
const STANDARD_HUFFMAN_TABLES: [u8; 420] = [
    0xFF, 0xC4, 0x01, 0xA2,
    // DC luminance: class and id, 16 code-length counts, then the values.
    0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
    // AC luminance: class and id, 16 code-length counts, then the values.
    0x10, 0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00, 0x00, 0x01,
    0x7D, 0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
    0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1,
    0xF0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
    0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6,
    0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4,
    0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1,
    0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7,
    0xF8, 0xF9, 0xFA,
    // DC chrominance: class and id, 16 code-length counts, then the values.
    0x01, 0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
    // AC chrominance: class and id, 16 code-length counts, then the values.
    0x11, 0x00, 0x02, 0x01, 0x02, 0x04, 0x04, 0x03, 0x04, 0x07, 0x05, 0x04, 0x04, 0x00, 0x01, 0x02,
    0x77, 0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61,
    0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52,
    0xF0, 0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A,
    0x26, 0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47,
    0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67,
    0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86,
    0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4,
    0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2,
    0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9,
    0xDA, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7,
    0xF8, 0xF9, 0xFA,
];

fn avg2(a: u8, b: u8) -> u8 {
    (u16::from(a) + u16::from(b)).div_ceil(2) as u8
}

fn clamp8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_known_pixels() {
        // 4×2: row 0 = (Y 10, 20 | U 100 V 200), (Y 30, 40 | U 50 V 60);
        // row 1 = (Y 11, 21 | U 102 V 198), (Y 31, 41 | U 51 V 61).
        let data = [
            10, 100, 20, 200, 30, 50, 40, 60, //
            11, 102, 21, 198, 31, 51, 41, 61,
        ];
        let f = yuyv_to_i420(&data, 4, 2, 8).expect("converts");
        assert_eq!(f.y, vec![10, 20, 30, 40, 11, 21, 31, 41]);
        assert_eq!(f.u, vec![101, 51], "chroma averaged over the two rows");
        assert_eq!(f.v, vec![199, 61]);
    }

    #[test]
    fn yuyv_respects_row_padding() {
        // 2×2 with 2 bytes of padding per row (stride 6).
        let data = [1, 128, 2, 128, 0xEE, 0xEE, 3, 130, 4, 126, 0xEE, 0xEE];
        let f = yuyv_to_i420(&data, 2, 2, 6).expect("converts");
        assert_eq!(f.y, vec![1, 2, 3, 4]);
        assert_eq!((f.u[0], f.v[0]), (129, 127));
    }

    #[test]
    fn nv12_known_pixels() {
        // 4×2: Y plane then one UV row of 4 bytes (two chroma samples).
        let data = [1, 2, 3, 4, 5, 6, 7, 8, 90, 91, 92, 93];
        let f = nv12_to_i420(&data, 4, 2, 4).expect("converts");
        assert_eq!(f.y, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(f.u, vec![90, 92]);
        assert_eq!(f.v, vec![91, 93]);
    }

    #[test]
    fn i420_tight_and_padded() {
        // 4×2: Y plane, then U (2×1), then V (2×1).
        let tight = [1, 2, 3, 4, 5, 6, 7, 8, 90, 91, 70, 71];
        let f = i420_copy(&tight, 4, 2, 4).expect("converts");
        assert_eq!(f.y, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!((f.u.clone(), f.v.clone()), (vec![90, 91], vec![70, 71]));
        // The same picture with luma rows padded to 8 bytes (chroma rows to 4),
        // as vivid delivers it when asked for YU12 with YUYV's bytes per line.
        let x = 0xEE;
        let padded = [
            1, 2, 3, 4, x, x, x, x, 5, 6, 7, 8, x, x, x, x, //
            90, 91, x, x, //
            70, 71, x, x,
        ];
        assert_eq!(i420_copy(&padded, 4, 2, 8).expect("converts"), f);
        assert!(matches!(
            i420_copy(&padded[..21], 4, 2, 8),
            Err(ConvertError::Short { .. })
        ));
    }

    #[test]
    fn rgb_primaries_map_to_bt601_limited_range() {
        let cases: [([u8; 3], (u8, u8, u8)); 4] = [
            ([0, 0, 0], (16, 128, 128)),
            ([255, 255, 255], (235, 128, 128)),
            ([255, 0, 0], (82, 90, 240)),
            ([0, 0, 255], (41, 240, 110)),
        ];
        for (rgb, (y, u, v)) in cases {
            let pic: Vec<u8> = rgb.iter().copied().cycle().take(2 * 2 * 3).collect();
            let f = rgb_to_i420(&pic, 2, 2).expect("converts");
            assert_eq!((f.y[0], f.u[0], f.v[0]), (y, u, v), "{rgb:?}");
        }
    }

    #[test]
    fn mjpeg_decodes_to_the_colours_it_was_made_of() {
        // Left half red, right half blue, 16×8, encoded by a real JPEG encoder.
        let (w, h) = (16u16, 8u16);
        let mut rgb = Vec::new();
        for _ in 0..h {
            for x in 0..w {
                rgb.extend_from_slice(if x < 8 { &[255, 0, 0] } else { &[0, 0, 255] });
            }
        }
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 100)
            .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .expect("encodes");
        let f = mjpeg_to_i420(&jpeg).expect("decodes");
        assert_eq!((f.width, f.height), (16, 8));
        let near = |a: u8, b: u8| a.abs_diff(b) <= 6;
        // Away from the edge (JPEG blocks blur the boundary a little).
        assert!(near(f.y[2 * 16 + 1], 82), "red luma {}", f.y[2 * 16 + 1]);
        assert!(near(f.v[8], 240), "red Cr {}", f.v[8]);
        assert!(near(f.y[2 * 16 + 14], 41), "blue luma {}", f.y[2 * 16 + 14]);
        assert!(near(f.u[8 + 7], 240), "blue Cb {}", f.u[8 + 7]);
    }

    /// The segments of `jpeg` up to its scan, as (marker, whole segment).
    fn segments(jpeg: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        let mut at = 2;
        while jpeg[at + 1] != 0xDA {
            let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
            out.push((jpeg[at + 1], &jpeg[at..at + 2 + len]));
            at += 2 + len;
        }
        out
    }

    #[test]
    fn mjpeg_without_huffman_tables_decodes_with_the_standard_ones() {
        // Bars of eight colours, 64×16, coded with the standard tables (as a
        // camera does), then sent without them (as many cameras do).
        let colours = [
            [191, 191, 191],
            [191, 191, 0],
            [0, 191, 191],
            [0, 191, 0],
            [191, 0, 191],
            [191, 0, 0],
            [0, 0, 191],
            [0, 0, 0],
        ];
        let (w, h) = (64u16, 16u16);
        let rgb: Vec<u8> = (0..h)
            .flat_map(|_| (0..w).flat_map(|x| colours[usize::from(x) / 8]))
            .collect();
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 90)
            .encode(&rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .expect("encodes");
        // Our table is the encoder's four, in one segment.
        let tables: Vec<u8> = segments(&jpeg)
            .iter()
            .filter(|(m, _)| *m == 0xC4)
            .flat_map(|(_, seg)| seg[4..].to_vec())
            .collect();
        assert_eq!(tables, STANDARD_HUFFMAN_TABLES[4..]);
        let len = u16::from_be_bytes([STANDARD_HUFFMAN_TABLES[2], STANDARD_HUFFMAN_TABLES[3]]);
        assert_eq!(usize::from(len) + 2, STANDARD_HUFFMAN_TABLES.len());

        let bare: Vec<u8> = {
            let kept: Vec<u8> = segments(&jpeg)
                .iter()
                .filter(|(m, _)| *m != 0xC4)
                .flat_map(|(_, seg)| seg.to_vec())
                .collect();
            let scan = jpeg.len()
                - jpeg
                    .windows(2)
                    .rev()
                    .position(|m| m == [0xFF, 0xDA])
                    .expect("SOS")
                - 2;
            [&jpeg[..2], &kept[..], &jpeg[scan..]].concat()
        };
        assert!(!segments(&bare).iter().any(|(m, _)| *m == 0xC4));
        let with = mjpeg_to_i420(&jpeg).expect("the whole JPEG decodes");
        let without = mjpeg_to_i420(&bare).expect("the JPEG without tables decodes");
        assert_eq!(with, without);
        // And the tables are only added when missing.
        assert_eq!(with_standard_huffman_tables(&jpeg), None);
        assert_eq!(with_standard_huffman_tables(b"not a jpeg"), None);
        assert_eq!(
            with_standard_huffman_tables(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]),
            None
        );
    }

    #[test]
    fn short_odd_and_garbled_buffers_are_errors() {
        assert!(matches!(
            yuyv_to_i420(&[0; 7], 2, 2, 4),
            Err(ConvertError::Short { .. })
        ));
        assert!(matches!(
            nv12_to_i420(&[0; 5], 2, 2, 2),
            Err(ConvertError::Short { .. })
        ));
        assert!(matches!(
            yuyv_to_i420(&[0; 64], 3, 2, 6),
            Err(ConvertError::BadSize { .. })
        ));
        assert!(matches!(
            i420_copy(&[0; 64], 0, 2, 0),
            Err(ConvertError::BadSize { .. })
        ));
        assert!(matches!(
            rgb_to_i420(&[], 8192, 8192),
            Err(ConvertError::BadSize { .. })
        ));
        assert_eq!(mjpeg_to_i420(&[0xFF, 0xD8, 0xFF]), Err(ConvertError::Jpeg));
        assert_eq!(mjpeg_to_i420(b"not a jpeg"), Err(ConvertError::Jpeg));
        let mut seed = 7u32;
        for len in 0..300 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (seed >> 24) as u8
                })
                .collect();
            let _ = mjpeg_to_i420(&junk);
        }
    }

    #[test]
    fn bgr24_top_down_and_bottom_up_padded() {
        // 2×2: top row red, blue; bottom row green, white. Rows padded to 8 bytes.
        let (red, blue, green, white) = ([0, 0, 255], [255, 0, 0], [0, 255, 0], [255; 3]);
        let row = |a: [u8; 3], b: [u8; 3]| [a.as_slice(), &b, &[0xEE, 0xEE]].concat();
        let top_down = [row(red, blue), row(green, white)].concat();
        let bottom_up = [row(green, white), row(red, blue)].concat();
        let rgb = [255, 0, 0, 0, 0, 255, 0, 255, 0, 255, 255, 255];
        let want = rgb_to_i420(&rgb, 2, 2).expect("rgb");
        assert_eq!(bgr24_to_i420(&top_down, 2, 2, 8, false), Ok(want.clone()));
        assert_eq!(bgr24_to_i420(&bottom_up, 2, 2, 8, true), Ok(want.clone()));
        // Red (Y 82) is brighter than blue (Y 41): swapped channels fail here.
        assert_eq!((want.y[0], want.y[1]), (82, 41));
        // The last row needs no padding; one byte short of it is refused.
        assert!(bgr24_to_i420(&top_down[..14], 2, 2, 8, false).is_ok());
        assert_eq!(
            bgr24_to_i420(&top_down[..13], 2, 2, 8, false),
            Err(ConvertError::Short { got: 13, need: 14 })
        );
        assert!(bgr24_to_i420(&top_down, 3, 2, 9, false).is_err());
    }
}
