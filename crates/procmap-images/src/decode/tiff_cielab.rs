//! 8-bit CIELab TIFF samples as `cv2.imread` shows them: OpenCV reads them
//! through libtiff's RGBA reader, which converts with `tif_color.c`
//! (libtiff 4.7) for an sRGB display (`display_sRGB` in `tif_getimage.c`)
//! and the file's WhitePoint, by default D50. The arithmetic is
//! libtiff's, in single precision where it is, so the bytes agree.

/// libtiff's `TIFFCIELabToRGB` state for the sRGB display.
pub struct Lab {
    white: [f32; 3],
    step: f32,
    table: Vec<f32>,
}

/// `CIELABTORGB_TABLE_RANGE`.
const RANGE: usize = 1500;
/// `display_sRGB`: the XYZ → luminance matrix.
const MATRIX: [[f32; 3]; 3] =
    [[3.2410, -1.5374, -0.4986], [-0.9692, 1.8760, 0.0416], [0.0556, -0.2040, 1.0570]];
/// `display_sRGB`: light output for reference white, residual light for
/// black, gamma, pixel value for reference white.
const Y_WHITE: f32 = 100.0;
const Y_BLACK: f32 = 1.0;
const GAMMA: f32 = 2.4;
const V_WHITE: f32 = 255.0;

impl Lab {
    /// `initCIELabConversion` with the WhitePoint chromaticities (x, y).
    pub fn new(white_point: Option<[f32; 2]>) -> Result<Lab, String> {
        // The default: CIE D50, as the Adobe Photoshop TIFF note has it.
        let (d50x, d50y, d50z) = (96.4250f32, 100.0f32, 82.4680f32);
        let [x, y] = white_point.unwrap_or([d50x / (d50x + d50y + d50z), d50y / (d50x + d50y + d50z)]);
        if y == 0.0 {
            return Err("tiff: CIELab image with a WhitePoint of y = 0".into());
        }
        let white = [x / y * 100.0, 100.0, (1.0 - x - y) / y * 100.0];
        let gamma = 1.0 / f64::from(GAMMA);
        let step = (Y_WHITE - Y_BLACK) / RANGE as f32;
        let table = (0..=RANGE).map(|i| V_WHITE * ((i as f64 / RANGE as f64).powf(gamma) as f32)).collect();
        Ok(Lab { white, step, table })
    }

    /// `TIFFCIELabToXYZ` then `TIFFXYZToRGB` for one 8-bit pixel (L
    /// unsigned, a and b signed).
    pub fn rgb(&self, l: u8, a: u8, b: u8) -> [u8; 3] {
        let [x0, y0, z0] = self.white;
        // TIFFCIELab16ToXYZ(l * 257, a * 256, b * 256)
        let l = (u32::from(l) * 257) as f32 * 100.0 / 65535.0;
        let (a, b) = (i32::from(a as i8) * 256, i32::from(b as i8) * 256);
        let (y, cby);
        if l < 8.856 {
            y = (l * y0) / 903.292;
            cby = 7.787 * (y / y0) + 16.0 / 116.0;
        } else {
            cby = (l + 16.0) / 116.0;
            y = y0 * cby * cby * cby;
        }
        let f = |t: f32, w: f32| if t < 0.2069 { w * (t - 0.13793) / 7.787 } else { w * t * t * t };
        let x = f(a as f32 / 256.0 / 500.0 + cby, x0);
        let z = f(cby - b as f32 / 256.0 / 200.0, z0);
        let mut out = [0u8; 3];
        for (c, row) in MATRIX.iter().enumerate() {
            let lum = (row[0] * x + row[1] * y + row[2] * z).clamp(Y_BLACK, Y_WHITE);
            let i = (((lum - Y_BLACK) / self.step) as i32).min(RANGE as i32) as usize;
            let v = f64::from(self.table[i]);
            let rint = if v > 0.0 { (v + 0.5) as u32 } else { (v - 0.5) as u32 };
            out[c] = rint.min(V_WHITE as u32) as u8;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_stays_black_and_lightness_orders_grey() {
        let lab = Lab::new(None).unwrap();
        assert_eq!(lab.rgb(0, 0, 0), [0, 0, 0]);
        let greens: Vec<u8> = (0..=255u8).step_by(17).map(|l| lab.rgb(l, 0, 0)[1]).collect();
        assert!(greens.windows(2).all(|w| w[0] <= w[1]), "{greens:?}");
        assert!(Lab::new(Some([0.3, 0.0])).is_err());
    }
}
