//! WebP through libwebp (Pillow's decoder too, so lossy pixels agree):
//! "RGBA" when the file has alpha, else "RGB", as `WebPImagePlugin` gives.

use super::header::{Header, check_size};
use crate::pil::{Data, Mode, PilImage};
use libwebp_sys as webp;

fn features(bytes: &[u8]) -> Result<webp::WebPBitstreamFeatures, String> {
    // SAFETY: WebPGetFeatures reads at most `bytes.len()` bytes and writes
    // only into `f`.
    let mut f: webp::WebPBitstreamFeatures = unsafe { std::mem::zeroed() };
    let status = unsafe { webp::WebPGetFeatures(bytes.as_ptr(), bytes.len(), &mut f) };
    match status {
        webp::VP8StatusCode::VP8_STATUS_OK => Ok(f),
        webp::VP8StatusCode::VP8_STATUS_NOT_ENOUGH_DATA => {
            Err("truncated file: the data ends before the image does".into())
        }
        other => Err(format!("malformed webp: {other:?}")),
    }
}

/// Pillow's `open` hands the whole file to libwebp's demuxer
/// (`WebPAnimDecoder`), which refuses a file shorter than its RIFF header
/// says, so `Image.open` fails on a truncated file: so does this.
pub fn probe(bytes: &[u8]) -> Result<Header, String> {
    let declared = bytes.get(4..8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize + 8);
    if declared.is_none_or(|n| bytes.len() < n) {
        return Err("truncated file: the data ends before the image does".into());
    }
    header(bytes)
}

fn header(bytes: &[u8]) -> Result<Header, String> {
    let f = features(bytes)?;
    let mode = if f.has_alpha != 0 { Mode::Rgba } else { Mode::Rgb };
    Ok(Header { width: f.width as u32, height: f.height as u32, mode })
}

pub fn decode(bytes: &[u8]) -> Result<PilImage, String> {
    let f = features(bytes)?;
    let Header { width, height, mode } = header(bytes)?;
    if f.has_animation != 0 {
        return super::webp_anim::first_frame(bytes, mode, width, height);
    }
    let ch = mode.channels();
    check_size(width, height, ch as u64)?;
    let stride = width as usize * ch;
    let mut data = vec![0u8; stride * height as usize];
    // SAFETY: the output buffer holds `height` rows of `stride` bytes, which
    // is what libwebp writes for this size and colour mode.
    let out = unsafe {
        if ch == 4 {
            webp::WebPDecodeRGBAInto(
                bytes.as_ptr(),
                bytes.len(),
                data.as_mut_ptr(),
                data.len(),
                stride as i32,
            )
        } else {
            webp::WebPDecodeRGBInto(bytes.as_ptr(), bytes.len(), data.as_mut_ptr(), data.len(), stride as i32)
        }
    };
    if out.is_null() {
        return Err("malformed webp: the decoder failed (corrupt or truncated data)".into());
    }
    Ok(PilImage { mode, width, height, data: Data::U8(data), palette: None })
}
