//! 32-bit BITFIELDS pixels: the mask layouts Pillow accepts (its
//! `MASK_MODES`, read byte by byte), and OpenCV's reading of any masks.
//!
//! OpenCV (`grfmt_bmp.cpp`) reads the four masks only from an info header
//! of 56 bytes or more; with a shorter one it takes the bytes as B, G, R,
//! X whatever the masks say. With the masks, each channel is
//! `(pixel & mask) >> shift`, times the single-precision factor
//! `255.0f / (mask >> shift)`, truncated to a byte; a zero mask gives 0.

/// Byte offsets of R, G and B in a little-endian pixel, and of alpha if any.
pub type Offsets = ([usize; 3], Option<usize>);

/// Pillow's supported 32-bit masks (red, green, blue, alpha) as byte
/// offsets.
pub fn pillow(masks: [u32; 4]) -> Option<Offsets> {
    Some(match masks {
        [0xFF0000, 0xFF00, 0xFF, 0] => ([2, 1, 0], None),
        [0xFF000000, 0xFF0000, 0xFF00, 0] => ([3, 2, 1], None),
        [0xFF000000, 0xFF00, 0xFF, 0] => ([3, 1, 0], None),
        [0xFF000000, 0xFF0000, 0xFF00, 0xFF] => ([3, 2, 1], Some(0)),
        [0xFF, 0xFF00, 0xFF0000, 0xFF000000] => ([0, 1, 2], Some(3)),
        [0xFF0000, 0xFF00, 0xFF, 0xFF000000] | [0, 0, 0, 0] => ([2, 1, 0], Some(3)),
        [0xFF000000, 0xFF00, 0xFF, 0xFF0000] => ([3, 1, 0], Some(2)),
        _ => return None,
    })
}

/// One channel of a pixel as OpenCV's `maskBGRA` computes it.
fn channel(pixel: u32, mask: u32) -> u8 {
    if mask == 0 {
        return 0;
    }
    let shift = mask.trailing_zeros();
    let top = mask >> shift;
    let scale = 255.0f32 / top as f32;
    (((pixel & mask) >> shift) as f32 * scale) as u8
}

/// A row of 32-bit pixels as OpenCV reads them through `masks` (red,
/// green, blue, alpha), as R, G, B: `imread`'s colour image drops alpha.
pub fn opencv_row(row: &[u8], w: usize, masks: [u32; 4], out: &mut Vec<u8>) {
    for p in row[..w * 4].chunks_exact(4) {
        let v = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        out.extend([channel(v, masks[0]), channel(v, masks[1]), channel(v, masks[2])]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opencv_scales_wide_masks_in_single_precision() {
        // 11-bit red at the top: 2047 → 255, 1 → 0 (0.1245… truncated),
        // 1024 → 127 (127.56…); 8-bit masks pass bytes through.
        let m = 0xFFE0_0000;
        assert_eq!(channel(0xFFE0_0000, m), 255);
        assert_eq!(channel(1 << 21, m), 0);
        assert_eq!(channel(1024 << 21, m), 127);
        assert_eq!(channel(0x00AB_0000, 0x00FF_0000), 0xAB);
        assert_eq!(channel(0xFFFF_FFFF, 0), 0);
    }

    #[test]
    fn pillow_knows_abgr_and_bgar() {
        assert_eq!(pillow([0xFF000000, 0xFF0000, 0xFF00, 0xFF]), Some(([3, 2, 1], Some(0))));
        assert_eq!(pillow([0xFF000000, 0xFF00, 0xFF, 0xFF0000]), Some(([3, 1, 0], Some(2))));
        assert_eq!(pillow([0xFFE00000, 0x1FFC00, 0x3FF, 0]), None);
    }
}
