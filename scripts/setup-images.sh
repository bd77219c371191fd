#!/usr/bin/env bash
# What the image tasks need beyond the Rust toolchain and gcc. Idempotent and
# fast when everything is there (one `command -v` per tool).
#   nasm          libjpeg-turbo's SIMD code (mozjpeg-sys, feature nasm_simd):
#                 the same code paths Pillow's and OpenCV's libjpeg-turbo use
#   tiffcp        libtiff-tools: G3/G4/JPEG/LZW/ZIP/PackBits TIFFs of the
#                 parity corpus (scripts/corpus.py)
#   convert       ImageMagick: BMP, GIF, WebP, interlaced PNG and CMYK JPEG
#                 variants of the parity corpus
#   img2webp      libwebp's tools (Debian webp): animated WebPs of the corpus
#                 (img2webp, gif2webp)
set -euo pipefail
missing=()
command -v nasm >/dev/null 2>&1 || missing+=(nasm)
command -v tiffcp >/dev/null 2>&1 || missing+=(libtiff-tools)
command -v img2webp >/dev/null 2>&1 || missing+=(webp)
# /usr/bin/convert, not any `convert` on PATH: a stand-in elsewhere on PATH
# would not make the corpus' BMP and GIF variants.
[ -x /usr/bin/convert ] || missing+=(imagemagick)
if [ ${#missing[@]} -eq 0 ]; then
  echo "== image tools present (nasm, tiffcp, convert, img2webp)"
  exit 0
fi
echo "== installing ${missing[*]}"
# shellcheck source=scripts/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
apt_install "${missing[@]}"
