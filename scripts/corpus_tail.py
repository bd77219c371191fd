"""The long tail of the parity corpus (issue 20): layouts real files have
and the common encoders rarely write, each made by a tool independent of
ours or, where no tool writes it, by a header built here byte by byte.

  tiff_orientation  Orientation tag 2-8 on RGB, grey, 16-bit, RGBA, CMYK,
                    palette and G4 files (Pillow's tiffinfo, tifffile,
                    libtiff's tiffset, ImageMagick's -orient)
  bmp_bitfields     32-bit BITFIELDS in every byte order Pillow knows, with
                    and without an alpha mask, 11-11-10 and 10-10-10-2
                    masks, V4/V5 headers, an unusual 66-byte header
  gif_no_palette    GIFs with no colour table at all
  jpeg_junk         JPEGs with bytes before the first marker or between
                    markers, which libjpeg-turbo skips with a warning

Each function takes the corpus folder of its format and the base images of
corpus.py, and writes into the folder.
"""

import struct
import subprocess

import numpy as np
import tifffile
from PIL import Image


def run(*cmd):
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def tiff_orientation(d, imgs):
    for i, (name, rgb, gray, orig) in enumerate(imgs[:3]):
        a, g = np.array(rgb), np.array(gray)
        for o in range(2, 9):
            tag = [(274, "H", 1, o, True)]
            stem = d / f"{name}-orient{o}"
            # Pillow writes one strip per image: the layout Pillow memory-maps.
            rgb.save(f"{stem}-pil-rgb.tif", tiffinfo={274: o})
            gray.save(f"{stem}-pil-l.tif", tiffinfo={274: o})
            if i == 0:
                rgb.quantize(32).save(f"{stem}-pil-p.tif", tiffinfo={274: o})
                rgb.convert("CMYK").save(f"{stem}-pil-cmyk.tif", tiffinfo={274: o})
                tifffile.imwrite(f"{stem}-tf-l16.tif", g.astype(np.uint16) * 257, photometric="minisblack",
                                 extratags=tag)
                tifffile.imwrite(f"{stem}-tf-l16be-strips.tif", g.astype(np.uint16) * 251,
                                 photometric="minisblack", byteorder=">", rowsperstrip=7, extratags=tag)
                rgba = np.dstack([a, (g ^ 0x5A)])
                tifffile.imwrite(f"{stem}-tf-rgba.tif", rgba, photometric="rgb", extrasamples=[2], extratags=tag)
                tifffile.imwrite(f"{stem}-tf-rgb-tiled.tif", a, photometric="rgb", tile=(16, 16),
                                 compression="zlib", extratags=tag)
                tifffile.imwrite(f"{stem}-tf-l-strips.tif", g, photometric="minisblack", rowsperstrip=5,
                                 extratags=tag)
            # Bilevel: libtiff's G4, G3 and RLE coders, the tag set by tiffset.
            bw = d / f"{stem.name}-bw.tif"
            gray.convert("1").save(bw)
            for c in ["g4", "g3"] if i == 0 else ["g4"]:
                out = f"{stem}-tiffcp-1-{c}.tif"
                run("tiffcp", "-c", c, bw, out)
                run("tiffset", "-s", "274", str(o), out)
            bw.unlink()
        # ImageMagick names the orientations; it writes the tag, not the pixels.
        src = d.parent / "png" / f"{name}-rgb.png"
        for o, label in [(2, "TopRight"), (6, "RightTop"), (7, "RightBottom")]:
            run("convert", src, "-orient", label, d / f"{name}-orient{o}-im-rgb.tif")
    # A square image, which OpenCV turns for 5-8 (it fails on any other).
    name, rgb, gray, orig = imgs[3]
    a = np.array(rgb)
    assert a.shape[0] == a.shape[1], "corpus_tail expects the fourth base image to be square"
    for o in range(2, 9):
        tag = [(274, "H", 1, o, True)]
        rgb.save(d / f"{name}-orient{o}-pil-rgb.tif", tiffinfo={274: o})
        tifffile.imwrite(d / f"{name}-orient{o}-tf-rgb-tiled.tif", a, photometric="rgb", tile=(16, 16),
                         compression="zlib", extratags=tag)
        tifffile.imwrite(d / f"{name}-orient{o}-tf-rgb-tiled-overhang.tif", a[:60, :60], photometric="rgb",
                         tile=(16, 16), extratags=tag)
        bw = d / f"{name}-orient{o}-bw.tif"
        gray.convert("1").save(bw)
        run("tiffcp", "-c", "g4", bw, f"{d / name}-orient{o}-tiffcp-1-g4.tif")
        run("tiffset", "-s", "274", str(o), f"{d / name}-orient{o}-tiffcp-1-g4.tif")
        bw.unlink()


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


