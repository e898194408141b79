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

Stopping (a daemon's SIGTERM, `run`'s Ctrl-C) is process-wide: `stop()` marks the instant, and from then on no
retry starts (`give_up_at` is at most that instant) and no new call gets anywhere (the first wait of a call whose
window opened after it is Expired, which the adapters report as a transient failure), while a call already under
way keeps its deadline — so all back-end work ends within one call timeout, or the retry wait in progress.

Instants are `time.monotonic()` seconds: a wall clock set back must not stretch a call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Expired", "carry_on", "give_up_at", "giving_up_in", "left", "stop", "stopping", "window"]

_CALL: ContextVar[float] = ContextVar("fuota_call_deadline", default=math.inf)
_OPENED: ContextVar[float] = ContextVar("fuota_call_opened", default=math.inf)  # when the outermost window opened
_GIVE_UP: ContextVar[float] = ContextVar("fuota_give_up_at", default=math.inf)
_stopped_at = math.inf  # process-wide, not per thread: a stop concerns every call of every thread


class Expired(TimeoutError):
    """The deadline of the back-end call in progress has passed."""


def left(timeout: float) -> float:
    """Seconds the next wait may take: min(`timeout`, time left before the call's deadline); Expired when none is
    left."""
    if _stopped_at != math.inf and _OPENED.get() >= _stopped_at:
        raise Expired("fuota is stopping: no new back-end call starts")
    remaining = _CALL.get() - time.monotonic()
    if remaining <= 0:
        raise Expired("the deadline of this back-end call has passed")
    return min(timeout, remaining)


@contextmanager
def window(seconds: float) -> Iterator[float]:
    """Within the block, the call's deadline is at most `seconds` from now (a nearer one stays); yields it."""
    now = time.monotonic()
    instant = min(_CALL.get(), now + max(0.0, seconds))
    token, opened = _CALL.set(instant), _OPENED.set(min(_OPENED.get(), now))
    try:
        yield instant
    finally:
        _OPENED.reset(opened)
        _CALL.reset(token)


def give_up_at() -> float:
    """The monotonic instant past which no retry may start: the nearer of the runner's and the stop's (inf when
    neither is set)."""
    return min(_GIVE_UP.get(), _stopped_at)


@contextmanager
def giving_up_in(seconds: float) -> Iterator[float]:
    """Within the block, retries stop at most `seconds` from now (a nearer instant stays); yields the instant."""
    instant = min(_GIVE_UP.get(), time.monotonic() + seconds)
    token = _GIVE_UP.set(instant)
    try:
        yield instant
    finally:
        _GIVE_UP.reset(token)


def stop() -> None:
    """From now on, in every thread, no retry starts and no new call gets anywhere (safe from a signal handler)."""
    global _stopped_at
    _stopped_at = min(_stopped_at, time.monotonic())


def stopping() -> bool:
    """Whether `stop` has been called (and not undone by `carry_on`)."""
    return _stopped_at != math.inf


def carry_on() -> None:
    """Undo `stop`: for a process that drives back ends again after stopping (tests, an embedding program)."""
    global _stopped_at
    _stopped_at = math.inf
