//! The TIFF Orientation tag (274), which the two references treat
//! differently (measured with Pillow 13 and OpenCV 5.0 on every value):
//!
//! - Pillow's `Image.open` reports the size already turned (width and
//!   height swapped for 5–8) and `load` transposes the decoded image
//!   (`ImageOps.exif_transpose`: 2 mirror, 3 rotate 180°, 4 flip, 5
//!   transpose, 6 rotate 270°, 7 transverse, 8 rotate 90°). But when the
//!   pixels are one uncompressed strip in a mode Pillow memory-maps (L, P,
//!   I;16, I;16B, RGBA, CMYK read with the same raw mode), `ImageFile.load`
//!   maps them with the *turned* size, so for 5–8 the file's bytes are read
//!   as rows `height` pixels long before the transpose: the result has the
//!   file's size again, which no longer fits the box `resize` took from the
//!   turned size, and `resize` fails on any such image that is not square.
//! - `cv2.imread` flips for 2–4 like Pillow (a tiled file tile by tile),
//!   and for 5–8 turns a square image its own way ([`for_opencv`]) and
//!   fails on any other.

use super::orient;
use crate::pil::{Data, Mode, PilImage};
use std::io::Cursor;
use tiff::decoder::Decoder;
use tiff::tags::Tag;

type Reader<'a> = Decoder<Cursor<&'a [u8]>>;

/// The Orientation tag, if it is 2–8 (1, absent and invalid values change
/// nothing for either reference).
pub fn orientation(dec: &mut Reader<'_>) -> Option<u16> {
    let o: u16 = dec.find_tag_unsigned(Tag::Orientation).ok().flatten()?;
    (2..=8).contains(&o).then_some(o)
}

/// Whether Pillow reports the size turned (and transposes).
pub fn swaps(o: Option<u16>) -> bool {
    matches!(o, Some(5..=8))
}

/// What `cv2.imread` does with orientation `o` on the decoded image
/// (measured on every value, strips and tiles): libtiff's RGBA reader
/// flips as for 1–4 (5–8 as 1–4), mirroring a tiled file tile by tile
/// (each tile's columns within the part of it inside the image) and
/// flipping top to bottom as a whole; then OpenCV turns 5–8 (a transpose,
/// for 6 and 8 also a half turn). A turned image that is not square fails
/// (the rotated buffer trips `imread`'s check that it wrote into the matrix
/// it allocated).
pub fn for_opencv(dec: &mut Reader<'_>, img: &mut PilImage, o: Option<u16>) -> Result<(), String> {
    let Some(o) = o else { return Ok(()) };
    if o >= 5 && img.width != img.height {
        return Err(format!(
            "tiff: OpenCV cannot read orientation {o} (a transposed layout) of an image that is not \
             square: cv2.imread returns nothing"
        ));
    }
    let flips = if o >= 5 { o - 4 } else { o };
    let tile_width: Option<u32> = dec.find_tag_unsigned(Tag::TileWidth).ok().flatten();
    match (flips, tile_width) {
        (2 | 3, Some(tw)) if tw > 0 => {
            if flips == 3 {
                orient::apply(img, 4);
            }
            mirror_tiles(img, tw as usize);
        }
        (f, _) => orient::apply(img, f),
    }
    if o >= 5 {
        orient::apply(img, 5);
        if o == 6 || o == 8 {
            orient::apply(img, 3);
        }
    }
    Ok(())
}

/// Mirrors each run of `tile_width` columns (the last one as wide as what
/// is left of the image).
fn mirror_tiles(img: &mut PilImage, tile_width: usize) {
    let (w, ch) = (img.width as usize, img.mode.channels());
    fn each<T>(v: &mut [T], w: usize, ch: usize, tw: usize) {
        for row in v.chunks_exact_mut(w * ch) {
            for tile in row.chunks_mut(tw * ch) {
                let n = tile.len() / ch;
                for x in 0..n / 2 {
                    for c in 0..ch {
                        tile.swap(x * ch + c, (n - 1 - x) * ch + c);
                    }
                }
            }
        }
    }
    if w == 0 {
        return;
    }
    match &mut img.data {
        Data::U8(v) => each(v, w, ch, tile_width),
        Data::U16(v) => each(v, w, ch, tile_width),
        Data::I32(v) => each(v, w, ch, tile_width),
        Data::F32(v) => each(v, w, ch, tile_width),
    }
}

