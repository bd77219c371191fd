//! Deterministic synthetic EuroSAT-like tiles, for demos, benchmarks and
//! tests, since the real dataset cannot be shipped.
//!
//! A tile is 64×64×13 uint16 by default, band means close to EuroSAT's
//! (~730–2,600, B10 ~12), with smooth structure (value noise shared across
//! bands, plus a "vegetation" field that lifts the near-infrared bands and
//! darkens the visible ones), per-sample noise, and a few bright spots whose
//! visible bands exceed 4000 so that the RGB conversion saturates.
//!
//! Files are written with the `tiff` crate's directory encoder, tags set by
//! hand: its `ImageEncoder` knows neither 13-sample colour types, nor planar
//! layout, nor tiles, and its `extra_samples()` adds samples on top of the
//! colour type's instead of declaring them.
//! The same seed always gives the same pixels (plain integer and f32
//! arithmetic, no platform maths functions).

use std::fs;
use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use tiff::encoder::TiffEncoder;
use tiff::encoder::compression::{CompressionAlgorithm, Deflate, DeflateLevel, Lzw, Packbits};
use tiff::tags::{CompressionMethod, Tag};

/// EuroSAT's ten class folders.
pub const CLASSES: [&str; 10] = [
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
];

/// Mean reflectance ×10⁴ per band, in EuroSAT's file order (B01…B12, B8A).
pub const BAND_MEANS: [f32; 13] =
    [1354.0, 1118.0, 1042.0, 947.0, 1199.0, 2003.0, 2375.0, 2302.0, 732.0, 12.0, 1820.0, 1119.0, 2600.0];

/// How strongly each band follows the vegetation field: NIR up, visible down.
const VEGETATION: [f32; 13] = [-0.3, -0.5, -0.4, -0.6, 0.0, 0.6, 0.8, 0.8, 0.4, 0.0, -0.3, -0.4, 0.8];

/// TIFF compression for synthetic files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lzw,
    Deflate,
    PackBits,
}

/// How the pixel data is cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunks {
    /// Strips of `rows` rows.
    Strips { rows: u32 },
    /// Tiles; TIFF wants both sides to be multiples of 16.
    Tiles { width: u32, height: u32 },
}

/// The layout of a synthetic tile. The default is real EuroSAT's: 64×64,
/// 13 bands, chunky, uncompressed, 4-row strips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileOptions {
    pub width: u32,
    pub height: u32,
    pub bands: u16,
    /// PlanarConfiguration=2: one plane per band.
    pub planar: bool,
    pub compression: Compression,
    pub chunks: Chunks,
    /// Horizontal differencing (TIFF predictor 2) before compression.
    pub predictor: bool,
    /// Photometric=RGB with the bands beyond three declared as extra
    /// samples, as some WorldView products are written (needs ≥ 3 bands).
    /// Otherwise BlackIsZero with all bands but the first as extra samples,
    /// as in EuroSAT.
    pub rgb_photometric: bool,
}

impl Default for TileOptions {
    fn default() -> Self {
        TileOptions {
            width: 64,
            height: 64,
            bands: 13,
            planar: false,
            compression: Compression::None,
            chunks: Chunks::Strips { rows: 4 },
            predictor: false,
            rgb_photometric: false,
        }
    }
}

/// SplitMix64: tiny, fast, and good enough for synthetic pixels.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A smooth field in [-1, 1]: random values on a coarse grid, bilinearly
/// interpolated.
fn value_noise(rng: &mut Rng, width: usize, height: usize, cell: usize) -> Vec<f32> {
    let gw = width / cell + 2;
    let gh = height / cell + 2;
    let grid: Vec<f32> = (0..gw * gh).map(|_| rng.unit() * 2.0 - 1.0).collect();
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        let (gy, fy) = (y / cell, (y % cell) as f32 / cell as f32);
        for x in 0..width {
            let (gx, fx) = (x / cell, (x % cell) as f32 / cell as f32);
            let g = |i: usize, j: usize| grid[(gy + j) * gw + gx + i];
            let top = g(0, 0) + (g(1, 0) - g(0, 0)) * fx;
            let bottom = g(0, 1) + (g(1, 1) - g(0, 1)) * fx;
            out.push(top + (bottom - top) * fy);
        }
    }
    out
}

