"""Timing helpers: one timed call, the best of several, and how durations are written."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def once(run: Callable[[], T]) -> tuple[float, T]:
    """Time one call of `run` with time.perf_counter; return (seconds, its result)."""
    # As timeit does: a collection triggered by the plain reference's millions of small ints is noise.
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()
    return elapsed, result


def best_of(run: Callable[[], T], repeat: int, setup: Callable[[], object] | None = None) -> tuple[float, T]:
    """The minimum time of `repeat` calls of `run`, `setup` called untimed before each; also the last result."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    timings = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        elapsed, result = once(run)
        timings.append(elapsed)
    return min(timings), result


def duration(seconds: float) -> str:
    """A duration in ms below one second, in s above, with three significant digits or so."""
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms" if seconds < 0.1 else f"{seconds * 1e3:.0f} ms"
    if seconds < 100:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    return f"{seconds:.0f} s"


def limit(seconds: float) -> str:
    """A target as the issue writes it: 25 ms, 0.35 s, 5 s."""
    return f"{seconds * 1e3:g} ms" if seconds < 0.1 else f"{seconds:g} s"
