//! BMP as `BmpImagePlugin` reads it: 1/4/8-bit palette images are "P",
//! or "1"/"L" when the palette is plain black-and-white or the grey ramp;
//! 16-bit is 5-5-5 (or 5-6-5 by bitfields) "RGB"; 24-bit "RGB"; 32-bit
//! "RGB" (the fourth byte ignored) unless bitfields give it an alpha mask.
//! RLE4/RLE8 follow Pillow's `BmpRleDecoder` step for step, including how
//! it pads rows and where it stops. OS/2 (12-byte) and Windows 40–124-byte
//! headers; bottom-up and top-down.
//!
//! With `cv`, the pixels are what `cv2.imread` shows where it differs:
//! OpenCV widens 5-bit channels by a shift (`v << 3`), Pillow by `v·255/31`;
//! and OpenCV's RLE reader refuses a run (encoded or absolute) that goes
//! past the end of its row, so `imread` returns nothing (measured with
//! OpenCV 5.0; ImageMagick pads odd widths by a pixel and writes such
//! runs); a run that ends exactly at the row's end moves to the next row,
//! where an end-of-line code then changes nothing.

use super::bmp_masks;
use super::header::{Header, check_size};
use crate::pil::{Data, Mode, Palette, PilImage};

const RAW: u32 = 0;
const RLE8: u32 = 1;
const RLE4: u32 = 2;
const BITFIELDS: u32 = 3;

/// How the pixel bytes are laid out, as Pillow's rawmode names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    /// Palette indices of 1, 4 or 8 bits.
    Indexed(u16),
    Bgr15,
    Bgr16,
    Bgr,
    /// Four bytes a pixel; byte offsets of R, G, B and alpha if any.
    Four([usize; 3], Option<usize>),
    /// Four bytes a pixel read through red, green, blue and alpha masks,
    /// as OpenCV does (`bmp_masks`).
    Masked([u32; 4]),
}

struct Layout {
    width: u32,
    height: u32,
    top_down: bool,
    bits: u16,
    compression: u32,
    raw: Raw,
    mode: Mode,
    palette: Option<Vec<u8>>,
    data_offset: usize,
}

