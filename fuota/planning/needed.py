"""The redundancy each loss pattern needs: the fewest coded fragments after which a device can rebuild the image.

Received patterns are nested in R (a device given R coded fragments hears the first M+R of the same stream), so
each trial has one number, `needed`: the smallest R at which its pattern becomes decodable with the real TS004
matrix (0 when no uncoded fragment is lost; `ceiling + 1` when even `ceiling` coded fragments do not suffice).
The share decoding at any R ≤ ceiling is then the share of trials with needed ≤ R, so one elimination answers an
estimate, a whole sweep of redundancies and the bisection for a target at once — exactly what `codec.decodable`
would answer redundancy by redundancy (tests/unit/test_needed.py checks it trial by trial).

How: the parity rows of the received coded fragments, restricted to the lost columns, are eliminated column by
column with the earliest row holding the column as pivot. A row only ever receives an earlier pivot row, so every
prefix of rows keeps its span, and the pivots chosen are the earliest basis: the last of them is the last coded
fragment the pattern needs. Rows well past what a pattern can need are left out of the first pass (a random
binary system with `_MARGIN` more rows than columns is rank deficient with odds of about 2^-_MARGIN); the rare
pattern that still lacks rank there is eliminated again over every row, so the answer stays exact.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import codec

__all__ = ["needed"]

_BATCH_WORDS = 1 << 21  # words of one batch of patterns under elimination (16 MiB)
_MARGIN = 24  # received coded rows beyond the lost count kept in the first pass
_BATCH_TRIALS = 256  # patterns per batch: each batch eliminates only as many columns as its widest pattern lost


Progress = Callable[[float], None]


def needed(
    nb_frag: int, ceiling: int, received: np.ndarray, version: int = 1, progress: Progress | None = None
) -> np.ndarray:
    """For each row of `received` (trials, ≥ nb_frag + ceiling) bool, column 0 = counter 1: the fewest coded
    fragments (0..ceiling) with which it decodes, or ceiling + 1 when `ceiling` do not suffice. `progress` is
    told the share of the work done (0..1) as it goes."""
    received = np.asarray(received, dtype=bool)[:, : nb_frag + ceiling]
    if received.shape[1] != nb_frag + ceiling:
        raise ValueError(f"received has {received.shape[1]} columns; expected at least nb_frag + ceiling")
    lost = ~received[:, :nb_frag]
    n_lost = lost.sum(axis=1)
    coded = received[:, nb_frag:]
    result = np.where(n_lost == 0, 0, ceiling + 1)
    hard = np.flatnonzero((n_lost > 0) & (coded.sum(axis=1) >= n_lost))
    if hard.size == 0:
        return result
    columns = codec.parity_matrix(nb_frag, ceiling, version).dense().T  # (nb_frag, ceiling)
    # The first pass stops at the row holding each pattern's (lost + _MARGIN)-th received coded fragment.
    count = np.cumsum(coded[hard], axis=1)
    reach = np.minimum(n_lost[hard] + _MARGIN, count[:, -1])
    limit = (count < reach[:, None]).sum(axis=1) + 1
    first, rows = _solve(columns, lost[hard], coded[hard], n_lost[hard], limit, progress)
    result[hard] = np.where(first > rows, ceiling + 1, first)
    again = (first > rows) & (rows < ceiling)  # short of rank, with rows beyond the first pass
    if again.any():
        whole = np.full(int(again.sum()), ceiling)
        result[hard[again]], _ = _solve(columns, lost[hard[again]], coded[hard[again]], n_lost[hard[again]], whole)
    if progress is not None:
        progress(1.0)
    return result


def _solve(
    columns: np.ndarray,
    lost: np.ndarray,
    coded: np.ndarray,
    n_lost: np.ndarray,
    limit: np.ndarray,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`needed` of each pattern over its batch's first rows (at least `limit` of them), and how many rows its
    batch had; a pattern without full rank there gets rows + 1."""
    out = np.empty(len(lost), dtype=np.int64)
    used = np.empty(len(lost), dtype=np.int64)
    order = np.argsort(-n_lost, kind="stable")  # most lost first: the patterns still eliminating are a prefix
    words = -(-int(n_lost[order[0]]) // 64)
    per_batch = max(1, min(_BATCH_TRIALS, _BATCH_WORDS // (int(limit.max()) * words)))
    # Work per batch ~ its widest pattern squared: progress is told the share of that work done.
    batches = [order[start : start + per_batch] for start in range(0, order.size, per_batch)]
    weights = np.array([float(n_lost[chunk[0]]) ** 2 for chunk in batches])
    done = np.cumsum(weights) / weights.sum()
    for index, chunk in enumerate(batches):
        rows = int(limit[chunk].max())
        out[chunk] = _earliest_basis(columns[:, :rows], lost[chunk], coded[chunk, :rows], n_lost[chunk])
        used[chunk] = rows
        if progress is not None:
            progress(float(done[index]))
    return out, used


def _earliest_basis(columns: np.ndarray, lost: np.ndarray, coded: np.ndarray, n_lost: np.ndarray) -> np.ndarray:
    """Patterns sorted by n_lost, descending: the index + 1 of the last pivot row, or rows + 1 without full rank."""
    trials, width, rows = len(lost), int(n_lost[0]), columns.shape[1]
    # system[t, p, i]: received coded row i uses the p-th lost uncoded fragment of pattern t.
    trial, column = np.nonzero(lost)
    position = np.arange(trial.size) - np.repeat(np.cumsum(n_lost) - n_lost, n_lost)
    system = np.zeros((trials, width, rows), bool)
    system[trial, position] = columns[column]
    system &= coded[:, None, :]
    packed = np.packbits(system.transpose(0, 2, 1), axis=-1, bitorder="little")  # (trials, rows, bytes)
    pad = -packed.shape[-1] % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((*packed.shape[:-1], pad), np.uint8)], axis=-1)
    words = np.ascontiguousarray(packed).view("<u8")  # (trials, rows, words)
    ok = np.ones(trials, bool)
    last = np.zeros(trials, np.int64)
    active = trials
    for col in range(width):
        while n_lost[active - 1] <= col:
            active -= 1
        # Columns before `col` are already cleared in every row: only the words from this column's on change.
        live = words[:active, :, col >> 6 :]
        has = (live[:, :, 0] >> np.uint64(col & 63)) & np.uint64(1)
        pivot = has.argmax(axis=1)  # the earliest row holding the column
        index = np.arange(active)
        found = has[index, pivot].astype(bool)
        ok[:active] &= found
        last[:active] = np.maximum(last[:active], np.where(found, pivot, 0))
        # XOR the pivot row into every row holding the column, itself included: it is used up.
        live ^= live[index, pivot][:, None, :] * has[:, :, None]
    return np.where(ok, last + 1, rows + 1)
