//! TIFF, first page, as Pillow's `Image.open` and OpenCV's `cv2.imread`
//! read it. This module ties the parts together:
//!
//! - `tiff_modes`: Pillow's mode from the tags (its `OPEN_INFO` table), and
//!   which samples make it; `tiff_header` reads the tags of a damaged file
//!   the `tiff` crate will not open, as Pillow does.
//! - The samples: the `tiff` crate for most layouts; `tiff_lenient` (strict
//!   for Pillow, lenient as libtiff is for OpenCV) for 12-bit samples, LZMA
//!   (`tiff_lzma`), tiled planar files and damaged strips; `tiff_jpeg` for
//!   JPEG-in-TIFF; `tiff_fax` for CCITT RLE, G3 and G4; `tiff_pillow_quirks`
//!   where Pillow reads what the file says differently.
//! - `tiff_orient`: the Orientation tag, as each reference applies it.
//!
//! With `cv`, the pixels are what `cv2.imread` shows where it differs, as
//! libtiff's RGBA conversion (which OpenCV uses for these) computes them:
//! CMYK → RGB by `(255 − k)(255 − c) / 255`; unassociated alpha
//! premultiplied (`(v·a + 127) / 255`) before OpenCV drops it; 16-bit colour
//! scaled by `(v·255 + 32767) / 65535` (grey keeps its high byte); CIELab
//! through libtiff's conversion (`tiff_cielab`); and what OpenCV's header
//! check refuses is refused.

use super::header::{Header, check_size};
use super::tiff_modes::{self, Pick, Tags};
use super::{tiff_cielab, tiff_fax, tiff_header, tiff_jpeg, tiff_lenient, tiff_orient, tiff_pillow_quirks};
use crate::pil::{Data, Mode, Palette, PilImage};
use crate::tiff_read;
use std::io::Cursor;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

/// What the tags say, as far as Pillow's mode depends on it.
struct Layout {
    width: u32,
    height: u32,
    pick: Pick,
    photometric: u16,
    planar: u16,
    tiled: bool,
    big_endian: bool,
    compression: u16,
    mode: Mode,
    /// The Orientation tag when it turns the image (2–8).
    orientation: Option<u16>,
    /// Why the pixels cannot be decoded although Pillow opens the file (its
    /// header alone gives `info`).
    unsupported: Option<String>,
}

fn d(e: tiff::TiffError) -> String {
    tiff_read::describe(&e)
}

fn layout(dec: &mut Reader<'_>, big_endian: bool) -> Result<Layout, String> {
    let (width, height) = dec.dimensions().map_err(d)?;
    let vec = |dec: &mut Reader<'_>, t| {
        dec.find_tag_unsigned_vec::<u16>(t).map_err(d).map(Option::unwrap_or_default)
    };
    let tags = Tags {
        photometric: dec.find_tag_unsigned(Tag::PhotometricInterpretation).map_err(d)?.unwrap_or(1),
        formats: vec(dec, Tag::SampleFormat)?,
        bits: vec(dec, Tag::BitsPerSample)?,
        extra: vec(dec, Tag::ExtraSamples)?,
        samples: dec.find_tag_unsigned(Tag::SamplesPerPixel).map_err(d)?,
        planar: dec.find_tag_unsigned(Tag::PlanarConfiguration).map_err(d)?.unwrap_or(1),
        big_endian,
        compression: dec.find_tag_unsigned(Tag::Compression).map_err(d)?.unwrap_or(1),
    };
    let pick = tiff_modes::pick(&tags)?;
    let (mode, bits, compression) = (pick.mode, pick.bits, tags.compression);
    let problem = match compression {
        2 if bits != 1 => Some("CCITT modified Huffman (RLE) compression of more than 1 bit"),
        3 if bits != 1 => Some("CCITT Group 3 fax compression of more than 1 bit"),
        6 => Some("old-style JPEG compression"),
        7 if !matches!(
            (mode, pick.file_samples, tags.planar),
            (Mode::L, 1, _) | (Mode::Rgb, 3, 1) | (Mode::Cmyk, 4, 1)
        ) =>
        {
            Some("JPEG compression of a layout other than grey, RGB, YCbCr or CMYK in one plane")
        }
        _ => None,
    };
    let unsupported = problem.map(|p| format!("tiff: {p} is not supported"));
    let orientation = tiff_orient::orientation(dec);
    let tiled = dec.find_tag(Tag::TileWidth).map_err(d)?.is_some();
    Ok(Layout {
        width,
        height,
        photometric: tags.photometric,
        planar: tags.planar,
        tiled,
        big_endian,
        compression,
        mode,
        pick,
        orientation,
        unsupported,
    })
}

