//! Which Pillow mode a TIFF gets, and which of its samples make it: the
//! key `TiffImagePlugin._setup` builds (byte order, photometric, sample
//! format, bits per sample, extra samples) looked up as in its `OPEN_INFO`
//! table, for the entries our modes can hold. Entries Pillow has and we do
//! not ("La", "PA", "YCbCr") are refused by name; keys Pillow does
//! not have are refused as Pillow refuses them ("unknown pixel mode").

use crate::pil::Mode;

/// The tags the key is made of.
pub struct Tags {
    pub photometric: u16,
    pub formats: Vec<u16>,
    pub bits: Vec<u16>,
    pub extra: Vec<u16>,
    pub samples: Option<u16>,
    pub planar: u16,
    pub big_endian: bool,
    pub compression: u16,
}

/// What the file's samples become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub mode: Mode,
    /// Bits of each sample.
    pub bits: u16,
    /// SampleFormat: 1 unsigned, 2 signed, 3 float.
    pub format: u16,
    /// Samples per pixel in the file (all planes of a planar file).
    pub file_samples: usize,
    /// The file's samples that make the mode's channels, in order; the
    /// rest (unspecified extra samples) are dropped.
    pub keep: Vec<usize>,
    /// The alpha is associated (ExtraSamples 1) and Pillow's "RGBa"
    /// unpacker undoes it.
    pub associated: bool,
    /// Why Pillow's `open` fails on a layout OpenCV reads.
    pub pillow_fails: Option<&'static str>,
}

fn refuse(what: &str) -> Result<Pick, String> {
    Err(format!("tiff: {what} is not supported"))
}

/// Pillow's mode for these tags, or why there is none.
pub fn pick(t: &Tags) -> Result<Pick, String> {
    let mut formats = if t.formats.is_empty() { vec![1] } else { t.formats.clone() };
    if formats.len() > 1 && formats.iter().all(|&f| f == formats[0]) {
        formats.truncate(1);
    }
    let mut bits = if t.bits.is_empty() { vec![1] } else { t.bits.clone() };
    let mut extra = t.extra.clone();
    let default_spp = if t.compression == 7 && matches!(t.photometric, 2 | 6) { 3 } else { 1 };
    let file_samples = usize::from(t.samples.unwrap_or(default_spp));
    let mut spp = file_samples;
    let mut pillow_fails = None;
    // Unspecified extra samples of a planar file are ignored.
    if t.planar == 2 && !extra.is_empty() && extra.iter().all(|&e| e == 0) {
        bits.truncate(bits.len().saturating_sub(extra.len()));
        spp = spp.saturating_sub(extra.len());
        extra.clear();
        // Uncompressed, Pillow's own reader still lists a tile for every
        // plane, each with the raw mode's letter for its plane: past the
        // last letter of an 8-bit raw mode ("RGB") `open` fails.
        if t.compression == 1 && bits.iter().all(|&b| b <= 8) {
            pillow_fails = Some(
                "tiff: Pillow cannot open an uncompressed planar file with unspecified extra samples \
                 (it has no raw mode for the extra planes)",
            );
        }
    }
    if spp > 6 {
        return Err("tiff: more samples per pixel than Pillow decodes".into());
    }
    if spp < bits.len() {
        bits.truncate(spp);
    } else if spp > bits.len() && bits.len() == 1 {
        bits = vec![bits[0]; spp];
    }
    if bits.len() != spp || spp == 0 {
        return Err("tiff: unknown data organization (BitsPerSample does not match SamplesPerPixel)".into());
    }
    let [format] = formats[..] else {
        return refuse("a different sample format per sample");
    };
    let b = bits[0];
    if bits.iter().any(|&x| x != b) {
        return refuse("a different bit depth per sample");
    }
    let be = t.big_endian;
    let ok = |mode, keep: Vec<usize>| {
        Ok(Pick {
            mode,
            bits: b,
            format,
            file_samples,
            keep,
            associated: extra.first() == Some(&1),
            pillow_fails,
        })
    };
    let first = |n: usize| (0..n).collect::<Vec<_>>();
    match (t.photometric, format, b, spp, extra.as_slice()) {
        (0 | 1, 1, 1, 1, []) => ok(Mode::Bilevel, first(1)),
        (0 | 1, 1, 2 | 4 | 8, 1, []) | (1, 2, 8, 1, []) | (6, 1, 8, 1, []) => ok(Mode::L, first(1)),
        (1, 1, 12, 1, []) if !be => ok(Mode::I16, first(1)),
        // MinIsWhite 16-bit is read as it is, and only little-endian.
        (0, 1, 16, 1, []) if !be => ok(Mode::I16, first(1)),
        (1, 1, 16, 1, []) => ok(if be { Mode::I16B } else { Mode::I16 }, first(1)),
        (1, 2, 16, 1, []) | (1, 2, 32, 1, []) => ok(Mode::I, first(1)),
        (1, 1, 32, 1, []) if !be => ok(Mode::I, first(1)),
        (0 | 1, 3, 32, 1, []) => ok(Mode::F, first(1)),
        (1, 1, 8, 2, [0]) => ok(Mode::L, first(1)),
        (1, 1, 8, 2, [1]) => refuse("grey with associated alpha (Pillow mode La)"),
        (1, 1, 8, 2, [2]) => ok(Mode::LA, first(2)),
        (2, 1, 8, 3, []) | (2, 1, 16, 3, []) => ok(Mode::Rgb, first(3)),
        (2, 1, 8, 4, []) | (2, 1, 16, 4, []) => ok(Mode::Rgba, first(4)),
        (2, 1, 8, 4..=6, [0, ..]) | (2, 1, 16, 4, [0]) if extra.iter().all(|&e| e == 0) => {
            ok(Mode::Rgb, first(3))
        }
        (2, 1, 8, 4..=6, [1 | 2, rest @ ..]) | (2, 1, 16, 4, [1 | 2, rest @ ..])
            if rest.iter().all(|&e| e == 0) =>
        {
            ok(Mode::Rgba, first(4))
        }
        (2, 1, 8, 4, [999]) => ok(Mode::Rgba, first(4)),
        (3, 1, 1 | 2 | 4 | 8, 1, []) | (3, 1, 8, 2, [0]) => ok(Mode::P, first(1)),
        (3, 1, 8, 2, [2]) => refuse("palette with alpha (Pillow mode PA)"),
        (5, 1, 8, 4, []) | (5, 1, 16, 4, []) => ok(Mode::Cmyk, first(4)),
        (5, 1, 8, 5..=6, [0, ..]) if extra.iter().all(|&e| e == 0) => ok(Mode::Cmyk, first(4)),
        (6, 1, 8, 3, []) if t.compression == 7 && t.planar == 1 => ok(Mode::Rgb, first(3)),
        (6, 1, 8, 3, []) => refuse("YCbCr without JPEG compression"),
        (8, 1, 8, 3, []) => ok(Mode::Lab, first(3)),
        (p, f, b, s, _) => Err(format!(
            "tiff: unknown pixel mode (Pillow has none for photometric {} ({p}), sample format {f}, \
             {s} samples of {b} bits, extra samples {extra:?})",
            photometric_name(p)
        )),
    }
}

