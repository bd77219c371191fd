//! Reading multiband TIFFs (EuroSAT-style 13-band uint16 and the like).
//!
//! Handles chunky and planar layouts, strips and tiles, and whatever
//! compression the `tiff` crate decodes (none, LZW, Deflate, PackBits, with
//! or without a horizontal predictor). Two traps of the crate are avoided:
//! the deprecated `read_image` returns only the first plane of a planar file,
//! so the whole image is read with `read_image_to_buffer`; and when the file
//! says Photometric=RGB with extra samples, the crate returns only the three
//! colour planes, so such a file is read with its photometric tag patched to
//! "min-is-black", which makes the crate return every sample.

use crate::limits::{MAX_DECODED_BYTES, MAX_FILE_BYTES, mib};
use crate::sniff::is_tiff;
use procmap::JobError;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::tags::{PhotometricInterpretation, PlanarConfiguration, SampleFormat, Tag};
use tiff::{TiffError, TiffFormatError};

/// Decoded samples, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

/// A decoded multiband image.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    /// Samples per pixel, from the SamplesPerPixel tag.
    pub bands: usize,
    /// Planar files keep their layout (`[band][y][x]`) instead of being
    /// interleaved, to save a copy; [`Raster::strides`] hides the difference.
    pub planar: bool,
    pub samples: Samples,
}

/// Per-thread buffers, reused from job to job. A 64×64×13 tile needs two
/// ~106 KB buffers (file bytes, samples); fresh ones cost more in page
/// faults than the decoding itself, because the allocator hands blocks of
/// that size back to the kernel when they are freed.
mod pool {
    use std::cell::RefCell;

    /// Buffers larger than this are freed rather than kept.
    const KEEP_BYTES: usize = 8 << 20;

    thread_local! {
        static BYTES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        static WORDS: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
    }

    pub fn take_bytes() -> Vec<u8> {
        let mut v = BYTES.take();
        v.clear();
        v
    }

    pub fn give_bytes(v: Vec<u8>) {
        if v.capacity() <= KEEP_BYTES {
            BYTES.set(v);
        }
    }

    pub fn take_words() -> Vec<u16> {
        let mut v = WORDS.take();
        v.clear();
        v
    }

    pub fn give_words(v: Vec<u16>) {
        if v.capacity() * 2 <= KEEP_BYTES {
            WORDS.set(v);
        }
    }
}

impl Drop for Raster {
    fn drop(&mut self) {
        if let Samples::U16(v) = &mut self.samples {
            pool::give_words(std::mem::take(v));
        }
    }
}

impl Raster {
    /// `(pixel_stride, band_stride)`: sample `b` of pixel `i` (row-major) is
    /// at `i * pixel_stride + b * band_stride`.
    pub fn strides(&self) -> (usize, usize) {
        if self.planar { (1, self.width as usize * self.height as usize) } else { (self.bands, 1) }
    }

    /// "8-bit unsigned" or "16-bit unsigned", for messages.
    pub fn sample_type(&self) -> &'static str {
        match self.samples {
            Samples::U8(_) => "8-bit unsigned",
            Samples::U16(_) => "16-bit unsigned",
        }
    }
}

/// Reads the first image of the TIFF at `path`.
pub fn read(path: &Path) -> Result<Raster, JobError> {
    let mut bytes = pool::take_bytes();
    let not_tiff =
        |head: &[u8]| (!is_tiff(head)).then(|| format!("not a tiff file{}", crate::sniff::found(head)));
    let result = read_sniffed_into(path, &mut bytes, &not_tiff).and_then(|()| decode_file(path, &mut bytes));
    pool::give_bytes(bytes);
    result
}

