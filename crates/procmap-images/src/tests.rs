//! Tests that cross modules: synthetic files through the readers and the
//! tasks, end to end.

use crate::eurosat::{EUROSAT_RGB, rgb_from_bands, to_u8};
use crate::synth::{Chunks, Compression, TileOptions, encode_tile, tile_data, write_tile};
use crate::tiff_read::{self, Samples};
use crate::{EurosatRgb, Gray, Info, MsRgb, Resize};
use procmap::{RunContext, Task};
use std::path::Path;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn ctx(dir: &Path) -> RunContext {
    RunContext { out_dir: dir.to_path_buf(), allow_outside: false }
}

fn decode_png(path: &Path) -> (u32, u32, png::ColorType, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, info.color_type, buf)
}

/// What the numpy formula gives for synthetic tile `seed`, computed from the
/// generator's samples rather than from any file.
fn expected_rgb(seed: u64, w: u32, h: u32, bands: u16) -> Vec<u8> {
    let data = tile_data(seed, w, h, bands);
    data.chunks(usize::from(bands)).flat_map(|px| EUROSAT_RGB.map(|b| to_u8(px[b]))).collect()
}

#[test]
fn every_layout_and_compression_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let data = tile_data(42, 64, 64, 13);
    let mut layouts = Vec::new();
    for compression in [Compression::None, Compression::Lzw, Compression::Deflate, Compression::PackBits] {
        for planar in [false, true] {
            for chunks in [
                Chunks::Strips { rows: 4 },
                Chunks::Strips { rows: 64 },
                Chunks::Tiles { width: 32, height: 48 },
            ] {
                for predictor in [false, true] {
                    if predictor && matches!(compression, Compression::None | Compression::PackBits) {
                        continue;
                    }
                    layouts.push(TileOptions {
                        planar,
                        compression,
                        chunks,
                        predictor,
                        ..TileOptions::default()
                    });
                }
            }
        }
    }
    for (i, opts) in layouts.iter().enumerate() {
        let p = dir.path().join(format!("t{i}.tif"));
        std::fs::write(&p, encode_tile(&data, opts).unwrap()).unwrap();
        let r = tiff_read::read(&p).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        assert_eq!((r.width, r.height, r.bands, r.planar), (64, 64, 13, opts.planar), "{opts:?}");
        let Samples::U16(samples) = &r.samples else { panic!("{opts:?}: not u16") };
        let chunky: Vec<u16> = if r.planar {
            (0..64 * 64).flat_map(|px| (0..13).map(move |b| samples[b * 4096 + px])).collect()
        } else {
            samples.clone()
        };
        assert!(chunky == data, "{opts:?}: samples differ");
    }
}

#[test]
fn chunky_and_planar_give_identical_rgb() {
    let data = tile_data(3, 64, 64, 13);
    let dir = tempfile::tempdir().unwrap();
    let mut rgbs = Vec::new();
    for planar in [false, true] {
        let p = dir.path().join(format!("{planar}.tif"));
        std::fs::write(&p, encode_tile(&data, &TileOptions { planar, ..TileOptions::default() }).unwrap())
            .unwrap();
        rgbs.push(rgb_from_bands(&tiff_read::read(&p).unwrap(), EUROSAT_RGB, to_u8));
    }
    assert_eq!(rgbs[0], rgbs[1]);
    assert_eq!(rgbs[0], expected_rgb(3, 64, 64, 13));
}

#[test]
fn rgb_photometric_with_extra_samples_keeps_every_band() {
    // WorldView-style: Photometric=RGB plus 10 extra samples; the tiff crate
    // alone returns only 3 samples per pixel. Also the inconsistent variant
    // (RGB with 12 extra samples), which the crate refuses outright.
    let data = tile_data(5, 64, 64, 13);
    let dir = tempfile::tempdir().unwrap();
    for planar in [false, true] {
        for inconsistent in [false, true] {
            let opts = TileOptions { planar, rgb_photometric: !inconsistent, ..TileOptions::default() };
            let mut bytes = encode_tile(&data, &opts).unwrap();
            if inconsistent {
                assert!(tiff_read::set_photometric(&mut bytes, 2));
            }
            let p = dir.path().join(format!("rgb-{planar}-{inconsistent}.tif"));
            std::fs::write(&p, bytes).unwrap();
            let r = tiff_read::read(&p)
                .unwrap_or_else(|e| panic!("planar={planar} inconsistent={inconsistent}: {e}"));
            assert_eq!(r.bands, 13);
            assert_eq!(
                rgb_from_bands(&r, EUROSAT_RGB, to_u8),
                expected_rgb(5, 64, 64, 13),
                "planar={planar}"
            );
        }
    }
}

