"""The retry policy every adapter applies to transient failures: capped, jittered exponential back-off.

Bounded in attempts and in time, whichever ends first (DESIGN.md §5): no attempt starts `timeout` seconds or more
after the first failure, nor past the runner's give-up instant (fuota.backends.deadline), and the last wait is
shortened to end there, so a loop ends within its budget plus one call timeout — never a whole back-off or a whole
budget later. Only TransientError is retried, a permanent refusal raises at once; every TransientError the loop
sees is given `silent_for`, the seconds since its first failure, so that the runner counts give_up_after from
there. stamina runs the loop (its on-retry hooks feed /metrics); this module only decides each wait. One
definition, so that the back ends cannot drift apart in how they wait.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import stamina

from fuota.backends import deadline
from fuota.backends.errors import TransientError

__all__ = ["RetryPolicy", "retry_budget"]

_LONGEST_BUDGET = 60.0  # seconds: past this, the runner's own retries (each one a visible `retry` event) go on


def retry_budget(give_up_after: float) -> float:
    """The retry budget of an adapter of a back end with `give_up_after`: half of it (at most a minute), so that a
    failure outlasting the adapter's own retries reaches the runner — a `retry` event, shown by `status` — well
    before the deployment fails, and a back end that recovers meanwhile is followed on."""
    return min(_LONGEST_BUDGET, give_up_after / 2)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to `attempts` tries, none starting `timeout` seconds or more after the first failure, waiting from
    `wait_initial` up to `wait_max` seconds between them."""

    attempts: int = 5
    timeout: float = 60.0
    wait_initial: float = 0.5
    wait_max: float = 10.0

    def tries(self) -> Iterator[stamina.Attempt]:
        """Attempts for a block that may raise TransientError (`for attempt in policy.tries(): with attempt: …`)."""
        first_failure: float | None = None
        failures = 0

        def wait(exc: Exception) -> bool | float:
            """Whether to try again, and after how long: a try starts at the latest at the loop's end."""
            nonlocal first_failure, failures
            if not isinstance(exc, TransientError):
                return False
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            failures += 1
            exc.silent_for = now - first_failure
            spare = min(first_failure + self.timeout, deadline.give_up_at()) - now
            if spare <= 0:
                return False
            jitter = random.uniform(0, self.wait_initial)  # spreads clients' retries; not a secret
            return min(spare, self.wait_max, self.wait_initial * 2 ** (failures - 1) + jitter)

        return iter(
            stamina.retry_context(
                on=wait, attempts=self.attempts, timeout=None, wait_initial=self.wait_initial, wait_max=self.wait_max
            )
        )