fn decode_file(path: &Path, bytes: &mut [u8]) -> Result<Raster, JobError> {
    let shown = path.display();
    if !is_tiff(bytes) {
        return Err(JobError::new(format!("{shown}: not a tiff file{}", crate::sniff::found(bytes))));
    }
    // A decoder may panic on a malformed file; one bad file must cost one
    // job its result, not a worker.
    let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(bytes)));
    let result = match first {
        Ok(Err(Retry::PatchPhotometric)) => {
            if !set_photometric(bytes, 1) {
                return Err(JobError::new(format!(
                    "{shown}: malformed tiff: cannot locate the photometric tag"
                )));
            }
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(bytes)))
        }
        other => other,
    };
    match result {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(Retry::Fail(msg))) => Err(JobError::new(format!("{shown}: {msg}"))),
        Ok(Err(Retry::PatchPhotometric)) => {
            Err(JobError::new(format!("{shown}: unsupported tiff: cannot read all samples")))
        }
        Err(_) => Err(JobError::new(format!("{shown}: malformed tiff (the decoder gave up)"))),
    }
}

/// Opens `path` for reading, with messages that name the file.
pub fn open(path: &Path) -> Result<File, JobError> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => JobError::new(format!("{shown}: no such file")),
        io::ErrorKind::PermissionDenied => JobError::new(format!("{shown}: permission denied")),
        _ => JobError::new(format!("{shown}: cannot open: {e}")),
    })?;
    let meta = file.metadata().map_err(|e| JobError::new(format!("{shown}: cannot stat: {e}")))?;
    if meta.is_dir() {
        return Err(JobError::new(format!("{shown}: is a directory, not an image")));
    }
    Ok(file)
}

/// Reads a whole image file, refusing files beyond [`MAX_FILE_BYTES`] and,
/// after reading only its first bytes, anything that is not an image.
pub fn read_file(path: &Path) -> Result<Vec<u8>, JobError> {
    let mut bytes = Vec::new();
    let not_an_image = |head: &[u8]| {
        crate::sniff::detect(head).is_none().then(|| "not an image (unrecognised content)".to_owned())
    };
    read_sniffed_into(path, &mut bytes, &not_an_image)?;
    Ok(bytes)
}

/// How many bytes are read before a file is sniffed: enough for every
/// signature `sniff` knows.
const SNIFF_BYTES: usize = 32;

/// Reads a file into a buffer the caller may reuse. `refuse` looks at its
/// first bytes and may say why it is not the right kind of file: then
/// nothing more is read, so a wrong file (or `/dev/zero`) costs 32 bytes,
/// not up to [`MAX_FILE_BYTES`].
fn read_sniffed_into(
    path: &Path,
    bytes: &mut Vec<u8>,
    refuse: &dyn Fn(&[u8]) -> Option<String>,
) -> Result<(), JobError> {
    let shown = path.display();
    let mut file = open(path)?;
    let mut head = [0u8; SNIFF_BYTES];
    let mut got = 0;
    while got < SNIFF_BYTES {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(JobError::new(format!("{shown}: cannot read: {e}"))),
        }
    }
    if got == 0 {
        return Err(JobError::new(format!("{shown}: empty file")));
    }
    if let Some(why) = refuse(&head[..got]) {
        return Err(JobError::new(format!("{shown}: {why}")));
    }
    bytes.clear();
    bytes.extend_from_slice(&head[..got]);
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_FILE_BYTES as u64 {
        return Err(JobError::new(format!(
            "{shown}: file is {} MiB, more than the {} MiB limit",
            mib(len),
            mib(MAX_FILE_BYTES as u64)
        )));
    }
    // One spare byte lets read_to_end see the end without growing the buffer.
    bytes.reserve(len as usize + 1);
    // take() guards against a file that grows while we read it.
    file.take(MAX_FILE_BYTES as u64 + 1 - got as u64)
        .read_to_end(bytes)
        .map_err(|e| JobError::new(format!("{shown}: cannot read: {e}")))?;
    Ok(())
}