fn u16_at(b: &[u8], o: usize) -> Result<u16, String> {
    b.get(o..o + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or_else(truncated)
}

fn u32_at(b: &[u8], o: usize) -> Result<u32, String> {
    b.get(o..o + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok_or_else(truncated)
}

fn truncated() -> String {
    "truncated file: the data ends before the image does".into()
}

/// Width, height, top-down, bits, compression, colours used and palette
/// entry size from a Windows info header (after its size field).
type Fields = (u32, u32, bool, u16, u32, u32, usize);

fn windows(h: &[u8]) -> Result<Fields, String> {
    let raw_h = u32_at(h, 4)?;
    // Pillow takes the height as top-down when its top byte is 0xFF.
    let top_down = h[7] == 0xFF;
    let height = if top_down { raw_h.wrapping_neg() } else { raw_h };
    Ok((u32_at(h, 0)?, height, top_down, u16_at(h, 10)?, u32_at(h, 12)?, u32_at(h, 28)?, 4))
}

fn layout(b: &[u8], cv: bool) -> Result<Layout, String> {
    if !b.starts_with(b"BM") {
        return Err("not a bmp file".into());
    }
    let data_offset = u32_at(b, 10)? as usize;
    let header_size = u32_at(b, 14)? as usize;
    let h = b.get(18..14 + header_size).ok_or_else(truncated)?;
    let (width, height, top_down, bits, compression, colors, entry): Fields = match header_size {
        12 => (u32::from(u16_at(h, 0)?), u32::from(u16_at(h, 2)?), false, u16_at(h, 6)?, RAW, 0, 3),
        // OpenCV reads any header from 36 bytes up the same way.
        40 | 52 | 56 | 64 | 108 | 124 => windows(h)?,
        // OpenCV reads any header from 36 bytes up the same way.
        n if cv && n >= 36 => windows(h)?,
        n => {
            return Err(format!(
                "bmp: header size {n} is not supported (Pillow reads 12, 40, 52, 56, 64, 108, 124)"
            ));
        }
    };
    let masks = if compression == BITFIELDS {
        if h.len() >= 48 {
            let a = if h.len() >= 52 { u32_at(h, 48)? } else { 0 };
            [u32_at(h, 36)?, u32_at(h, 40)?, u32_at(h, 44)?, a]
        } else {
            let m = 14 + header_size;
            [u32_at(b, m)?, u32_at(b, m + 4)?, u32_at(b, m + 8)?, 0]
        }
    } else {
        [0; 4]
    };
    let (mut mode, mut raw) = match bits {
        1 | 4 | 8 => (Mode::P, Raw::Indexed(bits)),
        16 => (Mode::Rgb, Raw::Bgr15),
        24 => (Mode::Rgb, Raw::Bgr),
        32 => (Mode::Rgb, Raw::Four([2, 1, 0], None)),
        n => return Err(format!("bmp: {n} bits per pixel is not supported")),
    };
    match compression {
        RAW | RLE8 | RLE4 => {}
        BITFIELDS => {
            raw = match (bits, masks) {
                // OpenCV takes masks from a header that holds all four,
                // and ignores them otherwise.
                (32, m) if cv && header_size >= 56 => Raw::Masked(m),
                (32, _) if cv => Raw::Four([2, 1, 0], None),
                (32, m) => bmp_masks::pillow(m)
                    .map(|(rgb, alpha)| Raw::Four(rgb, alpha))
                    .ok_or("bmp: this 32-bit bitfields layout is not supported")?,
                (24, [0xFF0000, 0xFF00, 0xFF, _]) => Raw::Bgr,
                // OpenCV reads 16-bit masks from right after the info header
                // whatever its size: in a V4/V5 header that is pixel data.
                (16, _) if cv => {
                    let m = 14 + header_size;
                    match [u32_at(b, m)?, u32_at(b, m + 4)?, u32_at(b, m + 8)?] {
                        [0xF800, 0x7E0, 0x1F] => Raw::Bgr16,
                        [0x7C00, 0x3E0, 0x1F] => Raw::Bgr15,
                        _ => {
                            return Err(
                                "bmp: OpenCV finds no 5-5-5 or 5-6-5 masks after the info header".into()
                            );
                        }
                    }
                }
                (16, [0xF800, 0x7E0, 0x1F, _]) => Raw::Bgr16,
                (16, [0x7C00, 0x3E0, 0x1F, _]) => Raw::Bgr15,
                _ => return Err("bmp: this bitfields layout is not supported".into()),
            };
            if let Raw::Four(_, Some(_)) = raw {
                mode = Mode::Rgba;
            }
        }
        n => {
            return Err(format!(
                "bmp: compression {n} is not supported (Pillow reads none, RLE4, RLE8, bitfields)"
            ));
        }
    }
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(format!("malformed bmp: size {width}×{height}"));
    }
    let mut palette = None;
    if mode == Mode::P {
        let colors = if colors > 0 { colors as usize } else { 1usize << bits };
        if colors > 65536 {
            return Err(format!("bmp: palette of {colors} colours is not supported"));
        }
        let start = 14 + header_size + if compression == BITFIELDS && h.len() < 48 { 12 } else { 0 };
        let table = b.get(start..start + colors * entry).ok_or_else(truncated)?;
        let rgb: Vec<u8> = table.chunks_exact(entry).flat_map(|e| [e[2], e[1], e[0]]).collect();
        // Pillow drops a palette that is only black and white (two colours)
        // or the grey ramp, and reads the indices as "1" or "L".
        let ramp: Vec<u8> = if colors == 2 { vec![0, 255] } else { (0..colors).map(|i| i as u8).collect() };
        let grey = colors <= 256 && ramp.iter().enumerate().all(|(i, &v)| rgb[i * 3..i * 3 + 3] == [v, v, v]);
        if grey {
            mode = if colors == 2 { Mode::Bilevel } else { Mode::L };
        } else {
            palette = Some(rgb);
        }
    }
    Ok(Layout { width, height, top_down, bits, compression, raw, mode, palette, data_offset })
}

pub fn probe(bytes: &[u8]) -> Result<Header, String> {
    let l = layout(bytes, false)?;
    Ok(Header { width: l.width, height: l.height, mode: l.mode })
}

pub fn decode(bytes: &[u8], cv: bool) -> Result<PilImage, String> {
    let l = layout(bytes, cv)?;
    let (w, h) = (l.width as usize, l.height as usize);
    check_size(l.width, l.height, l.mode.channels() as u64)?;
    let data = bytes.get(l.data_offset..).ok_or_else(truncated)?;
    let rows: Vec<u8> = match l.compression {
        RLE8 | RLE4 if cv => rle_opencv(data, w, h, l.compression == RLE4)?,
        RLE8 | RLE4 => rle(data, l.data_offset, w, h, l.compression == RLE4)?,
        _ => {
            let stride = ((w * usize::from(l.bits) + 31) >> 3) & !3;
            let need = stride.checked_mul(h).ok_or("malformed bmp: size overflows")?;
            let rows = data.get(..need).ok_or_else(truncated)?;
            let mut out = Vec::with_capacity(w * h * l.mode.channels());
            for row in rows.chunks_exact(stride) {
                unpack_row(row, w, l.raw, l.mode, cv, &mut out);
            }
            out
        }
    };
    // File rows run bottom-up unless the height was negative.
    let row_len = w * l.mode.channels();
    let mut pixels = Vec::with_capacity(row_len * h);
    if l.top_down {
        pixels.extend_from_slice(&rows[..row_len * h]);
    } else {
        for r in rows.chunks_exact(row_len).take(h).rev() {
            pixels.extend_from_slice(r);
        }
    }
    let palette = l.palette.map(|rgb| Palette { rgb, ..Palette::default() });
    Ok(PilImage { mode: l.mode, width: l.width, height: l.height, data: Data::U8(pixels), palette })
}

/// Pillow's `* 255 / 31`, or OpenCV's shift.
fn widen(v: u32, bits: u32, cv: bool) -> u8 {
    let max = (1 << bits) - 1;
    if cv { (v << (8 - bits)) as u8 } else { (v * 255 / max) as u8 }
}

fn unpack_row(row: &[u8], w: usize, raw: Raw, mode: Mode, cv: bool, out: &mut Vec<u8>) {
    match raw {
        Raw::Indexed(bits) => {
            let per_byte = 8 / usize::from(bits);
            let mask = ((1u16 << bits) - 1) as u8;
            for x in 0..w {
                let byte = row[x / per_byte];
                let shift = 8 - usize::from(bits) * (x % per_byte + 1);
                let v = (byte >> shift) & mask;
                out.push(if mode == Mode::Bilevel { if v != 0 { 255 } else { 0 } } else { v });
            }
        }
        Raw::Bgr15 | Raw::Bgr16 => {
            let g_bits = if raw == Raw::Bgr16 { 6 } else { 5 };
            for p in row[..w * 2].chunks_exact(2) {
                let v = u32::from(u16::from_le_bytes([p[0], p[1]]));
                let b = v & 31;
                let g = (v >> 5) & ((1 << g_bits) - 1);
                let r = (v >> (5 + g_bits)) & 31;
                out.extend([widen(r, 5, cv), widen(g, g_bits, cv), widen(b, 5, cv)]);
            }
        }
        Raw::Bgr => {
            for p in row[..w * 3].chunks_exact(3) {
                out.extend([p[2], p[1], p[0]]);
            }
        }
        Raw::Masked(masks) => bmp_masks::opencv_row(row, w, masks, out),
        Raw::Four([r, g, b], alpha) => {
            for p in row[..w * 4].chunks_exact(4) {
                out.extend([p[r], p[g], p[b]]);
                if let Some(a) = alpha {
                    out.push(p[a]);
                }
            }
        }
    }
}

/// RLE as `cv2.imread` reads it (see the module comment): indices in file
/// row order, unwritten pixels 0. Never fails: what is missing stays 0.
fn rle_opencv(data: &[u8], w: usize, h: usize, rle4: bool) -> Result<Vec<u8>, String> {
    let past_row = || Err("bmp: OpenCV refuses an RLE run that goes past the end of its row".to_string());
    let mut out = vec![0u8; w * h];
    let (mut x, mut y, mut pos) = (0usize, 0usize, 0usize);
    let mut put = |x: &mut usize, y: &mut usize, v: u8| {
        if *y < h && *x < w {
            out[*y * w + *x] = v;
        }
        *x += 1;
        if *x >= w {
            *x = 0;
            *y += 1;
        }
    };
    while y < h {
        let (Some(&count), Some(&byte)) = (data.get(pos), data.get(pos + 1)) else { break };
        pos += 2;
        if count > 0 {
            if x + usize::from(count) > w {
                return past_row();
            }
            for i in 0..usize::from(count) {
                let v = if !rle4 {
                    byte
                } else if i % 2 == 0 {
                    byte >> 4
                } else {
                    byte & 0x0F
                };
                put(&mut x, &mut y, v);
            }
            continue;
        }
        match byte {
            // A row already wrapped by a full run stays where it is.
            0 if x == 0 => {}
            0 => {
                x = 0;
                y += 1;
            }
            1 => break,
            2 => {
                let Some(d) = data.get(pos..pos + 2) else { break };
                pos += 2;
                x += usize::from(d[0]);
                y += usize::from(d[1]);
            }
            n => {
                let n = usize::from(n);
                if x + n > w {
                    return past_row();
                }
                let len = if rle4 { n.div_ceil(2) } else { n };
                let Some(run) = data.get(pos..pos + len) else { break };
                for i in 0..n {
                    let v = if !rle4 {
                        run[i]
                    } else if i % 2 == 0 {
                        run[i / 2] >> 4
                    } else {
                        run[i / 2] & 0x0F
                    };
                    put(&mut x, &mut y, v);
                }
                pos += len + len % 2;
            }
        }
    }
    Ok(out)
}

/// Pillow 13's `BmpRleDecoder`: one index per byte, rows in file order.
/// `base` is the file offset of `data` (absolute runs are padded to an even
/// file position). An encoded run is cut at the row's end; an absolute run
/// or a delta at the image's end; an absolute RLE4 run of n pixels takes
/// ⌈n/2⌉ bytes. Rows Pillow leaves short are an error there too ("not
/// enough image data").
fn rle(data: &[u8], base: usize, w: usize, h: usize, rle4: bool) -> Result<Vec<u8>, String> {
    let total = w * h;
    let mut out: Vec<u8> = Vec::with_capacity(total);
    let mut x = 0usize;
    let mut pos = 0usize;
    while out.len() < total {
        let (Some(&count), Some(&byte)) = (data.get(pos), data.get(pos + 1)) else { break };
        pos += 2;
        if count > 0 {
            let n = usize::from(count).min(w.saturating_sub(x));
            if rle4 {
                out.extend((0..n).map(|i| if i.is_multiple_of(2) { byte >> 4 } else { byte & 0x0F }));
            } else {
                out.extend(std::iter::repeat_n(byte, n));
            }
            x += n;
            continue;
        }
        match byte {
            0 => {
                while !out.len().is_multiple_of(w) {
                    out.push(0);
                }
                x = 0;
            }
            1 => break,
            2 => {
                let Some(d) = data.get(pos..pos + 2) else { break };
                pos += 2;
                let skip = (usize::from(d[0]) + usize::from(d[1]) * w).min(total - out.len());
                out.extend(std::iter::repeat_n(0, skip));
                x = out.len() % w;
            }
            n => {
                let count = (total - out.len()).min(usize::from(n));
                let byte_count = if rle4 { count.div_ceil(2) } else { count };
                let run = &data[pos.min(data.len())..(pos + byte_count).min(data.len())];
                pos += run.len();
                if rle4 {
                    for (i, &b) in run.iter().enumerate() {
                        out.push(b >> 4);
                        if i * 2 + 1 < count {
                            out.push(b & 0x0F);
                        }
                    }
                } else {
                    out.extend_from_slice(run);
                }
                if run.len() < byte_count || out.len() == total {
                    break;
                }
                x += usize::from(n);
                if !(base + pos).is_multiple_of(2) {
                    pos += 1;
                }
            }
        }
    }
    if out.len() < total {
        return Err(truncated());
    }
    out.truncate(total);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BMP with a 40-byte header: `height` negative means top-down.
    fn bmp(
        width: i32,
        height: i32,
        bits: u16,
        compression: u32,
        palette: &[[u8; 3]],
        data: &[u8],
    ) -> Vec<u8> {
        let offset = 14 + 40 + palette.len() * 4;
        let mut b = b"BM".to_vec();
        b.extend(((offset + data.len()) as u32).to_le_bytes());
        b.extend([0; 4]);
        b.extend((offset as u32).to_le_bytes());
        b.extend(40u32.to_le_bytes());
        b.extend(width.to_le_bytes());
        b.extend(height.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(bits.to_le_bytes());
        b.extend(compression.to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend([0; 8]);
        b.extend((palette.len() as u32).to_le_bytes());
        b.extend([0; 4]);
        for c in palette {
            b.extend([c[2], c[1], c[0], 0]);
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn rows_run_bottom_up_unless_the_height_is_negative() {
        // 24-bit, 1×2: file rows are BGR + 1 byte padding.
        let data = [1, 2, 3, 0, 4, 5, 6, 0];
        let up = decode(&bmp(1, 2, 24, RAW, &[], &data), false).unwrap();
        assert_eq!((up.mode, up.data), (Mode::Rgb, Data::U8(vec![6, 5, 4, 3, 2, 1])));
        let down = decode(&bmp(1, -2, 24, RAW, &[], &data), false).unwrap();
        assert_eq!(down.data, Data::U8(vec![3, 2, 1, 6, 5, 4]));
    }

    #[test]
    fn grey_palettes_become_1_and_l_like_pillow() {
        let bw = bmp(3, 1, 1, RAW, &[[0, 0, 0], [255, 255, 255]], &[0b1010_0000, 0, 0, 0]);
        let img = decode(&bw, false).unwrap();
        assert_eq!((img.mode, img.data), (Mode::Bilevel, Data::U8(vec![255, 0, 255])));
        let ramp: Vec<[u8; 3]> = (0..=255u8).map(|v| [v, v, v]).collect();
        assert_eq!(probe(&bmp(4, 1, 8, RAW, &ramp, &[9, 8, 7, 6])).unwrap().mode, Mode::L);
        let colour = bmp(4, 1, 8, RAW, &[[1, 2, 3], [4, 5, 6]], &[1, 0, 1, 1]);
        let img = decode(&colour, false).unwrap();
        assert_eq!((img.mode, img.palette.unwrap().rgb), (Mode::P, vec![1, 2, 3, 4, 5, 6]));
    }

    #[test]
    fn five_bit_channels_widen_like_pillow_or_opencv() {
        // 5-5-5: r=31, g=16, b=1.
        let v: u16 = (31 << 10) | (16 << 5) | 1;
        let [lo, hi] = v.to_le_bytes();
        let file = bmp(1, 1, 16, RAW, &[], &[lo, hi, 0, 0]);
        assert_eq!(decode(&file, false).unwrap().data, Data::U8(vec![255, 131, 8]));
        assert_eq!(decode(&file, true).unwrap().data, Data::U8(vec![248, 128, 8]));
    }

    #[test]
    fn rle8_runs_end_of_line_and_delta() {
        // 4×2 bottom-up: row 0 (bottom) = run of 3 × 7, end of line (pads
        // with 0); delta (1, 0) then an absolute run of 3 in row 1.
        let data = [3, 7, 0, 0, 0, 2, 1, 0, 0, 3, 1, 2, 3, 0, 0, 1];
        let img = decode(&bmp(4, 2, 8, RLE8, &[[9, 9, 9], [1, 1, 1]], &data), false).unwrap();
        assert_eq!(img.data, Data::U8(vec![0, 1, 2, 3, 7, 7, 7, 0]));
        // OpenCV's reading of a run that fills its row exactly, then
        // end-of-line: no empty row between (cv2.imread of this file gives
        // rows 7777, 5500, 0000 from the bottom).
        let data = [4, 7, 0, 0, 2, 5, 0, 0, 0, 1];
        assert_eq!(rle_opencv(&data, 4, 3, false), Ok(vec![7, 7, 7, 7, 5, 5, 0, 0, 0, 0, 0, 0]));
        // A run past the row's end: cv2.imread returns nothing.
        assert!(rle_opencv(&[5, 7, 0, 0, 0, 1], 4, 3, false).is_err());
        assert!(rle_opencv(&[0, 5, 1, 2, 3, 4, 5, 0, 0, 1], 4, 3, false).is_err());
        // Cut short: an error, as in Pillow ("not enough image data").
        assert!(decode(&bmp(4, 2, 8, RLE8, &[[9, 9, 9]], &data[..4]), false).is_err());
    }
}
