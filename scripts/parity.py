#!/usr/bin/env python3
"""Parity of procmap's image tasks with the Python code they replace.

Run by scripts/parity.sh, which sets up the virtualenv and builds the
binaries. Steps:

1. Writes test TIFFs with tifffile (a writer independent of ours): 13-band
   uint16 64x64 tiles in every layout and compression, for eurosat-rgb and
   ms-rgb (seed 001's formula).
2. Writes the image corpus with scripts/corpus.py: PNG, JPEG, GIF, BMP, WebP
   and TIFF files made by Pillow, OpenCV, tifffile, libtiff's tiffcp and
   ImageMagick from the real images in the scikit-image and matplotlib
   wheels, the long tail of scripts/corpus_tail.py (LONG_TAIL: each kind
   must be present), plus truncated and bit-flipped copies.
3. Runs `info`, `resize` (224x224, --save as .png, and again as .tif) and
   `gray` on every corpus file, and the tile jobs, through the real
   `supervisor` binary in process mode.
4. Computes the references with the seeds' own calls:
   info    Image.open(p): size, mode, format
   resize  Image.open(p).resize((224, 224)): pixels, mode, palette,
           info["transparency"], and the record's shape and /255 mean
   resize-tif  the same resize saved by Pillow as an uncompressed TIFF and
           opened again, against Image.open of our .tif: mode, size,
           pixels (bit for bit), palette, info["transparency"]
   gray    cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2GRAY)
   and compares them with our records and outputs (read back by Pillow and
   OpenCV; never file bytes).
5. Prints a table per format and Pillow mode: files the reference reads,
   exact, differing, our errors; and files the reference cannot read, split
   into our clean errors and our answers. Ends with `parity: N passed, N
   failed`, one check per (task, file the reference reads), and exits 1 on
   any failure outside KNOWN_GAPS, any job that crashed or timed out, or a
   corpus smaller than MIN_FILES.

Environment: SUPERVISOR (path to the supervisor binary), PARITY_KEEP=1 keeps
the temporary directory, PARITY_ONLY=TEXT checks only the corpus files whose
name contains TEXT (while working on one kind; the full run is the check).
"""

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# OpenCV's own log of files it cannot read would drown the table.
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

import contextlib
import warnings

import cv2
import numpy as np
import skimage
import skimage.io
import tifffile
from PIL import Image


# Formats and Pillow modes whose differences are known and not yet fixed:
# they are shown in the table and listed, but do not fail the check. Keep
# this honest: every entry is a gap in the product, named in the README.
KNOWN_GAPS = [
    # (source format, task or None for all, file-name parts (all must occur) or None, why)
]
# A corpus smaller than this means a generator silently wrote less.
MIN_FILES = {"png": 150, "jpeg": 230, "gif": 45, "bmp": 110, "webp": 55, "tiff": 400, "broken": 400}
# The long tail of issue 20 (scripts/corpus_tail.py), by a part of the file
# names: each must be in the corpus, so that no kind drops out unnoticed.
LONG_TAIL = ["-orient5-", "-orient8-tiffcp-1-g4", "-bf32-abgr-", "-bf32-r11g11b10-", "-h66.bmp", "-v5-32.bmp",
             "-rle4-mixed", "-nopal-", "-junk-before-dqt", "-tf-s8.", "-tf-s16.", "-tf-s32be-zip", "-tf-u12.",
             "-tf-rgbx.", "-tf-px.", "-tf-cmykx.", "-tf-rgbx-planar", "-tf-rgb16-tiled-planar",
             "-tf-rgba16-tiled-planar", "-tf-f32-miniswhite", "-tf-loop", "-anim.webp", "-img2webp",
             "gif2webp", "-tiffcp-jpeg-tiles-cmyk", "-tiffcp-jpeg-strips-cmyk", "-im-jpeg-cmyk",
             "-tiffcp-lzma-", "-tf-lzma-", "-ccitt-rle", "-cielab"]

