"""Seed 001's function (skimage read, numpy, imsave) through
Pool.imap_unordered gives the serial run's outputs."""

import importlib
import os

import numpy as np
import pytest

import procmap

skimage_io = pytest.importorskip("skimage.io")


def test_seed_001_outputs_equal_the_serial_runs(tmp_path, monkeypatch):
    import seed001

    tiles = seed001.make_tiles(tmp_path / "tiles", 40)
    # Serial, in this process.
    monkeypatch.setenv("SEED001_DEST", str(tmp_path / "serial"))
    os.makedirs(tmp_path / "serial")
    importlib.reload(seed001)
    serial = [seed001.generate_rgb2(str(t)) for t in tiles]
    # The same function in procmap's workers, which read $SEED001_DEST.
    monkeypatch.setenv("SEED001_DEST", str(tmp_path / "pool"))
    os.makedirs(tmp_path / "pool")
    importlib.reload(seed001)
    with procmap.Pool(procs=2) as pool:
        results = list(pool.imap_unordered(seed001.generate_rgb2, [str(t) for t in tiles]))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert sorted(r.value for r in results) == sorted(p.replace("/serial/", "/pool/") for p in serial)
    for path in serial:
        ours = skimage_io.imread(path.replace("/serial/", "/pool/"))
        assert ours.shape == (64, 64, 3) and ours.dtype == np.uint8
        assert np.array_equal(ours, skimage_io.imread(path))
