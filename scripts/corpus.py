#!/usr/bin/env python3
"""Writes the image corpus of the parity check into DIR (not committed).

Every file is made by an encoder independent of ours, from real images that
ship inside the scikit-image and matplotlib wheels (photographs, scans,
microscopy), scaled down so that the whole check stays fast:

  Pillow  `save` in every mode and the options that change the file layout
          (PNG bits, palettes, tRNS; JPEG quality, subsampling 4:4:4 / 4:2:2 /
          4:2:0, progressive, optimised tables, grey, CMYK, EXIF orientation;
          GIF, BMP, WebP lossless and lossy, TIFF)
  OpenCV  `cv2.imwrite`: 8- and 16-bit PNG, JPEG with restart markers and
          progressive, WebP
  tifffile  grey 1-32 bit, float, RGB(A), CMYK, palette, ExtraSamples
  libtiff `tiffcp -c g3|g4|lzw|zip|packbits|jpeg` (Debian libtiff-tools)
  ImageMagick `convert`: interlaced PNG, PNG bit depths, BMP variants
          (1/4/8/24/32-bit, RLE, RGB565, BMP2/BMP3), GIF, WebP, CMYK JPEG
plus the long tail of issue 20 (corpus_tail.py and corpus_tail_tiff.py:
TIFF orientations, sample formats, extra samples, JPEG/LZMA/RLE/CIELab;
BMP bitfields and RLE; GIFs without a palette; JPEGs with junk between
markers; animated WebPs), and a truncated and a bit-flipped copy of a
sample of them (broken files must give a clean error, never a crash).

Usage: corpus.py DIR. Prints how many files it wrote per format. Fails if a
tool or a sample image is missing, rather than silently writing less.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import skimage
import tifffile
from PIL import Image

import corpus_tail
import corpus_tail_tiff

SKIMAGE = Path(skimage.__file__).parent / "data"
MPL = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data"
SOURCES = [
    SKIMAGE / "astronaut.png", SKIMAGE / "camera.png", SKIMAGE / "chelsea.png", SKIMAGE / "coffee.png",
    SKIMAGE / "coins.png", SKIMAGE / "page.png", SKIMAGE / "horse.png", SKIMAGE / "logo.png",
    SKIMAGE / "rocket.jpg", SKIMAGE / "hubble_deep_field.jpg", SKIMAGE / "retina.jpg",
    SKIMAGE / "motorcycle_left.png", SKIMAGE / "moon.png", SKIMAGE / "text.png",
    MPL / "grace_hopper.jpg", MPL / "logo2.png", MPL / "Minduka_Present_Blue_Pack.png",
]
# Odd sizes and aspect ratios, both smaller and larger than 224 on each axis.
SIZES = [(150, 113), (97, 251), (301, 77), (64, 64), (257, 190)]


def run(*cmd):
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def base_images():
    """(name, RGB image, L image) at corpus sizes, from the real sources."""
    missing = [str(p) for p in SOURCES if not p.exists()]
    if missing:
        sys.exit(f"corpus: sample images missing: {missing}")
    out = []
    for i, src in enumerate(SOURCES):
        im = Image.open(src)
        im = im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB")
        w, h = SIZES[i % len(SIZES)]
        im = im.resize((w, h), Image.Resampling.LANCZOS)
        rgb = im.convert("RGB")
        out.append((src.stem.replace("_", "-"), rgb, rgb.convert("L"), im))
    return out


def alpha_for(im):
    w, h = im.size
    y, x = np.mgrid[0:h, 0:w]
    a = ((x * 255 // max(w - 1, 1)) ^ (y * 7 % 256)).astype(np.uint8)
    a[: h // 4, : w // 4] = 0
    return Image.fromarray(a)


def pillow_png(d, imgs):
    for name, rgb, gray, orig in imgs[:8]:
        rgb.save(d / f"{name}-rgb.png")
        gray.save(d / f"{name}-l.png")
        gray.convert("1").save(d / f"{name}-1.png")
        Image.merge("LA", [gray, alpha_for(gray)]).save(d / f"{name}-la.png")
        rgba = rgb.copy()
        rgba.putalpha(alpha_for(rgb))
        rgba.save(d / f"{name}-rgba.png")
        p = rgb.quantize(200)
        p.save(d / f"{name}-p.png")
        rgb.quantize(16).save(d / f"{name}-p-trns.png", transparency=3)
        rgb.quantize(4).save(d / f"{name}-p2.png", bits=2)
        rgb.quantize(2).save(d / f"{name}-p1.png", bits=1)
        rgb.quantize(16).save(d / f"{name}-p4.png", bits=4)
        gray.save(d / f"{name}-l4.png", bits=4)
        gray.save(d / f"{name}-l2.png", bits=2)
        i16 = np.array(gray).astype(np.uint16) * 257 + np.arange(gray.size[0], dtype=np.uint16)[None, :] % 200
        Image.fromarray(i16).save(d / f"{name}-i16.png")
        Image.fromarray(np.array(gray)).save(d / f"{name}-l-trns.png", transparency=17)
        rgb.save(d / f"{name}-rgb-trns.png", transparency=(10, 20, 30))


def cv2_png(d, imgs):
    for name, rgb, gray, orig in imgs[8:]:
        bgr = np.array(rgb)[..., ::-1]
        cv2.imwrite(str(d / f"{name}-cv-bgr.png"), bgr)
        bgr16 = bgr.astype(np.uint16) * 256 + (255 - bgr)
        cv2.imwrite(str(d / f"{name}-cv-bgr16.png"), bgr16)
        a16 = np.linspace(0, 65535, bgr.shape[1]).astype(np.uint16)[None, :].repeat(bgr.shape[0], 0)
        cv2.imwrite(str(d / f"{name}-cv-bgra16.png"), np.dstack([bgr16, a16]))
        cv2.imwrite(str(d / f"{name}-cv-gray16.png"), np.array(gray).astype(np.uint16) * 251)
        cv2.imwrite(str(d / f"{name}-cv-bgra.png"), np.dstack([bgr, np.array(alpha_for(gray))]))


def magick_png(d, imgs):
    for name, rgb, gray, orig in imgs[:6]:
        src = d / f"{name}-rgb.png"
        run("convert", src, "-interlace", "PNG", d / f"{name}-im-interlaced.png")
        run("convert", src, "-interlace", "PNG", "-colors", "60", "PNG8:" + str(d / f"{name}-im-interlaced-p.png"))
        run("convert", src, "-depth", "16", "PNG48:" + str(d / f"{name}-im-png48.png"))
        run("convert", src, "-alpha", "set", "-depth", "16", "PNG64:" + str(d / f"{name}-im-png64.png"))
        run("convert", src, "-colorspace", "gray", "-define", "png:bit-depth=16", "-define",
            "png:color-type=4", "-alpha", "set", d / f"{name}-im-la16.png")


def pillow_jpeg(d, imgs):
    for name, rgb, gray, orig in imgs:
        rgb.save(d / f"{name}-q90.jpg", quality=90)
        rgb.save(d / f"{name}-444.jpg", quality=85, subsampling=0)
        rgb.save(d / f"{name}-422.jpg", quality=75, subsampling=1)
        rgb.save(d / f"{name}-420-q40.jpg", quality=40, subsampling=2)
        rgb.save(d / f"{name}-progressive.jpg", progressive=True, quality=80)
        rgb.save(d / f"{name}-optimize.jpg", optimize=True, quality=95)
        gray.save(d / f"{name}-gray.jpg", quality=80)
    for name, rgb, gray, orig in imgs[:5]:
        rgb.convert("CMYK").save(d / f"{name}-cmyk.jpg", quality=85)
        for o in range(1, 9):
            exif = Image.Exif()
            exif[0x0112] = o
            rgb.save(d / f"{name}-exif{o}.jpg", exif=exif, quality=85)


def cv2_jpeg(d, imgs):
    for name, rgb, gray, orig in imgs[::2]:
        bgr = np.array(rgb)[..., ::-1]
        cv2.imwrite(str(d / f"{name}-cv-rst.jpg"), bgr, [cv2.IMWRITE_JPEG_RST_INTERVAL, 3])
        cv2.imwrite(str(d / f"{name}-cv-prog.jpg"), bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
        cv2.imwrite(str(d / f"{name}-cv-gray.jpg"), np.array(gray), [cv2.IMWRITE_JPEG_QUALITY, 70])


def magick_jpeg(d, imgs):
    for name, rgb, gray, orig in imgs[:6]:
        src = d.parent / "png" / f"{name}-rgb.png"
        run("convert", src, "-colorspace", "CMYK", "-quality", "85", d / f"{name}-im-cmyk.jpg")
        run("convert", src, "-sampling-factor", "2x1", "-interlace", "JPEG", d / f"{name}-im-422-prog.jpg")
        run("convert", src, "-sampling-factor", "1x2", d / f"{name}-im-440.jpg")
        run("convert", src, "-define", "jpeg:arithmetic-coding=true", d / f"{name}-im-arith.jpg")


def gifs(d, imgs):
    for name, rgb, gray, orig in imgs[:8]:
        rgb.quantize(128).save(d / f"{name}-p.gif")
        rgb.quantize(32).save(d / f"{name}-p-trns.gif", transparency=5)
        gray.save(d / f"{name}-l.gif")
        src = d.parent / "png" / f"{name}-rgb.png"
        run("convert", src, "-colors", "64", d / f"{name}-im.gif")
        run("convert", src, "-colors", "16", "-interlace", "GIF", d / f"{name}-im-interlaced.gif")
    shutil.copy(SKIMAGE / "no_time_for_that_tiny.gif", d / "skimage-animated.gif")


def bmps(d, imgs):
    for name, rgb, gray, orig in imgs[:6]:
        rgb.save(d / f"{name}-rgb.bmp")
        gray.save(d / f"{name}-l.bmp")
        gray.convert("1").save(d / f"{name}-1.bmp")
        rgb.quantize(100).save(d / f"{name}-p.bmp")
        src = d.parent / "png" / f"{name}-rgb.png"
        run("convert", src, "-colors", "16", "-type", "palette", "-compress", "RLE", "BMP3:" + str(d / f"{name}-im-rle4.bmp"))
        run("convert", src, "-colors", "200", "-type", "palette", "-compress", "RLE", "BMP3:" + str(d / f"{name}-im-rle8.bmp"))
        run("convert", src, "-define", "bmp:subtype=RGB565", d / f"{name}-im-565.bmp")
        run("convert", src, "-alpha", "set", d / f"{name}-im-32.bmp")
        run("convert", src, "BMP2:" + str(d / f"{name}-im-bmp2.bmp"))
        run("convert", src, "-colors", "2", "-type", "bilevel", "BMP3:" + str(d / f"{name}-im-1.bmp"))


def webps(d, imgs):
    for name, rgb, gray, orig in imgs[:8]:
        rgb.save(d / f"{name}-lossy.webp", quality=80)
        rgb.save(d / f"{name}-lossless.webp", lossless=True)
        rgba = rgb.copy()
        rgba.putalpha(alpha_for(rgb))
        rgba.save(d / f"{name}-alpha-lossy.webp", quality=70)
        rgba.save(d / f"{name}-alpha-lossless.webp", lossless=True)
        cv2.imwrite(str(d / f"{name}-cv.webp"), np.array(rgb)[..., ::-1], [cv2.IMWRITE_WEBP_QUALITY, 60])
        src = d.parent / "png" / f"{name}-rgb.png"
        run("convert", src, "-quality", "50", d / f"{name}-im.webp")


def tiffs(d, imgs):
    for name, rgb, gray, orig in imgs[:6]:
        a, g = np.array(rgb), np.array(gray)
        rgb.save(d / f"{name}-pil-rgb.tif")
        gray.save(d / f"{name}-pil-l.tif")
        gray.convert("1").save(d / f"{name}-pil-1.tif")
        rgb.quantize(64).save(d / f"{name}-pil-p.tif")
        rgb.convert("CMYK").save(d / f"{name}-pil-cmyk.tif")
        rgb.save(d / f"{name}-pil-jpeg.tif", compression="jpeg")
        rgb.save(d / f"{name}-pil-lzw.tif", compression="tiff_lzw")
        tifffile.imwrite(d / f"{name}-tf-rgb.tif", a, photometric="rgb")
        tifffile.imwrite(d / f"{name}-tf-rgba.tif", np.dstack([a, np.array(alpha_for(gray))]), photometric="rgb",
                         extrasamples=[2])
        tifffile.imwrite(d / f"{name}-tf-l16.tif", g.astype(np.uint16) * 257, photometric="minisblack")
        tifffile.imwrite(d / f"{name}-tf-l16be.tif", g.astype(np.uint16) * 257, photometric="minisblack",
                         byteorder=">")
        tifffile.imwrite(d / f"{name}-tf-f32.tif", g.astype(np.float32) / 255, photometric="minisblack")
        tifffile.imwrite(d / f"{name}-tf-u32.tif", g.astype(np.uint32) * 1000, photometric="minisblack")
        tifffile.imwrite(d / f"{name}-tf-l-deflate.tif", g, photometric="minisblack", compression="zlib")
        tifffile.imwrite(d / f"{name}-tf-miniswhite.tif", g, photometric="miniswhite")
        tifffile.imwrite(d / f"{name}-tf-rgb-tiled.tif", a, photometric="rgb", tile=(16, 16), compression="zlib")
        tifffile.imwrite(d / f"{name}-tf-rgb-planar.tif", a.transpose(2, 0, 1), photometric="rgb",
                         planarconfig="separate")
        tifffile.imwrite(d / f"{name}-tf-rgb16-lzw-pred.tif", a.astype(np.uint16) * 257, photometric="rgb",
                         compression="lzw", predictor=True)
        noise = (np.arange(a.size).reshape(a.shape) * 37 % 256).astype(np.uint16)
        tifffile.imwrite(d / f"{name}-tf-rgb16-noise.tif", a.astype(np.uint16) * 256 + noise, photometric="rgb")
        tifffile.imwrite(d / f"{name}-tf-l4.tif", (g >> 4).astype(np.uint8), photometric="minisblack", bitspersample=4)
        bw = d / f"{name}-pil-1.tif"
        for c in ["g3", "g4", "lzw", "zip", "packbits"]:
            run("tiffcp", "-c", c, bw, d / f"{name}-tiffcp-1-{c}.tif")
        run("tiffcp", "-c", "jpeg", "-r", "16", d / f"{name}-pil-rgb.tif", d / f"{name}-tiffcp-jpeg.tif")
        run("tiffcp", "-c", "lzw:2", d / f"{name}-pil-rgb.tif", d / f"{name}-tiffcp-lzw-pred.tif")
    shutil.copy(SKIMAGE / "multipage.tif", d / "skimage-multipage.tif")
    shutil.copy(SKIMAGE / "multipage_rgb.tif", d / "skimage-multipage-rgb.tif")


def broken(d, rng):
    """A truncated and a bit-flipped copy of every fifth file."""
    d.mkdir()
    files = sorted(p for p in d.parent.rglob("*") if p.is_file() and p.parent != d)
    for p in files[::5]:
        data = p.read_bytes()
        (d / f"trunc-{p.parent.name}-{p.name}").write_bytes(data[: len(data) * 2 // 3])
        flipped = bytearray(data)
        for i in rng.integers(len(data) // 10, len(data), 8):
            flipped[i] ^= 1 << int(rng.integers(0, 8))
        (d / f"flip-{p.parent.name}-{p.name}").write_bytes(bytes(flipped))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: corpus.py DIR")
    for tool in ["convert", "tiffcp", "tiffset", "img2webp", "gif2webp"]:
        if shutil.which(tool) is None:
            sys.exit(f"corpus: {tool} not found (scripts/setup-images.sh installs it)")
    root = Path(sys.argv[1])
    if root.exists():
        shutil.rmtree(root)
    imgs = base_images()
    tail, tif = corpus_tail, corpus_tail_tiff
    steps = [("png", [pillow_png, cv2_png, magick_png]),
             ("jpeg", [pillow_jpeg, cv2_jpeg, magick_jpeg, tail.jpeg_junk]),
             ("gif", [gifs, tail.gif_no_palette]),
             ("bmp", [bmps, tail.bmp_bitfields, tail.bmp_rle]),
             ("webp", [webps, tail.webp_animated]),
             ("tiff", [tiffs, tif.tiff_orientation, tif.tiff_samples, tif.tiff_jpeg, tif.tiff_lzma, tif.tiff_rle,
                       tif.tiff_cielab])]
    for sub, fns in steps:
        (root / sub).mkdir(parents=True)
        for fn in fns:
            fn(root / sub, imgs)
    for src in SOURCES:
        shutil.copy(src, root / ("jpeg" if src.suffix == ".jpg" else "png") / f"real-{src.name}")
    broken(root / "broken", np.random.default_rng(9))
    counts = {d.name: sum(1 for _ in d.iterdir()) for d in sorted(root.iterdir())}
    print("corpus:", ", ".join(f"{k} {v}" for k, v in counts.items()), f"in {root}")


if __name__ == "__main__":
    main()