/// The samples of tile `seed`, chunky (`[y][x][band]`).
pub fn tile_data(seed: u64, width: u32, height: u32, bands: u16) -> Vec<u16> {
    let (w, h, nb) = (width as usize, height as usize, usize::from(bands));
    let mut rng = Rng(seed ^ 0x05EE_D0FE_05A7);
    let brightness = 0.7 + 0.6 * rng.unit();
    let structure = value_noise(&mut rng, w, h, 16);
    let vegetation = value_noise(&mut rng, w, h, 32);
    // One to three bright spots (roofs, clouds, sand) that saturate RGB.
    let spots: Vec<(f32, f32, f32, f32)> = (0..1 + rng.next() % 3)
        .map(|_| {
            let cx = rng.unit() * w as f32;
            let cy = rng.unit() * h as f32;
            let r = 2.0 + rng.unit() * 4.0;
            let gain = 3.0 + rng.unit() * 4.0;
            (cx, cy, r * r, gain)
        })
        .collect();
    let mut noise = rng.next() | 1;
    let mut out = Vec::with_capacity(w * h * nb);
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let bright = spots
                .iter()
                .find(|(cx, cy, r2, _)| {
                    let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                    dx * dx + dy * dy <= *r2
                })
                .map_or(1.0, |s| s.3);
            for b in 0..nb {
                // xorshift64 per sample: cheaper than SplitMix in the hot loop.
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                let n = ((noise >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.08;
                let band = b % 13;
                let visible = matches!(band, 0..=3);
                let gain = if visible { bright } else { 1.0 + (bright - 1.0) * 0.3 };
                let v = BAND_MEANS[band]
                    * brightness
                    * (1.0 + 0.3 * structure[i] + 0.35 * VEGETATION[band] * vegetation[i])
                    * (1.0 + n)
                    * gain;
                out.push(v.clamp(0.0, 65535.0) as u16);
            }
        }
    }
    out
}

/// Encodes samples (chunky, `[y][x][band]`) as a TIFF file in memory.
pub fn encode_tile(data: &[u16], opts: &TileOptions) -> io::Result<Vec<u8>> {
    let (w, h, nb) = (opts.width as usize, opts.height as usize, usize::from(opts.bands));
    if w == 0 || h == 0 || nb == 0 || data.len() != w * h * nb {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "tile size does not match the data"));
    }
    if opts.rgb_photometric && nb < 3 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "an rgb tile needs at least 3 bands"));
    }
    let (cw, ch) = match opts.chunks {
        Chunks::Strips { rows } => (w, (rows as usize).clamp(1, h)),
        Chunks::Tiles { width, height } => {
            if width == 0 || height == 0 || width % 16 != 0 || height % 16 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "tile sides must be multiples of 16",
                ));
            }
            (width as usize, height as usize)
        }
    };
    let tiled = matches!(opts.chunks, Chunks::Tiles { .. });
    let (planes, spp) = if opts.planar { (nb, 1) } else { (1, nb) };
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for plane in 0..planes {
        for cy in (0..h).step_by(ch) {
            for cx in (0..w).step_by(cw) {
                // Strips end at the image's last row; tiles are padded to full size.
                let rows = if tiled { ch } else { ch.min(h - cy) };
                let mut samples = vec![0u16; rows * cw * spp];
                for r in 0..rows.min(h - cy) {
                    for c in 0..cw.min(w - cx) {
                        let px = (cy + r) * w + cx + c;
                        let dst = (r * cw + c) * spp;
                        if opts.planar {
                            samples[dst] = data[px * nb + plane];
                        } else {
                            samples[dst..dst + nb].copy_from_slice(&data[px * nb..px * nb + nb]);
                        }
                    }
                }
                if opts.predictor {
                    for row in samples.chunks_exact_mut(cw * spp) {
                        for i in (spp..row.len()).rev() {
                            row[i] = row[i].wrapping_sub(row[i - spp]);
                        }
                    }
                }
                chunks.push(compress(&samples, cw * spp, opts.compression)?);
            }
        }
    }

    let err = |e: tiff::TiffError| io::Error::other(e.to_string());
    let mut file = Cursor::new(Vec::with_capacity(data.len() * 2 + 1024));
    let mut enc = TiffEncoder::new(&mut file).map_err(err)?;
    let mut dir = enc.image_directory().map_err(err)?;
    let mut offsets = Vec::with_capacity(chunks.len());
    for c in &chunks {
        let at = dir.write_data(c.as_slice()).map_err(err)?;
        offsets.push(u32::try_from(at).map_err(|_| io::Error::other("tiff larger than 4 GiB"))?);
    }
    let counts: Vec<u32> = chunks.iter().map(|c| c.len() as u32).collect();
    let method = match opts.compression {
        Compression::None => CompressionMethod::None,
        Compression::Lzw => CompressionMethod::LZW,
        Compression::Deflate => CompressionMethod::Deflate,
        Compression::PackBits => CompressionMethod::PackBits,
    };
    dir.write_tag(Tag::ImageWidth, opts.width).map_err(err)?;
    dir.write_tag(Tag::ImageLength, opts.height).map_err(err)?;
    dir.write_tag(Tag::BitsPerSample, &vec![16u16; nb][..]).map_err(err)?;
    dir.write_tag(Tag::Compression, method.to_u16()).map_err(err)?;
    // BlackIsZero (1) or RGB (2); samples beyond the photometric ones are
    // "unspecified" extra samples.
    let (photometric, colour_samples) = if opts.rgb_photometric { (2u16, 3) } else { (1u16, 1) };
    dir.write_tag(Tag::PhotometricInterpretation, photometric).map_err(err)?;
    dir.write_tag(Tag::SamplesPerPixel, opts.bands).map_err(err)?;
    dir.write_tag(Tag::PlanarConfiguration, if opts.planar { 2u16 } else { 1u16 }).map_err(err)?;
    if nb > colour_samples {
        dir.write_tag(Tag::ExtraSamples, &vec![0u16; nb - colour_samples][..]).map_err(err)?;
    }
    dir.write_tag(Tag::SampleFormat, &vec![1u16; nb][..]).map_err(err)?; // unsigned
    if opts.predictor {
        dir.write_tag(Tag::Predictor, 2u16).map_err(err)?;
    }
    if tiled {
        dir.write_tag(Tag::TileWidth, cw as u32).map_err(err)?;
        dir.write_tag(Tag::TileLength, ch as u32).map_err(err)?;
        dir.write_tag(Tag::TileOffsets, &offsets[..]).map_err(err)?;
        dir.write_tag(Tag::TileByteCounts, &counts[..]).map_err(err)?;
    } else {
        dir.write_tag(Tag::RowsPerStrip, ch as u32).map_err(err)?;
        dir.write_tag(Tag::StripOffsets, &offsets[..]).map_err(err)?;
        dir.write_tag(Tag::StripByteCounts, &counts[..]).map_err(err)?;
    }
    dir.finish().map_err(err)?;
    Ok(file.into_inner())
}

