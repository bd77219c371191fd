#!/usr/bin/env python3
"""Pixel parity of procmap's image tasks with the Python code they replace.

Run by scripts/parity.sh, which sets up the virtualenv and builds the
binaries. Steps:

1. Writes test TIFFs with tifffile (a writer independent of ours): 13-band
   uint16 64x64 tiles with values above 4000 and the formula's edge values,
   in every layout (chunky, planar, strips, tiles, tiles overhanging the
   edge), compression (none, LZW with and without predictor, Deflate,
   PackBits), RGB+ExtraSamples, BigTIFF and big-endian; plus 8-band uint16
   and uint8 files for ms-rgb.
2. Copies the real PNGs shipped in scikit-image's wheel (L, RGB, RGBA) and
   derives from them, with Pillow and OpenCV, the modes the wheel lacks
   (LA, P, P+tRNS, 2-bit P, 1, 4-bit L, I;16, 16-bit RGB and RGBA).
3. Runs every job through the real `supervisor` binary in serial mode.
4. Computes the reference with the seeds' own calls:
   seed 001  skimage.io.imread + (255 * (ms[..., (3,2,1)] / 4000).clip(0, 1)).astype(np.uint8)
             (planar files: tifffile's array moved to (H, W, bands); the seed's
             ms[..., i] would index columns there)
   seed 000  np.array(Image.open(p).resize((224, 224))), and the mean of /255.0
   seed 002  cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2GRAY)
   and compares decoded pixels (never PNG bytes) with our outputs read back
   by Pillow.
5. Prints task | images compared | pixels differing | max difference, and
   exits 1 on any difference or any job that is not ok.

Environment: SUPERVISOR (path to the supervisor binary), PARITY_KEEP=1 keeps
the temporary directory.
"""

import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import skimage
import skimage.io
import tifffile
from PIL import Image

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


def real_images(d):
    """Real PNGs from scikit-image's wheel plus derived modes."""
    d.mkdir()
    data = Path(skimage.__file__).parent / "data"
    names = ["astronaut", "chelsea", "coffee", "camera", "coins", "page", "horse", "logo", "microaneurysms"]
    files = []
    for n in names:
        src = data / f"{n}.png"
        if src.exists():
            shutil.copy(src, d / src.name)
            files.append(d / src.name)
    camera = Image.open(data / "camera.png")
    astro = Image.open(data / "astronaut.png")
    w, h = camera.size
    alpha = Image.fromarray(np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1)))
    la = Image.merge("LA", [camera, alpha])
    la.save(d / "derived_la.png")
    astro.quantize(64).save(d / "derived_p.png")
    astro.resize((200, 150)).quantize(16).save(d / "derived_p_trns.png", transparency=3)
    astro.resize((101, 77)).quantize(4).save(d / "derived_p2.png", bits=2)
    camera.point(lambda v: 255 if v >= 128 else 0).convert("1").save(d / "derived_1.png")
    camera.save(d / "derived_l4.png", bits=4)
    cam16 = np.array(camera).astype(np.uint16) * 257 + np.arange(w, dtype=np.uint16)[None, :] % 200
    Image.fromarray(cam16).save(d / "derived_i16.png")
    rgb16 = np.array(astro)[..., ::-1].astype(np.uint16) * 256 + 255 - np.array(astro)[..., ::-1]
    cv2.imwrite(str(d / "derived_rgb16.png"), rgb16)
    ramp = np.linspace(0, 65535, rgb16.shape[1]).astype(np.uint16)
    rgba16 = np.dstack([rgb16, np.tile(ramp, (rgb16.shape[0], 1))])
    cv2.imwrite(str(d / "derived_rgba16.png"), rgba16)
    files += sorted(d.glob("derived_*.png"))
    return files


def compare(ours, ref):
    """(pixels differing, max difference); a shape mismatch counts every pixel."""
    if ours.shape != ref.shape:
        return max(ours.size, ref.size), float("inf")
    o, r = ours.astype(np.int64), ref.astype(np.int64)
    diff = np.abs(o - r)
    per_pixel = diff if diff.ndim == 2 else diff.max(axis=-1)
    return int((per_pixel > 0).sum()), int(diff.max()) if diff.size else 0


