//! Exactness against Pillow 13 and OpenCV 5 on small files they wrote
//! (`testdata/`, made by Pillow's `save`, `cv2.imwrite`, tifffile and
//! libtiff's `tiffcp` from a crop of scikit-image's astronaut). Each row holds FNV-1a hashes of the arrays the
//! reference gives: `np.array(Image.open(f))`, `np.array(Image.open(f)
//! .resize((7, 5)))` and `cv2.cvtColor(cv2.imread(f), COLOR_BGR2GRAY)`, so a
//! single level off anywhere fails the test.

use super::decode;
use crate::gray::to_gray;
use crate::pil::Data;
use crate::resample::resize;
use crate::sniff;

/// (file, Pillow mode, open, resize 7×5, cv2 gray)
const CASES: &[(&str, &str, u64, u64, u64)] = &[
    ("alpha-lossless.webp", "RGBA", 0x654787a4d0c6e7ed, 0xe1d0922ef0b9aec3, 0x8194a0454afe0cc5),
    ("alpha-lossy.webp", "RGBA", 0x5b17548eeb52e5f0, 0x279d24ac50b741db, 0x0bcf6e8aa44a45e5),
    ("cmyk.jpg", "CMYK", 0x090dd86b4a767425, 0x8cb4e8a5e18708ae, 0x4b27ba55384483cf),
    ("exif6.jpg", "RGB", 0xe99ddae15c0782d7, 0x360befd08ef9b708, 0x83e0bc65161ccddc),
    ("gray.jpg", "L", 0x7830a358d81c0017, 0xfd8205589036f7e5, 0x7830a358d81c0017),
    ("lossy.webp", "RGB", 0xfb88c88718f200fd, 0xae8b348aa97f561a, 0x494e4249e896bf19),
    ("p-trns.gif", "P", 0xb1e3623ab2cc17ef, 0x819763bc036f4561, 0x25511928302b0f60),
    ("p.bmp", "P", 0x09300a35c17cc2b3, 0xb70a171b54010d14, 0xa111dd8fdd6b5b6c),
    ("progressive-422.jpg", "RGB", 0xbb30052b109f1fb2, 0x82707af69bebafd1, 0xd83ee595a970d3ea),
    ("q75-420.jpg", "RGB", 0xfa0315b269d29200, 0x6d7bfcf1b7325c9f, 0xe13aa5d91539be74),
    ("q95-444.jpg", "RGB", 0x75cd1d6871f9d503, 0x3bc2a08a4c0fe01b, 0x1f978dcaff07f04f),
    ("restart.jpg", "RGB", 0x1e9b8d5f8c156b9a, 0x0ee82862d9aa81dc, 0x7fa5ab546f2d50bb),
    // TIFFs: Pillow's save, tifffile, and tiffcp -c g3 / g4 / jpeg.
    ("cmyk.tif", "CMYK", 0x670228f9266765b7, 0x553ed2167eb6551c, 0xdf874934ba9c0fd3),
    ("g3.tif", "1", 0xd5084ec0ca471f02, 0xa509aa902b8c94c4, 0xd5084ec0ca471f02),
    ("g4.tif", "1", 0xd5084ec0ca471f02, 0xa509aa902b8c94c4, 0xd5084ec0ca471f02),
    ("jpeg-ycbcr.tif", "RGB", 0x206d7c977b440cf2, 0x4b6d655c57c8a5ea, 0xe13aa5d91539be74),
    ("l16be.tif", "I;16B", 0xc193a5bb5ebde7f1, 0xe145d55c703e1924, 0xdf874934ba9c0fd3),
    ("p.tif", "P", 0x09300a35c17cc2b3, 0xb70a171b54010d14, 0xa111dd8fdd6b5b6c),
    ("rgb16.tif", "RGB", 0x3e623884d3ca91ef, 0x4d22c4ce05eb1989, 0x9ebce8448091fe83),
    ("rgb-planar.tif", "RGB", 0x3e623884d3ca91ef, 0x4d22c4ce05eb1989, 0xdf874934ba9c0fd3),
    ("rgba.tif", "RGBA", 0xed230e76cbcf4b8b, 0xe1d0922ef0b9aec3, 0x6f39a1fec3dbef76),
];

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

/// numpy's bytes of the array (16-bit samples little-endian).
fn bytes_of(data: &Data) -> Vec<u8> {
    match data {
        Data::U8(v) => v.clone(),
        Data::U16(v) => v.iter().flat_map(|s| s.to_le_bytes()).collect(),
        _ => panic!("no 32-bit fixtures"),
    }
}

#[test]
fn fixtures_match_pillow_and_opencv_exactly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    for &(name, mode, open, resized, gray) in CASES {
        let file = std::fs::read(dir.join(name)).unwrap();
        let format = sniff::detect(&file).unwrap();
        let img = decode(format, &file, false).unwrap().unwrap();
        assert_eq!(img.mode.name(), mode, "{name}: mode");
        assert_eq!(fnv(&bytes_of(&img.data)), open, "{name}: pixels of Image.open");
        assert_eq!(fnv(&bytes_of(&resize(&img, 7, 5).data)), resized, "{name}: pixels of resize((7, 5))");
        let cv = decode(format, &file, true).unwrap().unwrap();
        assert_eq!(fnv(&to_gray(&cv)), gray, "{name}: cv2 gray");
    }
}

