//! TIFF encoding for `resize --save x.tif`: every mode in itself, as
//! Pillow's `im.save("x.tif")` writes it (`TiffImagePlugin._save` and its
//! `SAVE_INFO` table), so that `Image.open` of our file gives what Pillow's
//! own round trip gives: the same mode, size, pixels and palette.
//!
//! | mode | byte order | Photometric | BitsPerSample | other tags |
//! |---|---|---|---|---|
//! | `1` | II | 1 (MinIsBlack) | (absent: 1) | rows packed MSB first |
//! | `L` | II | 1 | 8 | |
//! | `LA` | II | 1 | 8, 8 | ExtraSamples 2 (unassociated alpha) |
//! | `P` | II | 3 (palette) | 8 | ColorMap: 3 × 256 values, entry × 256 |
//! | `I;16` | II | 1 | 16 | |
//! | `I;16B` | MM | 1 | 16 | (read back as `I;16B`) |
//! | `I` | II | 1 | 32 | SampleFormat 2 (signed) |
//! | `F` | II | 1 | 32 | SampleFormat 3 (float) |
//! | `RGB` | II | 2 | 8, 8, 8 | |
//! | `RGBA` | II | 2 | 8, 8, 8, 8 | ExtraSamples 2 |
//! | `CMYK` | II | 5 (separated) | 8, 8, 8, 8 | |
//!
//! Uncompressed, one strip, no resolution tags (Pillow then reports
//! `dpi` (1, 1), as for its own file). Transparency is not written: Pillow's
//! TIFF writer drops `info["transparency"]` too.
//!
//! The IFD is written here rather than by the `tiff` crate's encoder: that
//! encoder writes only the machine's byte order (Pillow writes `I;16B` as a
//! big-endian file, and reads a little-endian one back as `I;16`), has no
//! 1-bit layout (it sizes strips in whole samples), and always adds
//! XResolution, YResolution and ResolutionUnit = none, which changes what
//! Pillow reports in `info`. Eleven fixed layouts of a baseline TIFF are
//! shorter to write than to work around.

use crate::pil::{Data, Mode, PilImage};
use procmap::JobError;

const IMAGE_WIDTH: u16 = 256;
const IMAGE_LENGTH: u16 = 257;
const BITS_PER_SAMPLE: u16 = 258;
const COMPRESSION: u16 = 259;
const PHOTOMETRIC: u16 = 262;
const STRIP_OFFSETS: u16 = 273;
const SAMPLES_PER_PIXEL: u16 = 277;
const ROWS_PER_STRIP: u16 = 278;
const STRIP_BYTE_COUNTS: u16 = 279;
const PLANAR_CONFIGURATION: u16 = 284;
const COLOR_MAP: u16 = 320;
const EXTRA_SAMPLES: u16 = 338;
const SAMPLE_FORMAT: u16 = 339;

const SHORT: u16 = 3;
const LONG: u16 = 4;

/// One IFD entry's values, before they are laid out.
enum Values {
    Short(Vec<u16>),
    Long(Vec<u32>),
}

impl Values {
    fn count(&self) -> usize {
        match self {
            Values::Short(v) => v.len(),
            Values::Long(v) => v.len(),
        }
    }
    fn byte_len(&self) -> usize {
        match self {
            Values::Short(v) => v.len() * 2,
            Values::Long(v) => v.len() * 4,
        }
    }
}

/// Bytes in the file's byte order.
struct Out {
    bytes: Vec<u8>,
    big_endian: bool,
}

impl Out {
    fn u16(&mut self, v: u16) {
        let b = if self.big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        self.bytes.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        self.bytes.extend_from_slice(&b);
    }
    fn values(&mut self, v: &Values) {
        match v {
            Values::Short(v) => v.iter().for_each(|&x| self.u16(x)),
            Values::Long(v) => v.iter().for_each(|&x| self.u32(x)),
        }
    }
}