def tiff_samples(d, imgs):
    """Sample formats and layouts past the common ones, written by tifffile
    and libtiff's tools: signed 8/16-bit, 12-bit grey, RGB/grey/palette/
    CMYK with unspecified extra samples, planar files with extra samples,
    tiled planar 16-bit RGB(A), float with MinIsWhite, a page chain that
    loops back to the first page."""
    for i, (name, rgb, gray, orig) in enumerate(imgs[:3]):
        a, g = np.array(rgb), np.array(gray)
        h, w = g.shape
        ramp = np.arange(w, dtype=np.int32)[None, :] % 97
        s8 = (g.astype(np.int16) - 128 + ramp % 3).clip(-128, 127).astype(np.int8)
        s16 = (g.astype(np.int32) * 257 - 32768 + ramp).clip(-32768, 32767).astype(np.int16)
        tifffile.imwrite(d / f"{name}-tf-s8.tif", s8, photometric="minisblack")
        tifffile.imwrite(d / f"{name}-tf-s16.tif", s16, photometric="minisblack")
        tifffile.imwrite(d / f"{name}-tf-s16be-lzw.tif", s16, photometric="minisblack", byteorder=">",
                         compression="lzw", rowsperstrip=9)
        u12 = (g.astype(np.uint16) << 4) | (ramp.astype(np.uint16) & 15)
        tifffile.imwrite(d / f"{name}-tf-u12.tif", u12, photometric="minisblack", bitspersample=12)
        tifffile.imwrite(d / f"{name}-tf-u12-strips.tif", u12, photometric="minisblack", bitspersample=12,
                         rowsperstrip=5)
        tifffile.imwrite(d / f"{name}-tf-u12be.tif", u12, photometric="minisblack", bitspersample=12,
                         byteorder=">")
        x = (g ^ 0x33)[..., None]
        tifffile.imwrite(d / f"{name}-tf-rgbx.tif", np.dstack([a, x]), photometric="rgb", extrasamples=[0])
        tifffile.imwrite(d / f"{name}-tf-lx.tif", np.dstack([g, x]), photometric="minisblack", extrasamples=[0],
                         planarconfig="contig")
        tifffile.imwrite(d / f"{name}-tf-la.tif", np.dstack([g, x]), photometric="minisblack", extrasamples=[2],
                         planarconfig="contig")
        # tifffile writes no palette image with an extra sample: write it as
        # grey with a ColorMap tag, then turn the photometric to palette.
        q = rgb.quantize(40)
        pal = q.getpalette()[:768]
        cmap = np.array(pal + [0] * (768 - len(pal)), np.uint16).reshape(256, 3).T.ravel() * 257
        px = d / f"{name}-tf-px.tif"
        tifffile.imwrite(px, np.dstack([np.array(q), x]), photometric="minisblack", extrasamples=[0],
                         planarconfig="contig", extratags=[(320, "H", 768, cmap.tolist(), True)])
        _set_tag(px, 262, 3)
        cmyk = np.array(rgb.convert("CMYK"))
        tifffile.imwrite(d / f"{name}-tf-cmykx.tif", np.dstack([cmyk, x]), photometric="separated",
                         extrasamples=[0])
        tifffile.imwrite(d / f"{name}-tf-rgbx-planar.tif", np.dstack([a, x]).transpose(2, 0, 1), photometric="rgb",
                         planarconfig="separate", extrasamples=[0])
        tifffile.imwrite(d / f"{name}-tf-rgbx-planar-zip.tif", np.dstack([a, x]).transpose(2, 0, 1),
                         photometric="rgb", planarconfig="separate", extrasamples=[0], compression="zlib")
        tifffile.imwrite(d / f"{name}-tf-rgba-planar.tif", np.dstack([a, x]).transpose(2, 0, 1), photometric="rgb",
                         planarconfig="separate", extrasamples=[2])
        a16 = a.astype(np.uint16) * 257 + ramp[..., None].astype(np.uint16)
        tifffile.imwrite(d / f"{name}-tf-rgb16-tiled-planar.tif", a16.transpose(2, 0, 1), photometric="rgb",
                         planarconfig="separate", tile=(16, 32))
        tifffile.imwrite(d / f"{name}-tf-rgb16-planar-strips.tif", a16.transpose(2, 0, 1), photometric="rgb",
                         planarconfig="separate", rowsperstrip=10, byteorder=">")
        x16 = x.astype(np.uint16) * 257
        tifffile.imwrite(d / f"{name}-tf-rgba16-tiled-planar.tif", np.dstack([a16, x16]).transpose(2, 0, 1),
                         photometric="rgb", planarconfig="separate", tile=(32, 16), extrasamples=[2],
                         compression="zlib")
        tifffile.imwrite(d / f"{name}-tf-f32-miniswhite.tif", g.astype(np.float32) / 255, photometric="miniswhite")
        tifffile.imwrite(d / f"{name}-tf-f32be-miniswhite.tif", g.astype(np.float32) - 100, photometric="miniswhite",
                         byteorder=">")
        # Big-endian signed and float samples, compressed: Pillow's libtiff path.
        tifffile.imwrite(d / f"{name}-tf-s32be-zip.tif", s16.astype(np.int32) * 3, photometric="minisblack",
                         byteorder=">", compression="zlib")
        tifffile.imwrite(d / f"{name}-tf-f32be-lzw.tif", g.astype(np.float32) / 7, photometric="minisblack",
                         byteorder=">", compression="lzw")
        looped = d / f"{name}-tf-loop.tif"
        tifffile.imwrite(looped, g, photometric="minisblack")
        tifffile.imwrite(looped, a, photometric="rgb", append=True)
        _loop_pages(looped)
        if i == 0:
            run("tiffcp", "-p", "separate", d / f"{name}-tf-rgba-planar.tif", d / f"{name}-tiffcp-rgba-sep.tif")
            run("tiffcp", "-t", "-w", "48", "-l", "32", "-c", "lzw:2", d / f"{name}-tf-rgb16-tiled-planar.tif",
                d / f"{name}-tiffcp-rgb16-tiled-sep.tif")


