"""The TS004 encoder: the uncoded fragments followed by the coded ones, as one (M+R, frag_size) array."""

from __future__ import annotations

import numpy as np

from codec.errors import CodecError, PlanError, out_of_range
from codec.gf2 import xor_product
from codec.matrix import parity_matrix
from codec.plan import MAX_FRAG_SIZE

__all__ = ["as_bytes_array", "encode", "fragments"]


def as_bytes_array(data: bytes | bytearray | memoryview | np.ndarray, name: str = "data") -> np.ndarray:
    """View `data` as a flat uint8 array without copying where possible; refuse anything else."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise CodecError(f"{name} has dtype {data.dtype}; give bytes or a uint8 array")
        return data.reshape(-1)
    if isinstance(data, bytes | bytearray | memoryview):
        return np.frombuffer(data, np.uint8)
    raise CodecError(f"{name} is a {type(data).__name__}; give bytes, bytearray, memoryview or a uint8 array")


def fragments(data: bytes | bytearray | memoryview | np.ndarray, frag_size: int) -> np.ndarray:
    """Cut `data` into (nb_frag, frag_size) uint8 rows, zero-padding the last one as every reference does."""
    flat = as_bytes_array(data)
    if isinstance(frag_size, bool) or not isinstance(frag_size, int) or not 1 <= frag_size <= MAX_FRAG_SIZE:
        raise out_of_range(PlanError, "frag_size", frag_size, f"1..{MAX_FRAG_SIZE} bytes")
    if flat.size == 0:
        raise out_of_range(PlanError, "size", 0, "> 0 bytes", "the firmware image is empty")
    nb_frag = -(-flat.size // frag_size)
    rows = np.zeros((nb_frag, frag_size), np.uint8)
    rows.reshape(-1)[: flat.size] = flat
    return rows


def encode(
    data: bytes | bytearray | memoryview | np.ndarray, frag_size: int, redundancy: int, version: int = 1
) -> np.ndarray:
    """Encode `data` into TS004 fragments: an (M+R, frag_size) uint8 array.

    Rows 0..M−1 are the zero-padded data, row M+k−1 is coded fragment k (DataFragment counter M+k).
    `version` picks the parity matrix: 1 for TS004 v1.0.0, 2 for v2.0.0 (LoRa Basics Modem / ChirpStack).
    The 14-bit counter limit is FragPlan's business, not this function's, so that any image can be encoded
    (the references do the same); use `codec.plan` before sending anything.
    """
    uncoded = fragments(data, frag_size)
    if isinstance(redundancy, bool) or not isinstance(redundancy, int) or redundancy < 0:
        raise out_of_range(PlanError, "redundancy", redundancy, "an integer ≥ 0")
    matrix = parity_matrix(len(uncoded), redundancy, version)
    return np.concatenate([uncoded, xor_product(matrix.packed, uncoded)])