/// Encodes `img` in its own mode as an uncompressed TIFF that Pillow reads
/// back in that mode.
pub fn encode_pil(img: &PilImage) -> Result<Vec<u8>, JobError> {
    let (w, h) = (img.width as usize, img.height as usize);
    let big_endian = img.mode == Mode::I16B;
    let mismatch = || JobError::new(format!("cannot write the samples of mode {} as tiff", img.mode.name()));
    // (Photometric, BitsPerSample, ExtraSamples, SampleFormat) by mode, as
    // Pillow's SAVE_INFO; BitsPerSample is absent for "1".
    let (photometric, bits, extra, format): (u16, &[u16], Option<u16>, Option<u16>) = match img.mode {
        Mode::Bilevel => (1, &[], None, None),
        Mode::L => (1, &[8], None, None),
        Mode::LA => (1, &[8, 8], Some(2), None),
        Mode::P => (3, &[8], None, None),
        Mode::I16 | Mode::I16B => (1, &[16], None, None),
        Mode::I => (1, &[32], None, Some(2)),
        Mode::F => (1, &[32], None, Some(3)),
        Mode::Rgb => (2, &[8, 8, 8], None, None),
        Mode::Rgba => (2, &[8, 8, 8, 8], Some(2), None),
        Mode::Cmyk => (5, &[8, 8, 8, 8], None, None),
        Mode::Lab => (8, &[8, 8, 8], None, None),
    };
    let pixels: Vec<u8> = match (&img.data, img.mode) {
        (Data::U8(v), Mode::Bilevel) => pack_bits(v, w),
        (Data::U8(_), Mode::I16 | Mode::I16B | Mode::I | Mode::F) => return Err(mismatch()),
        (Data::U8(v), _) => v.clone(),
        (Data::U16(v), Mode::I16) => v.iter().flat_map(|s| s.to_le_bytes()).collect(),
        (Data::U16(v), Mode::I16B) => v.iter().flat_map(|s| s.to_be_bytes()).collect(),
        (Data::I32(v), Mode::I) => v.iter().flat_map(|s| s.to_le_bytes()).collect(),
        (Data::F32(v), Mode::F) => v.iter().flat_map(|s| s.to_le_bytes()).collect(),
        (Data::U16(_) | Data::I32(_) | Data::F32(_), _) => return Err(mismatch()),
    };
    let stride = if bits.is_empty() {
        w.div_ceil(8)
    } else {
        w * bits.iter().map(|&b| usize::from(b) / 8).sum::<usize>()
    };
    if pixels.len() != stride * h {
        return Err(mismatch());
    }
    let too_big = || JobError::new(format!("{}×{} is too large for a tiff", img.width, img.height));
    let data_len = u32::try_from(pixels.len()).map_err(|_| too_big())?;

    let mut entries: Vec<(u16, Values)> =
        vec![(IMAGE_WIDTH, Values::Long(vec![img.width])), (IMAGE_LENGTH, Values::Long(vec![img.height]))];
    if !bits.is_empty() {
        entries.push((BITS_PER_SAMPLE, Values::Short(bits.to_vec())));
    }
    entries.push((COMPRESSION, Values::Short(vec![1])));
    entries.push((PHOTOMETRIC, Values::Short(vec![photometric])));
    entries.push((STRIP_OFFSETS, Values::Long(vec![0]))); // set below
    if bits.len() > 1 {
        entries.push((SAMPLES_PER_PIXEL, Values::Short(vec![bits.len() as u16])));
    }
    entries.push((ROWS_PER_STRIP, Values::Long(vec![img.height])));
    entries.push((STRIP_BYTE_COUNTS, Values::Long(vec![data_len])));
    entries.push((PLANAR_CONFIGURATION, Values::Short(vec![1])));
    if img.mode == Mode::P {
        let palette = img.palette.as_ref().ok_or_else(|| JobError::new("palette image without a palette"))?;
        entries.push((COLOR_MAP, Values::Short(color_map(&palette.rgb)?)));
    }
    if let Some(e) = extra {
        entries.push((EXTRA_SAMPLES, Values::Short(vec![e])));
    }
    if let Some(f) = format {
        entries.push((SAMPLE_FORMAT, Values::Short(vec![f])));
    }

    // Layout: header, IFD, the values that do not fit in an entry, pixels.
    let ifd_len = 2 + 12 * entries.len() + 4;
    let outside: usize = entries.iter().map(|(_, v)| v.byte_len()).filter(|&n| n > 4).sum();
    let data_offset = 8 + ifd_len + outside;
    let data_offset32 = u32::try_from(data_offset).map_err(|_| too_big())?;
    data_offset32.checked_add(data_len).ok_or_else(too_big)?;
    for (tag, v) in &mut entries {
        if *tag == STRIP_OFFSETS {
            *v = Values::Long(vec![data_offset32]);
        }
    }

    let mut out = Out { bytes: Vec::with_capacity(data_offset + pixels.len()), big_endian };
    out.bytes.extend_from_slice(if big_endian { b"MM" } else { b"II" });
    out.u16(42);
    out.u32(8);
    out.u16(entries.len() as u16);
    let mut next_outside = 8 + ifd_len;
    for (tag, v) in &entries {
        out.u16(*tag);
        out.u16(if matches!(v, Values::Short(_)) { SHORT } else { LONG });
        out.u32(v.count() as u32);
        if v.byte_len() > 4 {
            out.u32(next_outside as u32);
            next_outside += v.byte_len();
        } else {
            // Values that fit are left-justified in the 4-byte field.
            let start = out.bytes.len();
            out.values(v);
            out.bytes.resize(start + 4, 0);
        }
    }
    out.u32(0); // no next IFD
    for (_, v) in entries.iter().filter(|(_, v)| v.byte_len() > 4) {
        out.values(v);
    }
    debug_assert_eq!(out.bytes.len(), data_offset);
    out.bytes.extend_from_slice(&pixels);
    Ok(out.bytes)
}