def _loop_pages(path):
    """Points the last page's next-IFD offset back at the first page."""
    data = bytearray(path.read_bytes())
    le = data[:2] == b"II"
    fmt = "<" if le else ">"
    first = struct.unpack(fmt + "I", data[4:8])[0]
    ifd = first
    while True:
        n = struct.unpack(fmt + "H", data[ifd:ifd + 2])[0]
        at = ifd + 2 + 12 * n
        nxt = struct.unpack(fmt + "I", data[at:at + 4])[0]
        if nxt == 0:
            data[at:at + 4] = struct.pack(fmt + "I", first)
            break
        ifd = nxt
    path.write_bytes(bytes(data))


def _set_tag(path, tag, value):
    """Sets a SHORT tag of the first IFD, in place."""
    data = bytearray(path.read_bytes())
    fmt = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack(fmt + "I", data[4:8])[0]
    n = struct.unpack(fmt + "H", data[ifd:ifd + 2])[0]
    for k in range(n):
        at = ifd + 2 + 12 * k
        if struct.unpack(fmt + "H", data[at:at + 2])[0] == tag:
            data[at + 8:at + 10] = struct.pack(fmt + "H", value)
            path.write_bytes(bytes(data))
            return
    raise ValueError(f"{path}: no tag {tag}")


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


