//! QR codes rendered to PNG (grayscale, quiet zone, 8 px modules).

use crate::VaultError;

const SCALE: usize = 8;
const QUIET: usize = 4;

/// Encodes `data` as a QR code PNG.
pub fn png(data: &[u8]) -> Result<Vec<u8>, VaultError> {
    let code = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M)
        .map_err(|_| VaultError::Qr)?;
    let n = code.width();
    let colors = code.to_colors();
    let side = (n + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for y in 0..n {
        for x in 0..n {
            if colors[y * n + x] == qrcode::Color::Dark {
                for dy in 0..SCALE {
                    let row = (y + QUIET) * SCALE + dy;
                    let start = row * side + (x + QUIET) * SCALE;
                    pixels[start..start + SCALE].fill(0);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|_| VaultError::Qr)?;
        w.write_image_data(&pixels).map_err(|_| VaultError::Qr)?;
    }
    Ok(out)
}
