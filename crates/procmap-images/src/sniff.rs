//! Recognising a file's format by its first bytes, not its name: a `.tif`
//! that is really a PNG should get a message that says so.

/// Formats the tasks tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Tiff,
    Jpeg,
    Gif,
    Webp,
    Bmp,
    /// Another image format, recognised only to name it in a message.
    Other(&'static str),
}

impl Format {
    pub fn name(self) -> String {
        match self {
            Format::Png => "png".into(),
            Format::Tiff => "tiff".into(),
            Format::Jpeg => "jpeg".into(),
            Format::Gif => "gif".into(),
            Format::Webp => "webp".into(),
            Format::Bmp => "bmp".into(),
            Format::Other(name) => name.to_owned(),
        }
    }

    /// Pillow's `Image.format`.
    pub fn pillow_name(self) -> String {
        match self {
            Format::Png => "PNG".into(),
            Format::Tiff => "TIFF".into(),
            Format::Jpeg => "JPEG".into(),
            Format::Gif => "GIF".into(),
            Format::Webp => "WEBP".into(),
            Format::Bmp => "BMP".into(),
            other => other.name().to_uppercase(),
        }
    }
}

/// Whether `bytes` start with a TIFF or BigTIFF signature.
pub fn is_tiff(bytes: &[u8]) -> bool {
    matches!(bytes.get(..4), Some(b"II*\0" | b"MM\0*" | b"II+\0" | b"MM\0+"))
}

/// The format of a file starting with `head`, if recognised.
pub fn detect(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if is_tiff(head) {
        Some(Format::Tiff)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(Format::Webp)
    } else if head.starts_with(b"BM") {
        Some(Format::Bmp)
    } else {
        other_format(head).map(Format::Other)
    }
}

/// " (found png data)" or " (unrecognised content)", to end a message.
pub fn found(head: &[u8]) -> String {
    match detect(head) {
        Some(f) => format!(" (found {} data)", f.name()),
        None => " (unrecognised content)".into(),
    }
}

/// Formats we do not read, by their signatures, so that an error can say
/// what a file is.
fn other_format(head: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\0\0\x01\0", "ico"),
        (b"8BPS", "psd"),
        (b"qoif", "qoi"),
        (b"\x76\x2f\x31\x01", "exr"),
        (b"DDS ", "dds"),
        (b"#?RADIANCE", "hdr"),
        (b"farbfeld", "farbfeld"),
        (b"\0\0\0\x0cjP  ", "jpeg2000"),
        (b"\xff\x4f\xff\x51", "jpeg2000"),
    ];
    if let Some(&(_, name)) = SIGNATURES.iter().find(|(sig, _)| head.starts_with(sig)) {
        return Some(name);
    }
    match head {
        [b'P', b'1'..=b'7', ..] => Some("pnm"),
        [_, _, _, _, b'f', b't', b'y', b'p', b'a', b'v', b'i', b'f', ..] => Some("avif"),
        [_, _, _, _, b'f', b't', b'y', b'p', b'h', b'e', b'i', b'c', ..] => Some("heic"),
        _ => None,
    }
}
