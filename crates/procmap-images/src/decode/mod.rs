//! One decoder per format, each giving what Pillow's `Image.open` gives:
//! the size and mode from the header ([`probe`]) and the pixels in that
//! mode ([`decode`]). (`tiff_read.rs` reads the multiband TIFFs of
//! `eurosat-rgb` and `ms-rgb`.)

mod bmp;
mod fax;
mod gif;
mod jpeg;
mod orient;
pub mod png;
mod tiff;
mod tiff_lenient;
mod webp;

use crate::limits::{MAX_DECODED_BYTES, mib};
use crate::pil::{Mode, PilImage};
use crate::sniff::Format;

/// What `Image.open(p)` knows before loading: size and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub width: u32,
    pub height: u32,
    pub mode: Mode,
}

/// Refuses a declared size whose decoded samples would exceed the limit,
/// before anything is allocated (decompression bombs).
pub fn check_size(width: u32, height: u32, bytes_per_pixel: u64) -> Result<(), String> {
    let total = u64::from(width) * u64::from(height) * bytes_per_pixel;
    if total > MAX_DECODED_BYTES as u64 {
        return Err(format!(
            "declared size {width}×{height} ({} MiB decoded) exceeds the {} MiB limit",
            mib(total),
            mib(MAX_DECODED_BYTES as u64)
        ));
    }
    Ok(())
}

/// Header of a JPEG, GIF, WebP, BMP or TIFF file; `None` for other formats.
pub fn probe(format: Format, bytes: &[u8]) -> Option<Result<Header, String>> {
    match format {
        Format::Jpeg => Some(jpeg::probe(bytes)),
        Format::Gif => Some(gif::probe(bytes)),
        Format::Webp => Some(webp::probe(bytes)),
        Format::Bmp => Some(bmp::probe(bytes)),
        Format::Tiff => Some(tiff::probe(bytes)),
        _ => None,
    }
}

/// Pixels of a PNG, JPEG, GIF, WebP, BMP or TIFF file; `None` for other formats. `exif`
/// asks for what `cv2.imread` shows rather than Pillow: a JPEG's EXIF
/// orientation applied, a GIF's transparent colour replaced by the
/// background colour, a BMP's 5-bit channels widened by a shift, a
/// TIFF's CMYK, alpha and palette converted as libtiff's RGBA reader does.
pub fn decode(format: Format, bytes: &[u8], exif: bool) -> Option<Result<PilImage, String>> {
    match format {
        Format::Png => Some(png::decode(bytes)),
        Format::Jpeg => Some(jpeg::decode(bytes, exif)),
        Format::Gif => Some(gif::decode(bytes, exif)),
        Format::Webp => Some(webp::decode(bytes)),
        Format::Bmp => Some(bmp::decode(bytes, exif)),
        Format::Tiff => Some(tiff::decode(bytes, exif)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
