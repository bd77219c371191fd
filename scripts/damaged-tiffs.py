#!/usr/bin/env python3
"""Writes the damaged TIFF fixtures of crates/procmap-images/testdata/
(damaged-*.tif) and prints, for each, the FNV-1a hash of what the
reference gives: cv2.cvtColor(cv2.imread(f), COLOR_BGR2GRAY), and whether
Pillow's Image.open(f).load() fails. Run with the parity virtualenv:

    .venv-parity/bin/python scripts/damaged-tiffs.py crates/procmap-images/testdata

Each file is a small crop of scikit-image's astronaut written by tifffile,
then damaged the way scripts/corpus.py damages its copies (bytes changed in
a strip or tile, or the file cut short), at fixed places.

The CCITT fax files (damaged-g3*.tif, damaged-g4.tif) are written by
libtiff's tiffcp from a bilevel crop and damaged the same way; for those
the hash of what Pillow reads, np.array(Image.open(f).convert("L")), is
printed too (libtiff reads past most bad codes, so Pillow often reads them).
"""
import os
import struct
import subprocess
import sys
import tempfile
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

    fax = fax_fixtures(out, grey)
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
    print()
    for p in fax:
        im = cv2.imread(str(p))
        gray = "None" if im is None else f"0x{fnv(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY).tobytes()):016x}"
        try:
            pil = f"Some(0x{fnv(np.array(Image.open(p).convert('L')).tobytes()):016x})"
        except Exception:  # noqa: BLE001
            pil = "None"
        print(f'("{p.name}", {pil}, {gray}),')


def set_byte_count(p, strip, count):
    """Rewrites one StripByteCounts value (LONG) in place."""
    with tifffile.TiffFile(p) as tf:
        tag = tf.pages[0].tags["StripByteCounts"]
        assert int(tag.dtype) == 4, "expected LONG byte counts"
        at = tag.valueoffset + 4 * strip
    b = bytearray(p.read_bytes())
    b[at : at + 4] = struct.pack("<I", count)
    p.write_bytes(bytes(b))


def fax_fixtures(out, grey):
    """CCITT fax TIFFs written by tiffcp from a bilevel crop, then damaged
    at fixed places."""
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        bw = Path(tmp) / "bw.tif"
        Image.fromarray(grey).convert("1").save(bw)

        def tiffcp(name, *args):
            p = out / name
            subprocess.run(["tiffcp", *args, str(bw), str(p)], check=True)
            return p

        # G3 1-D in strips of 16 rows, bits changed in the second strip,
        # and 8 zero bits then a 1 (no code, nor an EOL) put in it:
        # libtiff ends each damaged row at its bad code (the rest white)
        # and finds the next row by its EOL.
        p = tiffcp("damaged-g3.tif", "-c", "g3", "-r", "16")
        off, n = chunk(p, 1)
        b = bytearray(p.read_bytes())
        b[off + n // 4] = 0x00
        b[off + n // 4 + 1] |= 0x80
        p.write_bytes(bytes(b))
        damage(p, off + n // 3, 0x08)
        damage(p, off + 2 * n // 3, 0x40)
        made.append(p)

        # G3 2-D (1-D and 2-D rows), damaged the same way.
        p = tiffcp("damaged-g3-2d.tif", "-c", "g3:2d", "-r", "16")
        off, n = chunk(p, 1)
        damage(p, off + n // 3, 0x08)
        damage(p, off + 2 * n // 3, 0x40)
        made.append(p)

        # G3 1-D, one bit changed so that a row meets an EOL early: the
        # next row starts right after that EOL (libtiff's EOLcnt), not at
        # the EOL after it.
        p = tiffcp("damaged-g3-eol.tif", "-c", "g3", "-r", "16")
        off, _ = chunk(p, 1)
        damage(p, off + 100, 0x40)
        made.append(p)

        # G3 2-D, one bit changed so that a row's runs pass its end: libtiff
        # clips them in the run array itself, which the next (2-D) row
        # reads as its reference.
        p = tiffcp("damaged-g3-2d-wide.tif", "-c", "g3:2d", "-r", "16")
        off, _ = chunk(p, 1)
        damage(p, off + 121, 0x02)
        made.append(p)

        # G4 in one strip, a bit changed in the middle: libtiff ends that
        # row at the bad code and reads on from the next bit (G4 has no
        # EOLs to resynchronise on); the tiff crate's decoder gives up.
        p = tiffcp("damaged-g4.tif", "-c", "g4")
        off, n = chunk(p, 0)
        damage(p, off + n // 2, 0x10)
        made.append(p)

        # G3 with strips cut short (their byte counts lowered). The second
        # ends right after an EOL: libtiff 4.7 then reads that strip again
        # from its start, as data without EOLs, into the rows left, and
        # reads every later strip without EOLs (the third, cut to 4 bytes,
        # still fills its rows: zeros padding the data read as EOLs).
        p = tiffcp("damaged-g3-noeol.tif", "-c", "g3", "-r", "16")
        _, n = chunk(p, 1)
        set_byte_count(p, 1, n // 3)
        set_byte_count(p, 2, 4)
        made.append(p)

        # G3 2-D and G4 whose second strip is cut short: the data ends in
        # a row, libtiff fills that row and fails the strip (Pillow fails;
        # G4 fails only as no row of the strip was whole); OpenCV keeps
        # what was decoded, zeros after it.
        p = tiffcp("damaged-g3-2d-short.tif", "-c", "g3:2d", "-r", "16")
        set_byte_count(p, 1, 30)
        made.append(p)
        p = tiffcp("damaged-g4-short.tif", "-c", "g4", "-r", "16")
        set_byte_count(p, 1, 8)
        made.append(p)
    return made


if __name__ == "__main__":
    main(sys.argv[1])
