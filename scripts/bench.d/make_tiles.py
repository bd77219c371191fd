"""Fallback tile generator for scripts/bench, used only when the supervisor
has no `demo` subcommand: N EuroSAT-like tiles, 64x64x13 uint16, chunky
(PlanarConfiguration=1), uncompressed, 4-row strips, like the real files,
in ten class folders DIR/<Class>/<Class>_<i>.tif.

    python make_tiles.py --n N --dir DIR [--seed S]

Pixels: EuroSAT-like band means, a smooth field shared by the bands, per-pixel
noise and a bright patch that saturates the RGB conversion (> 4000), so that
PNG compression sees realistic, not flat or pure-noise, data.
"""
import argparse
import os

import numpy as np
import tifffile

CLASSES = ["AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
           "Pasture", "PermanentCrop", "Residential", "River", "SeaLake"]
BAND_MEANS = np.array([1354, 1118, 1042, 947, 1199, 2003, 2375, 2302, 732, 12, 1820, 1119, 2600],
                      dtype=np.float32)


def tile(rng):
    # Smooth field: bilinear upsampling of an 8x8 random grid.
    coarse = rng.random((9, 9), dtype=np.float32)
    t = np.linspace(0, 8, 64, endpoint=False, dtype=np.float32)
    i, f = t.astype(int), t - t.astype(int)
    rows = coarse[i] * (1 - f)[:, None] + coarse[i + 1] * f[:, None]
    smooth = rows[:, i] * (1 - f) + rows[:, i + 1] * f
    field = 0.6 + 0.8 * smooth  # 0.6 .. 1.4
    noise = rng.normal(1.0, 0.05, (64, 64, 13)).astype(np.float32)
    ms = field[..., None] * BAND_MEANS * noise
    y, x = rng.integers(0, 56, 2)
    ms[y:y + 6, x:x + 6, :] *= 5.0  # bright spot: visible bands exceed 4000
    return np.clip(ms, 0, 65535).astype(np.uint16)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    for c in CLASSES:
        os.makedirs(os.path.join(a.dir, c), exist_ok=True)
    for k in range(a.n):
        c = CLASSES[k % len(CLASSES)]
        path = os.path.join(a.dir, c, f"{c}_{k // len(CLASSES) + 1}.tif")
        tifffile.imwrite(path, tile(rng), photometric="minisblack", planarconfig="contig",
                         rowsperstrip=4, compression=None, metadata=None)


if __name__ == "__main__":
    main()