#[test]
fn eurosat_rgb_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("Forest_1.tif");
    write_tile(&input, 11, &TileOptions::default()).unwrap();
    let out_dir = dir.path().join("out");
    let args = s(&[input.to_str().unwrap()]);
    let planned = EurosatRgb.plan(&args, &ctx(&out_dir)).unwrap();
    let value = EurosatRgb.run(&args, &ctx(&out_dir)).unwrap();
    let out = std::fs::canonicalize(&out_dir).unwrap().join("Forest_1.png");
    assert_eq!(planned, vec![out.clone()]);
    assert_eq!(value["output"], out.display().to_string());
    assert_eq!((value["width"].as_u64(), value["height"].as_u64()), (Some(64), Some(64)));
    let (w, h, color, pixels) = decode_png(&out);
    assert_eq!((w, h, color), (64, 64, png::ColorType::Rgb));
    assert_eq!(pixels, expected_rgb(11, 64, 64, 13));
}

#[test]
fn eight_bands_is_an_error_for_eurosat_but_fine_for_ms_rgb() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("eight.tif");
    write_tile(&input, 1, &TileOptions { bands: 8, ..TileOptions::default() }).unwrap();
    let i = input.to_str().unwrap();
    let e = EurosatRgb.run(&s(&[i]), &ctx(dir.path())).unwrap_err();
    assert!(e.message().ends_with("eight.tif: expected 13 bands, found 8"), "{e}");
    let v = MsRgb.run(&s(&[i, "--bands", "7,3,1", "--scale", "3000.5"]), &ctx(dir.path())).unwrap();
    assert_eq!(v["bands"], serde_json::json!([7, 3, 1]));
    let e = MsRgb.run(&s(&[i, "--bands", "8,3,1"]), &ctx(dir.path())).unwrap_err();
    assert!(e.message().contains("band 8 out of range: the file has 8 bands (0..=7)"), "{e}");
}

#[test]
fn ms_rgb_float_formula_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t.tif");
    write_tile(&input, 9, &TileOptions { bands: 8, ..TileOptions::default() }).unwrap();
    let out = dir.path().join("t.png");
    MsRgb.run(&s(&[input.to_str().unwrap(), "--bands=7,3,1", "--scale=3000.5"]), &ctx(dir.path())).unwrap();
    let data = tile_data(9, 64, 64, 8);
    let want: Vec<u8> =
        data.chunks(8).flat_map(|px| [7, 3, 1].map(|b| crate::to_u8_scaled(px[b], 3000.5))).collect();
    assert_eq!(decode_png(&out).3, want);
}

#[test]
fn truncated_and_foreign_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = encode_tile(&tile_data(1, 64, 64, 13), &TileOptions::default()).unwrap();
    // The encoder writes the IFD last, so cutting the file loses it.
    let cut = dir.path().join("cut.tif");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = EurosatRgb.run(&s(&[cut.to_str().unwrap()]), &ctx(dir.path())).unwrap_err();
    assert!(e.message().contains("cut.tif: truncated file"), "{e}");
    // Cut inside the pixel data of a file whose IFD comes first.
    let lzw = encode_tile(
        &tile_data(1, 64, 64, 13),
        &TileOptions { compression: Compression::Lzw, ..Default::default() },
    )
    .unwrap();
    let mut front = lzw.clone();
    front.truncate(lzw.len() - 1);
    let p = dir.path().join("short.tif");
    std::fs::write(&p, &front).unwrap();
    assert!(EurosatRgb.run(&s(&[p.to_str().unwrap()]), &ctx(dir.path())).is_err());

    let png = dir.path().join("real.png");
    std::fs::write(&png, crate::png_out::encode_u8(2, 2, 1, &[0, 1, 2, 3]).unwrap()).unwrap();
    let e = EurosatRgb.run(&s(&[png.to_str().unwrap()]), &ctx(dir.path())).unwrap_err();
    assert!(e.message().contains("real.png: not a tiff file (found png data)"), "{e}");
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "just text").unwrap();
    let e = Gray.run(&s(&[text.to_str().unwrap()]), &ctx(dir.path())).unwrap_err();
    assert!(e.message().contains("notes.png: not an image"), "{e}");
    let e =
        Resize.run(&s(&[dir.path().join("missing.png").to_str().unwrap()]), &ctx(dir.path())).unwrap_err();
    assert!(e.message().ends_with("missing.png: no such file"), "{e}");
}

#[test]
fn truncated_png_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..64 * 64 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let bytes = crate::png_out::encode_u8(64, 64, 3, &pixels).unwrap();
    let p = dir.path().join("cut.png");
    std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let e = Gray.run(&s(&[p.to_str().unwrap()]), &ctx(dir.path())).unwrap_err();
    assert!(e.message().contains("cut.png: truncated file"), "{e}");
}

#[test]
fn path_escape_is_rejected_in_plan_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("a.tif");
    write_tile(&input, 1, &TileOptions::default()).unwrap();
    let out_dir = dir.path().join("a/out");
    let args = s(&[input.to_str().unwrap(), "../../escaped.png"]);
    for result in [
        EurosatRgb.plan(&args, &ctx(&out_dir)).map(|_| ()),
        EurosatRgb.run(&args, &ctx(&out_dir)).map(|_| ()),
    ] {
        assert!(result.unwrap_err().message().contains("outside the output directory"));
    }
    assert!(!dir.path().join("escaped.png").exists());
    let allowed = RunContext { out_dir: out_dir.clone(), allow_outside: true };
    EurosatRgb.run(&args, &allowed).unwrap();
    assert!(dir.path().join("escaped.png").exists());
}

