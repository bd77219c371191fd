//! `info`: what Pillow's `Image.open(p)` knows (size, mode, format) and the
//! file's bands and sample type, from its header, without decoding the
//! pixels.

use crate::args::Args;
use crate::sniff::{self, Format};
use crate::tiff_read;
use procmap::{JobError, RunContext, Task};
use serde_json::{Value, json};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use tiff::tags::{SampleFormat, Tag};

/// `info INPUT`.
pub struct Info;

impl Task for Info {
    fn name(&self) -> &str {
        "info"
    }
    fn usage(&self) -> &str {
        "INPUT"
    }
    fn about(&self) -> &str {
        "Image.open(p): width, height, Pillow's mode and format (pil_format), plus bands and sample type, from the header"
    }
    fn plan(&self, args: &[String], _: &RunContext) -> Result<Vec<PathBuf>, JobError> {
        self.parse(args)?;
        Ok(Vec::new())
    }
    fn run(&self, args: &[String], _: &RunContext) -> Result<Value, JobError> {
        let path = self.parse(args)?;
        info(&path)
    }
}

impl Info {
    fn parse(&self, args: &[String]) -> Result<PathBuf, JobError> {
        let a = Args::parse(args, &[]).map_err(|e| JobError::new(format!("info: {e}")))?;
        match a.positional.as_slice() {
            [input] => Ok(PathBuf::from(input)),
            _ => Err(JobError::usage(self, args)),
        }
    }
}

fn info(path: &Path) -> Result<Value, JobError> {
    let fail = |m: String| JobError::new(format!("{}: {m}", path.display()));
    let mut head = Vec::with_capacity(32);
    tiff_read::open(path)?.take(32).read_to_end(&mut head).map_err(|e| fail(format!("cannot read: {e}")))?;
    if head.is_empty() {
        return Err(fail("empty file".into()));
    }
    let format = sniff::detect(&head).ok_or_else(|| fail("not an image (unrecognised content)".into()))?;
    let reader = BufReader::new(tiff_read::open(path)?);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match format {
        Format::Png => png_info(reader),
        // Pillow opens some damaged TIFFs the crate refuses: their size
        // and mode come from the header as Pillow reads it (below).
        Format::Tiff => tiff_info(reader).or_else(|_| Ok(json!({ "format": "tiff" }))),
        Format::Jpeg | Format::Gif | Format::Webp | Format::Bmp => decoder_info(path, format),
        other => Err(format!("{} is not supported", other.name())),
    }));
    let mut value =
        caught.unwrap_or_else(|_| Err("malformed header (the decoder gave up)".into())).map_err(fail)?;
    if value.get("mode").is_none() {
        // A TIFF layout Pillow has no mode for (13 bands, say) has none
        // here either. Pillow's size is the header's, turned by the
        // Orientation tag (5–8 swap width and height).
        let bytes = tiff_read::read_file(path)?;
        match crate::decode::probe(format, &bytes) {
            Some(Ok(h)) => {
                value["mode"] = json!(h.mode.name());
                value["width"] = json!(h.width);
                value["height"] = json!(h.height);
                if value.get("bands").is_none() {
                    value["bands"] = json!(h.mode.channels());
                }
            }
            Some(Err(e)) if value.get("width").is_none() => return Err(fail(e)),
            _ => {}
        }
    }
    value["pil_format"] = json!(format.pillow_name());
    Ok(value)
}

/// JPEG, GIF, WebP and BMP: the header as our decoders (and Pillow) see it.
fn decoder_info(path: &Path, format: Format) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let h = crate::decode::probe(format, &bytes).ok_or("no decoder")??;
    Ok(json!({
        "width": h.width,
        "height": h.height,
        "format": format.name(),
        "bands": h.mode.channels(),
        "bits": 8,
        "dtype": "uint8",
        "mode": h.mode.name(),
    }))
}

fn png_info(reader: BufReader<std::fs::File>) -> Result<Value, String> {
    let dec = png::Decoder::new(reader);
    let r = dec.read_info().map_err(|e| crate::decode::png::describe_png_error(&e))?;
    let i = r.info();
    let mode = crate::decode::png::png_mode(i.color_type, i.bit_depth)
        .ok_or("malformed png: invalid colour type")?;
    Ok(json!({
        "mode": mode.name(),
        "width": i.width,
        "height": i.height,
        "format": "png",
        "bands": i.color_type.samples(),
        "bits": i.bit_depth as u8,
        "dtype": if i.bit_depth as u8 == 16 { "uint16" } else { "uint8" },
    }))
}

fn tiff_info(reader: BufReader<std::fs::File>) -> Result<Value, String> {
    let d = |e: tiff::TiffError| tiff_read::describe(&e);
    let mut dec = tiff::decoder::Decoder::new(reader).map_err(d)?.with_limits(tiff_read::limits());
    let (width, height) = dec.dimensions().map_err(d)?;
    let bands: u16 = dec.find_tag_unsigned(Tag::SamplesPerPixel).map_err(d)?.unwrap_or(1);
    let bits: u16 = dec
        .find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)
        .map_err(d)?
        .and_then(|v| v.first().copied())
        .unwrap_or(1);
    let format = dec
        .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
        .map_err(d)?
        .and_then(|v| v.first().copied())
        .map_or(SampleFormat::Uint, SampleFormat::from_u16_exhaustive);
    let kind = match format {
        SampleFormat::Uint => "uint",
        SampleFormat::Int => "int",
        SampleFormat::IEEEFP => "float",
        _ => "void",
    };
    Ok(json!({
        "width": width,
        "height": height,
        "format": "tiff",
        "bands": bands,
        "bits": bits,
        "dtype": format!("{kind}{bits}"),
    }))
}
