//! Recognising a file's format by its first bytes, not its name: a `.tif`
//! that is really a PNG should get a message that says so.

/// Formats the tasks tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Tiff,
    Jpeg,
    /// Another format the `image` crate recognises (it may still lack the
    /// decoder for it).
    Other(image::ImageFormat),
}

impl Format {
    pub fn name(self) -> String {
        match self {
            Format::Png => "png".into(),
            Format::Tiff => "tiff".into(),
            Format::Jpeg => "jpeg".into(),
            Format::Other(f) => f.extensions_str().first().copied().unwrap_or("unknown").to_owned(),
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