/// Mode "1" (samples 0 or 255) as 1-bit rows, most significant bit first,
/// each row padded to a whole byte.
fn pack_bits(samples: &[u8], width: usize) -> Vec<u8> {
    if width == 0 {
        return Vec::new();
    }
    let row_bytes = width.div_ceil(8);
    let mut packed = vec![0u8; row_bytes * (samples.len() / width)];
    for (src, dst) in samples.chunks_exact(width).zip(packed.chunks_exact_mut(row_bytes)) {
        for (x, &s) in src.iter().enumerate() {
            if s != 0 {
                dst[x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    packed
}

/// The ColorMap of an RGB palette, as Pillow writes it: all reds, then all
/// greens, then all blues, each channel 256 entries (zero past the palette's
/// end) of `value × 256`. Pillow reads a value back as `value / 256`.
fn color_map(rgb: &[u8]) -> Result<Vec<u16>, JobError> {
    let colors = rgb.len().div_ceil(3);
    if colors > 256 {
        return Err(JobError::new(format!("a palette of {colors} colours does not fit a tiff ColorMap")));
    }
    let mut map = vec![0u16; 3 * 256];
    for (i, px) in rgb.chunks(3).enumerate() {
        for (c, &v) in px.iter().enumerate() {
            map[c * 256 + i] = u16::from(v) * 256;
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pil::Palette;
    use crate::sniff::{self, Format};

    /// A 13×5 image of `mode` (13 is not a multiple of 8, so bilevel rows
    /// are padded) whose samples vary over their whole range.
    fn image(mode: Mode) -> PilImage {
        let (w, h) = (13u32, 5u32);
        let n = (w * h) as usize * mode.channels();
        let data = match mode {
            Mode::Bilevel => {
                Data::U8((0..n).map(|i| if (i * 7 + i / 13) % 3 == 0 { 255 } else { 0 }).collect())
            }
            Mode::I16 | Mode::I16B => {
                Data::U16((0..n).map(|i| (i as u16).wrapping_mul(1021) ^ 0x8001).collect())
            }
            Mode::I => Data::I32((0..n).map(|i| (i as i32 - 30).wrapping_mul(0x0123_4567)).collect()),
            Mode::F => Data::F32(
                (0..n)
                    .map(|i| if i == 3 { f32::NAN } else { (i as f32 - 20.5) * 1.0e7_f32.powi(i as i32 % 3) })
                    .collect(),
            ),
            _ => Data::U8((0..n).map(|i| (i * 37 + i / 5) as u8).collect()),
        };
        let palette = (mode == Mode::P)
            .then(|| Palette { rgb: (0..30).map(|i| 255 - i * 5).collect(), ..Palette::default() });
        PilImage { mode, width: w, height: h, data, palette }
    }

    fn decode(bytes: &[u8]) -> PilImage {
        assert_eq!(sniff::detect(bytes), Some(Format::Tiff));
        crate::decode::decode(Format::Tiff, bytes, false).unwrap().unwrap()
    }

    /// The bit patterns, so that NaN compares equal to itself.
    fn bits(data: &Data) -> Vec<u64> {
        match data {
            Data::U8(v) => v.iter().map(|&s| u64::from(s)).collect(),
            Data::U16(v) => v.iter().map(|&s| u64::from(s)).collect(),
            Data::I32(v) => v.iter().map(|&s| u64::from(s as u32)).collect(),
            Data::F32(v) => v.iter().map(|&s| u64::from(s.to_bits())).collect(),
        }
    }

    #[test]
    fn every_mode_round_trips_through_our_decoder() {
        let modes = [
            Mode::Bilevel,
            Mode::L,
            Mode::LA,
            Mode::P,
            Mode::I16,
            Mode::I16B,
            Mode::I,
            Mode::F,
            Mode::Rgb,
            Mode::Rgba,
            Mode::Cmyk,
            Mode::Lab,
        ];
        for mode in modes {
            let img = image(mode);
            let back = decode(&encode_pil(&img).unwrap());
            assert_eq!((back.mode, back.width, back.height), (mode, 13, 5), "{mode:?}");
            assert_eq!(bits(&back.data), bits(&img.data), "{mode:?}");
            assert_eq!(std::mem::discriminant(&back.data), std::mem::discriminant(&img.data), "{mode:?}");
            if mode == Mode::P {
                // Pillow reads a ColorMap back as 256 entries, black after ours.
                let mut want = img.palette.as_ref().unwrap().rgb.clone();
                want.resize(768, 0);
                assert_eq!(back.palette.unwrap().rgb, want);
            } else {
                assert_eq!(back.palette, None, "{mode:?}");
            }
        }
    }

    /// The IFD of a file we wrote: (tag, values) in file order.
    fn ifd(b: &[u8]) -> Vec<(u16, Vec<u32>)> {
        let be = &b[..2] == b"MM";
        let u16_at = |o: usize| {
            if be { u16::from_be_bytes([b[o], b[o + 1]]) } else { u16::from_le_bytes([b[o], b[o + 1]]) }
        };
        let u32_at = |o: usize| {
            let v = [b[o], b[o + 1], b[o + 2], b[o + 3]];
            if be { u32::from_be_bytes(v) } else { u32::from_le_bytes(v) }
        };
        assert_eq!(u16_at(2), 42);
        let start = u32_at(4) as usize;
        (0..usize::from(u16_at(start)))
            .map(|i| {
                let e = start + 2 + 12 * i;
                let (size, count) = (if u16_at(e + 2) == SHORT { 2 } else { 4 }, u32_at(e + 4) as usize);
                let at = if size * count > 4 { u32_at(e + 8) as usize } else { e + 8 };
                let values = (0..count)
                    .map(|k| if size == 2 { u32::from(u16_at(at + 2 * k)) } else { u32_at(at + 4 * k) })
                    .collect();
                (u16_at(e), values)
            })
            .collect()
    }

    /// Mode, byte order, tags besides the common ones, Photometric,
    /// BitsPerSample, ExtraSamples, SampleFormat.
    type Expected = (Mode, &'static [u8], &'static [u16], u32, &'static [u32], Option<u32>, Option<u32>);

    #[test]
    fn tags_are_pillows() {
        // What Pillow 13's `im.save("x.tif")` writes for each mode (its
        // SAVE_INFO): byte order, tags, and Photometric, BitsPerSample,
        // SamplesPerPixel, ExtraSamples, SampleFormat.
        let base = [256, 257, 259, 262, 273, 278, 279, 284];
        #[rustfmt::skip]
        let want: [Expected; 12] = [
            (Mode::Bilevel, b"II", &[], 1, &[], None, None),
            (Mode::L, b"II", &[258], 1, &[8], None, None),
            (Mode::LA, b"II", &[258, 277, 338], 1, &[8, 8], Some(2), None),
            (Mode::P, b"II", &[258, 320], 3, &[8], None, None),
            (Mode::I16, b"II", &[258], 1, &[16], None, None),
            (Mode::I16B, b"MM", &[258], 1, &[16], None, None),
            (Mode::I, b"II", &[258, 339], 1, &[32], None, Some(2)),
            (Mode::F, b"II", &[258, 339], 1, &[32], None, Some(3)),
            (Mode::Rgb, b"II", &[258, 277], 2, &[8, 8, 8], None, None),
            (Mode::Rgba, b"II", &[258, 277, 338], 2, &[8, 8, 8, 8], Some(2), None),
            (Mode::Cmyk, b"II", &[258, 277], 5, &[8, 8, 8, 8], None, None),
            (Mode::Lab, b"II", &[258, 277], 8, &[8, 8, 8], None, None),
        ];
        for (mode, order, more, photometric, bits, extra, format) in want {
            let b = encode_pil(&image(mode)).unwrap();
            assert_eq!(&b[..2], order, "{mode:?}");
            let entries = ifd(&b);
            let mut tags: Vec<u16> = base.iter().chain(more).copied().collect();
            tags.sort();
            assert_eq!(
                entries.iter().map(|e| e.0).collect::<Vec<_>>(),
                tags,
                "{mode:?}: tags in ascending order"
            );
            let get = |t: u16| entries.iter().find(|e| e.0 == t).map(|e| e.1.clone());
            assert_eq!(get(262), Some(vec![photometric]), "{mode:?}");
            assert_eq!(get(258).unwrap_or_default(), bits, "{mode:?}");
            assert_eq!(get(277), (bits.len() > 1).then(|| vec![bits.len() as u32]), "{mode:?}");
            assert_eq!(get(338), extra.map(|e| vec![e]), "{mode:?}");
            assert_eq!(get(339), format.map(|f| vec![f]), "{mode:?}");
            assert_eq!(get(259), Some(vec![1]), "{mode:?}: uncompressed");
            // One strip holding exactly the pixels, at the end of the file.
            let (offset, count) = (get(273).unwrap(), get(279).unwrap());
            assert_eq!(get(278), Some(vec![5]), "{mode:?}");
            assert_eq!(offset[0] as usize + count[0] as usize, b.len(), "{mode:?}");
            let stride = if mode == Mode::Bilevel { 2 } else { 13 * bits.iter().sum::<u32>() as usize / 8 };
            assert_eq!(count, vec![(stride * 5) as u32], "{mode:?}");
            if mode == Mode::P {
                let map = get(320).unwrap();
                assert_eq!(map.len(), 768);
                assert_eq!(
                    (map[0], map[256], map[512], map[10], map[255]),
                    (255 * 256, 250 * 256, 245 * 256, 0, 0)
                );
            }
        }
    }

    #[test]
    fn samples_of_another_mode_are_refused() {
        let mut img = image(Mode::I);
        img.data = Data::U8(vec![0; 13 * 5]);
        assert!(encode_pil(&img).is_err());
        let mut p = image(Mode::P);
        p.palette = None;
        assert!(encode_pil(&p).is_err());
    }
}
