"""The retry policy every adapter applies to transient failures: capped, jittered exponential back-off.

Bounded both in attempts and in time (DESIGN.md §5); only TransientError is retried, a permanent refusal raises
at once. One definition, so that the back ends cannot drift apart in how they wait.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import stamina

from fuota.backends.errors import TransientError

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Up to `attempts` tries within `timeout` seconds, waiting from `wait_initial` up to `wait_max` seconds."""

    attempts: int = 5
    timeout: float = 60.0
    wait_initial: float = 0.5
    wait_max: float = 10.0

    def tries(self) -> Iterable[stamina.Attempt]:
        """Attempts for a block that may raise TransientError (`for attempt in policy.tries(): with attempt: …`)."""
        return stamina.retry_context(
            on=TransientError,
            attempts=self.attempts,
            timeout=self.timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_initial,
        )
