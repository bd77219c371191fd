//! GIF, first frame, as `GifImagePlugin` gives it: mode "P" with the
//! frame's palette (local, else global), or "L" when there is no palette or
//! it is the identity grey ramp (Pillow's `_is_palette_needed`). The image
//! has the logical screen's size, grown to hold the frame; pixels outside
//! the frame are the transparent index if there is one, else 0.
//! `info["transparency"]` is the frame's transparent index.
//!
//! A file with no colour table at all (neither global nor local) is "L",
//! the indices read as grey, as Pillow's default palette has it; OpenCV
//! shows the same grey except that index 1 is white (measured on every
//! index with OpenCV 5.0). The `gif` crate refuses such a file, so it reads
//! a copy given a grey-ramp global table, which changes nothing else.

use super::header::{Header, check_size};
use crate::limits::MAX_DECODED_BYTES;
use crate::pil::{Data, Mode, Palette, PilImage};
use gif::{ColorOutput, DecodeOptions, MemoryLimit};

fn options() -> DecodeOptions {
    let mut o = DecodeOptions::new();
    o.set_color_output(ColorOutput::Indexed);
    o.set_memory_limit(MemoryLimit::Bytes(std::num::NonZeroU64::new(MAX_DECODED_BYTES as u64).unwrap()));
    o
}

fn describe(e: gif::DecodingError) -> String {
    match e {
        gif::DecodingError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "truncated file: the data ends before the image does".into()
        }
        gif::DecodingError::Io(io) => format!("cannot read gif: {io}"),
        other => format!("malformed gif: {other}"),
    }
}

/// Pillow keeps a palette only if it is not the identity grey ramp.
fn palette_needed(p: &[u8]) -> bool {
    p.chunks(3).enumerate().any(|(i, c)| c.len() < 3 || !(c[0] as usize == i && c[1] == c[0] && c[2] == c[0]))
}

/// The header and the first frame's descriptor only, as `Image.open` reads
/// them: a file whose image data is damaged still opens.
pub fn probe(bytes: &[u8]) -> Result<Header, String> {
    match probe_tables(bytes) {
        Err(e) if e.contains(NO_TABLE) => probe_tables(&with_grey_table(bytes)),
        other => other,
    }
}

/// The `gif` crate's error for a frame with no colour table to use.
const NO_TABLE: &str = "no color table available";

/// A copy of `bytes` whose logical screen descriptor announces a global
/// table of 256 entries, and has the identity grey ramp inserted as that
/// table.
fn with_grey_table(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 768);
    out.extend_from_slice(&bytes[..13.min(bytes.len())]);
    if let Some(flags) = out.get_mut(10) {
        *flags |= 0x87;
    }
    out.extend((0..=255u8).flat_map(|v| [v, v, v]));
    out.extend_from_slice(bytes.get(13..).unwrap_or_default());
    out
}

fn probe_tables(bytes: &[u8]) -> Result<Header, String> {
    let mut dec = options().read_info(bytes).map_err(describe)?;
    let global = dec.global_palette().map(<[u8]>::to_vec);
    let (screen_w, screen_h) = (u32::from(dec.width()), u32::from(dec.height()));
    let frame = dec.next_frame_info().map_err(describe)?.ok_or("gif: the file has no image")?;
    let width = screen_w.max(u32::from(frame.left) + u32::from(frame.width));
    let height = screen_h.max(u32::from(frame.top) + u32::from(frame.height));
    let needed = frame.palette.as_deref().or(global.as_deref()).is_some_and(palette_needed);
    Ok(Header { width, height, mode: if needed { Mode::P } else { Mode::L } })
}

/// The first frame. With `cv`, the transparent index is given the colour
/// `cv2.imread` shows there: the global palette's background colour.
pub fn decode(bytes: &[u8], cv: bool) -> Result<PilImage, String> {
    match decode_tables(bytes, cv) {
        Err(e) if e.contains(NO_TABLE) => {
            let mut img = decode_tables(&with_grey_table(bytes), cv)?;
            if let (true, Data::U8(v)) = (cv, &mut img.data) {
                v.iter_mut().filter(|p| **p == 1).for_each(|p| *p = 255);
            }
            Ok(img)
        }
        other => other,
    }
}

fn decode_tables(bytes: &[u8], cv: bool) -> Result<PilImage, String> {
    let mut dec = options().read_info(bytes).map_err(describe)?;
    let global = dec.global_palette().map(<[u8]>::to_vec);
    let background = dec.bg_color();
    let (screen_w, screen_h) = (u32::from(dec.width()), u32::from(dec.height()));
    let frame = dec.read_next_frame().map_err(describe)?.ok_or("gif: the file has no image")?;
    let (left, top) = (u32::from(frame.left), u32::from(frame.top));
    let (fw, fh) = (u32::from(frame.width), u32::from(frame.height));
    let width = screen_w.max(left + fw);
    let height = screen_h.max(top + fh);
    check_size(width, height, 1)?;
    let mut palette = frame.palette.clone().or(global.clone()).filter(|p| palette_needed(p));
    if let (true, Some(p), Some(t), Some(bg)) = (cv, palette.as_mut(), frame.transparent, background) {
        let t = usize::from(t) * 3;
        if let Some(colour) = global.as_deref().and_then(|g| g.get(bg * 3..bg * 3 + 3))
            && p.len() >= t + 3
        {
            p[t..t + 3].copy_from_slice(colour);
        }
    }
    let fill = frame.transparent.unwrap_or(0);
    let mut data = vec![fill; width as usize * height as usize];
    for (y, row) in frame.buffer.chunks_exact(fw.max(1) as usize).enumerate().take(fh as usize) {
        let start = (top as usize + y) * width as usize + left as usize;
        data[start..start + row.len()].copy_from_slice(row);
    }
    let mode = if palette.is_some() { Mode::P } else { Mode::L };
    let palette = palette.map(|rgb| Palette {
        rgb,
        alpha: frame.transparent.map(|t| {
            let mut a = vec![255u8; usize::from(t) + 1];
            a[usize::from(t)] = 0;
            a
        }),
        key: None,
    });
    Ok(PilImage { mode, width, height, data: Data::U8(data), palette })
}
