//! JPEG-in-TIFF ("new style", compression 7), strip by strip or tile by
//! tile through libjpeg-turbo, as libtiff decodes it for Pillow and OpenCV:
//! each strip or tile is a JPEG stream completed by the JPEGTables tag's
//! tables. libjpeg converts YCbCr to RGB (libtiff asks for RGB), leaves RGB
//! and grey alone, and hands CMYK over as stored: not inverted, unlike a
//! CMYK JPEG file, which Pillow reads as Adobe's inverted CMYK.

use super::jpeg;
use crate::pil::{Data, Mode};
use std::io::Cursor;
use tiff::decoder::Decoder;
use tiff::tags::Tag;

type Reader<'a> = Decoder<Cursor<&'a [u8]>>;

fn truncated() -> String {
    "truncated file: the data ends before the image does".into()
}

/// The image's samples, `channels` (1, 3 or 4) a pixel, interleaved.
pub fn read(
    dec: &mut Reader<'_>,
    bytes: &[u8],
    width: u32,
    height: u32,
    channels: usize,
) -> Result<Vec<u8>, String> {
    let d = |e: tiff::TiffError| crate::tiff_read::describe(&e);
    let tables = dec.find_tag(Tag::JPEGTables).map_err(d)?.map(|v| v.into_u8_vec()).transpose().map_err(d)?;
    let (w, h) = (width as usize, height as usize);
    let tiled = dec.find_tag(Tag::TileWidth).map_err(d)?.is_some();
    let (offsets, counts, cw, ch) = if tiled {
        let tw: u64 = dec.find_tag_unsigned(Tag::TileWidth).map_err(d)?.unwrap_or(0);
        let th: u64 = dec.find_tag_unsigned(Tag::TileLength).map_err(d)?.unwrap_or(0);
        let o = dec.find_tag_unsigned_vec::<u64>(Tag::TileOffsets).map_err(d)?;
        let c = dec.find_tag_unsigned_vec::<u64>(Tag::TileByteCounts).map_err(d)?;
        (o, c, tw as usize, th as usize)
    } else {
        let rows: u64 = dec.find_tag_unsigned(Tag::RowsPerStrip).map_err(d)?.unwrap_or(u64::from(height));
        let o = dec.find_tag_unsigned_vec::<u64>(Tag::StripOffsets).map_err(d)?;
        let c = dec.find_tag_unsigned_vec::<u64>(Tag::StripByteCounts).map_err(d)?;
        (o, c, w, (rows as usize).clamp(1, h.max(1)))
    };
    let (Some(offsets), Some(counts)) = (offsets, counts) else {
        return Err("malformed tiff: no strip or tile offsets".into());
    };
    if cw == 0 || ch == 0 {
        return Err("malformed tiff: a tile of size 0".into());
    }
    let across = w.div_ceil(cw);
    let chunks = across * h.div_ceil(ch);
    if offsets.len() < chunks || counts.len() < chunks {
        return Err("malformed tiff: fewer strips or tiles than the image needs".into());
    }
    let mut out = vec![0u8; w * h * channels];
    for (i, (&off, &len)) in offsets.iter().zip(&counts).enumerate().take(chunks) {
        let (x0, y0) = ((i % across) * cw, (i / across) * ch);
        let start = usize::try_from(off).map_err(|_| truncated())?;
        let end = start.checked_add(usize::try_from(len).map_err(|_| truncated())?).ok_or_else(truncated)?;
        let chunk = bytes.get(start..end).ok_or_else(truncated)?;
        let part = jpeg::decode_in_tiff(&with_tables(tables.as_deref(), chunk))?;
        let Data::U8(v) = part.data else { return Err(mismatch()) };
        let pw = part.width as usize;
        let expected = match channels {
            1 => Mode::L,
            3 => Mode::Rgb,
            _ => Mode::Cmyk,
        };
        // A strip's stream may be shorter than the strip (the last one);
        // a tile's is the whole tile.
        let (cols, rows) = (cw.min(w - x0), ch.min(h - y0).min(part.height as usize));
        if part.mode != expected || pw < cols {
            return Err(mismatch());
        }
        for r in 0..rows {
            let src = &v[r * pw * channels..(r * pw + cols) * channels];
            let at = ((y0 + r) * w + x0) * channels;
            out[at..at + cols * channels].copy_from_slice(src);
        }
    }
    if channels == 4 {
        // jpeg::decode inverts CMYK as Pillow does for JPEG files; libtiff does not.
        out.iter_mut().for_each(|v| *v = 255 - *v);
    }
    Ok(out)
}

fn mismatch() -> String {
    "tiff: a JPEG strip or tile does not match the image".into()
}

/// The tables (SOI … EOI) joined to the chunk (SOI …): the tables' EOI and
/// the chunk's SOI dropped.
fn with_tables(tables: Option<&[u8]>, chunk: &[u8]) -> Vec<u8> {
    match tables {
        Some(t) if t.len() >= 4 && chunk.len() >= 2 => {
            let mut stream = Vec::with_capacity(t.len() + chunk.len());
            stream.extend_from_slice(&t[..t.len() - 2]);
            stream.extend_from_slice(&chunk[2..]);
            stream
        }
        _ => chunk.to_vec(),
    }
}