/// Samples to bytes in the file's (native) byte order, then compressed.
/// PackBits compresses each row separately, as the TIFF spec requires.
fn compress(samples: &[u16], row_samples: usize, method: Compression) -> io::Result<Vec<u8>> {
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_ne_bytes()).collect();
    let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
    match method {
        Compression::None => return Ok(bytes),
        Compression::Lzw => {
            Lzw.write_to(&mut out, &bytes)?;
        }
        Compression::Deflate => {
            Deflate::with_level(DeflateLevel::Fast).write_to(&mut out, &bytes)?;
        }
        Compression::PackBits => {
            for row in bytes.chunks(row_samples * 2) {
                Packbits.write_to(&mut out, row)?;
            }
        }
    }
    Ok(out)
}

/// Writes tile `seed` to `path` with layout `opts`.
pub fn write_tile(path: &Path, seed: u64, opts: &TileOptions) -> io::Result<()> {
    let data = tile_data(seed, opts.width, opts.height, opts.bands);
    fs::write(path, encode_tile(&data, opts)?)
}

/// Writes `n` EuroSAT-layout tiles under `dir`, round-robin over the ten
/// class folders: `AnnualCrop/AnnualCrop_1.tif`, `Forest/Forest_1.tif`, …
/// Returns the paths in the order written.
pub fn generate_dataset(dir: &Path, n: usize, seed: u64) -> io::Result<Vec<PathBuf>> {
    for class in CLASSES {
        fs::create_dir_all(dir.join(class))?;
    }
    let opts = TileOptions::default();
    let mut mix = Rng(seed);
    (0..n)
        .map(|i| {
            let class = CLASSES[i % CLASSES.len()];
            let path = dir.join(class).join(format!("{class}_{}.tif", i / CLASSES.len() + 1));
            write_tile(&path, mix.next(), &opts)?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_eurosat_like() {
        let a = tile_data(7, 64, 64, 13);
        assert_eq!(a, tile_data(7, 64, 64, 13));
        assert_ne!(a, tile_data(8, 64, 64, 13));
        // Over many tiles the band means are near EuroSAT's, and visible
        // bands saturate somewhere.
        let mut sums = [0f64; 13];
        let mut saturated = 0;
        for seed in 0..50 {
            for px in tile_data(seed, 64, 64, 13).chunks(13) {
                for (s, &v) in sums.iter_mut().zip(px) {
                    *s += f64::from(v);
                }
                saturated += usize::from(px[1..4].iter().any(|&v| v > 4000));
            }
        }
        for (b, s) in sums.iter().enumerate() {
            let mean = s / (50.0 * 4096.0);
            let want = f64::from(BAND_MEANS[b]);
            assert!((mean - want).abs() < 0.25 * want + 3.0, "band {b}: mean {mean}, want ~{want}");
        }
        assert!(saturated > 0);
    }

    #[test]
    fn dataset_layout() {
        let dir = tempfile::tempdir().unwrap();
        let paths = generate_dataset(dir.path(), 12, 1).unwrap();
        assert_eq!(paths[0], dir.path().join("AnnualCrop/AnnualCrop_1.tif"));
        assert_eq!(paths[9], dir.path().join("SeaLake/SeaLake_1.tif"));
        assert_eq!(paths[10], dir.path().join("AnnualCrop/AnnualCrop_2.tif"));
        assert!(paths.iter().all(|p| p.exists()));
    }
}
