//! PNG as `PngImagePlugin` reads it: the `png` crate decodes raw samples
//! (no palette expansion, no tRNS applied), which are unpacked into
//! Pillow's mode for the colour type and depth (`_MODES`): a 16-bit RGB PNG
//! becomes 8-bit "RGB" (high bytes), 16-bit grey+alpha becomes "RGBA", a
//! palette PNG stays "P" (numpy sees the indices), 1-bit grey is "1", and a
//! tRNS colour key is kept as `info["transparency"]`.

use super::header::check_size;
use crate::limits::MAX_DECODED_BYTES;
use crate::pil::{Data, Mode, Palette, PilImage};
use std::io::Cursor;

/// Pillow's mode for a PNG of this colour type and depth
/// (`PngImagePlugin._MODES`), as [`decode`] produces it.
pub fn png_mode(color: png::ColorType, depth: png::BitDepth) -> Option<Mode> {
    use png::{BitDepth as D, ColorType as C};
    Some(match (color, depth) {
        (C::Grayscale, D::One) => Mode::Bilevel,
        (C::Grayscale, D::Sixteen) => Mode::I16,
        (C::Grayscale, _) => Mode::L,
        (C::Rgb, D::Eight | D::Sixteen) => Mode::Rgb,
        (C::Indexed, D::Sixteen) => return None,
        (C::Indexed, _) => Mode::P,
        (C::GrayscaleAlpha, D::Eight) => Mode::LA,
        (C::GrayscaleAlpha | C::Rgba, D::Sixteen) | (C::Rgba, D::Eight) => Mode::Rgba,
        _ => return None,
    })
}

pub fn describe_png_error(e: &png::DecodingError) -> String {
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "truncated file: the data ends before the image does".into()
        }
        png::DecodingError::IoError(io) => format!("cannot read png: {io}"),
        png::DecodingError::Format(f) => format!("malformed png: {f}"),
        png::DecodingError::LimitsExceeded => "png exceeds the decoder's memory limits".into(),
        other => format!("cannot decode png: {other}"),
    }
}