def main():
    sup = supervisor_path()
    if not sup.exists():
        sys.exit(f"parity: {sup} not found; build it with `cargo build --release --bins` or set SUPERVISOR")
    rng = np.random.default_rng(20260321)
    tmp = Path(tempfile.mkdtemp(prefix="procmap-parity-"))
    try:
        print(f"parity: working in {tmp}")
        files13, files8 = write_tiffs(tmp / "tiff", rng)
        pngs = real_images(tmp / "png")
        out = tmp / "out"
        out.mkdir()

        jobs = []  # (task, args, reference function, output path, check)

        def job(task, args, ref, output, extra=None):
            jobs.append(dict(task=task, args=[str(a) for a in args], ref=ref, output=output, extra=extra))

        for p in files13:
            o = out / f"eurosat_{p.stem}.png"
            job("eurosat-rgb", [p, o], lambda p=p: rgb_reference(p), o)
        for p in files13[:3]:
            o = out / f"ms_default_{p.stem}.png"
            job("ms-rgb", [p, o], lambda p=p: rgb_reference(p), o)
        for p in files8:
            for bands, scale in [((7, 3, 1), "3000.5"), ((0, 1, 2), "4000"), ((5, 5, 2), "1e3")]:
                sc = 200 if "u8" in p.stem and scale == "4000" else scale
                o = out / f"ms_{p.stem}_{'-'.join(map(str, bands))}_{sc}.png"
                b = ",".join(map(str, bands))
                job("ms-rgb", [p, o, "--bands", b, "--scale", sc],
                    lambda p=p, bands=bands, sc=sc: rgb_reference(p, bands, float(sc)), o)
        for p in pngs:
            o = out / f"resize_{p.stem}.png"
            job("resize", [p, "--save", o], lambda p=p: np.array(Image.open(p).resize((224, 224))), o, "mean")
        for name, (w, h) in [("astronaut", (300, 100)), ("camera", (37, 512)), ("chelsea", (451, 300)),
                             ("derived_p", (700, 90)), ("logo", (1000, 999))]:
            src = tmp / "png" / f"{name}.png"
            if src.exists():
                o = out / f"resize_{name}_{w}x{h}.png"
                job("resize", [src, w, h, "--save", o],
                    lambda p=src, w=w, h=h: np.array(Image.open(p).resize((w, h))), o, "mean")
        for p in pngs:
            o = out / f"gray_{p.stem}.png"
            job("gray", [p, o], lambda p=p: cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2GRAY), o)

        jobs_file = tmp / "jobs.txt"
        jobs_file.write_text("".join(" ".join([j["task"]] + [shlex.quote(a) for a in j["args"]]) + "\n" for j in jobs))
        journal = tmp / "journal.jsonl"
        cmd = [str(sup), "--mode", "serial", "-q", "--allow-outside", "--out-dir", str(out), "-o", str(journal),
               str(jobs_file)]
        print("parity: running", " ".join(shlex.quote(c) for c in cmd))
        run = subprocess.run(cmd)
        if not journal.exists():
            sys.exit(f"parity: the supervisor exited {run.returncode} without a journal")
        records = {}
        for line in journal.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                records[rec["line"]] = rec

        stats = {}
        failures = []
        for i, j in enumerate(jobs, start=1):
            s = stats.setdefault(j["task"], dict(images=0, differing=0, maxdiff=0, failed=0))
            rec = records.get(i)
            if rec is None or rec.get("status") != "ok":
                s["failed"] += 1
                why = "no record" if rec is None else f"{rec.get('status')}: {rec.get('error')}"
                failures.append(f"line {i} {j['task']} {' '.join(j['args'])}: {why}")
                continue
            ref = j["ref"]()
            ours = np.array(Image.open(j["output"]))
            n, m = compare(ours, ref)
            s["images"] += 1
            s["differing"] += n
            s["maxdiff"] = max(s["maxdiff"], m)
            if n:
                failures.append(f"line {i} {j['task']} {Path(j['args'][0]).name}: {n} pixels differ, max {m}")
            if j["extra"] == "mean":
                value = rec["value"]
                want = (ref / 255.0).mean(axis=(0, 1)) if ref.ndim == 3 else np.array([(ref / 255.0).mean()])
                if value["shape"] != list(ref.shape):
                    failures.append(f"line {i} resize: shape {value['shape']} != numpy's {list(ref.shape)}")
                    s["differing"] += 1
                elif not np.allclose(value["mean"], want, rtol=0, atol=1e-9):
                    failures.append(f"line {i} resize: mean {value['mean']} != numpy's {want.tolist()}")
                    s["differing"] += 1

        print()
        print(f"{'task':<12} | {'images compared':>15} | {'pixels differing':>16} | {'max difference':>14} | {'jobs not ok':>11}")
        print(f"{'-' * 12}-+-{'-' * 15}-+-{'-' * 16}-+-{'-' * 14}-+-{'-' * 11}")
        for task, s in stats.items():
            print(f"{task:<12} | {s['images']:>15} | {s['differing']:>16} | {s['maxdiff']:>14} | {s['failed']:>11}")
        print()
        for f in failures:
            print("FAIL", f)
        if failures:
            print(f"parity: {len(failures)} problem(s); inputs and outputs kept in {tmp}")
            os.environ["PARITY_KEEP"] = "1"
        else:
            print("parity: every output matches its Python reference")
        # One image comparison is one check; CI logs are read for this plain
        # closing line.
        checks = sum(s["images"] for s in stats.values())
        print(f"parity: {checks - len(failures)} passed, {len(failures)} failed")
        return 1 if failures else 0
    finally:
        if os.environ.get("PARITY_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