/// Decoder limits, in line with [`MAX_DECODED_BYTES`]. Our own check on the
/// declared size comes first and gives the clearer message; these catch
/// what the header does not reveal (huge strips, huge tag values).
pub fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.decoding_buffer_size = MAX_DECODED_BYTES;
    limits.intermediate_buffer_size = MAX_DECODED_BYTES;
    limits.ifd_value_size = 1 << 20;
    limits
}

enum Retry {
    /// The crate would drop samples beyond the photometric ones.
    PatchPhotometric,
    Fail(String),
}

impl From<TiffError> for Retry {
    fn from(e: TiffError) -> Self {
        Retry::Fail(describe(&e))
    }
}

/// A message for a decoder error, without the file name.
pub fn describe(e: &TiffError) -> String {
    match e {
        TiffError::IoError(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            "truncated file: the data ends before the image does".into()
        }
        TiffError::IoError(io) if io.kind() == io::ErrorKind::InvalidData => {
            format!("corrupt compressed data: {io}")
        }
        TiffError::IoError(io) => format!("cannot read tiff: {io}"),
        TiffError::FormatError(TiffFormatError::TiffSignatureNotFound) => "not a tiff file".into(),
        TiffError::FormatError(f) => format!("malformed tiff: {f}"),
        TiffError::UnsupportedError(u) => format!("unsupported tiff: {u}"),
        TiffError::LimitsExceeded => "tiff exceeds the decoder's memory limits".into(),
        other => format!("cannot decode tiff: {other}"),
    }
}

fn decode(bytes: &[u8]) -> Result<Raster, Retry> {
    let mut dec = Decoder::new(Cursor::new(bytes))?.with_limits(limits());
    let (width, height) = dec.dimensions()?;
    let bands: u16 = dec.find_tag_unsigned(Tag::SamplesPerPixel)?.unwrap_or(1);
    let bands = usize::from(bands);
    let bits: u16 =
        dec.find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)?.and_then(|v| v.first().copied()).unwrap_or(1);
    let format = dec
        .find_tag_unsigned_vec::<u16>(Tag::SampleFormat)?
        .and_then(|v| v.first().copied())
        .map_or(SampleFormat::Uint, SampleFormat::from_u16_exhaustive);

    // Check the declared size before the decoder allocates anything.
    let declared = u64::from(width) * u64::from(height) * bands as u64 * u64::from(bits).div_ceil(8);
    if declared > MAX_DECODED_BYTES as u64 {
        return Err(Retry::Fail(format!(
            "declared size {width}×{height}×{bands} at {bits} bits ({} MiB) exceeds the {} MiB limit",
            mib(declared),
            mib(MAX_DECODED_BYTES as u64)
        )));
    }
    if format != SampleFormat::Uint || !(bits == 8 || bits == 16) {
        let kind = match format {
            SampleFormat::Uint => "unsigned",
            SampleFormat::Int => "signed",
            SampleFormat::IEEEFP => "float",
            _ => "untyped",
        };
        return Err(Retry::Fail(format!(
            "unsupported sample format: {bits}-bit {kind} (need 8- or 16-bit unsigned integers)"
        )));
    }

    // An RGB or CMYK file with extra samples either fails here or yields
    // only its colour samples; both are fixed by the photometric patch.
    let color = match dec.colortype() {
        Ok(c) => Ok(c),
        Err(TiffError::UnsupportedError(u)) => Err(u),
        Err(e) => return Err(e.into()),
    };
    if color.as_ref().ok().map(|c| usize::from(c.num_samples())) != Some(bands) {
        let photometric = dec
            .find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)?
            .and_then(PhotometricInterpretation::from_u16);
        return match (photometric, color) {
            (Some(PhotometricInterpretation::RGB | PhotometricInterpretation::CMYK), _) => {
                Err(Retry::PatchPhotometric)
            }
            (_, Ok(c)) => Err(Retry::Fail(format!(
                "unsupported tiff: the decoder sees {} of {bands} samples",
                c.num_samples()
            ))),
            (_, Err(u)) => Err(TiffError::UnsupportedError(u).into()),
        };
    }
    let planar =
        dec.find_tag_unsigned::<u16>(Tag::PlanarConfiguration)?.and_then(PlanarConfiguration::from_u16)
            == Some(PlanarConfiguration::Planar)
            && bands > 1;
    let expected = width as usize * height as usize * bands;
    let samples = if planar {
        read_planar(&mut dec, width as usize, height as usize, bands, bits)?
    } else {
        // read_image_bytes into a reused buffer: read_image_to_buffer would
        // allocate a fresh one for every file.
        let layout = dec.image_buffer_layout()?;
        if layout.complete_len != expected * usize::from(bits / 8) {
            return Err(Retry::Fail("unsupported tiff: unexpected sample layout".into()));
        }
        if bits == 8 {
            let mut v = vec![0u8; expected];
            dec.read_image_bytes(&mut v)?;
            Samples::U8(v)
        } else {
            let mut v = pool::take_words();
            v.resize(expected, 0);
            // On error `v` is dropped here rather than reused; errors are rare.
            dec.read_image_bytes(bytemuck::cast_slice_mut(&mut v))?;
            Samples::U16(v)
        }
    };
    Ok(Raster { width, height, bands, planar, samples })
}

