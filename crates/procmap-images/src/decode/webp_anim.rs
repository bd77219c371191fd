//! The first frame of an animated WebP, as Pillow's `Image.open` gives it:
//! `WebPImagePlugin` reads every WebP through libwebp's `WebPAnimDecoder`
//! with its default options (RGBA, not premultiplied), which composes the
//! frame onto a canvas that starts transparent black; the mode is "RGBA"
//! when the file's features say it has alpha, else "RGB" (raw mode RGBX,
//! the fourth byte dropped).

use super::header::check_size;
use crate::pil::{Data, Mode, PilImage};
use libwebp_sys as webp;

/// Frees the decoder however the read ends.
struct Anim(*mut webp::WebPAnimDecoder);

impl Drop for Anim {
    fn drop(&mut self) {
        // SAFETY: the pointer came from WebPAnimDecoderNew and is freed once.
        unsafe { webp::WebPAnimDecoderDelete(self.0) }
    }
}

pub fn first_frame(bytes: &[u8], mode: Mode, width: u32, height: u32) -> Result<PilImage, String> {
    // The canvas is allocated when the decoder is made: check its size first.
    check_size(width, height, 4)?;
    let data = webp::WebPData { bytes: bytes.as_ptr(), size: bytes.len() };
    // SAFETY: `data` points into `bytes`, which outlives the decoder (it is
    // dropped at the end of this function); NULL options are the defaults.
    let dec = unsafe { webp::WebPAnimDecoderNew(&data, std::ptr::null()) };
    if dec.is_null() {
        return Err("malformed webp: libwebp cannot decode this animation".into());
    }
    let dec = Anim(dec);
    // SAFETY: `info` is written by the call; `dec.0` is a live decoder.
    let mut info: webp::WebPAnimInfo = unsafe { std::mem::zeroed() };
    if unsafe { webp::WebPAnimDecoderGetInfo(dec.0, &mut info) } == 0 {
        return Err("malformed webp: cannot read the animation header".into());
    }
    if (info.canvas_width, info.canvas_height) != (width, height) {
        return Err("malformed webp: the canvas size disagrees with the header".into());
    }
    let mut buf: *mut u8 = std::ptr::null_mut();
    let mut timestamp = 0;
    // SAFETY: on success `buf` points to canvas_width × canvas_height RGBA
    // pixels owned by the decoder, valid until the next call or delete.
    if unsafe { webp::WebPAnimDecoderGetNext(dec.0, &mut buf, &mut timestamp) } == 0 || buf.is_null() {
        return Err("malformed webp: the first frame does not decode".into());
    }
    let len = width as usize * height as usize * 4;
    // SAFETY: see above; copied out before `dec` is dropped.
    let rgba = unsafe { std::slice::from_raw_parts(buf, len) };
    let data = match mode {
        Mode::Rgba => rgba.to_vec(),
        _ => rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
    };
    Ok(PilImage { mode, width, height, data: Data::U8(data), palette: None })
}