type Reader<'a> = Decoder<Cursor<&'a [u8]>>;

fn open(bytes: &[u8]) -> Result<(Reader<'_>, Layout), String> {
    let big_endian = bytes.starts_with(b"MM");
    let mut dec = Decoder::new(Cursor::new(bytes)).map_err(d)?.with_limits(tiff_read::limits());
    let l = layout(&mut dec, big_endian)?;
    Ok((dec, l))
}

pub fn probe(bytes: &[u8]) -> Result<Header, String> {
    let (width, height, pick, orientation) = match open(bytes) {
        Ok((_, l)) => (l.width, l.height, l.pick, l.orientation),
        Err(e) => {
            // The crate refuses damaged files whose first IFD Pillow still
            // reads (it skips a tag whose value is past the end, and knows
            // no planar configuration check): read it as Pillow does.
            let ifd = tiff_header::read(bytes).map_err(|_| e)?;
            (ifd.width, ifd.height, tiff_modes::pick(&ifd.tags)?, ifd.orientation)
        }
    };
    if let Some(why) = pick.pillow_fails {
        return Err(why.into());
    }
    let (width, height) = if tiff_orient::swaps(orientation) { (height, width) } else { (width, height) };
    Ok(Header { width, height, mode: pick.mode })
}

pub fn decode(bytes: &[u8], cv: bool) -> Result<PilImage, String> {
    let (mut dec, l) = match open(bytes) {
        Err(e) if e.contains("BitsPerSample") => {
            // More BitsPerSample values than samples: Pillow and libtiff
            // use the first ones; the crate refuses the tag.
            let fixed = tiff_header::with_bits_cut_to_samples(bytes).ok_or(e)?;
            return decode(&fixed, cv);
        }
        other => other?,
    };
    let mut img = decode_unturned(&mut dec, &l, bytes, cv)?;
    if cv {
        tiff_orient::for_opencv(&mut dec, &mut img, l.orientation)?;
    } else {
        tiff_orient::for_pillow(&mut dec, bytes, &mut img, l.orientation, l.compression)?;
    }
    Ok(img)
}

