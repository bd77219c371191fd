//! Built-in image tasks for procmap, pixel-exact with the Python code they
//! replace.
//!
//! | task | does | matches |
//! |---|---|---|
//! | `eurosat-rgb INPUT [OUTPUT]` | 13-band uint16 TIFF → RGB PNG (bands 3,2,1 / 4000) | seed 001's numpy formula |
//! | `ms-rgb INPUT [OUTPUT] [--bands R,G,B] [--scale S]` | the same for any band count and scale | numpy's float64 formula |
//! | `resize INPUT [WIDTH HEIGHT] [--save OUTPUT]` | resize (default 224×224) in the image's own mode, report mode, shape and mean of /255; save as `.png` or `.tif` | `Image.open(p).resize((w, h))` |
//! | `gray INPUT [OUTPUT]` | colour → 8-bit grey PNG | `cv2.cvtColor(cv2.imread(p), COLOR_BGR2GRAY)` |
//! | `info INPUT` | size, Pillow's mode and format, bands from the header | `Image.open(p)` |
//!
//! Inputs are PNG, JPEG, GIF, BMP, WebP and TIFF, each decoded the way
//! Pillow (for `info` and `resize`) or OpenCV (for `gray`) decodes it:
//! `src/decode/` has one module per format; JPEG goes through libjpeg-turbo
//! and WebP through libwebp, the decoders both libraries use.
//!
//! Outputs are PNG, except that `resize --save` writes a TIFF (every mode,
//! as Pillow's `save` writes it) for a name ending in `.tif` or `.tiff`.
//! They default to `<out_dir>/<input stem>.png`, must stay inside the
//! run's output directory unless it allows otherwise, and are written
//! atomically (temporary file, then rename). Bad input gives an error that
//! names the file; declared sizes are checked before anything is allocated.
//! [`synth`] writes synthetic EuroSAT-like tiles for demos and benchmarks.
//!
//! ```
//! let mut registry = procmap::Registry::new();
//! procmap_images::register(&mut registry);
//! assert!(registry.get("eurosat-rgb").is_some());
//! ```

mod args;
mod decode;
mod eurosat;
mod gray;
mod info;
mod limits;
mod output;
mod pil;
mod png_out;
mod resample;
mod resize;
mod sniff;
pub mod synth;
mod tiff_out;
mod tiff_read;

pub use eurosat::{EurosatRgb, MsRgb, to_u8, to_u8_scaled};
pub use gray::{Gray, bgr2gray};
pub use info::Info;
pub use resize::Resize;

/// Registers the five image tasks.
pub fn register(registry: &mut procmap::Registry) {
    registry.register(EurosatRgb).register(MsRgb).register(Resize).register(Gray).register(Info);
}

#[cfg(test)]
mod tests;