def tiff_jpeg(d, imgs):
    """JPEG-compressed TIFFs beyond RGB strips: CMYK and grey, in strips and
    tiles (libtiff's tiffcp, ImageMagick)."""
    for i, (name, rgb, gray, orig) in enumerate(imgs[:3]):
        for kind in ("cmyk", "l", "rgb"):
            src = d / f"{name}-pil-{kind}.tif"
            run("tiffcp", "-c", "jpeg", "-t", "-w", "32", "-l", "16", src, d / f"{name}-tiffcp-jpeg-tiles-{kind}.tif")
            if kind != "rgb":
                run("tiffcp", "-c", "jpeg", "-r", "24", src, d / f"{name}-tiffcp-jpeg-strips-{kind}.tif")
        src = d.parent / "png" / f"{name}-rgb.png"
        run("convert", src, "-colorspace", "CMYK", "-compress", "JPEG", "-quality", "80",
            d / f"{name}-im-jpeg-cmyk.tif")


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


def tiff_lzma(d, imgs):
    """LZMA-compressed TIFFs (libtiff's tiffcp, tifffile through
    imagecodecs' liblzma), with and without a predictor, strips and tiles."""
    for name, rgb, gray, orig in imgs[:3]:
        a, g = np.array(rgb), np.array(gray)
        run("tiffcp", "-c", "lzma", d / f"{name}-pil-rgb.tif", d / f"{name}-tiffcp-lzma-rgb.tif")
        run("tiffcp", "-c", "lzma:2", "-r", "16", d / f"{name}-pil-l.tif", d / f"{name}-tiffcp-lzma-pred-l.tif")
        tifffile.imwrite(d / f"{name}-tf-lzma-l16.tif", g.astype(np.uint16) * 257, photometric="minisblack",
                         compression="lzma", predictor=True)
        tifffile.imwrite(d / f"{name}-tf-lzma-rgb-tiled.tif", a, photometric="rgb", compression="lzma", tile=(32, 32))


def tiff_rle(d, imgs):
    """CCITT modified Huffman (RLE, compression 2), written by Pillow through
    libtiff (tiffcp has no option for it), in one strip and in several."""
    for name, rgb, gray, orig in imgs[:6]:
        bw = gray.convert("1")
        bw.save(d / f"{name}-pil-ccitt-rle.tif", compression="tiff_ccitt")
        bw.save(d / f"{name}-pil-ccitt-rle-strips.tif", compression="tiff_ccitt", tiffinfo={278: 7})
        bw.save(d / f"{name}-pil-ccitt-rle-o6.tif", compression="tiff_ccitt", tiffinfo={274: 6})


def tiff_cielab(d, imgs):
    """8-bit CIELab TIFFs: tifffile from Pillow's own RGB → LAB conversion
    (a and b stored signed, as the TIFF spec says), with and without a
    WhitePoint tag (D65 here; libtiff's default is D50), and ImageMagick's."""
    for name, rgb, gray, orig in imgs[:3]:
        lab = np.array(rgb.convert("LAB"))
        lab[..., 1:] ^= 0x80  # Pillow's a and b are offset by 128; TIFF's are signed
        tifffile.imwrite(d / f"{name}-tf-cielab.tif", lab, photometric="cielab")
        d65 = (3127, 10000, 3290, 10000)
        tifffile.imwrite(d / f"{name}-tf-cielab-d65.tif", lab, photometric="cielab", rowsperstrip=16,
                         extratags=[(318, 5, 2, d65, True)])
        run("convert", d.parent / "png" / f"{name}-rgb.png", "-colorspace", "Lab", "-depth", "8",
            d / f"{name}-im-cielab.tif")
