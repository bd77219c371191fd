//! EXIF orientation, which `cv2.imread` applies to JPEGs and Pillow's
//! `Image.open` does not.

use crate::pil::{Data, PilImage};

/// The Orientation tag (0x0112) of an APP1 "Exif" segment, if present and
/// valid (1–8).
pub fn from_app1(app1: &[u8]) -> Option<u16> {
    let tiff = app1.strip_prefix(b"Exif\0\0")?;
    let le = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u16> {
        let b = tiff.get(o..o + 2)?;
        Some(if le { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) })
    };
    let u32_at = |o: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(o..o + 4)?.try_into().ok()?;
        Some(if le { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    };
    let ifd = u32_at(4)? as usize;
    let count = u16_at(ifd)? as usize;
    (0..count).find_map(|i| {
        let entry = ifd + 2 + 12 * i;
        (u16_at(entry)? == 0x0112).then_some(())?;
        u16_at(entry + 8).filter(|v| (1..=8).contains(v))
    })
}

/// Applies orientation `o` the way OpenCV's `ApplyExifOrientation` does
/// (and Pillow's `ImageOps.exif_transpose`, which moves pixels the same
/// way): flips for 2–4, a transpose followed by a flip for 5–8.
pub fn apply(img: &mut PilImage, o: u16) {
    if o <= 1 || o > 8 {
        return;
    }
    let (w, h, ch) = (img.width as usize, img.height as usize, img.mode.channels());
    let transposed = o >= 5;
    match &mut img.data {
        Data::U8(v) => *v = moved(v, w, h, ch, o),
        Data::U16(v) => *v = moved(v, w, h, ch, o),
        Data::I32(v) => *v = moved(v, w, h, ch, o),
        Data::F32(v) => *v = moved(v, w, h, ch, o),
    }
    if transposed {
        std::mem::swap(&mut img.width, &mut img.height);
    }
}

/// The samples of a `w`×`h` image of `ch` channels under orientation `o`.
fn moved<T: Copy + Default>(v: &[T], w: usize, h: usize, ch: usize, o: u16) -> Vec<T> {
    let transposed = o >= 5;
    let (ow, oh) = if transposed { (h, w) } else { (w, h) };
    // Flip after the (optional) transpose: 2/6 horizontal, 4/8 vertical,
    // 3/7 both.
    let (flip_x, flip_y) = match o {
        2 | 6 => (true, false),
        4 | 8 => (false, true),
        3 | 7 => (true, true),
        _ => (false, false),
    };
    let mut out = vec![T::default(); v.len()];
    for y in 0..oh {
        for x in 0..ow {
            let (tx, ty) = (if flip_x { ow - 1 - x } else { x }, if flip_y { oh - 1 - y } else { y });
            // (tx, ty) in the transposed-or-not image; back to the source.
            let (sx, sy) = if transposed { (ty, tx) } else { (tx, ty) };
            let s = (sy * w + sx) * ch;
            let d = (y * ow + x) * ch;
            if let (Some(src), Some(dst)) = (v.get(s..s + ch), out.get_mut(d..d + ch)) {
                dst.copy_from_slice(src);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pil::Mode;

    fn img(w: u32, h: u32, v: Vec<u8>) -> PilImage {
        PilImage { mode: Mode::L, width: w, height: h, data: Data::U8(v), palette: None }
    }

    #[test]
    fn orientations_move_pixels_like_opencv() {
        // 3×2:  a b c / d e f
        let base = vec![1, 2, 3, 4, 5, 6];
        let cases: [(u16, u32, Vec<u8>); 8] = [
            (1, 3, vec![1, 2, 3, 4, 5, 6]),
            (2, 3, vec![3, 2, 1, 6, 5, 4]),
            (3, 3, vec![6, 5, 4, 3, 2, 1]),
            (4, 3, vec![4, 5, 6, 1, 2, 3]),
            (5, 2, vec![1, 4, 2, 5, 3, 6]),
            (6, 2, vec![4, 1, 5, 2, 6, 3]),
            (7, 2, vec![6, 3, 5, 2, 4, 1]),
            (8, 2, vec![3, 6, 2, 5, 1, 4]),
        ];
        for (o, w, want) in cases {
            let mut i = img(3, 2, base.clone());
            apply(&mut i, o);
            assert_eq!((i.width, i.data), (w, Data::U8(want)), "orientation {o}");
        }
    }

    #[test]
    fn exif_tag_is_found_in_both_byte_orders() {
        let mut le = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
        le.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
        assert_eq!(from_app1(&le), Some(6));
        let mut be = b"Exif\0\0MM\0*\0\0\0\x08\0\x01".to_vec();
        be.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8, 0, 0]);
        assert_eq!(from_app1(&be), Some(8));
        assert_eq!(from_app1(b"Exif\0\0XX"), None);
    }
}
