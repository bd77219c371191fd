//! Images as Pillow sees them: the pixels in the mode Pillow gives a file.
//! (`Image.open(path)` itself is [`crate::decode::open`].)
//!
//! Resize must reproduce `Image.open(p).resize(...)` and `np.array(img)`,
//! which depend on the mode Pillow gives a file, so every format is decoded
//! into that mode by a module of its own in `decode/`, never expanded to
//! RGB(A) on the way.

/// A Pillow image mode that the tasks support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// "1": one bit per pixel, stored as 0 or 255 like Pillow does
    /// internally; numpy shows it as bool.
    Bilevel,
    L,
    LA,
    Rgb,
    Rgba,
    /// "P": palette indices.
    P,
    /// "I;16": 16-bit unsigned grey.
    I16,
    /// "I;16B": the same, from a big-endian file (numpy sees the same
    /// values; a PNG output reads back as "I;16").
    I16B,
    /// "CMYK", ink amounts (0 = no ink), as Pillow stores them.
    Cmyk,
    /// "I" (32-bit integer) and "F" (32-bit float); PNG holds neither.
    I,
    F,
    /// "LAB": CIELab, 8 bits each, a and b as stored (Pillow's TIFF reader
    /// keeps the bytes); PNG cannot hold it.
    Lab,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bilevel => "1",
            Mode::L => "L",
            Mode::LA => "LA",
            Mode::Rgb => "RGB",
            Mode::Rgba => "RGBA",
            Mode::P => "P",
            Mode::I16 => "I;16",
            Mode::I16B => "I;16B",
            Mode::Cmyk => "CMYK",
            Mode::I => "I",
            Mode::F => "F",
            Mode::Lab => "LAB",
        }
    }

    /// Samples per pixel, which is also numpy's last axis (absent when 1).
    pub fn channels(self) -> usize {
        match self {
            Mode::Bilevel | Mode::L | Mode::P | Mode::I16 | Mode::I16B | Mode::I | Mode::F => 1,
            Mode::LA => 2,
            Mode::Rgb | Mode::Lab => 3,
            Mode::Rgba | Mode::Cmyk => 4,
        }
    }
}

/// Pixel samples, row-major, channels interleaved.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    U8(Vec<u8>),
    /// For "I;16" and "I;16B".
    U16(Vec<u16>),
    /// For "I".
    I32(Vec<i32>),
    /// For "F".
    F32(Vec<f32>),
}

/// A palette and transparency, kept so that a resized image is saved with
/// the same `getpalette()` and `info["transparency"]` as Pillow's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Palette {
    /// RGB triplets ("P" only).
    pub rgb: Vec<u8>,
    /// Alpha per entry (the PNG tRNS chunk), if any ("P" only).
    pub alpha: Option<Vec<u8>>,
    /// The transparent colour of a "1", "L", "I;16" or "RGB" image (a PNG
    /// tRNS key: one value, or three for RGB), in the file's own scale.
    pub key: Option<Vec<u16>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PilImage {
    pub mode: Mode,
    pub width: u32,
    pub height: u32,
    pub data: Data,
    pub palette: Option<Palette>,
}

impl PilImage {
    /// numpy's shape of `np.array(img)`.
    pub fn shape(&self) -> Vec<u32> {
        match self.mode.channels() {
            1 => vec![self.height, self.width],
            c => vec![self.height, self.width, c as u32],
        }
    }

    /// The 8-bit samples; panics for I;16.
    #[cfg(test)]
    pub fn bytes(&self) -> &[u8] {
        match &self.data {
            Data::U8(v) => v,
            _ => unreachable!("a wide image has no 8-bit samples"),
        }
    }
}
