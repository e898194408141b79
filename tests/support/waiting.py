"""Waiting for a condition: the one deadline-polling loop of the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    every: float = 0.1,
    *,
    pause: Callable[[float], object] = time.sleep,
) -> T:
    """Call `condition()` every `every` seconds until it returns a truthy value, and return that value.

    After `timeout` seconds without one, raise AssertionError naming `what`, the timeout and the last value seen.
    The condition is always asked once more at the deadline, so a slow condition still gets its last chance; an
    exception it raises (an assertion that something already went wrong, say) goes through at once. `pause` is how
    to pass the time between two calls (a browser page's own wait, for one)."""
    deadline = time.monotonic() + timeout
    while True:
        last = condition()
        if last:
            return last
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{what}: not within {timeout:g} s (last seen: {last!r})")
        pause(min(every, left))
