"""The TIFF part of the parity corpus's long tail (issue 20), written by
tools independent of ours (Pillow, tifffile, libtiff's tiffcp and tiffset,
ImageMagick) or, where no tool writes a layout, patched here byte by byte:

  tiff_orientation  Orientation tag 2-8 on RGB, grey, 16-bit, RGBA, CMYK,
                    palette and G4 files, and on a square image
  tiff_samples      signed 8/16/32-bit, 12-bit grey, unspecified extra
                    samples, planar files with extra samples, tiled planar
                    16-bit RGB(A), float MinIsWhite, a page chain that loops
  tiff_jpeg         JPEG-compressed CMYK, grey and RGB in strips and tiles
  tiff_lzma         LZMA, with and without a predictor
  tiff_rle          CCITT modified Huffman (RLE)
  tiff_cielab       8-bit CIELab, with and without a WhitePoint

Each function takes the corpus's tiff folder and the base images of
corpus.py.
"""

import struct

import numpy as np
import tifffile

from corpus_tail import run

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
