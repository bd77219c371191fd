"""Python baseline for the tile rows of scripts/bench: seed 001's pipeline.

    python eurosat_ppe.py --jobs JOBS_FILE --dest DIR --procs P [--chunksize C]

JOBS_FILE holds `eurosat-rgb PATH` lines (the same file procmap runs).
Each tile goes through seed 001's own code, unchanged but for the path
separator (the seed splits on "\\", i.e. Windows paths; here it is os.sep):
skimage.io.imread -> (255 * (ms[...,(3,2,1)] / 4000).clip(0,1)).astype(np.uint8)
-> skimage.io.imsave(DIR/<stem>.png), run under
ProcessPoolExecutor(max_workers=P).map(generate_rgb2, images, chunksize=C)
(C defaults to 1, Executor.map's default and what the seed uses).

Timed with time.perf_counter() from just before the pool is created until it
has shut down, every result consumed; interpreter start-up and the skimage
import are not in it (scripts/bench also times the whole process). Prints:

    bench: jobs=N elapsed=SECONDS
"""
import argparse
import os
import shlex
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import skimage.io as io

warnings.simplefilter("ignore")  # as in the seed: imsave warns about low contrast

dest_folder = None  # set in main(); workers are forked and inherit it


def read_ms(img):
    ms = io.imread(img)
    # las imágenes originales tienen 13 bandas
    assert ms.shape[2] == 13
    return ms


def get_rgb(ms):
    # nos quedamos con 3 bandas (RGB) y normalizamos
    return (255 * (ms[..., (3, 2, 1)] / 4000).clip(0, 1)).astype(np.uint8)


def save_png(name, img, sep=os.sep):
    img_name = name.split(sep)[-1][:-4]
    file_path = f"{dest_folder}/{img_name}.png"
    io.imsave(file_path, img)
    return file_path


def generate_rgb2(img):
    ms = read_ms(img)
    rgb = get_rgb(ms)
    # ahora la función devuelve el path de la nueva imágen creada
    return save_png(img, rgb)


def main():
    global dest_folder
    p = argparse.ArgumentParser()
    p.add_argument("--jobs", required=True)
    p.add_argument("--dest", required=True)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--chunksize", type=int, default=1)
    a = p.parse_args()
    images = []
    with open(a.jobs) as f:
        for line in f:
            words = shlex.split(line, comments=True)
            if words:
                images.append(words[1])
    dest_folder = a.dest
    os.makedirs(dest_folder, exist_ok=True)

    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=a.procs) as executor:
        results = list(executor.map(generate_rgb2, images, chunksize=a.chunksize))
    elapsed = time.perf_counter() - start
    if len(results) != len(images):
        print(f"bench: {len(results)} results for {len(images)} tiles", file=sys.stderr)
        return 1
    print(f"bench: jobs={len(results)} elapsed={elapsed:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
