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
    /// Another format the `image` crate recognises (no decoder here).
    Other(image::ImageFormat),
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
            Format::Other(f) => f.extensions_str().first().copied().unwrap_or("unknown").to_owned(),
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

/// The format of a file starting with `head`, if recognised.
pub fn detect(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if crate::tiff_read::is_tiff(head) {
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
        image::guess_format(head).ok().map(Format::Other)
    }
}

/// " (found png data)" or " (unrecognised content)", to end a message.
pub fn found(head: &[u8]) -> String {
    match detect(head) {
        Some(f) => format!(" (found {} data)", f.name()),
        None => " (unrecognised content)".into(),
    }
}