/// The first page at the file's own size, before any orientation.
fn decode_unturned(dec: &mut Reader<'_>, l: &Layout, bytes: &[u8], cv: bool) -> Result<PilImage, String> {
    if let Some(why) = &l.unsupported {
        return Err(why.clone());
    }
    let p = &l.pick;
    if let (false, Some(why)) = (cv, p.pillow_fails) {
        return Err(why.into());
    }
    if cv {
        opencv_refuses(l)?;
    }
    if cv && p.bits == 12 {
        // libtiff's RGBA reader, which OpenCV uses for these, has no 12-bit path.
        return Err("tiff: OpenCV cannot read 12-bit samples: cv2.imread returns nothing".into());
    }
    let (w, h) = (l.width as usize, l.height as usize);
    check_size(l.width, l.height, (p.file_samples * usize::from(p.bits.div_ceil(8))) as u64)?;
    if matches!(l.compression, 2..=4)
        && let Some(result) = tiff_fax::strips(dec, l.compression, l.width, l.height, cv)
    {
        return result;
    }
    if !cv
        && !p.associated
        && tiff_pillow_quirks::is_planar16(l.mode, p.bits, l.planar, l.compression, p.file_samples)
    {
        let data = Data::U8(tiff_pillow_quirks::planar16(dec, bytes, w, h, l.mode.channels())?);
        return Ok(PilImage { mode: l.mode, width: l.width, height: l.height, data, palette: None });
    }
    let mut result = samples(dec, l, bytes, cv)?;
    if !cv && tiff_pillow_quirks::swaps(l.big_endian, l.compression, p.format, p.bits) {
        result = tiff_pillow_quirks::swap_big_endian(result);
    }
    let result = keep(result, p, w * h);
    let mut palette = None;
    let signed = p.format == 2;
    let data = match (l.mode, result) {
        // OpenCV shows signed 16-bit grey by the high byte of its bits.
        (Mode::I, DecodingResult::U16(v)) if cv && signed => Data::U16(v),
        (Mode::I, DecodingResult::U16(v)) if signed => {
            Data::I32(v.into_iter().map(|s| i32::from(s as i16)).collect())
        }
        (Mode::I16 | Mode::I16B, DecodingResult::U16(v)) => Data::U16(v),
        // Pillow reads unsigned 32-bit samples into its signed "I".
        (Mode::I, DecodingResult::U32(v)) => Data::I32(v.into_iter().map(|s| s as i32).collect()),
        (Mode::I, DecodingResult::I32(v)) => Data::I32(v),
        (Mode::F, DecodingResult::F32(v)) => Data::F32(v),
        (Mode::Bilevel | Mode::L | Mode::P, DecodingResult::U8(v)) => {
            let scale = match (l.mode, p.bits) {
                (Mode::Bilevel, _) => 255,
                (Mode::L, 2) => 85,
                (Mode::L, 4) => 17,
                _ => 1,
            };
            let out = unpack(&v, w, h, p.bits, scale);
            if l.mode == Mode::P {
                palette = Some(colormap(dec, p.bits)?);
            }
            Data::U8(out)
        }
        // Pillow keeps the high byte; OpenCV reads 16-bit colour through
        // libtiff's RGBA conversion, which rounds v·255/65535 (checked on
        // all 65,536 values).
        (Mode::Rgb | Mode::Rgba, DecodingResult::U16(v)) if cv => {
            Data::U8(v.iter().map(|&s| ((u32::from(s) * 255 + 32767) / 65535) as u8).collect())
        }
        (Mode::Rgb | Mode::Rgba | Mode::Cmyk, DecodingResult::U16(v)) => {
            Data::U8(v.iter().map(|&s| (s >> 8) as u8).collect())
        }
        (Mode::LA | Mode::Rgb | Mode::Rgba | Mode::Cmyk | Mode::Lab, DecodingResult::U8(v)) => Data::U8(v),
        (mode, other) => {
            return Err(format!("tiff: unexpected samples for mode {} ({})", mode.name(), kind(&other)));
        }
    };
    let mode = if matches!(data, Data::U16(_)) && l.mode == Mode::I { Mode::I16 } else { l.mode };
    let mut img = PilImage { mode, width: l.width, height: l.height, data, palette };
    if let Data::U8(v) = &mut img.data {
        if v.len() < w * h * l.mode.channels() {
            return Err("truncated file: the data ends before the image does".into());
        }
        if l.mode == Mode::Rgba && p.associated {
            unassociate(v);
        }
        if cv {
            match l.mode {
                Mode::Rgba if !p.associated => premultiply(v),
                Mode::Cmyk => {
                    // OpenCV's gray of this comes through libtiff's RGBA.
                    for p in v.chunks_exact_mut(4) {
                        let k = 255 - u32::from(p[3]);
                        for c in &mut p[..3] {
                            *c = (k * (255 - u32::from(*c)) / 255) as u8;
                        }
                    }
                    let rgb: Vec<u8> = v.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
                    *v = rgb;
                    img.mode = Mode::Rgb;
                }
                Mode::Lab => {
                    // libtiff's CIELab → RGB, which OpenCV's reader uses.
                    let lab = tiff_cielab::Lab::new(white_point(dec))?;
                    v.chunks_exact_mut(3).for_each(|p| p.copy_from_slice(&lab.rgb(p[0], p[1], p[2])));
                    img.mode = Mode::Rgb;
                }
                _ => {}
            }
        }
    }
    Ok(img)
}

/// What `TiffDecoder::readHeader` in OpenCV 5.0 refuses (measured: its
/// messages name the rule): more than 4 samples per pixel, and bit depths
/// other than 1, 8, 10, 12, 14, 16, 32 and 64 (4 only for a palette).
fn opencv_refuses(l: &Layout) -> Result<(), String> {
    let p = &l.pick;
    if l.compression == 34925 {
        return Err("tiff: OpenCV's libtiff is built without LZMA: cv2.imread returns nothing".into());
    }
    if p.file_samples > 4 {
        return Err(format!("tiff: OpenCV reads 1 to 4 samples per pixel, not {}", p.file_samples));
    }
    match (p.bits, l.photometric) {
        (1 | 8 | 10 | 12 | 14 | 16 | 32 | 64, _) | (4, 3) => Ok(()),
        (b, _) => Err(format!("tiff: OpenCV does not read {b}-bit samples (1, 8, 10, 12, 14, 16, 32, 64)")),
    }
}

