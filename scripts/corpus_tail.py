"""The long tail of the parity corpus (issue 20): layouts real files have
and the common encoders rarely write, each made by a tool independent of
ours or, where no tool writes it, by a header built here byte by byte.

  bmp_bitfields     32-bit BITFIELDS in every byte order Pillow knows, with
                    and without an alpha mask, 11-11-10 and 10-10-10-2
                    masks, V4/V5 headers, an unusual 66-byte header
  gif_no_palette    GIFs with no colour table at all
  bmp_rle           RLE4/RLE8 with odd absolute runs, deltas, runs past
                    the row's end
  jpeg_junk         JPEGs with bytes between markers, which libjpeg-turbo
                    skips with a warning (and after SOI, which it refuses)
  webp_animated     animated WebPs (Pillow, img2webp, gif2webp)

The TIFF kinds are in corpus_tail_tiff.py. Each function takes the corpus
folder of its format and the base images of corpus.py, and writes into the
folder.
"""

import struct
import subprocess

import numpy as np
from PIL import Image


def run(*cmd):
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _bmp(width, height, bits, compression, header_size, masks, pixels, palette=b""):
    """A BMP with an info header of `header_size` bytes: masks inside it
    when it has room (52 bytes and up), else after it (40-byte BITFIELDS)."""
    info = struct.pack("<IiiHHIIiiII", header_size, width, height, 1, bits, compression, len(pixels), 2835, 2835,
                       len(palette) // 4, 0)
    after = b""
    if masks is not None:
        if header_size >= 52:
            info += struct.pack("<III", *masks[:3])
            if header_size >= 56:
                info += struct.pack("<I", masks[3])
        else:
            after = struct.pack("<III", *masks[:3])
    if header_size >= 108 and len(info) < 60:
        info = info.ljust(56, b"\0")
    if header_size >= 108:
        info += b"BGRs"  # LCS_sRGB, as V4/V5 writers put it
    info = info.ljust(header_size, b"\0")
    offset = 14 + header_size + len(after) + len(palette)
    head = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return head + info + after + palette + pixels


def bmp_bitfields(d, imgs):
    layouts = {
        # Pillow's MASK_MODES, by the name of its raw mode.
        "bgrx": (0xFF0000, 0xFF00, 0xFF, 0), "xbgr": (0xFF000000, 0xFF0000, 0xFF00, 0),
        "bgxr": (0xFF000000, 0xFF00, 0xFF, 0), "abgr": (0xFF000000, 0xFF0000, 0xFF00, 0xFF),
        "rgba": (0xFF, 0xFF00, 0xFF0000, 0xFF000000), "bgra": (0xFF0000, 0xFF00, 0xFF, 0xFF000000),
        "bgar": (0xFF000000, 0xFF00, 0xFF, 0xFF0000),
        # Pillow refuses these; OpenCV reads them through the masks.
        "r11g11b10": (0xFFE00000, 0x1FFC00, 0x3FF, 0), "r10g10b10a2": (0x3FF00000, 0xFFC00, 0x3FF, 0xC0000000),
        "argb": (0xFF00, 0xFF0000, 0xFF000000, 0xFF),
    }
    for name, rgb, gray, orig in imgs[:2]:
        a = np.array(rgb).astype(np.uint32)
        h, w = a.shape[:2]
        alpha = (np.array(gray).astype(np.uint32) * 7) & 0xFF
        for label, masks in layouts.items():
            # Spread each channel over its mask, from 8 bits.
            px = np.zeros((h, w), np.uint32)
            for c, m in zip([a[..., 0], a[..., 1], a[..., 2], alpha], masks):
                if m:
                    shift = (m & -m).bit_length() - 1
                    top = m >> shift
                    px |= ((c * top + 127) // 255).astype(np.uint32) << shift
            rows = px[::-1].astype("<u4").tobytes()
            for hs in (40, 56, 124):
                if hs == 40 and masks[3]:
                    continue  # a 40-byte header has no room for an alpha mask
                (d / f"{name}-bf32-{label}-h{hs}.bmp").write_bytes(_bmp(w, h, 32, 3, hs, masks, rows))
        # V5 without bitfields (Pillow: RGB, the fourth byte ignored) and
        # headers only OpenCV reads (it takes any size from 36 up).
        bgr = np.array(rgb)[::-1, :, ::-1]
        pad = (-w * 3) % 4
        rows24 = b"".join(r.tobytes() + b"\0" * pad for r in bgr)
        for hs in (64, 66, 100):
            (d / f"{name}-h{hs}.bmp").write_bytes(_bmp(w, h, 24, 0, hs, None, rows24))
        bgra = np.dstack([bgr, np.array(gray)[::-1]]).tobytes()
        (d / f"{name}-v5-32.bmp").write_bytes(_bmp(w, h, 32, 0, 124, None, bgra))


def gif_no_palette(d, imgs):
    """GIFs with no global and no local colour table: Pillow reads the
    indices as grey ("L"). LZW data written here (no tool leaves the table
    out): a CLEAR before every code keeps the code width fixed."""
    for name, rgb, gray, orig in imgs[:4]:
        g = np.array(gray)
        for bits in (8, 4, 2):
            px = (g >> (8 - bits)).ravel()
            (d / f"{name}-nopal-{bits}.gif").write_bytes(_gif_no_palette(g.shape[1], g.shape[0], px, bits))


def _gif_no_palette(w, h, pixels, bits):
    clear, eoi, width = 1 << bits, (1 << bits) + 1, bits + 1
    codes = []
    for p in pixels:
        codes += [clear, int(p)]
    codes.append(eoi)
    acc = nbits = 0
    data = bytearray()
    for c in codes:
        acc |= c << nbits
        nbits += width
        while nbits >= 8:
            data.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        data.append(acc)
    blocks = b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255))
    screen = struct.pack("<6sHHBBB", b"GIF89a", w, h, 0, 0, 0)
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0)
    return screen + image + bytes([bits]) + blocks + b"\x00\x3b"