#[test]
fn gray_refuses_to_overwrite_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.png");
    std::fs::write(&p, crate::png_out::encode_u8(2, 1, 3, &[255, 0, 0, 0, 255, 0]).unwrap()).unwrap();
    let e = Gray.run(&s(&[p.to_str().unwrap()]), &ctx(dir.path())).unwrap_err();
    assert!(e.message().contains("would overwrite the input"), "{e}");
    let v = Gray.run(&s(&[p.to_str().unwrap(), "g2.png"]), &ctx(dir.path())).unwrap();
    assert_eq!(v["shape"], serde_json::json!([1, 2]));
    assert_eq!(decode_png(&dir.path().join("g2.png")).3, vec![76, 150]);
}

#[test]
fn info_reads_headers_only() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.tif");
    write_tile(&t, 1, &TileOptions::default()).unwrap();
    let v = Info.run(&s(&[t.to_str().unwrap()]), &ctx(dir.path())).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"width": 64, "height": 64, "format": "tiff", "bands": 13, "bits": 16, "dtype": "uint16",
            "pil_format": "TIFF"})
    );
    let p = dir.path().join("p.png");
    std::fs::write(&p, crate::png_out::encode_u8(3, 2, 4, &[9; 24]).unwrap()).unwrap();
    let v = Info.run(&s(&[p.to_str().unwrap()]), &ctx(dir.path())).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"width": 3, "height": 2, "format": "png", "bands": 4, "bits": 8, "dtype": "uint8",
            "mode": "RGBA", "pil_format": "PNG"})
    );
}

#[test]
fn usage_errors_name_the_task() {
    let c = RunContext::default();
    let e = EurosatRgb.plan(&[], &c).unwrap_err();
    assert_eq!(e.message(), "eurosat-rgb takes `INPUT [OUTPUT]`, got 0 arguments");
    let e = MsRgb.plan(&s(&["a.tif", "--scale", "0"]), &c).unwrap_err();
    assert!(e.message().contains("--scale takes a positive number"), "{e}");
    let e = Gray.plan(&s(&["a.png", "--bands", "1"]), &c).unwrap_err();
    assert!(e.message().contains("unknown option --bands"), "{e}");
}

#[test]
fn resize_saves_tif_in_modes_png_cannot_hold() {
    use crate::pil::{Data, Mode, PilImage};
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path());
    // An "F" input, written by our own TIFF writer.
    let input = PilImage {
        mode: Mode::F,
        width: 9,
        height: 7,
        data: Data::F32((0..63).map(|i| (i as f32 - 31.5) * 1.0e5).collect()),
        palette: None,
    };
    let p = dir.path().join("f.tif");
    std::fs::write(&p, crate::tiff_out::encode_pil(&input).unwrap()).unwrap();
    let p = p.to_str().unwrap();
    let e = Resize.run(&s(&[p, "5", "4", "--save", "o.png"]), &c).unwrap_err();
    assert!(e.message().contains("mode F"), "{e}");
    for name in ["o.tif", "o.TIFF"] {
        let v = Resize.run(&s(&[p, "5", "4", "--save", name]), &c).unwrap();
        assert_eq!(v["mode"], "F");
        let saved = crate::decode::open(&dir.path().join(name), false).unwrap();
        assert_eq!(saved, crate::resample::resize(&input, 5, 4), "{name}");
    }
    let e = Resize.run(&s(&[p, "--save", "o.jpg"]), &c).unwrap_err();
    assert!(e.message().contains("must end in .png or .tif"), "{e}");
}

#[test]
fn resize_tif_and_png_outputs_decode_alike() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(dir.path());
    let p = dir.path().join("la.png");
    let pixels: Vec<u8> = (0..40 * 30 * 2).map(|i| (i * 13 % 256) as u8).collect();
    std::fs::write(&p, crate::png_out::encode_u8(40, 30, 2, &pixels).unwrap()).unwrap();
    let p = p.to_str().unwrap();
    let a = Resize.run(&s(&[p, "17", "11", "--save", "o.png"]), &c).unwrap();
    let b = Resize.run(&s(&[p, "17", "11", "--save", "o.tif"]), &c).unwrap();
    assert_eq!((&a["mode"], &a["mean"]), (&b["mode"], &b["mean"]));
    let tif = std::fs::read(dir.path().join("o.tif")).unwrap();
    assert_eq!(&tif[..4], b"II*\0", "a .tif output is a TIFF");
    let png = crate::decode::open(&dir.path().join("o.png"), false).unwrap();
    assert_eq!(crate::decode::open(&dir.path().join("o.tif"), false).unwrap(), png);
    assert_eq!(png.mode, crate::pil::Mode::LA);
}