fn photometric_name(p: u16) -> &'static str {
    match p {
        0 => "MinIsWhite",
        1 => "MinIsBlack",
        2 => "RGB",
        3 => "palette",
        4 => "transparency mask",
        5 => "separated (CMYK)",
        6 => "YCbCr",
        8 => "CIELab",
        32844 | 32845 => "LogLuv",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(photometric: u16, bits: &[u16], samples: u16, extra: &[u16], planar: u16) -> Tags {
        Tags {
            photometric,
            formats: vec![],
            bits: bits.to_vec(),
            extra: extra.to_vec(),
            samples: Some(samples),
            planar,
            big_endian: false,
            compression: 1,
        }
    }

    #[test]
    fn unspecified_extra_samples_are_dropped() {
        let p = pick(&tags(2, &[8, 8, 8, 8], 4, &[0], 1)).unwrap();
        assert_eq!((p.mode, p.keep, p.file_samples), (Mode::Rgb, vec![0, 1, 2], 4));
        let mut planar = tags(2, &[8, 8, 8, 8], 4, &[0], 2);
        assert!(pick(&planar).unwrap().pillow_fails.is_some_and(|m| m.contains("Pillow cannot open")));
        planar.compression = 8;
        let p = pick(&planar).unwrap();
        assert_eq!((p.mode, p.keep, p.file_samples), (Mode::Rgb, vec![0, 1, 2], 4));
        let p = pick(&tags(3, &[8, 8], 2, &[0], 1)).unwrap();
        assert_eq!((p.mode, p.keep), (Mode::P, vec![0]));
        assert_eq!(pick(&tags(1, &[8, 8], 2, &[0], 1)).unwrap().mode, Mode::L);
        assert!(pick(&tags(3, &[8, 8], 2, &[2], 1)).unwrap_err().contains("PA"));
    }

    #[test]
    fn signed_and_twelve_bit_grey_follow_open_info() {
        let mut t = tags(1, &[8], 1, &[], 1);
        t.formats = vec![2];
        assert_eq!(pick(&t).unwrap().mode, Mode::L);
        t.bits = vec![16];
        assert_eq!(pick(&t).unwrap().mode, Mode::I);
        let mut t = tags(1, &[12], 1, &[], 1);
        assert_eq!(pick(&t).unwrap().mode, Mode::I16);
        t.big_endian = true;
        assert!(pick(&t).unwrap_err().contains("unknown pixel mode"));
    }
}