ROOT = Path(__file__).resolve().parent.parent
EDGES = np.array([0, 15, 16, 3999, 4000, 4001, 65535], dtype=np.uint16)


def supervisor_path():
    if os.environ.get("SUPERVISOR"):
        return Path(os.environ["SUPERVISOR"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return target / "release" / "supervisor"


def multiband(rng, bands, dtype=np.uint16):
    """Random-ish tile: smooth ramps plus noise, saturated patches and the
    formula's edge values in the first row."""
    h = w = 64
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((h, w, bands), dtype=np.float64)
    for b in range(bands):
        base = 500 + 300 * b + 20 * x + 15 * y
        out[..., b] = base + rng.normal(0, 150, (h, w))
    out[20:28, 30:40, :] = rng.integers(4000, 12000, (8, 10, bands))
    hi = 65535 if dtype == np.uint16 else 255
    a = out.clip(0, hi).astype(dtype)
    a[40:44] = rng.integers(0, hi + 1, (4, w, bands), dtype=dtype)
    if dtype == np.uint16:
        a[0, : len(EDGES), :] = EDGES[:, None]
    return a


def write_tiffs(d, rng):
    """(path, array as (H, W, bands)) for the 13-band and 8-band inputs."""
    d.mkdir()
    a = multiband(rng, 13)
    # planarconfig is always given: without it tifffile reads a (64, 64, 13)
    # minisblack array as 64 pages of 64x13.
    chunky = dict(photometric="minisblack", planarconfig="contig")
    planar = dict(photometric="minisblack", planarconfig="separate")
    variants = {
        "chunky_strips4": dict(chunky, rowsperstrip=4),
        "chunky_onestrip": dict(chunky),
        "planar": dict(planar),
        "planar_lzw": dict(planar, compression="lzw"),
        "lzw": dict(chunky, compression="lzw"),
        "lzw_predictor": dict(chunky, compression="lzw", predictor=True),
        "deflate": dict(chunky, compression="zlib"),
        "deflate_predictor": dict(chunky, compression="zlib", predictor=True),
        "packbits": dict(chunky, compression="packbits"),
        "tiled32": dict(chunky, tile=(32, 32)),
        "tiled_overhang": dict(chunky, tile=(48, 32), compression="zlib"),
        "planar_tiled_overhang": dict(planar, tile=(48, 48)),
        "rgb_extrasamples": dict(photometric="rgb", planarconfig="contig", extrasamples=[0] * 10),
        "rgb_extrasamples_planar": dict(photometric="rgb", planarconfig="separate", extrasamples=[0] * 10),
        "bigtiff": dict(chunky, bigtiff=True),
        "bigendian": dict(chunky, byteorder=">"),
    }
    files13 = []
    for name, kw in variants.items():
        p = d / f"{name}.tif"
        data = a.transpose(2, 0, 1) if kw.get("planarconfig") == "separate" else a
        tifffile.imwrite(p, data, **kw)
        files13.append(p)
    b16 = multiband(rng, 8)
    b8 = multiband(rng, 8, np.uint8)
    p16, p8 = d / "eight_u16.tif", d / "eight_u8.tif"
    tifffile.imwrite(p16, b16, photometric="minisblack", planarconfig="contig")
    tifffile.imwrite(p8, b8.transpose(2, 0, 1), photometric="minisblack", planarconfig="separate")
    return files13, [p16, p8]


def read_multiband(p):
    """The seed's skimage.io.imread, with planar files put right."""
    ms = skimage.io.imread(p)
    with tifffile.TiffFile(p) as tf:
        page = tf.pages[0]
        if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and page.samplesperpixel > 1:
            ms = tf.asarray().transpose(1, 2, 0)
    return ms


def rgb_reference(p, bands=(3, 2, 1), scale=4000):
    ms = read_multiband(p)
    return (255 * (ms[..., bands] / scale).clip(0, 1)).astype(np.uint8)


def compare(ours, ref):
    """(pixels differing, max difference); a shape mismatch counts every pixel."""
    if ours.shape != ref.shape:
        return max(ours.size, ref.size), float("inf")
    o, r = ours.astype(np.int64), ref.astype(np.int64)
    diff = np.abs(o - r)
    per_pixel = diff if diff.ndim == 2 else diff.max(axis=-1)
    return int((per_pixel > 0).sum()), int(diff.max()) if diff.size else 0


@contextlib.contextmanager
def quiet_stderr():
    """libjpeg and libpng print warnings on broken files straight to fd 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


CACHE = {}


def try_ref(fn, key=None):
    """(value, None) or (None, error text) for a reference call."""
    if key is not None and key in CACHE:
        return CACHE[key]
    try:
        with quiet_stderr():
            r = fn(), None
    except Exception as e:  # noqa: BLE001 - any failure means "the reference cannot read it"
        r = None, f"{type(e).__name__}: {e}"
    if key is not None:
        CACHE[key] = r
    return r


def pil_open(p):
    im = Image.open(p)
    return im.size, im.mode, im.format


def pil_resize(p):
    return Image.open(p).resize((224, 224))


def pil_resize_tif(p, size=(224, 224)):
    """Pillow's resize, and what Pillow reads back after saving it as TIFF.
    compression="raw" because Pillow would otherwise reuse the source's
    info["compression"] (a JPEG-in-TIFF source would be saved lossy)."""
    im = Image.open(p).resize(size)
    buf = io.BytesIO()
    im.save(buf, format="TIFF", compression="raw")
    buf.seek(0)
    back = Image.open(buf)
    back.load()
    return im, back


def cv_gray(p):
    im = cv2.imread(str(p))
    if im is None:
        raise ValueError("cv2.imread returned None")
    return cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)


def array_diff(ours, ref):
    """'' if equal, else a short description. Shapes must match first."""
    if ours.shape != ref.shape:
        return f"shape {ours.shape} != {ref.shape}"
    n, m = compare(ours, ref)
    return f"{n} pixels differ, max {m}" if n else ""


def check_info(rec, ref):
    size, mode, fmt = ref
    v = rec["value"]
    got = ((v.get("width"), v.get("height")), v.get("mode"), v.get("pil_format"))
    return "" if got == (size, mode, fmt) else f"info {got} != Pillow's {(size, mode, fmt)}"


def means_of(arr):
    a = arr.astype(np.float64) / 255.0
    return a.mean(axis=(0, 1)).tolist() if a.ndim == 3 else [a.mean()]


def check_resize(rec, ref, output):
    v = rec["value"]
    want_shape = list(np.array(ref).shape)
    if v.get("mode") != ref.mode:
        return f"mode {v.get('mode')} != {ref.mode}"
    if v.get("shape") != want_shape:
        return f"shape {v.get('shape')} != {want_shape}"
    want = means_of(np.array(ref))
    # Our sums are exact (integers) or sequential; numpy's are pairwise: the
    # means agree to rounding, which for float images of 1e31 is not 1e-9.
    if len(v["mean"]) != len(want) or any(abs(a - b) > 1e-9 * max(1.0, abs(b)) for a, b in zip(v["mean"], want)):
        return f"mean {v['mean']} != numpy's {want}"
    if output is None:
        return ""  # a mode PNG cannot hold: compared by shape and mean only
    ours = Image.open(output)
    if ours.mode != ref.mode:
        return f"saved mode {ours.mode} != {ref.mode}"
    if ours.getpalette() != ref.getpalette():
        return "palette differs"
    if ours.info.get("transparency") != ref.info.get("transparency"):
        return f"transparency {ours.info.get('transparency')!r} != {ref.info.get('transparency')!r}"
    return array_diff(np.array(ours), np.array(ref))


def check_resize_tif(rec, ref, output):
    im, back = ref
    why = check_resize(rec, im, None)
    if why:
        return why
    ours = Image.open(output)
    if (ours.mode, ours.size) != (back.mode, back.size):
        return f"saved {ours.mode} {ours.size} != Pillow's round trip {back.mode} {back.size}"
    if ours.getpalette() != back.getpalette():
        return "palette differs"
    if ours.info.get("transparency") != back.info.get("transparency"):
        return f"transparency {ours.info.get('transparency')!r} != {back.info.get('transparency')!r}"
    if ours.tobytes() == back.tobytes():
        return ""
    return array_diff(np.array(ours), np.array(back)) or "pixels differ (bit patterns)"


def check_gray(rec, ref, output):
    ours = cv2.imread(str(output), cv2.IMREAD_UNCHANGED)
    return array_diff(ours, ref)


def tile_checks(tmp, rng, out, job):
    files13, files8 = write_tiffs(tmp / "tiff", rng)
    for p in files13:
        o = out / f"eurosat_{p.stem}.png"
        job("eurosat-rgb", "tiles", [p, o], lambda p=p: rgb_reference(p), o)
    for p in files13[:3]:
        o = out / f"ms_default_{p.stem}.png"
        job("ms-rgb", "tiles", [p, o], lambda p=p: rgb_reference(p), o)
    for p in files8:
        for bands, scale in [((7, 3, 1), "3000.5"), ((0, 1, 2), "4000"), ((5, 5, 2), "1e3")]:
            sc = 200 if "u8" in p.stem and scale == "4000" else scale
            o = out / f"ms_{p.stem}_{'-'.join(map(str, bands))}_{sc}.png"
            b = ",".join(map(str, bands))
            job("ms-rgb", "tiles", [p, o, "--bands", b, "--scale", sc],
                lambda p=p, bands=bands, sc=sc: rgb_reference(p, bands, float(sc)), o)


def main():
    sup = supervisor_path()
    if not sup.exists():
        sys.exit(f"parity: {sup} not found; build it with `cargo build --release --bins` or set SUPERVISOR")
    rng = np.random.default_rng(20260321)
    tmp = Path(tempfile.mkdtemp(prefix="procmap-parity-"))
    try:
        print(f"parity: working in {tmp}")
        out = tmp / "out"
        out.mkdir()
        jobs = []

        def job(task, group, args, ref, output):
            jobs.append(dict(task=task, group=group, args=[str(a) for a in args], ref=ref, output=output))

        tile_checks(tmp, rng, out, job)
        corpus = tmp / "corpus"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "corpus.py"), str(corpus)], check=True)
        counts = {d.name: sum(1 for _ in d.iterdir()) for d in corpus.iterdir()}
        short = {k: (counts.get(k, 0), n) for k, n in MIN_FILES.items() if counts.get(k, 0) < n}
        if short:
            sys.exit(f"parity: corpus too small (have, want): {short}")
        files = sorted(p for p in corpus.rglob("*") if p.is_file())
        missing = [part for part in LONG_TAIL if not any(part in p.name for p in files)]
        if missing:
            sys.exit(f"parity: corpus lacks these kinds of the long tail: {missing}")
        # PARITY_ONLY=text: only the corpus files whose name contains it (a
        # quicker loop while working on one kind; the full run is the check).
        only = os.environ.get("PARITY_ONLY")
        if only:
            files = [p for p in files if only in p.name]
        for i, p in enumerate(files):
            group = p.parent.name
            ro, go = out / "resize" / f"{i}.png", out / "gray" / f"{i}.png"
            to = out / "resize-tif" / f"{i}.tif"
            job("info", group, [p], lambda p=p: pil_open(p), None)
            job("resize", group, [p, "--save", ro], lambda p=p: pil_resize(p), ro)
            job("resize-tif", group, [p, "--save", to], lambda p=p: pil_resize_tif(p), to)
            job("gray", group, [p, go], lambda p=p: cv_gray(p), go)
        # Shapes other than 224x224, in both directions on each axis.
        for name, (w, h) in [("astronaut-rgb", (300, 100)), ("camera-l", (37, 512)), ("chelsea-rgba", (451, 300)),
                             ("coffee-p", (700, 90)), ("coins-i16", (1000, 999)), ("horse-la", (100, 250))]:
            src = corpus / "png" / f"{name}.png"
            o = out / f"resize_{name}_{w}x{h}.png"
            job("resize", "png-sizes", [src, w, h, "--save", o],
                lambda p=src, w=w, h=h: Image.open(p).resize((w, h)), o)
        # .tif outputs of other shapes, for the modes only TIFF holds and for
        # bilevel rows that do not fill their last byte.
        for pattern, (w, h) in [("*-pil-1.tif", (37, 301)), ("*-tf-f32.tif", (301, 37)), ("*-tf-u32.tif", (5, 3)),
                                ("*-pil-cmyk.tif", (250, 99)), ("*-tf-l16be.tif", (99, 250)), ("*-pil-p.tif", (13, 1))]:
            src = sorted((corpus / "tiff").glob(pattern))[0]
            o = out / f"resize_{src.stem}_{w}x{h}.tif"
            job("resize-tif", "tif-sizes", [src, w, h, "--save", o],
                lambda p=src, w=w, h=h: pil_resize_tif(p, (w, h)), o)

        # A mode PNG cannot hold (CMYK, I, F; I;16B reads back as I;16) is
        # resized without --save in the PNG pass, and checked by the record's
        # mode, shape and mean; the .tif pass saves every mode.
        for j in jobs:
            if j["task"] == "resize" and j["group"] != "png-sizes":
                ref, _ = try_ref(lambda p=j["args"][0]: pil_open(p), ("open", j["args"][0]))
                if ref and ref[1] in ("CMYK", "I", "F", "YCbCr", "LAB", "HSV", "I;16B", "I;16L", "RGBX", "RGBa"):
                    j["args"], j["output"] = j["args"][:1], None

        jobs_file = tmp / "jobs.txt"
        # "resize-tif" is the resize task with a .tif output, its own row.
        command = {"resize-tif": "resize"}
        jobs_file.write_text("".join(" ".join([command.get(j["task"], j["task"])] + [shlex.quote(a) for a in j["args"]])
                                     + "\n" for j in jobs))
        journal = tmp / "journal.jsonl"
        # Process mode: a decoder that crashed or hung would be recorded as such.
        cmd = [str(sup), "--mode", "process", "-p", "2", "-q", "--allow-outside", "--out-dir", str(out), "-o", str(journal),
               "--timeout", "60s", str(jobs_file)]
        print(f"parity: running {len(jobs)} jobs:", " ".join(shlex.quote(c) for c in cmd))
        subprocess.run(cmd)
        if not journal.exists():
            sys.exit("parity: the supervisor wrote no journal")
        records = {}
        for line in journal.read_text().splitlines():
            rec = json.loads(line)  # any non-JSON line is a bug: let it raise
            if "journal" in rec:
                continue  # the run's header line
            records[rec["line"]] = rec

        return report(jobs, records, tmp)
    finally:
        if os.environ.get("PARITY_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


def known_gap(j):
    name = Path(j["args"][0]).name
    return any(fmt == source_format(j) and task in (None, j["task"]) and (parts is None or all(p in name for p in parts))
               for fmt, task, parts, _ in KNOWN_GAPS)


def source_format(j):
    """The corpus folder, or for a broken copy the folder of its original."""
    if j["group"] == "broken":
        return Path(j["args"][0]).name.split("-")[1]
    return j["group"]


def mode_key(j):
    if j["group"] in ("tiles", "png-sizes", "tif-sizes"):
        return "-"
    ref, _ = try_ref(lambda: pil_open(j["args"][0]), ("open", j["args"][0]))
    ref = ref and ref[1]
    return ref or "(none)"


def report(jobs, records, tmp):
    table = {}  # (group, mode, task) -> counts
    failures, gaps, broken_jobs = [], [], []
    passed = 0
    for i, j in enumerate(jobs, start=1):
        rec = records.get(i)
        status = rec.get("status") if rec else "missing"
        if status in ("crashed", "timeout", "missing"):
            broken_jobs.append(f"line {i} {j['task']} {j['args'][0]}: {status}")
        key = (j["group"], mode_key(j), j["task"])
        c = table.setdefault(key, dict(reads=0, exact=0, differ=0, errors=0, ref_fails=0, we_answer=0))
        ref, ref_err = try_ref(j["ref"])
        if ref_err is not None:
            c["ref_fails"] += 1
            if status == "ok":
                c["we_answer"] += 1
            continue
        c["reads"] += 1
        if status != "ok":
            c["errors"] += 1
            why = f"{status}: {(rec or {}).get('error')}"
        else:
            try:
                if j["task"] == "info":
                    why = check_info(rec, ref)
                elif j["task"] == "resize":
                    why = check_resize(rec, ref, j["output"])
                elif j["task"] == "resize-tif":
                    why = check_resize_tif(rec, ref, j["output"])
                elif j["task"] == "gray":
                    why = check_gray(rec, ref, j["output"])
                else:
                    why = array_diff(np.array(Image.open(j["output"])), ref)
            except Exception as e:  # noqa: BLE001 - an unreadable output is a failure, not a crash of the check
                why = f"cannot compare: {type(e).__name__}: {e}"
            if why:
                c["differ"] += 1
            else:
                c["exact"] += 1
        if not why:
            passed += 1
            continue
        line = f"{j['task']} {j['group']}/{Path(j['args'][0]).name}: {why}"
        (gaps if known_gap(j) else failures).append(line)

    print()
    head = f"{'format':<9} {'mode':<7} {'task':<11} {'ref reads':>9} {'exact':>6} {'differ':>6} {'our err':>7}" \
           f" | {'ref fails':>9} {'we answer':>9}"
    print(head)
    print("-" * len(head))
    totals = {}
    for (group, mode, task), c in sorted(table.items()):
        print(f"{group:<9} {mode:<7} {task:<11} {c['reads']:>9} {c['exact']:>6} {c['differ']:>6} {c['errors']:>7}"
              f" | {c['ref_fails']:>9} {c['we_answer']:>9}")
        t = totals.setdefault(task, [0, 0, 0, 0])
        t[0] += c["reads"]
        t[1] += c["exact"]
        t[2] += c["ref_fails"]
        t[3] += c["we_answer"]
    print()
    print("Summary, as in the README (exact / files the reference reads):")
    print()
    print("| format | mode | info | resize | resize .tif | gray |")
    print("|---|---|---|---|---|---|")
    rows = sorted({(g, m) for g, m, _ in table})
    for g, m in rows:
        cells = []
        for task in ("info", "resize", "resize-tif", "gray"):
            c = table.get((g, m, task))
            cells.append(f"{c['exact']}/{c['reads']}" if c and c["reads"] else "–")
        if any(cell != "–" for cell in cells):
            print(f"| {g} | {m} | " + " | ".join(cells) + " |")
    print()
    for task, (reads, exact, fails, answers) in sorted(totals.items()):
        print(f"parity: {task}: exact on {exact} of {reads} files the reference reads"
              f" ({100 * exact / max(reads, 1):.1f}%); of {fails} it cannot read, we answer {answers}")
    for g in gaps:
        print("GAP ", g)
    for f in failures:
        print("FAIL", f)
    for b in broken_jobs:
        print("FAIL", b)
    if gaps:
        print(f"parity: {len(gaps)} known gap(s), not counted below: {'; '.join(g[3] for g in KNOWN_GAPS)}")
    failed = len(failures) + len(broken_jobs)
    if failed:
        print(f"parity: inputs and outputs kept in {tmp}")
        os.environ["PARITY_KEEP"] = "1"
    print(f"parity: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
