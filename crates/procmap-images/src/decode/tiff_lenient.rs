//! What `cv2.imread` makes of a TIFF whose compressed strips or tiles are
//! damaged: the samples libtiff's RGBA reader hands OpenCV.
//!
//! OpenCV reads 8-bit output through `TIFFReadRGBAStrip` / `TIFFReadRGBATile`
//! (`grfmt_tiff.cpp`, `TiffDecoder::readData`), one strip or tile per call.
//! Those run libtiff's `TIFFRGBAImageGet` with `stop_on_error` off
//! (`tif_getimage.c`, `gtStripContig`, `gtStripSeparate`, `gtTileContig`,
//! `gtTileSeparate`), and in libtiff 4.7 (the one in opencv-python 5.0):
//!
//! - a strip or tile whose bytes are not all in the file (or whose byte
//!   count is 0) fails `TIFFFillStrip`; when that is the first (or only)
//!   plane, the call fails and `imread` returns nothing;
//! - otherwise the buffer is allocated and zeroed, and the codec decodes
//!   into it. A codec error leaves what was decoded before it, and zeros
//!   after; the error itself is ignored. A later plane of a planar file
//!   that cannot be read at all stays zero;
//! - the horizontal predictor and the byte swap of 16-bit samples run
//!   only after a successful decode (`PredictorDecodeTile`,
//!   `TIFFReadEncodedStrip`'s post-decode step), so a failed strip keeps
//!   its raw differences, read in the host's (little-endian) byte order.
//!
//! The codecs follow libtiff's: LZW as `tif_lzw.c`'s `LZWDecode` (its
//! code table, early change, and its errors: a code not yet in the table,
//! no CLEAR first, no EOI before the data ends), Deflate through zlib (as
//! `tif_zip.c`'s `ZIPDecode`: output stops when the strip is full, a data
//! error or a short stream fails the strip), and no compression as
//! `DumpModeDecode` (a short strip is not copied at all), LZMA as
//! `LZMADecode` (`tiff_lzma`). Other codecs are
//! not handled here: the caller keeps its own error for them.
//!
//! Read `strict`ly, a strip or tile that fails is an error, as it is for
//! Pillow's reader: that is how Pillow's samples are read where the `tiff`
//! crate cannot read them (12-bit samples, tiled planar files).

use super::header::check_size;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

type Reader<'a> = Decoder<std::io::Cursor<&'a [u8]>>;

/// The samples of the first image, as the `tiff` crate's
/// `read_image_to_buffer` would give them (chunky: interleaved; planar:
/// plane after plane; sub-byte samples in byte-padded rows), with
/// libtiff's handling of damaged strips and tiles.
pub fn read(dec: &mut Reader<'_>, bytes: &[u8], strict: bool) -> Result<DecodingResult, String> {
    let g = Geometry::new(dec, bytes, strict)?;
    let plane_bytes = g.height * g.row_bytes(g.width)?;
    let total = plane_bytes.checked_mul(g.planes).ok_or("tiff: image too large")?;
    let mut out = vec![0u8; total];
    if dec.find_tag(Tag::TileWidth).map_err(|e| e.to_string())?.is_some() {
        read_tiles(dec, bytes, &g, &mut out, plane_bytes)?;
    } else {
        read_strips(dec, bytes, &g, &mut out, plane_bytes)?;
    }
    Ok(match g.bits {
        16 => DecodingResult::U16(out.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect()),
        _ => DecodingResult::U8(out),
    })
}

