//! Two ways Pillow 13 reads TIFF samples differently from what the file
//! says, both measured against `Image.open` and reproduced here because
//! `resize` must match what Pillow loads.
//!
//! - **Uncompressed planar 16-bit colour.** Pillow's own (non-libtiff)
//!   reader gives each plane the raw mode `rawmode[layer]`, one letter of
//!   "RGB;16L" ("R", "G", "B"): 8-bit samples. Each strip or tile is then
//!   read as bytes, `width` of them a row (`2 × tile width` for a tile that
//!   overhangs the right edge, whose stride Pillow computes from the bit
//!   depth), so the image is made of the first bytes of every row.
//! - **Big-endian signed or float samples through libtiff.** For a
//!   compressed file libtiff hands Pillow native-order samples, and Pillow
//!   swaps "I;16B"-style raw modes to native, but not "I;16BS", "I;32BS" or
//!   "F;32BF": those values come out byte-swapped.

use crate::pil::Mode;
use std::io::Cursor;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

type Reader<'a> = Decoder<Cursor<&'a [u8]>>;

/// The colour samples Pillow reads from an uncompressed planar 16-bit file
/// of `channels` planes, interleaved; an error where its raw decoder runs
/// out of data.
pub fn planar16(
    dec: &mut Reader<'_>,
    bytes: &[u8],
    w: usize,
    h: usize,
    channels: usize,
) -> Result<Vec<u8>, String> {
    let vec = |dec: &mut Reader<'_>, t| dec.find_tag_unsigned_vec::<u64>(t).ok().flatten();
    let tile_w: Option<u64> = dec.find_tag_unsigned(Tag::TileWidth).ok().flatten();
    let (offsets, cw, ch) = match tile_w {
        Some(tw) => {
            let th: u64 = dec.find_tag_unsigned(Tag::TileLength).ok().flatten().unwrap_or(0);
            (vec(dec, Tag::TileOffsets), tw as usize, th as usize)
        }
        None => {
            let rows: u64 = dec.find_tag_unsigned(Tag::RowsPerStrip).ok().flatten().unwrap_or(h as u64);
            (vec(dec, Tag::StripOffsets), w, (rows as usize).min(h))
        }
    };
    let offsets = offsets.ok_or("tiff: no strip or tile offsets")?;
    if cw == 0 || ch == 0 {
        return Err("malformed tiff: a tile of size 0".into());
    }
    let (across, down) = (w.div_ceil(cw), h.div_ceil(ch));
    let per_plane = across * down;
    if offsets.len() < per_plane * channels {
        return Err("malformed tiff: fewer strips or tiles than the image needs".into());
    }
    let truncated = || "truncated file: the data ends before the image does".to_string();
    let mut out = vec![0u8; w * h * channels];
    for (i, &offset) in offsets.iter().enumerate().take(per_plane * channels) {
        let (plane, t) = (i / per_plane, i % per_plane);
        let (x0, y0) = ((t % across) * cw, (t / across) * ch);
        let stride = if x0 + cw > w { 2 * cw } else { cw };
        let width = cw.min(w - x0);
        let offset = usize::try_from(offset).map_err(|_| truncated())?;
        for r in 0..ch.min(h - y0) {
            let at = offset.checked_add(r * stride).ok_or_else(truncated)?;
            let row = bytes.get(at..at + width).ok_or_else(truncated)?;
            for (x, &v) in row.iter().enumerate() {
                out[((y0 + r) * w + x0 + x) * channels + plane] = v;
            }
        }
    }
    Ok(out)
}

/// Whether Pillow reads this layout through [`planar16`].
pub fn is_planar16(mode: Mode, bits: u16, planar: u16, compression: u16, file_samples: usize) -> bool {
    matches!(mode, Mode::Rgb | Mode::Rgba | Mode::Cmyk)
        && bits == 16
        && planar == 2
        && compression == 1
        && file_samples == mode.channels()
}

/// Swaps the bytes of each sample where Pillow's libtiff path leaves a
/// big-endian raw mode un-swapped (signed 16/32-bit, float).
pub fn swap_big_endian(r: DecodingResult) -> DecodingResult {
    match r {
        DecodingResult::U16(v) => DecodingResult::U16(v.into_iter().map(u16::swap_bytes).collect()),
        DecodingResult::I32(v) => DecodingResult::I32(v.into_iter().map(i32::swap_bytes).collect()),
        DecodingResult::F32(v) => {
            DecodingResult::F32(v.into_iter().map(|f| f32::from_bits(f.to_bits().swap_bytes())).collect())
        }
        other => other,
    }
}

/// Whether [`swap_big_endian`] applies: a big-endian, compressed file
/// whose raw mode is "I;16BS", "I;32BS" or "F;32BF".
pub fn swaps(big_endian: bool, compression: u16, format: u16, bits: u16) -> bool {
    big_endian && compression != 1 && matches!((format, bits), (2, 16 | 32) | (3, 32))
}
