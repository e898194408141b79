"""Linear algebra over GF(2) on bit-packed rows: the XOR products and eliminations the codec is made of.

Bit-packing convention everywhere: column j of a row is bit j % 8 of byte j // 8 (numpy's
``packbits(bitorder="little")``), so a packed row of bytes can be viewed as little-endian words.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Echelon", "pack_columns", "to_words", "xor_product"]

_CHUNKS_PER_TABLE = 32  # 32 tables of 256 rows: a few hundred kB, so the lookups hit the cache


def xor_product(packed: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Return the GF(2) product of bit rows and data rows: out[i] = XOR of data[j] for every bit j of row i.

    `packed` is (rows, ceil(M/8)) uint8, `data` is (M, F) uint8. Method of the Four Russians: for each group of
    eight data rows a table of all 256 XOR combinations is built once, then every output row XORs one table
    entry per group, indexed by its byte, which is eight times less work than XOR-ing the rows one by one.
    """
    rows, n_chunks = packed.shape
    m, width = data.shape
    out = np.zeros((rows, width), np.uint8)
    if rows == 0 or m == 0:
        return out
    if m < n_chunks * 8:
        data = np.concatenate([data, np.zeros((n_chunks * 8 - m, width), np.uint8)])
    groups = data.reshape(n_chunks, 8, width)
    span = min(_CHUNKS_PER_TABLE, n_chunks)
    tables = np.empty((span, 256, width), np.uint8)
    tables[:, 0] = 0
    picked = np.empty((rows, width), np.uint8)
    index = np.ascontiguousarray(packed.T)
    for first in range(0, n_chunks, span):
        count = min(span, n_chunks - first)
        for bit in range(8):
            half = 1 << bit
            np.bitwise_xor(
                tables[:count, :half], groups[first : first + count, bit, None, :], out=tables[:count, half : 2 * half]
            )
        for chunk in range(count):
            # mode="clip": with out= and the default mode="raise" numpy buffers the result and copies it again
            # (a third of the product's time); a byte never indexes past a 256-row table, so nothing is clipped.
            tables[chunk].take(index[first + chunk], axis=0, out=picked, mode="clip")
            np.bitwise_xor(out, picked, out=out)
    return out


def pack_columns(bits: np.ndarray) -> np.ndarray:
    """Pack a bool array (..., n) into uint8 (..., ceil(n/8)), column j in bit j % 8 of byte j // 8."""
    return np.packbits(bits, axis=-1, bitorder="little")


def to_words(bits: np.ndarray) -> np.ndarray:
    """Pack a bool array (..., n) into little-endian uint64 words (..., ceil(n/64)), column j in bit j % 64."""
    packed = np.packbits(bits, axis=-1, bitorder="little")
    pad = -packed.shape[-1] % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((*packed.shape[:-1], pad), np.uint8)], axis=-1)
    return np.ascontiguousarray(packed).view("<u8")


def _lowest_bit(words: np.ndarray) -> int:
    """Index of the lowest set bit of a 1-D word array, or −1 when every word is zero."""
    nonzero = np.flatnonzero(words)
    if nonzero.size == 0:
        return -1
    word = int(nonzero[0])
    value = int(words[word])
    return word * 64 + (value & -value).bit_length() - 1


