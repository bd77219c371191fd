use crate::util::*;
use procmap_images::synth::{self, Chunks, Compression, TileOptions};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Decodes a PNG into (width, height, channels, pixels).
fn decode_png(path: &Path) -> (u32, u32, usize, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, info.color_type.samples(), buf)
}

fn write_png(path: &Path, width: u32, height: u32, color: png::ColorType, data: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header().unwrap().write_image_data(data).unwrap();
}

/// A smooth RGB test picture.
fn rgb_picture(width: u32, height: u32) -> Vec<u8> {
    let mut data = Vec::new();
    for y in 0..height {
        for x in 0..width {
            data.extend([(x * 255 / width) as u8, (y * 255 / height) as u8, ((x * y) % 256) as u8]);
        }
    }
    data
}

fn tile(dir: &Dir, name: &str, opts: &TileOptions) -> PathBuf {
    let path = dir.join(name);
    synth::write_tile(&path, 7, opts).unwrap();
    path
}

fn run_jobs(dir: &Dir, jobs: &str, extra: &[&str]) -> (i32, Vec<Value>, String) {
    let jobs_path = dir.write("jobs.txt", jobs);
    let out = run(dir.supervisor().args(["-q", "-p", "2"]).args(extra).arg(&jobs_path), None);
    (code(&out), normalized(stdout_records(&out)), stderr(&out))
}

#[test]
fn demo_makes_tiles_and_runs_them_into_pngs() {
    let dir = Dir::new();
    let out = run(dir.supervisor().args(["demo", "--n", "40", "--dir", "d"]), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let journal_records = journal(&dir.join("d/results.jsonl"));
    assert_eq!(journal_records.len(), 40);
    assert!(journal_records.iter().all(|r| r["status"] == "ok"), "{journal_records:?}");
    let first = dir.join("d/eurosat/AnnualCrop/AnnualCrop_1.tif");
    assert!(first.is_file());
    let (w, h, c, _) = decode_png(&dir.join("d/png/AnnualCrop_1.png"));
    assert_eq!((w, h, c), (64, 64, 3));
    let err = stderr(&out);
    assert!(err.contains("d/png") && err.contains("d/results.jsonl"), "says where things are: {err}");
}

#[test]
fn jobs_lists_matching_files() {
    let dir = Dir::new();
    let out = run(dir.supervisor().args(["demo", "--n", "20", "--dir", "d", "--no-run"]), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(dir.supervisor().args(["jobs", "eurosat-rgb", "d/eurosat/*/*.tif"]), None);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text.lines().count(), 20);
    assert!(text.lines().all(|l| l.starts_with("eurosat-rgb d/eurosat/")), "{text}");
    let out = run(dir.supervisor().args(["jobs", "eurosat-rgb", "nothing/*.tif"]), None);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("no file matches"), "{}", stderr(&out));
}

/// eurosat-rgb, ms-rgb, resize, gray and info in all three modes: the same
/// records and the same output pixels.
#[test]
fn every_image_task_gives_the_same_result_in_every_mode() {
    let dir = Dir::new();
    let chunky = tile(&dir, "chunky.tif", &TileOptions::default());
    let planar_lzw = tile(
        &dir,
        "planar.tif",
        &TileOptions {
            planar: true,
            compression: Compression::Lzw,
            chunks: Chunks::Tiles { width: 16, height: 16 },
            ..TileOptions::default()
        },
    );
    let deflate = tile(
        &dir,
        "deflate.tif",
        &TileOptions { compression: Compression::Deflate, ..TileOptions::default() },
    );
    let eight = tile(&dir, "eight.tif", &TileOptions { bands: 8, ..TileOptions::default() });
    write_png(&dir.join("photo.png"), 90, 60, png::ColorType::Rgb, &rgb_picture(90, 60));
    let jobs = format!(
        "eurosat-rgb {c} o1.png\neurosat-rgb {p} o2.png\neurosat-rgb {d} o3.png\n\
         ms-rgb {e} o4.png --bands 4,2,0 --scale 3000\nresize photo.png 32 24 --save o5.png\n\
         resize photo.png\ngray photo.png o6.png\ninfo {c}\ninfo photo.png\n",
        c = chunky.display(),
        p = planar_lzw.display(),
        d = deflate.display(),
        e = eight.display()
    );
    let mut outputs = Vec::new();
    let mut records = Vec::new();
    for mode in ["process", "thread", "serial"] {
        let out_dir = format!("out-{mode}");
        let (code, recs, err) = run_jobs(&dir, &jobs, &["--mode", mode, "--out-dir", &out_dir]);
        assert_eq!(code, 0, "{mode}: {err}\n{recs:?}");
        // Outputs are named relative to --out-dir and differ per mode.
        let recs: Vec<Value> = recs
            .into_iter()
            .map(|mut r| {
                if let Some(o) = r.get_mut("value").and_then(|v| v.get_mut("output")) {
                    *o = json!(o.as_str().unwrap().replace(&out_dir, "OUT"));
                }
                r
            })
            .collect();
        records.push(recs);
        let pixels: Vec<_> =
            (1..=6).map(|i| decode_png(&dir.join(&out_dir).join(format!("o{i}.png")))).collect();
        outputs.push(pixels);
    }
    assert_eq!(records[0], records[1], "thread mode differs");
    assert_eq!(records[0], records[2], "serial mode differs");
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);

    let r = &records[0];
    // Chunky, planar-LZW-tiled and deflate files of the same data agree.
    assert_eq!(outputs[0][0], outputs[0][1], "planar file read by band, not by column");
    assert_eq!(outputs[0][0], outputs[0][2]);
    assert_eq!(outputs[0][0].0, 64);
    assert_eq!(r[3]["value"]["bands"], json!([4, 2, 0]));
    assert_eq!(outputs[0][4].0, 32, "resize --save writes the resized picture");
    assert_eq!(r[5]["value"]["shape"], json!([224, 224, 3]));
    assert_eq!(r[5]["value"]["mean"].as_array().unwrap().len(), 3);
    assert_eq!(r[6]["value"]["shape"], json!([60, 90]));
    assert_eq!(outputs[0][5].2, 1, "gray writes one channel");
    assert_eq!((r[7]["value"]["width"].clone(), r[7]["value"]["bands"].clone()), (json!(64), json!(13)));
    assert_eq!(r[8]["value"]["format"], "png");
}

