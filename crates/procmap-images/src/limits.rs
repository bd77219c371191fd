//! Size limits shared by every task. A file's header can declare any size;
//! these keep a hostile or corrupt header from making a worker allocate
//! gigabytes.

/// The largest decoded image, in bytes (all samples of one image).
pub const MAX_DECODED_BYTES: usize = 256 << 20;

/// The largest file read into memory.
pub const MAX_FILE_BYTES: usize = 1 << 30;

/// The largest output of `resize`, in pixels (a 8192×8192 RGBA image).
pub const MAX_RESIZE_PIXELS: u64 = 1 << 26;

/// Bytes to MiB, rounded up, for messages.
pub fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}