/// What Pillow's `load` gives for orientation `o` on the image decoded at
/// the file's size. For 5–8 on a strip Pillow memory-maps (see the module
/// comment), the loaded image keeps the file's size while `resize` takes
/// its box from the turned size before loading: on an image that is not
/// square it fails ("box can't exceed original image size"), so does
/// this. (A square one maps to the same pixels as a normal read.)
pub fn for_pillow(
    dec: &mut Reader<'_>,
    bytes: &[u8],
    img: &mut PilImage,
    o: Option<u16>,
    compression: u16,
) -> Result<(), String> {
    let Some(o) = o else { return Ok(()) };
    if swaps(Some(o)) && compression == 1 && img.width != img.height && pillow_maps(dec, bytes, img) {
        return Err(format!(
            "tiff: Pillow cannot resize this file: with orientation {o} it memory-maps the strip at the \
             turned size, and the loaded image no longer fits the resize box"
        ));
    }
    orient::apply(img, o);
    Ok(())
}

/// Whether `ImageFile.load` memory-maps this file: one strip (or tile) in
/// a mode whose raw mode is the mode itself and that Pillow maps, wholly
/// inside the file.
fn pillow_maps(dec: &mut Reader<'_>, bytes: &[u8], img: &PilImage) -> bool {
    let photometric: u16 = dec.find_tag_unsigned(Tag::PhotometricInterpretation).ok().flatten().unwrap_or(1);
    let extra = dec.find_tag_unsigned_vec::<u16>(Tag::ExtraSamples).ok().flatten().unwrap_or_default();
    let fill_order: u16 = dec.find_tag_unsigned(Tag::FillOrder).ok().flatten().unwrap_or(1);
    let bits = dec.find_tag_unsigned_vec::<u16>(Tag::BitsPerSample).ok().flatten().unwrap_or_default();
    let pixel: u64 = match (img.mode, photometric, bits.first(), extra.as_slice()) {
        (Mode::L, 1, Some(8), _) | (Mode::P, 3, Some(8), _) => 1,
        (Mode::I16 | Mode::I16B, 1, Some(16), _) => 2,
        (Mode::Rgba, 2, Some(8), [2]) | (Mode::Cmyk, 5, Some(8), _) => 4,
        _ => return false,
    };
    if fill_order != 1 {
        return false;
    }
    let (w, h) = (u64::from(img.width), u64::from(img.height));
    let tiled = matches!(dec.find_tag(Tag::TileWidth), Ok(Some(_)));
    let (offsets, chunk_w, chunk_h) = if tiled {
        let tw: u64 = dec.find_tag_unsigned(Tag::TileWidth).ok().flatten().unwrap_or(0);
        let th: u64 = dec.find_tag_unsigned(Tag::TileLength).ok().flatten().unwrap_or(0);
        (dec.find_tag_unsigned_vec::<u64>(Tag::TileOffsets).ok().flatten(), tw, th)
    } else {
        let rows: u64 = dec.find_tag_unsigned(Tag::RowsPerStrip).ok().flatten().unwrap_or(h);
        (dec.find_tag_unsigned_vec::<u64>(Tag::StripOffsets).ok().flatten(), w, rows)
    };
    let Some(offsets) = offsets else { return false };
    let planar: u16 = dec.find_tag_unsigned(Tag::PlanarConfiguration).ok().flatten().unwrap_or(1);
    // Pillow keeps only the last offset when one chunk covers the image.
    let one = offsets.len() == 1 || (chunk_w == w && chunk_h == h && planar != 2);
    let Some(&offset) = offsets.last() else { return false };
    // The mapped rows: the tile's own stride when it is wider than the
    // image, else the turned width; `w` of them (the turned height).
    let stride = if chunk_w > w { chunk_w * pixel } else { 0 }.max(h * pixel);
    let end = w.checked_mul(stride).and_then(|n| n.checked_add(offset));
    one && end.is_some_and(|e| e <= bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_mirrored_one_by_one_the_last_as_wide_as_what_is_left() {
        let mut img = PilImage {
            mode: Mode::L,
            width: 5,
            height: 2,
            data: Data::U8(vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            palette: None,
        };
        mirror_tiles(&mut img, 2);
        assert_eq!(img.data, Data::U8(vec![1, 0, 3, 2, 4, 6, 5, 8, 7, 9]));
    }
}