/// The RGB formula, checked pixel by pixel against the tile's own data.
#[test]
fn eurosat_rgb_pixels_follow_numpy_formula() {
    let dir = Dir::new();
    let opts = TileOptions::default();
    let path = tile(&dir, "t.tif", &opts);
    let data = synth::tile_data(7, 64, 64, 13);
    let (code, recs, err) = run_jobs(&dir, &format!("eurosat-rgb {} t.png\n", path.display()), &[]);
    assert_eq!(code, 0, "{err} {recs:?}");
    let (_, _, _, pixels) = decode_png(&dir.join("out/t.png"));
    for (i, rgb) in pixels.chunks(3).enumerate() {
        for (c, band) in [3, 2, 1].into_iter().enumerate() {
            let v = data[i * 13 + band] as f64;
            let expected = (255.0 * (v / 4000.0).clamp(0.0, 1.0)) as u8;
            assert_eq!(rgb[c], expected, "pixel {i} channel {c}");
        }
    }
}

/// Each kind of bad input is that job's error; the run goes on.
#[test]
fn bad_inputs_are_errors_for_their_job_only() {
    let dir = Dir::new();
    let good = tile(&dir, "good.tif", &TileOptions::default());
    let eight = tile(&dir, "eight.tif", &TileOptions { bands: 8, ..TileOptions::default() });
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(dir.join("truncated.tif"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(dir.join("text.tif"), "this is not an image\n").unwrap();
    // A little-endian TIFF header declaring 100000×100000 pixels.
    let mut huge = b"II*\0\x08\0\0\0".to_vec();
    let entries: [(u16, u16, u32, u32); 9] = [
        (256, 4, 1, 100_000),   // ImageWidth
        (257, 4, 1, 100_000),   // ImageLength
        (258, 3, 1, 16),        // BitsPerSample
        (259, 3, 1, 1),         // Compression: none
        (262, 3, 1, 1),         // Photometric: BlackIsZero
        (273, 4, 1, 8),         // StripOffsets
        (277, 3, 1, 13),        // SamplesPerPixel
        (278, 4, 1, 100_000),   // RowsPerStrip
        (279, 4, 1, 1_000_000), // StripByteCounts
    ];
    huge.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        huge.extend(tag.to_le_bytes());
        huge.extend(kind.to_le_bytes());
        huge.extend(count.to_le_bytes());
        huge.extend(value.to_le_bytes());
    }
    huge.extend([0; 4]);
    std::fs::write(dir.join("huge.tif"), &huge).unwrap();

    let jobs = format!(
        "eurosat-rgb missing.tif\neurosat-rgb text.tif\neurosat-rgb truncated.tif\neurosat-rgb {}\n\
         eurosat-rgb huge.tif\neurosat-rgb {g} ../../escape.png\nresize text.tif\ngray missing.png\n\
         eurosat-rgb {g} same.png\neurosat-rgb {g} same.png\nms-rgb {g} x.png --bands 3,2,99\neurosat-rgb {g}\n",
        eight.display(),
        g = good.display()
    );
    for mode in ["process", "thread", "serial"] {
        let (code, recs, err) = run_jobs(&dir, &jobs, &["--mode", mode, "--overwrite"]);
        assert_eq!(code, 1, "{mode}: {err}");
        assert_eq!(recs.len(), 12, "{mode}: one record per line");
        let error = |line: u64| {
            let r = recs.iter().find(|r| r["line"] == line).unwrap();
            assert_eq!(r["status"], "error", "{mode} line {line}: {r}");
            r["error"].as_str().unwrap().to_owned()
        };
        let expect = |line: u64, needle: &str| {
            let e = error(line);
            assert!(e.to_lowercase().contains(needle), "{mode} line {line}: {e:?} lacks {needle:?}");
        };
        expect(1, "missing.tif");
        expect(2, "text.tif");
        expect(3, "truncated.tif");
        expect(4, "expected 13 bands, found 8");
        expect(5, "100000");
        expect(6, "outside");
        expect(7, "text.tif");
        expect(8, "missing.png");
        assert_eq!(recs[8]["status"], "ok", "{mode}: the first writer of same.png wins");
        expect(10, "same.png");
        expect(11, "99");
        assert_eq!(recs[11]["status"], "ok", "{mode}: the run went on");
    }
    assert!(!dir.path().parent().unwrap().join("escape.png").exists());
}

#[test]
fn allow_outside_lets_a_job_write_elsewhere() {
    let dir = Dir::new();
    let good = tile(&dir, "good.tif", &TileOptions::default());
    let target = dir.join("elsewhere/picture.png");
    let jobs = format!("eurosat-rgb {} {}\n", good.display(), target.display());
    let (code, recs, err) = run_jobs(&dir, &jobs, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(recs[0]["error"].as_str().unwrap().contains("outside"), "{recs:?}");
    let (code, _, err) = run_jobs(&dir, &jobs, &["--allow-outside"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(decode_png(&target).0, 64);
}
