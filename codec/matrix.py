"""TS004 parity-matrix rows, v1.0.0 and v2.0.0, generated for all rows at once.

Row k (k = 1..R, the redundancy index N − M) of the M-column matrix comes from PRBS23 seeded with 1 + 1001·k
(TS004-NOTES §2): one step is x ← (x >> 1) + ((x ^ (x >> 5)) & 1)·2²², a draw is r = x mod mm with mm = M + 1 for
a power-of-two M and mm = M otherwise, draws r ≥ M are rejected, and floor(M/2) accepted draws set their
columns. v1 keeps duplicate draws (a row has at most floor(M/2) ones); v2 discards them and keeps drawing until
floor(M/2) distinct columns are set (the LoRa Basics Modem / ChirpStack reading: same seed as v1).

Why it is fast without a loop per element: below 2²³ the "+" is an OR and the PRBS is the linear recurrence
s[n+23] = s[n] ^ s[n+5] on its bit stream, whose state x_t is the 23-bit window at s[t]. Raising the
characteristic polynomial x²³ + x⁵ + 1 to the 64th power gives the same recurrence on 64-bit words
(w[m+23] = w[m] ^ w[m+5]), so each row's stream is produced 18 words at a time for every row together, and the
states are read off the packed stream with shifts. Seeds of rows k ≥ 8381 start at or above 2²³, where "+" and
OR differ; those first steps are taken exactly, one step for all rows at a time, until every state is below 2²³.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from codec.errors import PlanError, out_of_range

__all__ = ["ParityMatrix", "clear_cache", "parity_matrix", "parity_rows", "prbs23_step"]

_MASK23 = (1 << 23) - 1


def prbs23_step(x: int) -> int:
    """One PRBS23 step exactly as every reference writes it (integer "+", not "|")."""
    return (x >> 1) + (((x ^ (x >> 5)) & 1) << 22)


def _modulus(m: int) -> int:
    # Powers of two (1 included) "tend to generate patterns", so TS004 draws modulo M + 1 for them.
    return m + 1 if m & (m - 1) == 0 else m


_scratch = threading.local()


def _buffer(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """A work array reused from block to block (per thread): fresh pages cost more than the arithmetic."""
    store = _scratch.__dict__
    buffer = store.get(name)
    if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
        buffer = store[name] = np.empty(shape, dtype)
    return buffer


def _exact_prefix(seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step every state until all are below 2²³; return the states drawn on the way and the final ones."""
    x = seeds.astype(np.int64)
    drawn = []
    while (x > _MASK23).any():
        x = (x >> 1) + (((x ^ (x >> 5)) & 1) << 22)
        drawn.append(x)
    prefix = np.stack(drawn, axis=1) if drawn else np.empty((len(x), 0), np.int64)
    return prefix, x


