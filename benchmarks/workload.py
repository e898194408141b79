"""The benchmarks' inputs: the plain reference, firmware images, session sizes and loss patterns, all seeded."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

SEED = 20240604
LOSS = 0.10
PERCENT = 30


def load_oracle() -> ModuleType:
    """Import tests/support/oracle.py, the plain reference, which is not part of the installed packages."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("tests.support.oracle")


def image(size: int, seed: int) -> bytes:
    """A random firmware image: random bytes leave no structure for a codec to profit from."""
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def session(size: int, frag_size: int) -> tuple[int, int]:
    """(M, R) for `size` bytes: M = ceil(size / frag_size), R = ceil(M · 30 / 100) as ChirpStack rounds."""
    m = -(-size // frag_size)
    return m, -(-m * PERCENT // 100)


def padded(data: bytes, m: int, frag_size: int) -> bytes:
    """What a decoder returns: the image zero-padded to M whole fragments."""
    return data + bytes(m * frag_size - len(data))


def survivors(n: int, rng: np.random.Generator) -> np.ndarray:
    """The counters (1..n, increasing) left after dropping round(10 % · n) of them at random."""
    received = np.ones(n, bool)
    received[rng.choice(n, round(LOSS * n), replace=False)] = False
    return np.flatnonzero(received) + 1


def loss_patterns(trials: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """(trials, n) bool, column 0 = counter 1: each row loses its own random round(10 % · n) counters."""
    lost = rng.random((trials, n)).argsort(axis=1)[:, : round(LOSS * n)]
    received = np.ones((trials, n), bool)
    np.put_along_axis(received, lost, False, axis=1)
    return received


def plain_coded_row(oracle: ModuleType, data: bytes, frag_size: int, k: int, version: int) -> bytes:
    """Coded fragment k as the plain reference computes it, without computing rows 1..k−1 first."""
    m = -(-len(data) // frag_size)
    image_ = padded(data, m, frag_size)
    acc = 0
    for j, bit in enumerate(oracle.matrix_row(k, m, version)):
        if bit:
            acc ^= int.from_bytes(image_[j * frag_size : (j + 1) * frag_size], "little")
    return acc.to_bytes(frag_size, "little")