/// Reads a planar file chunk by chunk into `[band][y][x]`. `read_image_*`
/// in tiff 0.11 panics on planar files whose tiles overhang the image edge,
/// and reading chunks is no slower.
fn read_planar(
    dec: &mut Decoder<Cursor<&[u8]>>,
    w: usize,
    h: usize,
    bands: usize,
    bits: u16,
) -> Result<Samples, Retry> {
    let (tw, th) = dec.chunk_dimensions();
    let (tw, th) = (tw as usize, th as usize);
    if tw == 0 || th == 0 {
        return Err(Retry::Fail("malformed tiff: zero-sized strips or tiles".into()));
    }
    let across = w.div_ceil(tw);
    let per_plane = across * h.div_ceil(th);
    let mut out =
        if bits == 8 { Samples::U8(vec![0; w * h * bands]) } else { Samples::U16(vec![0; w * h * bands]) };
    for idx in 0..per_plane * bands {
        let (plane, i) = (idx / per_plane, idx % per_plane);
        let (x0, y0) = ((i % across) * tw, (i / across) * th);
        let chunk = dec.read_chunk(idx as u32)?;
        let (dw, dh) = dec.chunk_data_dimensions(idx as u32);
        let (dw, dh) = ((dw as usize).min(w - x0), (dh as usize).min(h - y0));
        let base = plane * w * h + y0 * w + x0;
        let ok = match (&mut out, &chunk) {
            (Samples::U8(o), DecodingResult::U8(c)) => place(o, c, base, w, dw, dh),
            (Samples::U16(o), DecodingResult::U16(c)) => place(o, c, base, w, dw, dh),
            _ => false,
        };
        if !ok {
            return Err(Retry::Fail(format!("malformed tiff: chunk {idx} has an unexpected size or type")));
        }
    }
    Ok(out)
}

/// Copies a `dw`×`dh` chunk (rows of `dw`) into an image `w` wide at `base`.
fn place<T: Copy>(out: &mut [T], chunk: &[T], base: usize, w: usize, dw: usize, dh: usize) -> bool {
    if chunk.len() < dw * dh {
        return false;
    }
    for (r, row) in chunk.chunks_exact(dw).take(dh).enumerate() {
        out[base + r * w..base + r * w + dw].copy_from_slice(row);
    }
    true
}

