"""The retry policy every adapter applies to transient failures: capped, jittered exponential back-off.

Bounded in attempts and in time, whichever ends first (DESIGN.md §5): retries stop `timeout` seconds after the
first failure, or at the deadline of an outer window (fuota.backends.deadline: the runner's give_up_after), and the
attempt under way then is cut at that instant too, so a loop ends at most one call timeout after its budget would
let a new attempt start — never a whole back-off or a whole call later. Only TransientError is retried, a
permanent refusal raises at once; the TransientError that ends the loop carries `silent_for`, the seconds since
the first failure, so that the runner counts give_up_after from there. stamina runs the loop (its on-retry hooks
feed /metrics); this module only decides each wait. One definition, so that the back ends cannot drift apart.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from types import TracebackType

import stamina

from fuota.backends import deadline
from fuota.backends.errors import TransientError

__all__ = ["Attempt", "RetryPolicy"]


class Attempt:
    """One try: stamina's attempt, run inside the loop's deadline once a first failure has set it."""

    def __init__(self, inner: stamina.Attempt, end: float | None) -> None:
        self._inner = inner
        self._end = end
        self._stack = ExitStack()

    @property
    def num(self) -> int:
        """The number of this attempt, from 1."""
        return self._inner.num

    def __enter__(self) -> None:
        self._inner.__enter__()
        if self._end is not None:
            self._stack.enter_context(deadline.window(self._end - time.monotonic()))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        self._stack.close()
        return self._inner.__exit__(exc_type, exc, tb)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to `attempts` tries within `timeout` seconds of the first failure, waiting from `wait_initial` up to
    `wait_max` seconds between them."""

    attempts: int = 5
    timeout: float = 60.0
    wait_initial: float = 0.5
    wait_max: float = 10.0

    def tries(self) -> Iterator[Attempt]:
        """Attempts for a block that may raise TransientError (`for attempt in policy.tries(): with attempt: …`)."""
        first_failure: float | None = None
        end: float | None = None
        tries_made = 0

        def wait(exc: Exception) -> bool | float:
            """Whether to try again, and after how long: never past the loop's end or an outer deadline."""
            nonlocal first_failure, end
            if not isinstance(exc, TransientError):
                return False
            now = time.monotonic()
            if first_failure is None:
                first_failure = now
                end = min(now + self.timeout, deadline.deadline())
            exc.silent_for = now - first_failure
            spare = (end or now) - now
            jitter = random.uniform(0, self.wait_initial)  # spreads retries; not a secret
            backoff = min(self.wait_max, self.wait_initial * 2 ** (tries_made - 1) + jitter)
            # A try that could not start before the end is not made: the caller (the runner) decides what next.
            return False if spare <= backoff else backoff

        for inner in stamina.retry_context(
            on=wait, attempts=self.attempts, timeout=None, wait_initial=self.wait_initial, wait_max=self.wait_max
        ):
            tries_made = inner.num
            yield Attempt(inner, end)
