"""Seed 001's pipeline, unchanged but for two things a spawned worker needs:
the path separator is os.sep (the seed splits Windows paths on "\\\\"), and
dest_folder is read from $SEED001_DEST at import, because a global assigned
under `if __name__ == "__main__":` never reaches a spawned worker."""

import os
import warnings

import numpy as np
import skimage.io as io

warnings.simplefilter("ignore")  # as in the seed: imsave warns about low contrast

dest_folder = os.environ.get("SEED001_DEST", "./data/results")


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


def make_tiles(folder, count, size=64, seed=1):
    """Synthetic EuroSAT-like tiles: 13-band uint16 GeoTIFF-shaped TIFFs."""
    import tifffile

    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(count):
        path = os.path.join(folder, f"Tile_{i}.tif")
        tifffile.imwrite(path, rng.integers(0, 5000, size=(size, size, 13), dtype=np.uint16))
        paths.append(path)
    return paths
