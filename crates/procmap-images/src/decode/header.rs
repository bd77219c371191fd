//! What every decoder shares: the header it reports and the size check it
//! makes before allocating. Apart from `mod.rs`, which calls the decoders,
//! so that they need not import their caller.

use crate::limits::{MAX_DECODED_BYTES, mib};
use crate::pil::Mode;

/// What `Image.open(p)` knows before loading: size and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub width: u32,
    pub height: u32,
    pub mode: Mode,
}

/// Refuses a declared size whose decoded samples would exceed the limit,
/// before anything is allocated (decompression bombs).
pub fn check_size(width: u32, height: u32, bytes_per_pixel: u64) -> Result<(), String> {
    let total = u64::from(width) * u64::from(height) * bytes_per_pixel;
    if total > MAX_DECODED_BYTES as u64 {
        return Err(format!(
            "declared size {width}×{height} ({} MiB decoded) exceeds the {} MiB limit",
            mib(total),
            mib(MAX_DECODED_BYTES as u64)
        ));
    }
    Ok(())
}