#[test]
fn declared_sizes_beyond_the_limit_are_refused_before_decoding() {
    // A real JPEG whose frame header is patched to claim 60000×60000.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut jpeg = std::fs::read(dir.join("q75-420.jpg")).unwrap();
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    let e = decode(sniff::Format::Jpeg, &jpeg, false).unwrap().unwrap_err();
    assert!(e.contains("exceeds the 256 MiB limit"), "{e}");
    // A BMP header claiming 100000×100000 at 24 bits, with no pixels.
    let mut bmp = b"BM".to_vec();
    bmp.extend([0; 8]);
    bmp.extend(54u32.to_le_bytes());
    bmp.extend(40u32.to_le_bytes());
    bmp.extend(100_000i32.to_le_bytes());
    bmp.extend(100_000i32.to_le_bytes());
    bmp.extend(1u16.to_le_bytes());
    bmp.extend(24u16.to_le_bytes());
    bmp.extend([0; 24]);
    let e = decode(sniff::Format::Bmp, &bmp, false).unwrap().unwrap_err();
    assert!(e.contains("exceeds the 256 MiB limit"), "{e}");
}

#[test]
fn truncated_jpeg_is_an_error_for_pillow_and_read_for_opencv() {
    // Pillow raises "image file is truncated"; cv2.imread pads with grey.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let jpeg = std::fs::read(dir.join("q75-420.jpg")).unwrap();
    // Cut half-way through the entropy-coded data.
    let sos = jpeg.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
    let cut = &jpeg[..sos + (jpeg.len() - sos) / 2];
    let e = decode(sniff::Format::Jpeg, cut, false).unwrap().unwrap_err();
    assert!(e.contains("truncated"), "{e}");
    assert!(decode(sniff::Format::Jpeg, cut, true).unwrap().is_ok());
}

/// Damaged TIFFs (`scripts/damaged-tiffs.py`): Pillow fails on each; cv2
/// returns what libtiff decoded of them. The hashes are of
/// `cv2.cvtColor(cv2.imread(f), COLOR_BGR2GRAY)` (opencv-python 5.0.0,
/// libtiff 4.7.1).
const DAMAGED: &[(&str, u64)] = &[
    ("damaged-lzw-pred.tif", 0x71f3f598250df260),
    ("damaged-deflate-check.tif", 0x282978730bdea969),
    ("damaged-deflate-tiles.tif", 0x2ae326db18400c13),
    ("damaged-lzw16be.tif", 0x9bf229bbc9965147),
    ("damaged-planar-cut.tif", 0xd79fb0ae0a076cd0),
];

#[test]
fn damaged_tiffs_are_an_error_for_pillow_and_read_in_part_as_opencv_does() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    for &(name, gray) in DAMAGED {
        let file = std::fs::read(dir.join(name)).unwrap();
        assert!(decode(sniff::Format::Tiff, &file, false).unwrap().is_err(), "{name}: Pillow fails");
        let cv = decode(sniff::Format::Tiff, &file, true).unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(fnv(&to_gray(&cv)), gray, "{name}: cv2 gray");
    }
}

/// Damaged CCITT fax TIFFs (`scripts/damaged-tiffs.py`, written by
/// libtiff's `tiffcp`): libtiff reads past most bad codes, so Pillow often
/// reads them. (file, hash of `np.array(Image.open(f).convert("L"))` or
/// `None` where Pillow fails, hash of cv2 gray), Pillow 13 (libtiff 4.7.2)
/// and opencv-python 5.0.0 (libtiff 4.7.1).
const DAMAGED_FAX: &[(&str, Option<u64>, u64)] = &[
    ("damaged-g3.tif", Some(0x306ff50f1fbf8cb9), 0x306ff50f1fbf8cb9),
    ("damaged-g3-2d.tif", Some(0x174f8aed38b13fad), 0x174f8aed38b13fad),
    ("damaged-g3-eol.tif", Some(0xadd4367d4a461b6b), 0xadd4367d4a461b6b),
    ("damaged-g3-2d-wide.tif", Some(0xe49760b005599189), 0xe49760b005599189),
    ("damaged-g4.tif", Some(0x34f9e54324158f29), 0x34f9e54324158f29),
    ("damaged-g3-noeol.tif", Some(0xda87c9ecaf5f3eaa), 0xda87c9ecaf5f3eaa),
    ("damaged-g3-2d-short.tif", None, 0x3d840a3493ae835a),
    ("damaged-g4-short.tif", None, 0x64b2f67f9e3c5f54),
];

#[test]
fn damaged_fax_tiffs_decode_as_libtiff_does() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    for &(name, open, gray) in DAMAGED_FAX {
        let file = std::fs::read(dir.join(name)).unwrap();
        let pil = decode(sniff::Format::Tiff, &file, false).unwrap();
        match (open, pil) {
            (Some(h), Ok(img)) => assert_eq!(fnv(&bytes_of(&img.data)), h, "{name}: pixels of Image.open"),
            (None, Err(_)) => {}
            (Some(_), Err(e)) => panic!("{name}: Pillow reads it, we fail: {e}"),
            (None, Ok(_)) => panic!("{name}: Pillow fails, we read it"),
        }
        let cv = decode(sniff::Format::Tiff, &file, true).unwrap().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(fnv(&to_gray(&cv)), gray, "{name}: cv2 gray");
    }
}