class Echelon:
    """A GF(2) system kept in reduced row-echelon form; each row remembers which input rows it combines.

    A row is `coef_words` words of coefficients over `n_cols` columns followed by transform words: bit i of the
    transform says that input row i is part of the combination. The row of pivot column c has bit c set, and
    no other row has it (reduced form), so a new row is reduced in one vectorized XOR.
    """

    def __init__(self, n_cols: int, capacity: int) -> None:
        self.n_cols = n_cols
        self.coef_words = -(-n_cols // 64)
        self.rows = np.zeros((n_cols, self.coef_words + -(-max(capacity, 1) // 64)), np.uint64)
        self.pivot = np.full(n_cols, -1, np.int64)  # pivot column of each row slot
        self.slot = np.full(n_cols, -1, np.int64)  # row slot of each pivot column
        self.rank = 0
        self.unknown = n_cols  # columns still to solve: n_cols minus the ones forgotten
        self.live = to_words(np.ones(n_cols, bool))  # forgotten columns are cleared here

    @classmethod
    def build(cls, coef: np.ndarray, n_cols: int, capacity: int) -> Echelon:
        """Eliminate the rows `coef` (n, coef_words) at once; input row i is transform bit i."""
        self = cls(n_cols, capacity)
        n = len(coef)
        work = np.zeros((n, self.rows.shape[1]), np.uint64)
        work[:, : self.coef_words] = coef
        ids = np.arange(n)
        work[ids, self.coef_words + ids // 64] = np.left_shift(np.uint64(1), (ids % 64).astype(np.uint64))
        free = np.ones(n, bool)
        chosen = []
        for col in range(n_cols):
            has = ((work[:, col >> 6] >> np.uint64(col & 63)) & np.uint64(1)).astype(bool)
            candidates = has & free
            pivot = int(candidates.argmax())
            if not candidates[pivot]:
                continue
            free[pivot] = False
            has[pivot] = False
            work[has] ^= work[pivot]
            chosen.append(pivot)
            self.pivot[self.rank] = col
            self.slot[col] = self.rank
            self.rank += 1
            if self.rank == n:
                break
        self.rows[: self.rank] = work[chosen]
        return self

    def _append(self, row: np.ndarray, col: int) -> None:
        self.rows[self.rank] = row
        self.pivot[self.rank] = col
        self.slot[col] = self.rank
        self.rank += 1

    def _reduce(self, row: np.ndarray) -> np.ndarray:
        cols = self.pivot[: self.rank]
        hit = ((row[cols >> 6] >> (cols & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)
        if hit.any():
            row = row ^ np.bitwise_xor.reduce(self.rows[: self.rank][hit], axis=0)
        return row

    def insert(self, row: np.ndarray) -> bool:
        """Add one row (coefficients then transform words); return True if it raised the rank."""
        row[: self.coef_words] &= self.live
        row = self._reduce(row)
        col = _lowest_bit(row[: self.coef_words])
        if col < 0:
            return False
        word, bit = col >> 6, np.uint64(col & 63)
        live = self.rows[: self.rank]
        has = ((live[:, word] >> bit) & np.uint64(1)).astype(bool)
        live[has] ^= row
        self._append(row, col)
        return True

    def forget(self, col: int) -> None:
        """Column `col` became known: drop it from every row and re-pivot the row that had it as pivot."""
        word, clear = col >> 6, ~np.uint64(1 << (col & 63))
        self.unknown -= 1
        self.live[word] &= clear
        slot = int(self.slot[col])
        if slot < 0:
            self.rows[: self.rank, word] &= clear
            return
        row = self.rows[slot].copy()
        row[word] &= clear
        last = self.rank - 1
        self.rows[slot] = self.rows[last]
        self.pivot[slot] = self.pivot[last]
        self.slot[self.pivot[slot]] = slot
        self.slot[col] = -1
        self.pivot[last] = -1
        self.rank = last
        self.insert(row)

    def grow(self, capacity: int) -> None:
        """Make room for transform bits of input rows up to `capacity`."""
        words = self.coef_words + -(-capacity // 64)
        if words > self.rows.shape[1]:
            wider = np.zeros((self.n_cols, words), np.uint64)
            wider[:, : self.rows.shape[1]] = self.rows
            self.rows = wider

    @property
    def solved(self) -> bool:
        """Every column still unknown has a pivot row."""
        return self.rank == self.unknown

    def transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Pivot columns and, for each, its transform as packed bytes (bit i = input row i)."""
        live = self.rows[: self.rank]
        return self.pivot[: self.rank].copy(), np.ascontiguousarray(live[:, self.coef_words :]).view(np.uint8)
