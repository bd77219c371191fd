//! One decoder per format, each giving what Pillow's `Image.open` gives:
//! the size and mode from the header ([`probe`]) and the pixels in that
//! mode ([`decode`]); [`open`] is `Image.open(path)` for any of them.
//! (`tiff_read.rs` reads the multiband TIFFs of `eurosat-rgb` and `ms-rgb`.)

mod bmp;
mod bmp_masks;
mod fax;
mod gif;
mod header;
mod jpeg;
mod orient;
pub mod png;
mod tiff;
mod tiff_cielab;
mod tiff_fax;
mod tiff_header;
mod tiff_jpeg;
mod tiff_lenient;
mod tiff_lzma;
mod tiff_modes;
mod tiff_orient;
mod tiff_pillow_quirks;
mod webp;
mod webp_anim;

use crate::pil::PilImage;
use crate::sniff::{self, Format};
use crate::tiff_read;
use header::Header;
use procmap::JobError;
use std::path::Path;

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

/// `Image.open(path)`, decoded. `exif_orientation` applies a JPEG's EXIF
/// orientation, as `cv2.imread` does and Pillow does not.
pub fn open(path: &Path, exif_orientation: bool) -> Result<PilImage, JobError> {
    let bytes = tiff_read::read_file(path)?;
    let shown = path.display();
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match sniff::detect(&bytes) {
        Some(f) => decode(f, &bytes, exif_orientation)
            .unwrap_or_else(|| Err(format!("{} is not supported", f.name()))),
        None => Err("not an image (unrecognised content)".to_owned()),
    }));
    match decoded {
        Ok(Ok(img)) => Ok(img),
        Ok(Err(msg)) => Err(JobError::new(format!("{shown}: {msg}"))),
        Err(_) => Err(JobError::new(format!("{shown}: malformed image (the decoder gave up)"))),
    }
}

#[cfg(test)]
mod tests;
