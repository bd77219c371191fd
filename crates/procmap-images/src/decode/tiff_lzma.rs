//! LZMA-compressed TIFF strips and tiles (compression 34925), decoded as
//! libtiff's `LZMADecode` does through liblzma: each strip is an xz stream
//! whose blocks hold a delta filter (libtiff's encoder adds one, byte
//! distance 1 by default) before LZMA2; decoding stops when the strip is
//! full, and a stream that ends first fails the strip ("Not enough data").
//!
//! The xz container is walked here and each block's LZMA2 data handed to
//! `lzma-rs`'s raw decoder, which keeps a block's whole output in memory:
//! so the output the block's chunk headers declare (they are not
//! compressed) is added up first, and a block that declares far more than
//! the strip needs is refused before anything is inflated. The stream's
//! checks are not verified: libtiff stops reading at the strip's end too.

use lzma_rs::decompress::raw::Lzma2Decoder;

/// Declared output beyond the strip's own size that is still decoded (a
/// writer may flush a little more than one strip).
const SLACK: usize = 1 << 20;

/// Decodes `raw` into `buf`; whether it filled it without error.
pub fn decode(raw: &[u8], buf: &mut [u8]) -> bool {
    let mut filled = 0;
    let ok = decode_into(raw, buf, &mut filled).is_some();
    ok && filled == buf.len()
}

/// The xz filter chain libtiff writes: an optional delta filter, then LZMA2.
struct Block {
    /// Where the LZMA2 data starts.
    data: usize,
    delta: Option<usize>,
}

fn decode_into(raw: &[u8], buf: &mut [u8], filled: &mut usize) -> Option<()> {
    if !raw.starts_with(b"\xFD7zXZ\0") {
        return None;
    }
    let check = match raw.get(7)? & 0x0F {
        0 => 0,
        1 => 4,
        4 => 8,
        10 => 32,
        _ => return None,
    };
    let mut pos = 12;
    while *filled < buf.len() {
        if *raw.get(pos)? == 0 {
            return None; // the index: the stream ended before the strip did
        }
        let block = block_header(raw, pos)?;
        let (end, declared) = lzma2_extent(raw, block.data)?;
        if declared > buf.len() - *filled + SLACK {
            return None;
        }
        let mut out = Vec::with_capacity(declared);
        Lzma2Decoder::new().decompress(&mut &raw[block.data..end], &mut out).ok()?;
        if let Some(dist) = block.delta {
            // xz's delta decoder: each byte plus the one `dist` before it.
            for i in dist..out.len() {
                out[i] = out[i].wrapping_add(out[i - dist]);
            }
        }
        let n = out.len().min(buf.len() - *filled);
        buf[*filled..*filled + n].copy_from_slice(&out[..n]);
        *filled += n;
        // Block padding to a multiple of four, then the check.
        pos = end + (4 - (end - pos) % 4) % 4 + check;
    }
    Some(())
}

/// A multibyte integer of the xz format.
fn varint(raw: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..9 {
        let b = *raw.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn block_header(raw: &[u8], start: usize) -> Option<Block> {
    let size = (usize::from(*raw.get(start)?) + 1) * 4;
    let flags = *raw.get(start + 1)?;
    let mut pos = start + 2;
    if flags & 0x40 != 0 {
        varint(raw, &mut pos)?; // compressed size
    }
    if flags & 0x80 != 0 {
        varint(raw, &mut pos)?; // uncompressed size
    }
    let filters = usize::from(flags & 0x03) + 1;
    let mut delta = None;
    for k in 0..filters {
        let id = varint(raw, &mut pos)?;
        let props = usize::try_from(varint(raw, &mut pos)?).ok()?;
        let p = raw.get(pos..pos + props)?;
        pos += props;
        match (id, k + 1 == filters) {
            (0x21, true) => {}
            (0x03, false) if props == 1 && delta.is_none() => delta = Some(usize::from(p[0]) + 1),
            _ => return None, // a filter libtiff does not write
        }
    }
    (pos <= start + size).then_some(Block { data: start + size, delta })
}

/// Where a block's LZMA2 data ends, and the output its chunks declare.
fn lzma2_extent(raw: &[u8], mut pos: usize) -> Option<(usize, usize)> {
    let be16 = |at: usize| Some(usize::from(u16::from_be_bytes([*raw.get(at)?, *raw.get(at + 1)?])));
    let mut total = 0usize;
    loop {
        let control = *raw.get(pos)?;
        match control {
            0 => return Some((pos + 1, total)),
            1 | 2 => {
                let size = be16(pos + 1)? + 1;
                total = total.checked_add(size)?;
                pos += 3 + size;
            }
            0x80..=0xFF => {
                let unpacked = (usize::from(control & 0x1F) << 16) + be16(pos + 1)? + 1;
                let packed = be16(pos + 3)? + 1;
                let props = usize::from((control >> 5) & 3 >= 2);
                total = total.checked_add(unpacked)?;
                pos += 5 + props + packed;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_decoded_and_its_declared_size_bounded() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &data[..], &mut xz).unwrap();
        let mut buf = vec![0u8; 5000];
        assert!(decode(&xz, &mut buf));
        assert_eq!(buf, data);
        // A strip larger than the stream: "Not enough data".
        let mut bigger = vec![0u8; 6000];
        assert!(!decode(&xz, &mut bigger));
        // A strip far smaller than what the stream declares: refused.
        let big: Vec<u8> = vec![0; 3 << 20];
        let mut bomb = Vec::new();
        lzma_rs::xz_compress(&mut &big[..], &mut bomb).unwrap();
        let (_, declared) = lzma2_extent(&bomb, block_header(&bomb, 12).unwrap().data).unwrap();
        assert_eq!(declared, 3 << 20);
        assert!(!decode(&bomb, &mut [0u8; 10]));
        assert!(!decode(b"not xz", &mut [0u8; 10]));
    }
}
