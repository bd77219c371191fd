//! CCITT fax strips (RLE, Group 3, Group 4) of a TIFF, decoded by the
//! port of libtiff's codec in `fax.rs`, strip by strip as Pillow's and
//! OpenCV's libtiff read them.

use super::fax;
use crate::pil::{Data, Mode, PilImage};
use std::io::Cursor;
use tiff::decoder::Decoder;
use tiff::tags::Tag;

type Reader<'a> = Decoder<Cursor<&'a [u8]>>;

fn d(e: tiff::TiffError) -> String {
    crate::tiff_read::describe(&e)
}

/// CCITT RLE (modified Huffman), Group 3 (1-D or 2-D) and Group 4 strips, decoded as libtiff
/// decodes them ([`fax`](super::fax)), damaged data included. Pillow reads
/// each strip with `TIFFReadEncodedStrip` into one buffer it reuses, and
/// fails on a strip libtiff reports failed; OpenCV (`cv`) reads each strip
/// through `TIFFReadRGBAStrip` into a fresh zeroed buffer and keeps what
/// the codec left there whether it failed or not. Black (1 bits) is 255
/// under MinIsBlack, 0 under MinIsWhite, as libtiff gives it to Pillow.
///
/// `None` for what is left to the `tiff` crate: tiled Group 4 images, and
/// Group 4 in FillOrder 2.
pub fn strips(
    dec: &mut Reader<'_>,
    compression: u16,
    width: u32,
    height: u32,
    cv: bool,
) -> Option<Result<PilImage, String>> {
    let tiled = dec.find_tag(Tag::TileWidth).ok()?.is_some();
    let fill_order: u16 = dec.find_tag_unsigned(Tag::FillOrder).ok()?.unwrap_or(1);
    match (compression, tiled, fill_order) {
        (4, true, _) | (4, _, 2) => None,
        (2 | 3, true, _) => Some(Err("tiff: tiled CCITT Group 3 or RLE images are not supported".into())),
        (2 | 3, _, 2) => Some(Err("tiff: CCITT Group 3 or RLE with FillOrder 2 is not supported".into())),
        _ => Some(strips_of(dec, compression, width, height, cv)),
    }
}

fn strips_of(
    dec: &mut Reader<'_>,
    compression: u16,
    width: u32,
    height: u32,
    cv: bool,
) -> Result<PilImage, String> {
    let scheme = if compression == 4 {
        fax::Scheme::G4
    } else if compression == 2 {
        fax::Scheme::Rle
    } else {
        let options: u32 = dec.find_tag_unsigned(Tag::Unknown(292)).map_err(d)?.unwrap_or(0);
        if options & 1 != 0 { fax::Scheme::G3TwoD } else { fax::Scheme::G3OneD }
    };
    let photometric: u16 = dec.find_tag_unsigned(Tag::PhotometricInterpretation).map_err(d)?.unwrap_or(0);
    let offsets = dec.find_tag_unsigned_vec::<u64>(Tag::StripOffsets).map_err(d)?.ok_or("tiff: no strips")?;
    let counts =
        dec.find_tag_unsigned_vec::<u64>(Tag::StripByteCounts).map_err(d)?.ok_or("tiff: no strips")?;
    let (w, h) = (width as usize, height as usize);
    let rows_per_strip = (dec.find_tag_unsigned::<u64>(Tag::RowsPerStrip).map_err(d)?.unwrap_or(u64::MAX))
        .clamp(1, h.max(1) as u64) as usize;
    let strips = h.div_ceil(rows_per_strip);
    if offsets.len() < strips || counts.len() < strips {
        return Err("malformed tiff: fewer strips than the image needs".into());
    }
    let mut codec = fax::Fax::new(scheme, width)?;
    let row_bytes = codec.row_bytes;
    let bytes = dec.inner().get_ref();
    let (black, white) = if photometric == 1 { (255u8, 0u8) } else { (0, 255) };
    let mut data = Vec::with_capacity(w * h);
    // Pillow's strip buffer, reused from strip to strip.
    let mut buf = vec![0u8; rows_per_strip * row_bytes];
    for s in 0..strips {
        let rows = rows_per_strip.min(h - s * rows_per_strip);
        // TIFFFillStrip: a byte count far beyond what the strip could
        // need is cut down; then a strip not wholly in the file (or empty)
        // fails the read, for Pillow and OpenCV alike.
        let strip_size = (rows_per_strip * row_bytes) as u64;
        let mut count = counts[s];
        if count > 1 << 20 && (count - 4096) / 10 > strip_size {
            count = strip_size * 10 + 4096;
        } else if strip_size > 100 << 20 && count < strip_size / 250 {
            return Err("malformed tiff: likely invalid strip byte count".into());
        }
        let raw = usize::try_from(offsets[s])
            .ok()
            .zip(usize::try_from(count).ok())
            .filter(|&(_, n)| n > 0)
            .and_then(|(o, n)| bytes.get(o..o.checked_add(n)?))
            .ok_or("truncated file: the data ends before the image does")?;
        let strip = &mut buf[..rows * row_bytes];
        if cv {
            strip.fill(0);
        }
        if !codec.decode_strip(raw, strip) && !cv {
            return Err("corrupt compressed data: libtiff fails this CCITT fax strip".into());
        }
        for row in strip.chunks_exact(row_bytes) {
            data.extend((0..w).map(|x| if row[x / 8] >> (7 - x % 8) & 1 == 1 { black } else { white }));
        }
    }
    Ok(PilImage { mode: Mode::Bilevel, width, height, data: Data::U8(data), palette: None })
}