def jpeg_junk(d, imgs):
    """Pillow's and OpenCV's JPEGs with junk bytes that libjpeg-turbo skips
    ("extraneous bytes before marker"): before the first marker after SOI,
    between two segments, and before the start of scan."""
    for name, rgb, gray, orig in imgs[:6]:
        for src in (d / f"{name}-q90.jpg", d / f"{name}-gray.jpg"):
            data = src.read_bytes()
            segs = _segments(data)
            dqt = next(p for m, p in segs if m == 0xDB)
            sos = next(p for m, p in segs if m == 0xDA)
            stem = src.stem
            (d / f"{stem}-junk-after-soi.jpg").write_bytes(data[:2] + b"\x00\x13\x37junk" + data[2:])
            (d / f"{stem}-junk-before-dqt.jpg").write_bytes(data[:dqt] + b"\x00" * 5 + data[dqt:])
            (d / f"{stem}-junk-before-sos.jpg").write_bytes(data[:sos] + b"\xAA\x55\x00" + data[sos:])


def _segments(data):
    """(marker, offset) of each marker segment up to the start of scan."""
    out, pos = [], 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        out.append((marker, pos))
        if marker == 0xDA:
            break
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return out


def webp_animated(d, imgs):
    """Animated WebPs: Pillow's save_all (libwebp's WebPAnimEncoder, which
    crops frames to what changed), img2webp (lossy and lossless frames) and
    gif2webp (from the animated GIF of the scikit-image wheel)."""
    for name, rgb, gray, orig in imgs[:3]:
        w, h = rgb.size
        frames = [rgb, rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT), rgb.rotate(7)]
        frames[0].save(d / f"{name}-anim.webp", save_all=True, append_images=frames[1:], duration=80, lossless=True)
        rgba = [f.convert("RGBA") for f in frames]
        for f in rgba[1:]:
            f.putalpha(gray.point(lambda v: v // 2 + 60))
        rgba[0].save(d / f"{name}-anim-alpha.webp", save_all=True, append_images=rgba[1:], quality=70)
        parts = []
        for k, f in enumerate(frames):
            part = d / f"{name}-frame{k}.png"
            f.save(part)
            parts.append(part)
        run("img2webp", "-loop", "2", "-lossy", "-q", "60", *parts[:2], "-lossless", parts[2], "-o",
            d / f"{name}-img2webp.webp")
        for part in parts:
            part.unlink()
    gif = d.parent / "gif" / "skimage-animated.gif"
    run("gif2webp", "-q", "70", gif, "-o", d / "skimage-gif2webp.webp")
    run("gif2webp", "-lossy", "-mixed", gif, "-o", d / "skimage-gif2webp-mixed.webp")


def bmp_rle(d, imgs):
    """RLE4 and RLE8 BMPs written here, with what ImageMagick's encoder
    never writes: absolute runs of odd length, deltas, encoded runs that
    run past the row's end, rows ended early."""
    for k, (name, rgb, gray, orig) in enumerate(imgs[:4]):
        for rle4 in (True, False):
            colours = 16 if rle4 else 200
            q = rgb.quantize(colours)
            idx = np.array(q)
            pal = q.getpalette()[: colours * 3]
            pal += [0] * (colours * 3 - len(pal))
            table = b"".join(bytes([pal[3 * i + 2], pal[3 * i + 1], pal[3 * i], 0]) for i in range(colours))
            data = _rle_rows(idx[::-1], rle4, seed=k)
            h, w = idx.shape
            info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 4 if rle4 else 8, 2 if rle4 else 1, len(data), 2835,
                               2835, colours, 0)
            offset = 14 + 40 + len(table)
            head = b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset)
            (d / f"{name}-rle{4 if rle4 else 8}-mixed.bmp").write_bytes(head + info + table + data)


def _rle_rows(rows, rle4, seed):
    """RLE data for index rows (bottom-up): per row, a pseudo-random mix of
    absolute runs (odd and even lengths), encoded runs (some longer than
    what is left of the row), a delta now and then, EOL, and EOB."""
    rng = np.random.default_rng(seed)
    out = bytearray()
    h, w = rows.shape
    y = 0
    while y < h:
        row, x = rows[y], 0
        while x < w:
            kind = rng.integers(0, 10)
            if kind < 5 and w - x >= 3:
                n = int(min(w - x, rng.integers(3, 40)))
                vals = row[x:x + n]
                out += bytes([0, n])
                if rle4:
                    packed = [(int(vals[i]) << 4) | (int(vals[i + 1]) if i + 1 < n else 0) for i in range(0, n, 2)]
                    out += bytes(packed)
                    if len(packed) % 2:
                        out += b"\0"
                else:
                    out += bytes(int(v) for v in vals)
                    if n % 2:
                        out += b"\0"
                x += n
            elif kind < 9:
                n = int(rng.integers(1, 30))
                a, b = int(row[x]), int(row[min(x + 1, w - 1)])
                out += bytes([n, (a << 4) | b if rle4 else a])
                x += n
            elif y + 1 < h:
                dx, dy = int(min(w - 1 - x, rng.integers(0, 5))) if x < w - 1 else 0, int(rng.integers(0, 2))
                out += bytes([0, 2, max(dx, 0), dy])
                x += max(dx, 0)
                if dy:
                    y += dy
                    row = rows[min(y, h - 1)]
            else:
                break
        out += b"\0\0"
        y += 1
    return bytes(out + b"\0\1")