/// The WhitePoint tag (318): two rationals, as libtiff reads them (float).
fn white_point(dec: &mut Reader<'_>) -> Option<[f32; 2]> {
    use tiff::decoder::ifd::Value;
    let rational = |v: &Value| match *v {
        Value::Rational(n, d) if d != 0 => Some((f64::from(n) / f64::from(d)) as f32),
        _ => None,
    };
    match dec.find_tag(Tag::Unknown(318)).ok()?? {
        Value::List(v) if v.len() >= 2 => Some([rational(&v[0])?, rational(&v[1])?]),
        _ => None,
    }
}

/// The ColorMap as Pillow's palette: all reds, then greens, then blues in
/// the tag; Pillow and libtiff (OpenCV) both keep the high byte.
fn colormap(dec: &mut Reader<'_>, bits: u16) -> Result<Palette, String> {
    let map = dec
        .find_tag_unsigned_vec::<u16>(Tag::ColorMap)
        .map_err(d)?
        .ok_or("tiff: palette image without a ColorMap")?;
    let n = 1usize << bits;
    if map.len() < 3 * n {
        return Err("malformed tiff: ColorMap is too short".into());
    }
    let to8 = |c: u16| (c >> 8) as u8;
    let rgb = (0..n).flat_map(|i| [to8(map[i]), to8(map[n + i]), to8(map[2 * n + i])]).collect();
    Ok(Palette { rgb, ..Palette::default() })
}

/// Every sample of the first page, pixel by pixel (a planar file's planes
/// interleaved), as unsigned bit patterns; sub-byte samples in byte-padded
/// rows, 12-bit samples unpacked as Pillow's "I;12" does.
fn samples(dec: &mut Reader<'_>, l: &Layout, bytes: &[u8], cv: bool) -> Result<DecodingResult, String> {
    let p = &l.pick;
    if l.compression == 7 {
        return tiff_jpeg::read(dec, bytes, l.width, l.height, p.file_samples).map(DecodingResult::U8);
    }
    let (w, h) = (l.width as usize, l.height as usize);
    // The crate reads no 12-bit samples or LZMA, and panics on tiled planar
    // 16-bit files; libtiff's way of reading strips and tiles (tiff_lenient,
    // strict for Pillow) reads them.
    let raw = p.bits == 12 || (l.tiled && l.planar == 2 && p.file_samples > 1) || l.compression == 34925;
    let mut result = DecodingResult::U8(Vec::new());
    let read = if raw {
        tiff_lenient::read(dec, bytes, !cv).map(|r| result = r)
    } else if needs_min_is_black(l) {
        // The crate refuses palette images, inverts MinIsWhite samples
        // Pillow does not invert, and gives RGB and CMYK files only their
        // colour samples: it reads every sample of a copy whose
        // photometric tag says MinIsBlack.
        let mut copy = bytes.to_vec();
        if !tiff_read::set_photometric(&mut copy, 1) {
            return Err("malformed tiff: cannot locate the photometric tag".into());
        }
        let mut grey = Decoder::new(Cursor::new(&copy[..])).map_err(d)?.with_limits(tiff_read::limits());
        grey.read_image_to_buffer(&mut result).map(drop).map_err(d)
    } else {
        dec.read_image_to_buffer(&mut result).map(drop).map_err(d)
    };
    if let Err(e) = read {
        // OpenCV's libtiff ignores a strip it cannot decode and keeps what
        // it decoded of it (see tiff_lenient); Pillow's reader fails.
        if !cv || raw {
            return Err(e);
        }
        result = tiff_lenient::read(dec, bytes, false).map_err(|_| e)?;
    }
    result = match result {
        DecodingResult::I8(v) => DecodingResult::U8(v.into_iter().map(|s| s as u8).collect()),
        DecodingResult::I16(v) => DecodingResult::U16(v.into_iter().map(|s| s as u16).collect()),
        DecodingResult::U8(v) if p.bits == 12 => DecodingResult::U16(unpack12(&v, w, h)),
        other => other,
    };
    if l.planar == 2 && p.file_samples > 1 {
        // Planar files come plane after plane.
        let n = p.file_samples;
        result = match result {
            DecodingResult::U8(v) => DecodingResult::U8(interleave(&v, n, w * h)?),
            DecodingResult::U16(v) => DecodingResult::U16(interleave(&v, n, w * h)?),
            _ => return Err("tiff: planar layout of this sample type is not supported".into()),
        };
    }
    Ok(result)
}

