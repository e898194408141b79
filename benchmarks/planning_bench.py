"""The planner's sweep: share of devices decoding for 10 redundancies × 5 loss rates × 2 000 trials, M = 287."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from benchmarks.report import Figure
from benchmarks.timing import best_of, once
from fuota.planning.decoding import sweep

M = 287
REDUNDANCIES = list(range(0, 100, 10))
LOSSES = [0.02, 0.05, 0.1, 0.15, 0.2]
TRIALS = 2000
PLAIN_TRIALS = 20  # oracle.recoverable per pattern is slow: measured on a subset and scaled


def planner_sweep(oracle: ModuleType) -> Figure:
    """Time the sweep; the plain reference decides the same kind of patterns one by one with the oracle."""
    seconds, table = best_of(lambda: sweep(M, REDUNDANCIES, LOSSES, TRIALS), 3)
    rng = np.random.default_rng(7)
    patterns = [(r, (rng.random(M + r) >= loss).tolist()) for r in REDUNDANCIES for loss in LOSSES]
    plain_seconds, _ = once(lambda: [oracle.recoverable(M, r, received, 1) for r, received in patterns[:PLAIN_TRIALS]])
    cells = len(REDUNDANCIES) * len(LOSSES)
    ok = table.shape == (len(REDUNDANCIES), len(LOSSES)) and bool((np.diff(table, axis=0) >= 0).all())
    return Figure(
        name=f"plan sweep {len(REDUNDANCIES)}×{len(LOSSES)}×{TRIALS}, M {M}",
        fuota=seconds,
        runs=3,
        plain=plain_seconds * cells * TRIALS / PLAIN_TRIALS,
        plain_note=f"{PLAIN_TRIALS}/{cells * TRIALS} patterns, scaled",
        target=None,
        reference="",
        ok=ok,
        check_note="shares grow with redundancy",
    )
