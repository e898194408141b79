"""Which loss patterns a TS004 session survives, for many patterns at once.

A pattern is decodable exactly when the parity rows of the received coded fragments, restricted to the columns
of the lost uncoded fragments, have full column rank over GF(2): that is what any correct decoder, and the
device's own, needs. Each pattern's restricted matrix is packed into 64-bit words (one bit per lost column) and
all patterns are eliminated together, one column step at a time for all of them; a pattern fails at the first
of its columns that finds no pivot.
"""

from __future__ import annotations

import numpy as np

from codec.errors import CodecError, PlanError, out_of_range
from codec.gf2 import to_words
from codec.matrix import parity_matrix

__all__ = ["decodable"]

_BATCH_WORDS = 1 << 21  # words of one batch of patterns under elimination (16 MiB)


def decodable(nb_frag: int, redundancy: int, received: np.ndarray, version: int = 1) -> np.ndarray:
    """For each row of `received` (trials, nb_frag + redundancy) bool, column 0 = counter 1, say whether the
    data can be recovered. Returns a bool array of shape (trials,)."""
    if isinstance(redundancy, bool) or not isinstance(redundancy, int) or redundancy < 0:
        raise out_of_range(PlanError, "redundancy", redundancy, "an integer ≥ 0")
    matrix = parity_matrix(nb_frag, redundancy, version)
    received = np.asarray(received)
    if received.ndim != 2 or received.shape[1] != nb_frag + redundancy:
        raise CodecError(
            f"received has shape {received.shape}; expected (trials, {nb_frag + redundancy}): one column per "
            f"fragment counter 1..{nb_frag + redundancy}"
        )
    received = received.astype(bool, copy=False)
    lost = ~received[:, :nb_frag]
    n_lost = lost.sum(axis=1)
    coded = received[:, nb_frag:]
    result = n_lost == 0
    # Fewer coded fragments than lost ones can never suffice; only the rest needs an elimination.
    hard = np.flatnonzero((n_lost > 0) & (coded.sum(axis=1) >= n_lost))
    if hard.size == 0:
        return result
    # Most lost columns first, so that the patterns still under elimination are a prefix of the batch.
    hard = hard[np.argsort(-n_lost[hard], kind="stable")]
    columns = matrix.dense().T  # (nb_frag, R): the rows that use each uncoded fragment
    words = -(-int(n_lost[hard[0]]) // 64)
    per_batch = max(1, _BATCH_WORDS // (redundancy * words))
    for start in range(0, hard.size, per_batch):
        chunk = hard[start : start + per_batch]
        result[chunk] = _full_rank(columns, lost[chunk], coded[chunk], n_lost[chunk])
    return result


def _full_rank(columns: np.ndarray, lost: np.ndarray, coded: np.ndarray, n_lost: np.ndarray) -> np.ndarray:
    """Full column rank of each pattern's system; patterns sorted by n_lost, descending."""
    trials, width = len(lost), int(n_lost[0])
    # system[t, i, p]: received coded row i uses the p-th lost uncoded fragment of pattern t.
    trial, column = np.nonzero(lost)
    position = np.arange(trial.size) - np.repeat(np.cumsum(n_lost) - n_lost, n_lost)
    system = np.zeros((trials, width, columns.shape[1]), bool)
    system[trial, position] = columns[column]
    system &= coded[:, None, :]
    rows = to_words(system.transpose(0, 2, 1))  # (trials, R, words)
    ok = np.ones(trials, bool)
    active = trials
    for col in range(width):
        while n_lost[active - 1] <= col:
            active -= 1
        live = rows[:active]
        has = (live[:, :, col >> 6] >> np.uint64(col & 63)) & np.uint64(1)
        pivot = has.argmax(axis=1)
        index = np.arange(active)
        found = has[index, pivot].astype(bool)
        ok[:active] &= found
        # XOR the pivot row into every row that has the column, itself included: the pivot row is used up.
        live ^= live[index, pivot][:, None, :] * has[:, :, None]
    return ok
