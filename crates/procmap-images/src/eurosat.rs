//! `eurosat-rgb` and `ms-rgb`: three bands of a multiband TIFF to an 8-bit
//! RGB PNG, exactly as seed 001's numpy code does it:
//! `(255 * (ms[..., (3, 2, 1)] / 4000).clip(0, 1)).astype(np.uint8)`.

use crate::args::Args;
use crate::output;
use crate::png_out;
use crate::tiff_read::{self, Raster, Samples};
use procmap::{JobError, RunContext, Task};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The numpy formula at scale 4000 in integer form; equal to
/// [`to_u8_scaled`] with `scale = 4000.0` for all 65,536 inputs (tested).
pub fn to_u8(v: u16) -> u8 {
    ((u32::from(v.min(4000)) * 255) / 4000) as u8
}

/// numpy's `(255 * (v / scale).clip(0, 1)).astype(np.uint8)` for one
/// sample: `v / scale` is a float64 division (numpy promotes uint16 divided
/// by a Python number to float64), `255 *` a float64 product, and
/// `astype(uint8)` truncates. Rust's f64 operations are the same IEEE
/// operations, so this is bit-exact for any positive finite scale, integer
/// or not, by construction rather than by a proof about an integer form.
pub fn to_u8_scaled(v: u16, scale: f64) -> u8 {
    (255.0 * (f64::from(v) / scale).clamp(0.0, 1.0)) as u8
}

/// Band indices of R, G, B in EuroSAT's band order (B01…B12, B8A): B04,
/// B03, B02.
pub const EUROSAT_RGB: [usize; 3] = [3, 2, 1];

/// Builds an interleaved RGB buffer from bands `bands` of `raster`, mapping
/// each sample through `f`.
pub fn rgb_from_bands(raster: &Raster, bands: [usize; 3], f: impl Fn(u16) -> u8) -> Vec<u8> {
    let n = raster.width as usize * raster.height as usize;
    let (px, bs) = raster.strides();
    let offs = bands.map(|b| b * bs);
    let mut out = vec![0u8; n * 3];
    match &raster.samples {
        Samples::U16(s) => {
            for (i, o) in out.chunks_exact_mut(3).enumerate() {
                let base = i * px;
                o[0] = f(s[base + offs[0]]);
                o[1] = f(s[base + offs[1]]);
                o[2] = f(s[base + offs[2]]);
            }
        }
        Samples::U8(s) => {
            for (i, o) in out.chunks_exact_mut(3).enumerate() {
                let base = i * px;
                o[0] = f(u16::from(s[base + offs[0]]));
                o[1] = f(u16::from(s[base + offs[1]]));
                o[2] = f(u16::from(s[base + offs[2]]));
            }
        }
    }
    out
}

fn write_rgb(raster: &Raster, rgb: &[u8], out: &Path) -> Result<(), JobError> {
    let bytes = png_out::encode_u8(raster.width, raster.height, 3, rgb)?;
    output::write_atomic(out, &bytes)
}

fn done(out: &Path, raster: &Raster) -> Value {
    json!({ "output": out.display().to_string(), "width": raster.width, "height": raster.height })
}

/// `eurosat-rgb INPUT [OUTPUT]`.
pub struct EurosatRgb;

impl EurosatRgb {
    fn parse(&self, args: &[String], ctx: &RunContext) -> Result<(PathBuf, PathBuf), JobError> {
        let a = Args::parse(args, &[]).map_err(|e| JobError::new(format!("eurosat-rgb: {e}")))?;
        let (input, out) = match a.positional.as_slice() {
            [i] => (i, None),
            [i, o] => (i, Some(o.as_str())),
            _ => return Err(JobError::usage(self, args)),
        };
        Ok((PathBuf::from(input), output::resolve(out, input, ctx)?))
    }
}

impl Task for EurosatRgb {
    fn name(&self) -> &str {
        "eurosat-rgb"
    }
    fn usage(&self) -> &str {
        "INPUT [OUTPUT]"
    }
    fn about(&self) -> &str {
        "EuroSAT 13-band uint16 tiff to an RGB png: bands 3,2,1 scaled by 4000, as seed 001's numpy code"
    }
    fn plan(&self, args: &[String], ctx: &RunContext) -> Result<Vec<PathBuf>, JobError> {
        Ok(vec![self.parse(args, ctx)?.1])
    }
    fn run(&self, args: &[String], ctx: &RunContext) -> Result<Value, JobError> {
        let (input, out) = self.parse(args, ctx)?;
        let raster = tiff_read::read(&input)?;
        let shown = input.display();
        if raster.bands != 13 {
            return Err(JobError::new(format!("{shown}: expected 13 bands, found {}", raster.bands)));
        }
        if !matches!(raster.samples, Samples::U16(_)) {
            return Err(JobError::new(format!(
                "{shown}: unsupported sample format: {} (eurosat-rgb needs 16-bit unsigned; ms-rgb takes 8-bit)",
                raster.sample_type()
            )));
        }
        output::check_not_input(&input, &out)?;
        let rgb = rgb_from_bands(&raster, EUROSAT_RGB, to_u8);
        write_rgb(&raster, &rgb, &out)?;
        Ok(done(&out, &raster))
    }
}

