//! `resize`: seed 000's `Image.open(p).resize((224, 224))` followed by
//! `np.array(img) / 255.0`, reported as the array's shape and per-channel
//! mean; `--save` also writes the resized image, in its own mode, as PNG
//! or (for an output ending in `.tif` or `.tiff`) TIFF.

use crate::args::Args;
use crate::decode;
use crate::limits::MAX_RESIZE_PIXELS;
use crate::output::{self, OutFormat};
use crate::pil::{self, Data, PilImage};
use crate::png_out;
use crate::resample;
use crate::tiff_out;
use procmap::{JobError, RunContext, Task};
use serde_json::{Value, json};
use std::path::PathBuf;

/// `resize INPUT [WIDTH HEIGHT] [--save OUTPUT]`.
pub struct Resize;

struct ResizeArgs {
    input: PathBuf,
    width: u32,
    height: u32,
    save: Option<(PathBuf, OutFormat)>,
}

impl Resize {
    fn parse(&self, args: &[String], ctx: &RunContext) -> Result<ResizeArgs, JobError> {
        let a = Args::parse(args, &["save"]).map_err(|e| JobError::new(format!("resize: {e}")))?;
        let (input, width, height) = match a.positional.as_slice() {
            [i] => (i, 224, 224),
            [i, w, h] => (i, parse_dim("WIDTH", w)?, parse_dim("HEIGHT", h)?),
            _ => return Err(JobError::usage(self, args)),
        };
        if u64::from(width) * u64::from(height) > MAX_RESIZE_PIXELS {
            return Err(JobError::new(format!(
                "resize: {width}×{height} is more than the {MAX_RESIZE_PIXELS} pixel limit"
            )));
        }
        let save = a.get("save").map(|o| output::resolve_image(Some(o), input, ctx)).transpose()?;
        Ok(ResizeArgs { input: PathBuf::from(input), width, height, save })
    }
}

fn parse_dim(name: &str, s: &str) -> Result<u32, JobError> {
    match s.parse::<u32>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(JobError::new(format!("resize: {name} must be a positive integer, got {s:?}"))),
    }
}

/// Per-channel mean of `np.array(img) / 255.0`. Sums are exact integers, so
/// the result differs from numpy's pairwise float sum by rounding only
/// (~1e-15). Mode "1" counts as 0/1, as numpy's bool array does.
pub fn channel_means(img: &PilImage) -> Vec<f64> {
    let ch = img.mode.channels();
    let n = img.width as f64 * img.height as f64;
    let mut sums = vec![0u64; ch];
    match &img.data {
        Data::U16(v) => {
            for (i, &s) in v.iter().enumerate() {
                sums[i % ch] += u64::from(s);
            }
        }
        // One channel; numpy's float64 mean of the /255 array.
        Data::I32(v) => return vec![v.iter().map(|&s| f64::from(s)).sum::<f64>() / n / 255.0],
        Data::F32(v) => return vec![v.iter().map(|&s| f64::from(s)).sum::<f64>() / n / 255.0],
        Data::U8(v) => {
            let bilevel = img.mode == pil::Mode::Bilevel;
            for px in v.chunks_exact(ch) {
                for (sum, &s) in sums.iter_mut().zip(px) {
                    *sum += if bilevel { u64::from(s != 0) } else { u64::from(s) };
                }
            }
        }
    }
    sums.iter().map(|&s| s as f64 / n / 255.0).collect()
}

impl Task for Resize {
    fn name(&self) -> &str {
        "resize"
    }
    fn usage(&self) -> &str {
        "INPUT [WIDTH HEIGHT] [--save OUTPUT]"
    }
    fn about(&self) -> &str {
        "Image.open(p).resize((w, h)) (224×224 by default): Pillow's filter by mode (NEAREST for 1 and P, BICUBIC otherwise), the mode kept; reports mode, shape and per-channel mean of /255; --save OUTPUT writes .png or .tif (TIFF holds every mode, PNG not CMYK, I or F)"
    }
    fn plan(&self, args: &[String], ctx: &RunContext) -> Result<Vec<PathBuf>, JobError> {
        Ok(self.parse(args, ctx)?.save.into_iter().map(|(path, _)| path).collect())
    }
    fn run(&self, args: &[String], ctx: &RunContext) -> Result<Value, JobError> {
        let ResizeArgs { input, width, height, save } = self.parse(args, ctx)?;
        // Pillow does not apply EXIF orientation on open; neither do we.
        let img = decode::open(&input, false)?;
        let out = resample::resize(&img, width, height);
        let mut value = json!({ "shape": out.shape(), "mean": channel_means(&out), "mode": out.mode.name() });
        if let Some((path, format)) = save {
            output::check_not_input(&input, &path)?;
            let bytes = match format {
                OutFormat::Png => png_out::encode_pil(&out)?,
                OutFormat::Tiff => tiff_out::encode_pil(&out)?,
            };
            output::write_atomic(&path, &bytes)?;
            value["output"] = json!(path.display().to_string());
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pil::Mode;

    #[test]
    fn means_follow_numpy() {
        let img = PilImage {
            mode: Mode::Rgb,
            width: 2,
            height: 1,
            data: Data::U8(vec![0, 255, 10, 255, 255, 20]),
            palette: None,
        };
        assert_eq!(channel_means(&img), vec![0.5, 1.0, 15.0 / 255.0]);
        let bilevel = PilImage {
            mode: Mode::Bilevel,
            width: 2,
            height: 1,
            data: Data::U8(vec![0, 255]),
            palette: None,
        };
        assert_eq!(channel_means(&bilevel), vec![0.5 / 255.0]);
    }

    #[test]
    fn argument_errors() {
        let ctx = RunContext::default();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(Resize.plan(&s(&["a.png", "10"]), &ctx).unwrap_err().message().contains("takes"));
        assert!(
            Resize.plan(&s(&["a.png", "0", "5"]), &ctx).unwrap_err().message().contains("positive integer")
        );
        assert!(Resize.plan(&s(&["a.png", "x", "5"]), &ctx).is_err());
        assert!(
            Resize.plan(&s(&["a.png", "100000", "100000"]), &ctx).unwrap_err().message().contains("limit")
        );
        assert_eq!(Resize.plan(&s(&["a.png"]), &ctx).unwrap(), Vec::<PathBuf>::new());
    }
}