/// Rewrites PhotometricInterpretation in the first IFD (to BlackIsZero, 1,
/// so that the decoder treats every sample as a band). Returns false if the
/// tag cannot be found. Only the in-memory copy is changed.
pub(crate) fn set_photometric(bytes: &mut [u8], value: u8) -> bool {
    let little = bytes.starts_with(b"II");
    let rd = |b: &[u8], at: usize, n: usize| -> Option<u64> {
        let s = b.get(at..at.checked_add(n)?)?;
        let mut v = 0u64;
        for i in 0..n {
            let byte = if little { s[n - 1 - i] } else { s[i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let Some(magic) = rd(bytes, 2, 2) else { return false };
    let (ifd, count_len, entry_len, value_at) = match magic {
        42 => (rd(bytes, 4, 4), 2, 12, 8),
        43 => (rd(bytes, 8, 8), 8, 20, 12),
        _ => return false,
    };
    let Some(ifd) = ifd.and_then(|v| usize::try_from(v).ok()) else { return false };
    let Some(count) = rd(bytes, ifd, count_len) else { return false };
    for i in 0..count.min(4096) as usize {
        let entry = ifd + count_len + i * entry_len;
        let (Some(tag), Some(ty)) = (rd(bytes, entry, 2), rd(bytes, entry + 2, 2)) else { return false };
        if tag != 262 {
            continue;
        }
        let width = match ty {
            3 => 2, // SHORT, as the spec says
            4 => 4, // LONG, seen in the wild
            _ => return false,
        };
        let Some(slot) = bytes.get_mut(entry + value_at..entry + value_at + width) else { return false };
        slot.fill(0);
        if little {
            slot[0] = value;
        } else {
            slot[width - 1] = value;
        }
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made little-endian TIFF header whose single IFD declares the
    /// given size; it has no pixel data at all.
    fn header_only_tiff(width: u32, height: u32, bands: u16) -> Vec<u8> {
        let entries: Vec<(u16, u16, u32, u32)> = vec![
            (256, 4, 1, width),
            (257, 4, 1, height),
            (258, 3, 1, 16),
            (259, 3, 1, 1),
            (262, 3, 1, 1),
            (273, 4, 1, 8),
            (277, 3, 1, u32::from(bands)),
            (278, 4, 1, height),
            (279, 4, 1, 100),
        ];
        let mut b = b"II*\0".to_vec();
        b.extend(8u32.to_le_bytes());
        b.extend((entries.len() as u16).to_le_bytes());
        for (tag, ty, count, value) in entries {
            b.extend(tag.to_le_bytes());
            b.extend(ty.to_le_bytes());
            b.extend(count.to_le_bytes());
            if ty == 3 {
                b.extend((value as u16).to_le_bytes());
                b.extend([0, 0]);
            } else {
                b.extend(value.to_le_bytes());
            }
        }
        b.extend(0u32.to_le_bytes());
        b
    }

    #[test]
    fn huge_declared_dimensions_are_refused_without_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge.tif");
        std::fs::write(&p, header_only_tiff(100_000, 100_000, 13)).unwrap();
        let e = read(&p).unwrap_err();
        assert!(e.message().contains("exceeds the 256 MiB limit"), "{e}");
        assert!(e.message().contains("huge.tif"), "{e}");
        // The decoder's own limits stop it too, should our check ever go.
        let bytes = header_only_tiff(100_000, 100_000, 13);
        let mut dec = Decoder::new(Cursor::new(&bytes)).unwrap().with_limits(limits());
        let mut buf = DecodingResult::U16(Vec::new());
        assert!(dec.read_image_to_buffer(&mut buf).is_err());
    }

    #[test]
    fn missing_and_empty_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(&dir.path().join("nope.tif")).unwrap_err();
        assert!(e.message().ends_with("nope.tif: no such file"), "{e}");
        let empty = dir.path().join("empty.tif");
        std::fs::write(&empty, b"").unwrap();
        assert!(read(&empty).unwrap_err().message().ends_with("empty file"));
        let text = dir.path().join("text.tif");
        std::fs::write(&text, b"hello, this is text").unwrap();
        assert!(read(&text).unwrap_err().message().contains("not a tiff file"));
        assert!(read(dir.path()).unwrap_err().message().contains("is a directory"));
    }
}