/// `ms-rgb INPUT [OUTPUT] [--bands R,G,B] [--scale S]`.
pub struct MsRgb;

struct MsArgs {
    input: PathBuf,
    out: PathBuf,
    bands: [usize; 3],
    scale: f64,
}

impl MsRgb {
    fn parse(&self, args: &[String], ctx: &RunContext) -> Result<MsArgs, JobError> {
        let a = Args::parse(args, &["bands", "scale"]).map_err(|e| JobError::new(format!("ms-rgb: {e}")))?;
        let (input, out) = match a.positional.as_slice() {
            [i] => (i, None),
            [i, o] => (i, Some(o.as_str())),
            _ => return Err(JobError::usage(self, args)),
        };
        let bands = match a.get("bands") {
            None => EUROSAT_RGB,
            Some(s) => parse_bands(s).map_err(|e| JobError::new(format!("ms-rgb: {e}")))?,
        };
        let scale = match a.get("scale") {
            None => 4000.0,
            Some(s) => parse_scale(s).map_err(|e| JobError::new(format!("ms-rgb: {e}")))?,
        };
        Ok(MsArgs { input: PathBuf::from(input), out: output::resolve(out, input, ctx)?, bands, scale })
    }
}

fn parse_bands(s: &str) -> Result<[usize; 3], String> {
    let bad = || format!("--bands takes three band indices like 3,2,1 (0-based), got {s:?}");
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [r, g, b] = parts.as_slice() else { return Err(bad()) };
    let p = |x: &str| x.parse::<usize>().map_err(|_| bad());
    Ok([p(r)?, p(g)?, p(b)?])
}

fn parse_scale(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("--scale takes a positive number, got {s:?}")),
    }
}

impl Task for MsRgb {
    fn name(&self) -> &str {
        "ms-rgb"
    }
    fn usage(&self) -> &str {
        "INPUT [OUTPUT] [--bands R,G,B] [--scale S]"
    }
    fn about(&self) -> &str {
        "any multiband 8/16-bit tiff to an RGB png: chosen bands (0-based, default 3,2,1) scaled by S (default 4000)"
    }
    fn plan(&self, args: &[String], ctx: &RunContext) -> Result<Vec<PathBuf>, JobError> {
        Ok(vec![self.parse(args, ctx)?.out])
    }
    fn run(&self, args: &[String], ctx: &RunContext) -> Result<Value, JobError> {
        let MsArgs { input, out, bands, scale } = self.parse(args, ctx)?;
        let raster = tiff_read::read(&input)?;
        if let Some(&b) = bands.iter().find(|&&b| b >= raster.bands) {
            return Err(JobError::new(format!(
                "{}: band {b} out of range: the file has {} band{} (0..={})",
                input.display(),
                raster.bands,
                if raster.bands == 1 { "" } else { "s" },
                raster.bands - 1
            )));
        }
        output::check_not_input(&input, &out)?;
        let rgb = rgb_from_bands(&raster, bands, |v| to_u8_scaled(v, scale));
        write_rgb(&raster, &rgb, &out)?;
        let mut value = done(&out, &raster);
        value["bands"] = json!(bands);
        value["scale"] = json!(scale);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_edge_values() {
        for (v, want) in [(0, 0), (15, 0), (16, 1), (3999, 254), (4000, 255), (4001, 255), (65535, 255)] {
            assert_eq!(to_u8(v), want, "to_u8({v})");
            assert_eq!(to_u8_scaled(v, 4000.0), want, "to_u8_scaled({v}, 4000)");
        }
    }

    #[test]
    fn integer_and_float_forms_agree_at_4000() {
        for v in 0..=u16::MAX {
            assert_eq!(to_u8(v), to_u8_scaled(v, 4000.0), "v = {v}");
        }
    }

    #[test]
    fn float_form_for_other_scales() {
        // Values from numpy: (255 * (np.uint16(v) / s).clip(0, 1)).astype(np.uint8).
        assert_eq!(to_u8_scaled(1, 3.0), 85);
        assert_eq!(to_u8_scaled(3000, 3000.5), 254);
        assert_eq!(to_u8_scaled(3001, 3000.5), 255);
        assert_eq!(to_u8_scaled(7, 0.5), 255);
    }

    #[test]
    fn band_and_scale_parsing() {
        assert_eq!(parse_bands("7, 3,1").unwrap(), [7, 3, 1]);
        assert!(parse_bands("1,2").is_err());
        assert!(parse_bands("a,b,c").is_err());
        assert!(parse_bands("-1,2,3").is_err());
        assert_eq!(parse_scale("2500.5").unwrap(), 2500.5);
        for bad in ["0", "-3", "nan", "inf", "x"] {
            assert!(parse_scale(bad).is_err(), "{bad}");
        }
    }
}
