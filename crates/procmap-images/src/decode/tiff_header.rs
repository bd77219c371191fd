//! The first IFD read as Pillow's `ImageFileDirectory_v2.load` reads it,
//! for `Image.open` (size and mode) on damaged files the `tiff` crate will
//! not open: a tag whose value lies past the end of the file is skipped
//! ("Possibly corrupt EXIF data … Skipping tag"), a tag of an unknown type
//! too, and the mode is then looked up from the tags that are left.

use super::tiff_modes::Tags;

/// Size, the tags Pillow's mode depends on, and the Orientation tag.
pub struct Ifd {
    pub width: u32,
    pub height: u32,
    pub tags: Tags,
    pub orientation: Option<u16>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    big_endian: bool,
}

impl Cursor<'_> {
    fn uint(&self, at: usize, n: usize) -> Option<u64> {
        let b = self.bytes.get(at..at.checked_add(n)?)?;
        Some(if self.big_endian {
            b.iter().fold(0, |v, &x| (v << 8) | u64::from(x))
        } else {
            b.iter().rev().fold(0, |v, &x| (v << 8) | u64::from(x))
        })
    }
}

/// Bytes per value of the TIFF field types Pillow reads as integers.
fn type_size(t: u64) -> Option<usize> {
    match t {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 | 13 => Some(4),
        5 | 10 | 12 | 16 | 17 | 18 => Some(8),
        _ => None,
    }
}

/// The tags Pillow's size, mode and orientation depend on.
const WANTED: [u16; 10] = [256, 257, 258, 259, 262, 274, 277, 284, 338, 339];

/// At most this many values a tag (Pillow reads any count; the tags read
/// here have a few).
const MAX_VALUES: usize = 1 << 16;

pub fn read(bytes: &[u8]) -> Result<Ifd, String> {
    let big_endian = match bytes.get(..2) {
        Some(b"MM") => true,
        Some(b"II") => false,
        _ => return Err("not a tiff file".into()),
    };
    let c = Cursor { bytes, big_endian };
    let big = c.uint(2, 2) == Some(43);
    let (count_size, entry_size, inline) = if big { (8, 20, 8) } else { (2, 12, 4) };
    let first = if big { c.uint(8, 8) } else { c.uint(4, 4) };
    let truncated = || "truncated file: the data ends before the image header does".to_string();
    let ifd = usize::try_from(first.ok_or_else(truncated)?).map_err(|_| truncated())?;
    let n = c.uint(ifd, count_size).ok_or_else(truncated)? as usize;
    let mut values = std::collections::HashMap::new();
    for i in 0..n.min(4096) {
        let at = ifd + count_size + i * entry_size;
        let (Some(tag), Some(typ), Some(count)) =
            (c.uint(at, 2), c.uint(at + 2, 2), c.uint(at + 4, if big { 8 } else { 4 }))
        else {
            break; // Pillow stops at the end of the file
        };
        // Only the tags read below are kept: a hostile IFD of thousands of
        // long tags then costs no more than these few.
        if !WANTED.contains(&(tag as u16)) {
            continue;
        }
        let Some(size) = type_size(typ) else { continue };
        let count = count as usize;
        if count > MAX_VALUES {
            continue;
        }
        let value_at = at + if big { 12 } else { 8 };
        let data_at = if count * size > inline {
            match c.uint(value_at, inline).and_then(|o| usize::try_from(o).ok()) {
                Some(o) => o,
                None => continue,
            }
        } else {
            value_at
        };
        if data_at.checked_add(count * size).is_none_or(|end| end > bytes.len()) {
            continue; // "Possibly corrupt EXIF data": the tag is skipped
        }
        let v: Vec<u64> = (0..count).filter_map(|k| c.uint(data_at + k * size, size.min(8))).collect();
        values.insert(tag as u16, v);
    }
    let one = |t: u16| values.get(&t).and_then(|v| v.first().copied());
    let shorts = |t: u16| values.get(&t).map(|v| v.iter().map(|&x| x as u16).collect()).unwrap_or_default();
    let (Some(width), Some(height)) = (one(256), one(257)) else {
        return Err("malformed tiff: missing dimensions".into());
    };
    let tags = Tags {
        photometric: one(262).unwrap_or(1) as u16,
        formats: shorts(339),
        bits: shorts(258),
        extra: shorts(338),
        samples: one(277).map(|s| s as u16),
        planar: one(284).unwrap_or(1) as u16,
        big_endian,
        compression: one(259).unwrap_or(1) as u16,
    };
    let orientation = one(274).map(|o| o as u16).filter(|o| (2..=8).contains(o));
    Ok(Ifd { width: width as u32, height: height as u32, tags, orientation })
}

/// A copy whose BitsPerSample has no more values than SamplesPerPixel, or
/// `None` when it already has no more. Pillow (and libtiff) use the first
/// SamplesPerPixel values and ignore the rest; the `tiff` crate refuses the
/// tag. Classic (not Big) TIFF only.
pub fn with_bits_cut_to_samples(bytes: &[u8]) -> Option<Vec<u8>> {
    let big_endian = match bytes.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let c = Cursor { bytes, big_endian };
    let ifd = usize::try_from(c.uint(4, 4)?).ok()?;
    let n = c.uint(ifd, 2)? as usize;
    let entry = |tag: u64| (0..n.min(4096)).map(|i| ifd + 2 + 12 * i).find(|&at| c.uint(at, 2) == Some(tag));
    let samples = entry(277).and_then(|at| c.uint(at + 8, 2))?;
    let bits = entry(258)?;
    if c.uint(bits + 4, 4)? <= samples || c.uint(bits + 2, 2)? != 3 {
        return None;
    }
    let mut out = bytes.to_vec();
    let count = samples as u32;
    let field = if big_endian { count.to_be_bytes() } else { count.to_le_bytes() };
    out[bits + 4..bits + 8].copy_from_slice(&field);
    if samples <= 2 {
        // The values now fit in the entry: copy them there.
        let offset = usize::try_from(c.uint(bits + 8, 4)?).ok()?;
        let values = bytes.get(offset..offset + 2 * samples as usize)?.to_vec();
        out[bits + 8..bits + 12].fill(0);
        out[bits + 8..bits + 8 + values.len()].copy_from_slice(&values);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_whose_value_is_past_the_end_is_skipped() {
        // II, one IFD of 4 entries: width 5, height 3, BitsPerSample 3×8
        // (its value at an offset past the end), SamplesPerPixel 1.
        let mut b = b"II*\0\x08\0\0\0".to_vec();
        b.extend(4u16.to_le_bytes());
        for (tag, typ, count, value) in
            [(256u16, 3u16, 1u32, 5u32), (257, 3, 1, 3), (258, 3, 3, 9999), (277, 3, 1, 1)]
        {
            b.extend(tag.to_le_bytes());
            b.extend(typ.to_le_bytes());
            b.extend(count.to_le_bytes());
            b.extend(value.to_le_bytes());
        }
        let ifd = read(&b).unwrap();
        assert_eq!((ifd.width, ifd.height), (5, 3));
        assert!(ifd.tags.bits.is_empty());
        assert_eq!(ifd.tags.samples, Some(1));
    }
}