def _planes(x0: np.ndarray, count: int) -> np.ndarray:
    """States x_t for t = 0..8·n_q − 1 ≥ count from start states `x0` < 2²³, as planes: x_(8q+s) is [:, s, q].

    Shape (rows, 8, n_q), uint32. Planes because each of the eight shifts then writes a contiguous run, where
    one broadcast shift into time order (rows, n_q, 8) runs numpy's inner loop eight elements at a time: 4×
    slower, and the largest single cost of a fresh process's first encode.
    """
    rows = len(x0)
    n_words = max(23, -(-(count + 24) // 64) + 1)
    # Bootstrap the first 23 words (1472 bits): the recurrence of p(x)^(2^j) has taps 23·2^j and 18·2^j, so
    # from 23·2^j known bits two steps of 18·2^j bits each double what is known.
    bits = _buffer("bits", (rows, 23 * 64), np.uint8)  # every column is written below
    bits[:, :23] = (x0[:, None] >> np.arange(23)) & 1
    known, lag = 23, 18
    while known < 23 * 64:
        for start in (known, known + lag):
            end = min(start + lag, 2 * known)
            bits[:, start:end] = bits[:, start - known : end - known] ^ bits[:, start - lag : end - lag]
        known, lag = 2 * known, 2 * lag
    words = _buffer("words", (rows, n_words), np.uint64)  # every column is written below
    words[:, :23] = np.packbits(bits, axis=1, bitorder="little").view("<u8")
    for m in range(23, n_words, 18):
        end = min(m + 18, n_words)
        words[:, m:end] = words[:, m - 23 : end - 23] ^ words[:, m - 18 : end - 18]
    stream = words.view(np.uint8)
    # A 32-bit little-endian read at every byte offset q holds bits 8q..8q+31; shifting by s = 0..7 gives
    # the 23-bit windows starting at bits 8q+s.
    n_q = -(-(count + 1) // 8)
    windows = _buffer("windows", (rows, n_q), np.uint32)
    windows[...] = np.ndarray((rows, n_q), "<u4", stream, 0, (stream.strides[0], 1))
    planes = _buffer("planes", (rows, 8, n_q), np.uint32)
    for shift in range(8):
        np.right_shift(windows, np.uint32(shift), out=planes[:, shift])
    planes &= np.uint32(_MASK23)
    return planes


def _linear_states(x0: np.ndarray, count: int) -> np.ndarray:
    """States x_0..x_n (n ≥ count; shape (rows, n+1), uint32, contiguous, in time order) from `x0` < 2²³."""
    planes = _planes(x0, count)
    states = _buffer("states", (len(x0), planes.shape[2], 8), np.uint32)
    states[...] = planes.transpose(0, 2, 1)
    return states.reshape(len(x0), -1)


def _modulo(states: np.ndarray, mm: int) -> np.ndarray:
    """states mod mm, into a reused buffer of the same shape."""
    divisor = np.uint32(mm)
    # floor_divide by a scalar is vectorized (libdivide), remainder is not and costs 4x more; in place on the
    # contiguous buffer, because these passes are a large part of the generation.
    draws = np.floor_divide(states, divisor, out=_buffer("draws", states.shape, np.uint32))
    draws *= divisor
    np.subtract(states, draws, out=draws)
    return draws


def _draws(first_k: int, rows: int, m: int, count: int) -> np.ndarray:
    """The first `count` draws (x mod mm, before rejection) of rows first_k..first_k+rows−1."""
    seeds = 1 + 1001 * np.arange(first_k, first_k + rows, dtype=np.int64)
    prefix, x0 = _exact_prefix(seeds)
    states = _linear_states(x0, count)
    first = 1  # column 0 of the linear states is their start, not a draw
    if prefix.shape[1]:
        states, first = np.concatenate([prefix.astype(np.uint32), states[:, 1:]], axis=1), 0
    return _modulo(states, _modulus(m))[:, first : first + count]


def _v1_plain_block(first_k: int, rows: int, m: int) -> np.ndarray | None:
    """Packed v1 rows for M not a power of two, where no draw is rejected; None if a seed is ≥ 2²³.

    Every one of the first floor(M/2) draws sets a column, so their order does not matter and the draws are
    scattered straight from the planes of _planes: the seed x_0 and the states beyond x_(M/2) are sent to a
    spare column M, which is cut off before packing.
    """
    need = m // 2
    seeds = 1 + 1001 * np.arange(first_k, first_k + rows, dtype=np.int64)
    if seeds[-1] > _MASK23:
        return None
    draws = _modulo(_planes(seeds, need), m)
    last_q = draws.shape[2] - 1
    draws[:, 0, 0] = m
    draws[:, need - 8 * last_q + 1 :, last_q] = m
    dense = _buffer("dense_v1", (rows, m + 1), np.uint8)
    dense.fill(0)
    row_start = np.arange(rows, dtype=np.int64)[:, None, None] * (m + 1)
    dense.reshape(-1)[np.add(row_start, draws, out=_buffer("index_v1", draws.shape, np.int64))] = 1
    return np.packbits(dense[:, :m], axis=1, bitorder="little")


def _select(draws: np.ndarray, m: int, version: int) -> np.ndarray | None:
    """Mask of the draws that set a column, or None when some row needs more draws."""
    need = m // 2
    keep = draws < m
    if version == 2:
        rows, count = draws.shape
        # A draw is new if no earlier draw of its row hit the same column: sort each row by (column, time).
        keys = draws.astype(np.int64 if m * count >= 2**31 else np.int32) * count + np.arange(count)
        keys.sort(axis=1)
        column = keys // count
        first = np.ones_like(keys, dtype=bool)
        first[:, 1:] = column[:, 1:] != column[:, :-1]
        # Each row's times are a permutation of 0..count−1, so this scatter writes every cell exactly once.
        is_new = np.empty_like(first)
        is_new.reshape(-1)[(keys - column * count) + np.arange(rows)[:, None] * count] = first
        keep &= is_new
    taken = np.cumsum(keep, axis=1, dtype=np.int32)
    if need and (taken[:, -1] < need).any():
        return None
    return keep & (taken <= need)


def _block(first_k: int, rows: int, m: int, version: int) -> np.ndarray:
    """Packed rows (little-endian bit order: column j is bit j % 8 of byte j // 8) for one block of k."""
    if version == 1 and _modulus(m) == m and (packed := _v1_plain_block(first_k, rows, m)) is not None:
        return packed
    need = m // 2
    dense = _buffer("dense", (rows, m), np.uint8)
    dense.fill(0)
    row_start = np.arange(rows, dtype=np.int64)[:, None] * m
    count = need + need // 2 + 32
    while (keep := _select(draws := _draws(first_k, rows, m, count), m, version)) is None:
        count *= 2
    dense.reshape(-1)[np.broadcast_to(row_start, draws.shape)[keep] + draws[keep]] = 1
    return np.packbits(dense, axis=1, bitorder="little")


class ParityMatrix:
    """The R coded rows of the TS004 parity matrix for M uncoded fragments, bit-packed.

    `packed[k-1]` is row k: column j (0-based uncoded fragment) is bit j % 8 of byte j // 8.
    """

    __slots__ = ("m", "packed", "r", "version")

    def __init__(self, m: int, r: int, version: int, packed: np.ndarray) -> None:
        self.m, self.r, self.version, self.packed = m, r, version, packed

    def dense(self, rows: slice | np.ndarray | None = None) -> np.ndarray:
        """The rows as a bool array of shape (rows, M)."""
        chosen = self.packed if rows is None else self.packed[rows]
        return np.unpackbits(chosen, axis=-1, count=self.m, bitorder="little").view(bool)

    def columns(self, k: int) -> np.ndarray:
        """The set columns of row k (1-based redundancy index), 0-based and ascending."""
        return np.flatnonzero(self.dense(slice(k - 1, k))[0])


def _check(m: int, r: int, version: int) -> None:
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise out_of_range(PlanError, "nb_frag", m, "an integer ≥ 1")
    if isinstance(r, bool) or not isinstance(r, int) or r < 0:
        raise out_of_range(PlanError, "redundancy", r, "an integer ≥ 0")
    if version not in (1, 2):
        raise out_of_range(PlanError, "version", version, "1 (TS004 v1.0.0) or 2 (v2.0.0)")


def parity_matrix(m: int, r: int, version: int = 1) -> ParityMatrix:
    """The parity rows k = 1..r for `m` uncoded fragments, TS004 v`version`; cached per (m, r, version)."""
    _check(m, r, version)
    return _matrix(m, r, version)


def parity_rows(m: int, ks: np.ndarray, version: int = 1) -> np.ndarray:
    """Packed parity rows for the redundancy indices `ks` (1-based), from the same cache as parity_matrix.

    For a decoder, which learns R only as coded fragments arrive: rows are generated a block at a time.
    """
    ks = np.asarray(ks, dtype=np.int64)
    if ks.size == 0:
        return np.zeros((0, -(-m // 8)), np.uint8)
    _check(m, int(ks.max()), version)
    per_block = _rows_per_block(m)
    blocks = (ks - 1) // per_block
    out = np.empty((ks.size, -(-m // 8)), np.uint8)
    # A set, not np.unique: np.unique imports numpy.ma on its first call (≈ 25 ms of a fresh process's decode).
    for block in sorted(set(blocks.tolist())):
        hit = blocks == block
        out[hit] = _cached_block(m, version, block)[ks[hit] - 1 - block * per_block]
    return out


def _rows_per_block(m: int) -> int:
    # About 2¹⁸ draws per block keeps the intermediates (≈ 2.5 MB) in the caches and, in a fresh process, keeps
    # the page faults of first touching them small (2²⁰ draws made the first encode ≈ 6 ms slower); 32 rows at
    # least amortise the fixed cost of a block, 1024 at most keep a decoder of a small session from generating
    # rows it never needs.
    return min(1024, max(32, (1 << 18) // m))


@lru_cache(maxsize=1024)  # blocks of ≈ 64 kB (2¹⁹ matrix bits): at most ≈ 64 MB, as 256 blocks of 2²¹ bits were
def _cached_block(m: int, version: int, block: int) -> np.ndarray:
    per_block = _rows_per_block(m)
    packed = _block(1 + block * per_block, per_block, m, version)
    packed.flags.writeable = False
    return packed


@lru_cache(maxsize=16)
def _matrix(m: int, r: int, version: int) -> ParityMatrix:
    per_block = _rows_per_block(m)
    blocks = [_cached_block(m, version, b) for b in range(-(-r // per_block))]
    packed = np.concatenate(blocks)[:r] if blocks else np.zeros((0, -(-m // 8)), np.uint8)
    packed.flags.writeable = False
    return ParityMatrix(m, r, version, packed)


def clear_cache() -> None:
    """Forget every generated row (for benchmarks that must include the generation)."""
    _matrix.cache_clear()
    _cached_block.cache_clear()
