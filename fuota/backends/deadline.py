"""One deadline for a whole back-end exchange, however the work below it is split.

A back-end call is many waits — a connection, a write, each read of a header line, a broker round trip — and a
timeout given to each wait bounds none of their sum: a peer that trickles a byte before each wait ends keeps a
call alive for ever. So a call, a retry loop and the runner each open a `window`; the innermost instant of every
open window is the deadline, held in a context variable (so that it follows the calling thread, not the
connection pool), and each wait asks `left` for min(its own timeout, the time left):

    runner      window(give_up_after − already silent)   the deployment's remaining patience
    retry loop  window(budget from the first failure)    fuota.backends.retry
    one call    window(timeout)                          the adapter's `timeout`
    each wait   left(timeout) → seconds, Expired past the deadline

Instants are `time.monotonic()` seconds: a wall clock set back must not stretch a call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Expired", "deadline", "left", "window"]

_DEADLINE: ContextVar[float] = ContextVar("fuota_backend_deadline", default=math.inf)


class Expired(TimeoutError):
    """The deadline of the back-end call in progress has passed."""


def deadline() -> float:
    """The monotonic instant by which the back-end work in progress must end (inf when none is open)."""
    return _DEADLINE.get()


def left(timeout: float) -> float:
    """Seconds the next wait may take: min(`timeout`, time left before the deadline); Expired when none is left."""
    remaining = _DEADLINE.get() - time.monotonic()
    if remaining <= 0:
        raise Expired("the deadline of this back-end call has passed")
    return min(timeout, remaining)


@contextmanager
def window(seconds: float) -> Iterator[float]:
    """Within the block, the deadline is at most `seconds` from now (an outer, nearer deadline stays); yields it."""
    instant = min(_DEADLINE.get(), time.monotonic() + max(0.0, seconds))
    token = _DEADLINE.set(instant)
    try:
        yield instant
    finally:
        _DEADLINE.reset(token)
