"""Time limits of back-end work: one deadline for a whole call, one give-up instant for its retries.

A back-end call is many waits — a connection, a write, each read of a header line — and a timeout given to each
wait bounds none of their sum: a peer that trickles a byte before each wait ends keeps a call alive for ever. So a
call opens a `window` of its `timeout`, held in a context variable (it follows the calling thread, not the
connection pool), and each wait asks `left` for min(its own timeout, the time left), Expired once none is left.

Retries have a budget of their own: no new attempt starts past the give-up instant — `timeout` seconds after the
first failure of a retry loop (fuota.backends.retry), or sooner when the runner, whose deployment has already been
failing, opens `giving_up_in` with what is left of its give_up_after. An attempt under way then keeps its whole
call timeout, so that its failure is the back end's own (a refusal, nonsense, silence) rather than a cut: work
ends within the give-up instant plus one call timeout.

Instants are `time.monotonic()` seconds: a wall clock set back must not stretch a call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Expired", "give_up_at", "giving_up_in", "left", "window"]

_CALL: ContextVar[float] = ContextVar("fuota_call_deadline", default=math.inf)
_GIVE_UP: ContextVar[float] = ContextVar("fuota_give_up_at", default=math.inf)


class Expired(TimeoutError):
    """The deadline of the back-end call in progress has passed."""


def left(timeout: float) -> float:
    """Seconds the next wait may take: min(`timeout`, time left before the call's deadline); Expired when none is
    left."""
    remaining = _CALL.get() - time.monotonic()
    if remaining <= 0:
        raise Expired("the deadline of this back-end call has passed")
    return min(timeout, remaining)


@contextmanager
def window(seconds: float) -> Iterator[float]:
    """Within the block, the call's deadline is at most `seconds` from now (a nearer one stays); yields it."""
    instant = min(_CALL.get(), time.monotonic() + max(0.0, seconds))
    token = _CALL.set(instant)
    try:
        yield instant
    finally:
        _CALL.reset(token)


def give_up_at() -> float:
    """The monotonic instant past which no retry may start (inf when no one has set one)."""
    return _GIVE_UP.get()


@contextmanager
def giving_up_in(seconds: float) -> Iterator[float]:
    """Within the block, retries stop at most `seconds` from now (a nearer instant stays); yields the instant."""
    instant = min(_GIVE_UP.get(), time.monotonic() + seconds)
    token = _GIVE_UP.set(instant)
    try:
        yield instant
    finally:
        _GIVE_UP.reset(token)