/// Why a strip or tile gives no samples.
enum Skip {
    /// Its bytes are not in the file (`TIFFFillStrip` fails).
    Missing(&'static str),
    /// Not modelled here.
    Unsupported(&'static str),
    /// The codec failed, and the read is strict.
    Corrupt(&'static str),
}

impl From<Skip> for String {
    fn from(s: Skip) -> String {
        match s {
            Skip::Missing(m) | Skip::Unsupported(m) | Skip::Corrupt(m) => m.into(),
        }
    }
}

struct Geometry {
    width: usize,
    height: usize,
    bits: usize,
    /// Samples per pixel in one plane's rows.
    samples: usize,
    planes: usize,
    compression: u16,
    predictor: u16,
    big_endian: bool,
    strict: bool,
}

fn tag(dec: &mut Reader<'_>, t: Tag) -> Result<Option<u64>, String> {
    dec.find_tag_unsigned(t).map_err(|e| e.to_string())
}

fn tag_vec(dec: &mut Reader<'_>, t: Tag) -> Result<Vec<u64>, String> {
    Ok(dec.find_tag_unsigned_vec::<u64>(t).map_err(|e| e.to_string())?.unwrap_or_default())
}

impl Geometry {
    fn new(dec: &mut Reader<'_>, bytes: &[u8], strict: bool) -> Result<Self, String> {
        let (w, h) = dec.dimensions().map_err(|e| e.to_string())?;
        let spp = tag(dec, Tag::SamplesPerPixel)?.unwrap_or(1) as usize;
        let bits = tag_vec(dec, Tag::BitsPerSample)?.first().copied().unwrap_or(1) as usize;
        let planar = tag(dec, Tag::PlanarConfiguration)?.unwrap_or(1) == 2 && spp > 1;
        let compression = tag(dec, Tag::Compression)?.unwrap_or(1) as u16;
        let predictor = tag(dec, Tag::Predictor)?.unwrap_or(1) as u16;
        if !matches!(compression, 1 | 5 | 8 | 32946 | 34925) {
            return Err(format!("tiff: compression {compression} is not read leniently"));
        }
        if !matches!(bits, 1 | 2 | 4 | 8 | 12 | 16) || spp == 0 || (planar && bits < 8) {
            return Err("tiff: this sample layout is not read leniently".into());
        }
        if !(predictor == 1 || predictor == 2 && matches!(bits, 8 | 16)) {
            return Err(format!("tiff: predictor {predictor} is not read leniently"));
        }
        check_size(w, h, (spp * bits.div_ceil(8)) as u64)?;
        Ok(Geometry {
            width: w as usize,
            height: h as usize,
            bits,
            samples: if planar { 1 } else { spp },
            planes: if planar { spp } else { 1 },
            compression,
            predictor,
            big_endian: bytes.starts_with(b"MM"),
            strict,
        })
    }

    /// Bytes in a row `width` pixels wide, in one plane.
    fn row_bytes(&self, width: usize) -> Result<usize, String> {
        width
            .checked_mul(self.samples * self.bits)
            .map(|b| b.div_ceil(8))
            .ok_or_else(|| "tiff: image too large".into())
    }

    /// Decodes one strip or tile into `buf` (zeroed, its decoded size), as
    /// libtiff's `TIFFReadEncodedStrip` does. `Err` when the data is not in
    /// the file (`TIFFFillStrip` fails); otherwise whatever the codec
    /// produced, post-processed only if it succeeded.
    fn decode_chunk(
        &self,
        bytes: &[u8],
        offset: u64,
        count: u64,
        buf: &mut [u8],
        row: usize,
    ) -> Result<(), Skip> {
        let start = usize::try_from(offset).ok();
        let end = start.zip(usize::try_from(count).ok()).and_then(|(s, n)| s.checked_add(n));
        let raw = match (start, end) {
            (Some(s), Some(e)) if count > 0 => bytes.get(s..e),
            _ => None,
        }
        .ok_or(Skip::Missing("truncated file: the data ends before the image does"))?;
        let ok = match self.compression {
            1 => dump_mode(raw, buf),
            // Old-style (LSB-first) LZW, which libtiff decodes otherwise.
            5 if raw.len() >= 2 && raw[0] == 0 && raw[1] & 1 == 1 => {
                return Err(Skip::Unsupported("tiff: old-style LZW codes are not read leniently"));
            }
            5 => lzw(raw, buf),
            34925 => super::tiff_lzma::decode(raw, buf),
            _ => deflate(raw, buf),
        };
        if !ok && self.strict {
            return Err(Skip::Corrupt("corrupt compressed data: a strip or tile does not decode"));
        }
        if ok {
            if self.bits == 16 && self.big_endian {
                for p in buf.chunks_exact_mut(2) {
                    p.swap(0, 1);
                }
            }
            if self.predictor == 2 && row > 0 && buf.len().is_multiple_of(row) {
                for r in buf.chunks_exact_mut(row) {
                    self.accumulate(r);
                }
            }
        }
        Ok(())
    }

    /// Undoes horizontal differencing in one row (libtiff's `horAcc8` /
    /// `horAcc16`), values already in host order.
    fn accumulate(&self, row: &mut [u8]) {
        let s = self.samples;
        if self.bits == 16 {
            let mut v: Vec<u16> = row.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
            for i in s..v.len() {
                v[i] = v[i].wrapping_add(v[i - s]);
            }
            for (b, x) in row.chunks_exact_mut(2).zip(v) {
                b.copy_from_slice(&x.to_le_bytes());
            }
        } else {
            for i in s..row.len() {
                row[i] = row[i].wrapping_add(row[i - s]);
            }
        }
    }
}

fn read_strips(
    dec: &mut Reader<'_>,
    bytes: &[u8],
    g: &Geometry,
    out: &mut [u8],
    plane_bytes: usize,
) -> Result<(), String> {
    let rows_per_strip =
        (tag(dec, Tag::RowsPerStrip)?.unwrap_or(u64::MAX) as usize).clamp(1, g.height.max(1));
    let offsets = tag_vec(dec, Tag::StripOffsets)?;
    let counts = tag_vec(dec, Tag::StripByteCounts)?;
    let per_plane = g.height.div_ceil(rows_per_strip);
    if offsets.len() < per_plane * g.planes || counts.len() < per_plane * g.planes {
        return Err("malformed tiff: fewer strips than the image needs".into());
    }
    let row = g.row_bytes(g.width)?;
    for s in 0..per_plane {
        let y = s * rows_per_strip;
        let rows = rows_per_strip.min(g.height - y);
        for p in 0..g.planes {
            let i = p * per_plane + s;
            let at = p * plane_bytes + y * row;
            let buf = &mut out[at..at + rows * row];
            match g.decode_chunk(bytes, offsets[i], counts[i], buf, row) {
                // Only the first plane's failure to read fails the call
                // (the buffer is allocated after it); a later plane that
                // cannot be read stays zero.
                Err(Skip::Missing(_)) if p > 0 && !g.strict => {}
                Err(e) => return Err(e.into()),
                Ok(()) => {}
            }
        }
    }
    Ok(())
}

fn read_tiles(
    dec: &mut Reader<'_>,
    bytes: &[u8],
    g: &Geometry,
    out: &mut [u8],
    plane_bytes: usize,
) -> Result<(), String> {
    let tw = tag(dec, Tag::TileWidth)?.unwrap_or(0) as usize;
    let th = tag(dec, Tag::TileLength)?.unwrap_or(0) as usize;
    if tw == 0 || th == 0 || g.bits < 8 {
        return Err("tiff: this tile layout is not read leniently".into());
    }
    let tile_row = g.row_bytes(tw)?;
    let tile_bytes = tile_row.checked_mul(th).ok_or("tiff: tile too large")?;
    check_size(tw as u32, th as u32, (g.samples * g.bits / 8) as u64)?;
    let offsets = tag_vec(dec, Tag::TileOffsets)?;
    let counts = tag_vec(dec, Tag::TileByteCounts)?;
    let (across, down) = (g.width.div_ceil(tw), g.height.div_ceil(th));
    let per_plane = across * down;
    if offsets.len() < per_plane * g.planes || counts.len() < per_plane * g.planes {
        return Err("malformed tiff: fewer tiles than the image needs".into());
    }
    let row = g.row_bytes(g.width)?;
    let mut buf = vec![0u8; tile_bytes];
    for t in 0..per_plane {
        let (x, y) = ((t % across) * tw, (t / across) * th);
        let (w, h) = (tw.min(g.width - x), th.min(g.height - y));
        let x_bytes = g.row_bytes(x)?;
        let w_bytes = g.row_bytes(w)?;
        for p in 0..g.planes {
            let i = p * per_plane + t;
            buf.fill(0);
            match g.decode_chunk(bytes, offsets[i], counts[i], &mut buf, tile_row) {
                Err(Skip::Missing(_)) if p > 0 && !g.strict => {}
                Err(e) => return Err(e.into()),
                Ok(()) => {}
            }
            for r in 0..h {
                let at = p * plane_bytes + (y + r) * row + x_bytes;
                out[at..at + w_bytes].copy_from_slice(&buf[r * tile_row..r * tile_row + w_bytes]);
            }
        }
    }
    Ok(())
}

/// libtiff's `DumpModeDecode`: the bytes, if there are enough of them.
fn dump_mode(raw: &[u8], buf: &mut [u8]) -> bool {
    match raw.get(..buf.len()) {
        Some(src) => {
            buf.copy_from_slice(src);
            true
        }
        None => false,
    }
}

/// libtiff's `ZIPDecode`: inflate until the buffer is full. A data error
/// (even one found right after the last byte, such as a bad checksum), or
/// a stream that ends or runs out of input first, fails the strip and
/// keeps what was inflated.
fn deflate(raw: &[u8], buf: &mut [u8]) -> bool {
    let mut z = flate2::Decompress::new(true);
    let ok = loop {
        let (done_in, done_out) = (z.total_in() as usize, z.total_out() as usize);
        let status = z.decompress(&raw[done_in..], &mut buf[done_out..], flate2::FlushDecompress::None);
        let full = z.total_out() as usize == buf.len();
        match status {
            Err(_) => break false,
            Ok(_) if full => break true,
            Ok(flate2::Status::StreamEnd) => break false,
            Ok(_) if z.total_in() as usize == done_in && z.total_out() as usize == done_out => break false,
            Ok(_) => {}
        }
    };
    if !ok {
        // zlib-rs may have written past the bytes it reports (its copies
        // run in whole words); libtiff zeroes the rest after a data error.
        buf[z.total_out() as usize..].fill(0);
    }
    ok
}

/// One entry of libtiff's LZW decoding table: a string, as its last byte
/// and the entry of the string without it.
#[derive(Clone, Copy, Default)]
struct Code {
    /// Index of the prefix entry; `NONE` for single bytes.
    next: usize,
    length: usize,
    first: u8,
    value: u8,
}

const NONE: usize = usize::MAX;
const CODE_CLEAR: usize = 256;
const CODE_EOI: usize = 257;
const CODE_FIRST: usize = 258;
const BITS_MIN: u32 = 9;
const BITS_MAX: u32 = 12;
/// libtiff's table size: 12-bit codes plus 1024 entries of slack (for old
/// files) that the decoder can fill but never reference.
const CSIZE: usize = (1 << BITS_MAX) - 1 + 1024;

/// libtiff 4.7's `LZWDecode` for one strip or tile: decodes into `buf`,
/// returns whether it filled it without error. On an error the bytes
/// decoded so far stay; a string longer than the room left is cut.
fn lzw(raw: &[u8], buf: &mut [u8]) -> bool {
    let mut table = vec![Code::default(); CSIZE];
    for (c, e) in table.iter_mut().enumerate().take(256) {
        *e = Code { next: NONE, length: 1, first: c as u8, value: c as u8 };
    }
    let mut bits = BitReader { raw, pos: 0 };
    let mut nbits = BITS_MIN;
    // libtiff starts with no free entry (`dec_codetab - 1`), so a stream
    // that does not begin with CLEAR fails on its first code.
    let mut free: Option<usize> = None;
    let mut max_code = (1usize << BITS_MIN) - 2;
    let mut old = 0usize;
    let mut op = 0usize;
    let occ = buf.len();
    while op < occ {
        let Some(mut code) = bits.next(nbits) else { return false };
        if code == CODE_EOI {
            return false;
        }
        if code == CODE_CLEAR {
            free = Some(CODE_FIRST);
            nbits = BITS_MIN;
            max_code = (1 << BITS_MIN) - 2;
            while code == CODE_CLEAR {
                let Some(c) = bits.next(nbits) else { return false };
                code = c;
            }
            if code >= CODE_EOI {
                return false;
            }
            buf[op] = code as u8;
            op += 1;
            old = code;
            continue;
        }
        // Add the entry old + first byte of `code` (or of old itself, for
        // the code being defined right now).
        let Some(f) = free else { return false };
        if code > f {
            return false;
        }
        let value = if code >= CODE_FIRST {
            if code == f { table[old].first } else { table[code].first }
        } else {
            code as u8
        };
        table[f] = Code { next: old, length: table[old].length + 1, first: table[old].first, value };
        let mut next_free = f + 1;
        if next_free > max_code {
            nbits = (nbits + 1).min(BITS_MAX);
            max_code = (1 << nbits) - 2;
            if next_free >= CSIZE {
                next_free = NONE;
            }
        }
        free = (next_free != NONE).then_some(next_free);
        old = code;
        let len = table[code].length;
        let room = occ - op;
        let n = len.min(room);
        // Walk back from the end of the string to its first `n` bytes.
        let mut e = code;
        for _ in n..len {
            e = table[e].next;
        }
        for k in (0..n).rev() {
            buf[op + k] = table[e].value;
            e = table[e].next;
        }
        op += n;
    }
    true
}

/// MSB-first codes of `n` bits; `None` when the data has fewer bits left.
struct BitReader<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn next(&mut self, n: u32) -> Option<usize> {
        let n = n as usize;
        if self.pos + n > self.raw.len() * 8 {
            return None;
        }
        let mut v = 0usize;
        for i in self.pos..self.pos + n {
            v = (v << 1) | usize::from(self.raw[i / 8] >> (7 - i % 8) & 1);
        }
        self.pos += n;
        Some(v)
    }
}
