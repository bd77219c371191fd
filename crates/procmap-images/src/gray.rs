//! `gray`: seed 002's `cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2GRAY)`,
//! written as an 8-bit greyscale PNG.
//!
//! `cv2.imread` with its default `IMREAD_COLOR` always yields 8-bit BGR:
//! grey is replicated, alpha is dropped (not composited), palettes are
//! expanded, 16-bit samples keep their high byte, and a JPEG's EXIF
//! orientation is applied. Measured with OpenCV 5.0 on PNGs of every colour
//! type; the conversion below reproduces it from the Pillow-mode decode.

use crate::args::Args;
use crate::decode;
use crate::output;
use crate::pil::{Data, Mode, PilImage};
use crate::png_out;
use procmap::{JobError, RunContext, Task};
use serde_json::{Value, json};
use std::path::PathBuf;

/// OpenCV's fixed-point `COLOR_BGR2GRAY` for 8-bit input (15-bit weights
/// summing to 32768), identical to cv2 for all 2²⁴ colours. The often
/// quoted 14-bit form (4899/9617/1868) is off by one on 43,864 colours.
pub fn bgr2gray(r: u8, g: u8, b: u8) -> u8 {
    ((u32::from(b) * 3735 + u32::from(g) * 19235 + u32::from(r) * 9798 + (1 << 14)) >> 15) as u8
}

/// What `cvtColor(imread(p), COLOR_BGR2GRAY)` gives for a decoded image.
/// Grey inputs pass through unchanged: the weights sum to 2¹⁵, so a grey
/// pixel v maps to (v·2¹⁵ + 2¹⁴) >> 15 = v.
pub fn to_gray(img: &PilImage) -> Vec<u8> {
    let rgb = |data: &[u8], ch: usize| -> Vec<u8> {
        data.chunks_exact(ch).map(|p| bgr2gray(p[0], p[1], p[2])).collect()
    };
    match (&img.data, img.mode) {
        (Data::U16(v), _) => v.iter().map(|&s| (s >> 8) as u8).collect(),
        // Not reached: `gray` refuses 32-bit images, as cv2.imread does.
        (Data::I32(_) | Data::F32(_), _) => Vec::new(),
        (Data::U8(v), Mode::L | Mode::Bilevel) => v.clone(),
        (Data::U8(v), Mode::LA) => v.chunks_exact(2).map(|p| p[0]).collect(),
        (Data::U8(v), Mode::Rgb) => rgb(v, 3),
        (Data::U8(v), Mode::Rgba) => rgb(v, 4),
        (Data::U8(v), Mode::P) => {
            // Indices past the end of a short palette read as black.
            let mut lut = [0u8; 256];
            if let Some(p) = &img.palette {
                for (slot, c) in lut.iter_mut().zip(p.rgb.chunks_exact(3)) {
                    *slot = bgr2gray(c[0], c[1], c[2]);
                }
            }
            v.iter().map(|&i| lut[usize::from(i)]).collect()
        }
        (Data::U8(v), Mode::I16 | Mode::I16B | Mode::I | Mode::F) => v.clone(),
        (Data::U8(v), Mode::Cmyk) => v.chunks_exact(4).map(cmyk_gray).collect(),
        // Not reached: OpenCV's decode turns CIELab into RGB (tiff_cielab).
        (Data::U8(_), Mode::Lab) => Vec::new(),
    }
}

/// OpenCV's `icvCvt_CMYK2BGR_8u_C4C3R` on libjpeg's raw CMYK (the inverse
/// of Pillow's stored ink amounts), then BGR2GRAY.
fn cmyk_gray(p: &[u8]) -> u8 {
    let k = 255 - u32::from(p[3]);
    let channel = |ink: u8| (k - ((u32::from(ink) * k) >> 8)) as u8;
    bgr2gray(channel(p[0]), channel(p[1]), channel(p[2]))
}

/// `gray INPUT [OUTPUT]`.
pub struct Gray;

impl Gray {
    fn parse(&self, args: &[String], ctx: &RunContext) -> Result<(PathBuf, PathBuf), JobError> {
        let a = Args::parse(args, &[]).map_err(|e| JobError::new(format!("gray: {e}")))?;
        let (input, out) = match a.positional.as_slice() {
            [i] => (i, None),
            [i, o] => (i, Some(o.as_str())),
            _ => return Err(JobError::usage(self, args)),
        };
        Ok((PathBuf::from(input), output::resolve(out, input, ctx)?))
    }
}

impl Task for Gray {
    fn name(&self) -> &str {
        "gray"
    }
    fn usage(&self) -> &str {
        "INPUT [OUTPUT]"
    }
    fn about(&self) -> &str {
        "cv2.cvtColor(cv2.imread(p), COLOR_BGR2GRAY) to an 8-bit grey png; PNG, JPEG, GIF, BMP, WebP, TIFF (imread's rules: 16-bit scaled down, alpha dropped, palette expanded, EXIF orientation applied)"
    }
    fn plan(&self, args: &[String], ctx: &RunContext) -> Result<Vec<PathBuf>, JobError> {
        Ok(vec![self.parse(args, ctx)?.1])
    }
    fn run(&self, args: &[String], ctx: &RunContext) -> Result<Value, JobError> {
        let (input, out) = self.parse(args, ctx)?;
        let img = decode::open(&input, true)?;
        if matches!(img.data, Data::I32(_) | Data::F32(_)) {
            return Err(JobError::new(format!(
                "{}: gray: 32-bit samples (mode {}) are not read, as cv2.imread does not read them",
                input.display(),
                img.mode.name()
            )));
        }
        output::check_not_input(&input, &out)?;
        let gray = to_gray(&img);
        let bytes = png_out::encode_u8(img.width, img.height, 1, &gray)?;
        output::write_atomic(&out, &bytes)?;
        Ok(json!({ "shape": [img.height, img.width], "output": out.display().to_string() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_on_known_colours() {
        assert_eq!(bgr2gray(0, 0, 0), 0);
        assert_eq!(bgr2gray(255, 255, 255), 255);
        assert_eq!(bgr2gray(255, 0, 0), 76); // red: 9798·255/32768 = 76.2
        assert_eq!(bgr2gray(0, 255, 0), 150); // green: 149.7
        assert_eq!(bgr2gray(0, 0, 255), 29); // blue: 29.07
        assert_eq!(bgr2gray(128, 128, 128), 128);
        for v in 0..=255u8 {
            assert_eq!(bgr2gray(v, v, v), v, "grey stays grey");
        }
    }

    #[test]
    fn alpha_is_dropped_and_palettes_expanded() {
        let rgba = PilImage {
            mode: Mode::Rgba,
            width: 1,
            height: 1,
            data: Data::U8(vec![255, 0, 0, 0]),
            palette: None,
        };
        assert_eq!(to_gray(&rgba), vec![76]);
        let p = PilImage {
            mode: Mode::P,
            width: 3,
            height: 1,
            data: Data::U8(vec![0, 1, 7]),
            palette: Some(crate::pil::Palette { rgb: vec![0, 255, 0, 255, 255, 255], ..Default::default() }),
        };
        assert_eq!(to_gray(&p), vec![150, 255, 0]);
        let i16 = PilImage {
            mode: Mode::I16,
            width: 2,
            height: 1,
            data: Data::U16(vec![0x12ff, 0xff00]),
            palette: None,
        };
        assert_eq!(to_gray(&i16), vec![0x12, 0xff]);
    }
}
