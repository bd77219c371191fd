#!/usr/bin/env python3
"""Writes the damaged TIFF fixtures of crates/procmap-images/testdata/
(damaged-*.tif) and prints, for each, the FNV-1a hash of what the
reference gives: cv2.cvtColor(cv2.imread(f), COLOR_BGR2GRAY), and whether
Pillow's Image.open(f).load() fails. Run with the parity virtualenv:

    .venv-parity/bin/python scripts/damaged-tiffs.py crates/procmap-images/testdata

Each file is a small crop of scikit-image's astronaut written by tifffile,
then damaged the way scripts/corpus.py damages its copies (bytes changed in
a strip or tile, or the file cut short), at fixed places.
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
import tifffile  # noqa: E402
from PIL import Image  # noqa: E402


def fnv(b):
    h = 0xCBF29CE484222325
    for x in b:
        h = ((h ^ x) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def chunk(p, i):
    with tifffile.TiffFile(p) as tf:
        page = tf.pages[0]
        return int(page.dataoffsets[i]), int(page.databytecounts[i])


def damage(p, at, xor=0x5A):
    b = bytearray(p.read_bytes())
    b[at] ^= xor
    p.write_bytes(bytes(b))


def main(out):
    out = Path(out)
    rgb = skimage.data.astronaut()[100:140, 180:228]  # 40x48
    grey = rgb[..., 1].copy()
    made = []

    # LZW with the horizontal predictor, two strips; a byte in the middle
    # of the second strip changed: libtiff keeps what it decoded before the
    # bad code, zeros after, and skips the predictor for that strip.
    p = out / "damaged-lzw-pred.tif"
    tifffile.imwrite(p, rgb, photometric="rgb", compression="lzw", predictor=True, rowsperstrip=20)
    off, n = chunk(p, 1)
    damage(p, off + n // 2, 0xF0)
    made.append(p)

    # Deflate with the predictor, the last byte (the Adler-32 checksum)
    # changed: every byte inflates, the strip still fails, so the
    # predictor is not applied.
    p = out / "damaged-deflate-check.tif"
    tifffile.imwrite(p, grey, photometric="minisblack", compression="zlib", predictor=True)
    off, n = chunk(p, 0)
    damage(p, off + n - 1)
    made.append(p)

    # Deflate tiles, one with a changed byte in its data: what inflated
    # before the error stays, the rest of that tile is zero. Byte 318 of
    # tile 4, bit 4, makes the stream fail after 302 bytes, at a point
    # where zlib-rs has already written a few bytes ahead.
    p = out / "damaged-deflate-tiles.tif"
    tifffile.imwrite(p, rgb, photometric="rgb", compression="zlib", tile=(16, 16))
    off, n = chunk(p, 4)
    damage(p, off + 318, 0x10)
    made.append(p)

    # 16-bit big-endian LZW: the damaged strip is neither byte-swapped nor
    # un-differenced.
    p = out / "damaged-lzw16be.tif"
    tifffile.imwrite(p, rgb.astype(np.uint16) * 257, photometric="rgb", compression="lzw", predictor=True,
                     byteorder=">", rowsperstrip=20)
    off, n = chunk(p, 1)
    damage(p, off + n // 2 + 1, 0xF0)
    made.append(p)

    # Planar RGB, cut in the middle of the green plane: red is read, the
    # green and blue planes stay zero.
    p = out / "damaged-planar-cut.tif"
    tifffile.imwrite(p, rgb.transpose(2, 0, 1), photometric="rgb", planarconfig="separate")
    off, n = chunk(p, 1)
    p.write_bytes(p.read_bytes()[: off + n // 2])
    made.append(p)

    for p in made:
        im = cv2.imread(str(p))
        gray = None if im is None else cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)
        try:
            Image.open(p).load()
            pil = "reads"
        except Exception:  # noqa: BLE001
            pil = "fails"
        h = "None" if gray is None else f"0x{fnv(gray.tobytes()):016x}"
        print(f'("{p.name}", {h}), // Pillow {pil}')


if __name__ == "__main__":
    main(sys.argv[1])