pub fn decode(bytes: &[u8]) -> Result<PilImage, String> {
    use png::{BitDepth, ColorType};
    let describe = |e: png::DecodingError| describe_png_error(&e);
    let limits = png::Limits { bytes: MAX_DECODED_BYTES };
    let mut dec = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    dec.set_transformations(png::Transformations::IDENTITY);
    // Pillow does not check IDAT's CRC nor (having all rows) zlib's Adler-32.
    dec.ignore_checksums(true);
    let mut reader = dec.read_info().map_err(describe)?;
    let info = reader.info();
    let (width, height) = (info.width, info.height);
    let (color, depth) = (info.color_type, info.bit_depth);
    let palette = info.palette.as_ref().map(|p| Palette {
        rgb: p.to_vec(),
        alpha: info.trns.as_ref().filter(|_| color == ColorType::Indexed).map(|t| t.to_vec()),
        key: None,
    });
    let key =
        info.trns.as_ref().filter(|_| matches!(color, ColorType::Grayscale | ColorType::Rgb)).map(|t| {
            // The png crate keeps one byte per sample below 16 bits.
            if depth == BitDepth::Sixteen {
                t.chunks_exact(2).map(|b| u16::from_be_bytes([b[0], b[1]])).collect::<Vec<_>>()
            } else {
                t.iter().map(|&b| u16::from(b)).collect()
            }
        });
    let channels = color.samples() as u64;
    check_size(width, height, channels * if depth == BitDepth::Sixteen { 2 } else { 1 })?;
    let size = reader.output_buffer_size().ok_or("png is too large to decode")?;
    let mut raw = vec![0u8; size];
    let frame = reader.next_frame(&mut raw).map_err(describe)?;
    let line = frame.line_size;
    let (w, h) = (width as usize, height as usize);
    let rows = raw.chunks_exact(line).take(h);

    // Unpacks sub-byte samples, MSB first, scaled by `mul` (Pillow's L;2 and
    // L;4 rawmodes scale to 0..255; "1" and P keep 0/1 and indices).
    let unpack = |bits: usize, mul: u8| -> Vec<u8> {
        let per_byte = 8 / bits;
        let mask = (1u8 << bits) - 1;
        let mut out = Vec::with_capacity(w * h);
        for row in raw.chunks_exact(line).take(h) {
            for x in 0..w {
                let byte = row[x / per_byte];
                let shift = 8 - bits * (x % per_byte + 1);
                out.push(((byte >> shift) & mask) * mul);
            }
        }
        out
    };
    let high_bytes = |n: usize| -> Vec<u8> {
        let mut out = Vec::with_capacity(w * h * n);
        for row in raw.chunks_exact(line).take(h) {
            out.extend(row[..w * n * 2].chunks_exact(2).map(|s| s[0]));
        }
        out
    };
    let plain = |n: usize| -> Vec<u8> {
        let mut out = Vec::with_capacity(w * h * n);
        for row in raw.chunks_exact(line).take(h) {
            out.extend_from_slice(&row[..w * n]);
        }
        out
    };

    let (mode, data) = match (color, depth) {
        (ColorType::Grayscale, BitDepth::One) => (Mode::Bilevel, Data::U8(unpack(1, 255))),
        (ColorType::Grayscale, BitDepth::Two) => (Mode::L, Data::U8(unpack(2, 85))),
        (ColorType::Grayscale, BitDepth::Four) => (Mode::L, Data::U8(unpack(4, 17))),
        (ColorType::Grayscale, BitDepth::Eight) => (Mode::L, Data::U8(plain(1))),
        (ColorType::Grayscale, BitDepth::Sixteen) => {
            let mut out = Vec::with_capacity(w * h);
            for row in rows {
                out.extend(row[..w * 2].chunks_exact(2).map(|s| u16::from_be_bytes([s[0], s[1]])));
            }
            (Mode::I16, Data::U16(out))
        }
        (ColorType::Rgb, BitDepth::Eight) => (Mode::Rgb, Data::U8(plain(3))),
        (ColorType::Rgb, BitDepth::Sixteen) => (Mode::Rgb, Data::U8(high_bytes(3))),
        (ColorType::Indexed, BitDepth::Eight) => (Mode::P, Data::U8(plain(1))),
        (ColorType::Indexed, d) => (Mode::P, Data::U8(unpack(d as usize, 1))),
        (ColorType::GrayscaleAlpha, BitDepth::Eight) => (Mode::LA, Data::U8(plain(2))),
        // Pillow has no 16-bit LA: its "LA;16B" rawmode yields RGBA.
        (ColorType::GrayscaleAlpha, BitDepth::Sixteen) => {
            let la = high_bytes(2);
            let mut out = Vec::with_capacity(w * h * 4);
            for p in la.chunks_exact(2) {
                out.extend_from_slice(&[p[0], p[0], p[0], p[1]]);
            }
            (Mode::Rgba, Data::U8(out))
        }
        (ColorType::Rgba, BitDepth::Eight) => (Mode::Rgba, Data::U8(plain(4))),
        (ColorType::Rgba, BitDepth::Sixteen) => (Mode::Rgba, Data::U8(high_bytes(4))),
        (c, d) => return Err(format!("malformed png: invalid colour type {c:?} at {d:?}")),
    };
    let palette = if mode == Mode::P {
        Some(palette.ok_or("malformed png: palette image without a palette")?)
    } else {
        // Pillow drops the tRNS of colour types that become RGBA or LA.
        key.filter(|_| matches!(mode, Mode::Bilevel | Mode::L | Mode::I16 | Mode::Rgb))
            .map(|k| Palette { key: Some(k), ..Palette::default() })
    };
    Ok(PilImage { mode, width, height, data, palette })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        if color == png::ColorType::Indexed {
            enc.set_palette(vec![0u8; 12]);
        }
        enc.write_header().unwrap().write_image_data(data).unwrap();
        out
    }

    #[test]
    fn png_modes_follow_pillow() {
        use png::{BitDepth, ColorType};
        // 1-bit grey: "1", stored 0/255.
        let img = decode(&encode(3, 1, ColorType::Grayscale, BitDepth::One, &[0b1010_0000])).unwrap();
        assert_eq!((img.mode, img.data), (Mode::Bilevel, Data::U8(vec![255, 0, 255])));
        // 2-bit palette: "P" with the indices.
        let img = decode(&encode(4, 1, ColorType::Indexed, BitDepth::Two, &[0b0001_1011])).unwrap();
        assert_eq!((img.mode, img.data), (Mode::P, Data::U8(vec![0, 1, 2, 3])));
        // 4-bit grey: "L", scaled by 17.
        let img = decode(&encode(2, 1, ColorType::Grayscale, BitDepth::Four, &[0xF1])).unwrap();
        assert_eq!((img.mode, img.data), (Mode::L, Data::U8(vec![255, 17])));
        // 16-bit grey+alpha: "RGBA" from the high bytes.
        let la16 = [0x12, 0x34, 0xAB, 0xCD];
        let img = decode(&encode(1, 1, ColorType::GrayscaleAlpha, BitDepth::Sixteen, &la16)).unwrap();
        assert_eq!((img.mode, img.data), (Mode::Rgba, Data::U8(vec![0x12, 0x12, 0x12, 0xAB])));
        // 16-bit grey: "I;16".
        let img = decode(&encode(1, 1, ColorType::Grayscale, BitDepth::Sixteen, &[0x12, 0x34])).unwrap();
        assert_eq!(img.shape(), vec![1, 1]);
        assert_eq!((img.mode, img.data), (Mode::I16, Data::U16(vec![0x1234])));
    }

    #[test]
    fn huge_png_header_is_refused_before_allocating() {
        // A valid IHDR declaring 100000×100000 RGBA, then a token IDAT.
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, 100_000, 100_000);
        enc.set_color(png::ColorType::Rgba);
        let mut w = enc.write_header().unwrap();
        w.write_chunk(png::chunk::IDAT, &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]).unwrap();
        drop(w);
        let e = decode(&out).unwrap_err();
        assert!(e.contains("exceeds the 256 MiB limit"), "{e}");
    }
}