fn needs_min_is_black(l: &Layout) -> bool {
    let p = &l.pick;
    let colour = match l.photometric {
        2 => 3,
        5 => 4,
        _ => 0,
    };
    match l.photometric {
        0 => p.bits > 8 || p.format == 3,
        3 | 6 | 8 => true,
        2 | 5 => {
            p.file_samples != colour && !(l.photometric == 2 && p.file_samples == 4 && p.mode == Mode::Rgba)
        }
        _ => false,
    }
}

/// Only the samples Pillow keeps of each pixel (unspecified extra samples
/// dropped).
fn keep(r: DecodingResult, p: &Pick, pixels: usize) -> DecodingResult {
    let n = p.file_samples;
    if p.keep.len() == n || n <= 1 {
        return r;
    }
    fn pick<T: Copy>(v: &[T], n: usize, keep: &[usize], pixels: usize) -> Vec<T> {
        v.chunks_exact(n).take(pixels).flat_map(|px| keep.iter().map(|&k| px[k])).collect()
    }
    match r {
        DecodingResult::U8(v) => DecodingResult::U8(pick(&v, n, &p.keep, pixels)),
        DecodingResult::U16(v) => DecodingResult::U16(pick(&v, n, &p.keep, pixels)),
        other => other,
    }
}

/// Pillow's "I;12" unpacker on byte-padded rows: two samples in three
/// bytes, high bits first.
fn unpack12(v: &[u8], w: usize, h: usize) -> Vec<u16> {
    let stride = (w * 12).div_ceil(8);
    let mut out = Vec::with_capacity(w * h);
    for row in v.chunks_exact(stride).take(h) {
        for x in 0..w {
            let bit = x * 12;
            let (a, b) = (u16::from(row[bit / 8]), u16::from(row[bit / 8 + 1]));
            out.push(if x % 2 == 0 { (a << 4) | (b >> 4) } else { ((a & 0x0F) << 8) | b });
        }
    }
    out
}

/// `[plane][pixel]` → `[pixel][plane]`.
fn interleave<T: Copy + Default>(v: &[T], planes: usize, pixels: usize) -> Result<Vec<T>, String> {
    if v.len() < planes * pixels {
        return Err("truncated file: the data ends before the image does".into());
    }
    let mut out = vec![T::default(); planes * pixels];
    for (p, plane) in v.chunks_exact(pixels).take(planes).enumerate() {
        for (i, &s) in plane.iter().enumerate() {
            out[i * planes + p] = s;
        }
    }
    Ok(out)
}

fn kind(r: &DecodingResult) -> &'static str {
    match r {
        DecodingResult::U8(_) => "8-bit",
        DecodingResult::U16(_) => "16-bit",
        DecodingResult::U32(_) | DecodingResult::I32(_) | DecodingResult::F32(_) => "32-bit",
        _ => "other",
    }
}

/// Rows of sub-byte samples, byte-padded per row, MSB first, times `scale`.
fn unpack(v: &[u8], w: usize, h: usize, bits: u16, scale: u8) -> Vec<u8> {
    if bits == 8 {
        return v[..(w * h).min(v.len())].to_vec();
    }
    let bits = usize::from(bits);
    let stride = (w * bits).div_ceil(8);
    let mask = ((1u16 << bits) - 1) as u8;
    let mut out = Vec::with_capacity(w * h);
    for row in v.chunks_exact(stride).take(h) {
        for x in 0..w {
            let bit = x * bits;
            let s = (row[bit / 8] >> (8 - bits - bit % 8)) & mask;
            out.push(s * scale);
        }
    }
    out
}

/// Pillow's "RGBa" unpacker: colour · 255 / alpha, clipped; 0 where
/// alpha is 0.
fn unassociate(v: &mut [u8]) {
    for p in v.chunks_exact_mut(4) {
        let a = u32::from(p[3]);
        for c in &mut p[..3] {
            *c = (u32::from(*c) * 255).checked_div(a).map_or(0, |v| v.min(255) as u8);
        }
    }
}

/// libtiff's unassociated → associated alpha table, `(v·a + 127) / 255`.
fn premultiply(v: &mut [u8]) {
    for p in v.chunks_exact_mut(4) {
        let a = u32::from(p[3]);
        for c in &mut p[..3] {
            *c = ((u32::from(*c) * a + 127) / 255) as u8;
        }
    }
}
