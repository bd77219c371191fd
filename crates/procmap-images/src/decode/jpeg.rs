//! JPEG through libjpeg-turbo's decoder (the `mozjpeg` crate builds its
//! fork from source), because Pillow and OpenCV both decode with
//! libjpeg-turbo and other decoders round differently (zune-jpeg is off by
//! 1–4 levels). Defaults are libjpeg's, as in Pillow and OpenCV: accurate
//! integer IDCT, fancy upsampling, block smoothing.
//!
//! Modes follow `JpegImagePlugin`: one component is "L", three "RGB", four
//! "CMYK", read with Pillow's rawmode "CMYK;I" (inverted, the Adobe
//! convention). libjpeg itself converts YCbCr to RGB and YCCK to CMYK.

use super::header::{Header, check_size};
use super::orient;
use crate::pil::{Data, Mode, PilImage};
use mozjpeg::{ColorSpace, Decompress, Marker};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, turning libjpeg's fatal errors (which the crate raises as
/// panics carrying the message) into `Err`.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .map(|s| s.trim_start_matches("libjpeg fatal error: ").to_owned())
                .unwrap_or_else(|| "the decoder gave up".into());
            Err(format!("malformed jpeg: {msg}"))
        }
    }
}

fn mode_of(components: usize) -> Result<Mode, String> {
    match components {
        1 => Ok(Mode::L),
        3 => Ok(Mode::Rgb),
        4 => Ok(Mode::Cmyk),
        n => Err(format!("jpeg: {n} colour components are not supported (Pillow reads 1, 3 or 4)")),
    }
}

/// Size and mode from the header, as `Image.open` gives them.
/// Size and mode from the frame header, found the way `JpegImagePlugin`
/// finds it: walking the markers without parsing the tables in between, so
/// a damaged Huffman table does not stop `Image.open` (only `load`).
pub fn probe(bytes: &[u8]) -> Result<Header, String> {
    let malformed = |what: &str| format!("malformed jpeg: {what}");
    let mut pos = 2;
    loop {
        let marker = bytes.get(pos..pos + 2).ok_or("truncated file: no frame header before the end")?;
        if marker[0] != 0xFF {
            // JpegImagePlugin skips bytes other than 0xFF between
            // segments, as libjpeg-turbo does (with a warning).
            pos += 1;
            continue;
        }
        let kind = marker[1];
        if kind == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        let len = bytes.get(pos + 2..pos + 4).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        let len = len.ok_or("truncated file: no frame header before the end")?;
        // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&kind) && ![0xC4, 0xC8, 0xCC].contains(&kind) {
            let f = bytes.get(pos + 4..pos + 10).ok_or("truncated file: the frame header is cut")?;
            let height = u32::from(u16::from_be_bytes([f[1], f[2]]));
            let width = u32::from(u16::from_be_bytes([f[3], f[4]]));
            return Ok(Header { width, height, mode: mode_of(usize::from(f[5]))? });
        }
        if kind == 0xDA || kind == 0xD9 {
            return Err(malformed("no frame header before the image data"));
        }
        pos += 2 + len;
    }
}

/// Decodes the whole image. With `exif`, the EXIF orientation is applied,
/// as `cv2.imread` does (Pillow's `open` does not), and a truncated file is
/// read as far as it goes, as OpenCV reads it.
pub fn decode(bytes: &[u8], exif: bool) -> Result<PilImage, String> {
    decode_with(bytes, exif, exif)
}

/// A JPEG stream inside a TIFF strip or tile: libtiff lets libjpeg pad a
/// cut stream (a warning, not an error) for Pillow and OpenCV alike, and
/// applies no EXIF orientation.
pub fn decode_in_tiff(bytes: &[u8]) -> Result<PilImage, String> {
    decode_with(bytes, false, true)
}

fn decode_with(bytes: &[u8], exif: bool, cut_ok: bool) -> Result<PilImage, String> {
    // libjpeg pads a truncated file with grey and warns; OpenCV accepts
    // that, Pillow raises "image file is truncated". An end-of-image marker
    // after the last start-of-scan is the sign of a whole file: entropy-coded
    // data cannot contain one.
    if !cut_ok && !ends_after_last_scan(bytes) {
        return Err("truncated file: the data ends before the image does".into());
    }
    guarded(|| {
        let d = Decompress::with_markers(&[Marker::APP(1)])
            .from_mem(bytes)
            .map_err(|e| format!("malformed jpeg: {e}"))?;
        let (w, h) = d.size();
        let mode = mode_of(d.components().len())?;
        check_size(w as u32, h as u32, mode.channels() as u64)?;
        let orientation =
            if exif { d.markers().find_map(|m| orient::from_app1(m.data)).unwrap_or(1) } else { 1 };
        let space = match mode {
            Mode::L => ColorSpace::JCS_GRAYSCALE,
            Mode::Cmyk => ColorSpace::JCS_CMYK,
            _ => ColorSpace::JCS_RGB,
        };
        let mut started = d.to_colorspace(space).map_err(|e| format!("malformed jpeg: {e}"))?;
        let mut data: Vec<u8> = started.read_scanlines().map_err(|e| describe(&e))?;
        // Every row is decoded; what follows the last scan (trailing
        // markers up to EOI) is not checked, as OpenCV does not check it.
        let _ = catch_unwind(AssertUnwindSafe(move || started.finish()));
        if mode == Mode::Cmyk {
            // Pillow's "CMYK;I" (OpenCV's own conversion undoes this).
            data.iter_mut().for_each(|v| *v = 255 - *v);
        }
        let mut img =
            PilImage { mode, width: w as u32, height: h as u32, data: Data::U8(data), palette: None };
        orient::apply(&mut img, orientation);
        Ok(img)
    })
}

fn ends_after_last_scan(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap_or(0);
    bytes[last_sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn describe(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "truncated file: the data ends before the image does".into()
    } else {
        format!("malformed jpeg: {e}")
    }
}
