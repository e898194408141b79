"""Simulated time for the back-end simulators: the real clock scaled by `speed`, plus manual jumps.

`speed` simulated seconds pass per real second (0 freezes the clock, so that tests move it only with
`advance`). Simulated seconds count from the clock's creation; `ms` turns them into the epoch milliseconds the
back ends report, starting from the wall time at creation so that timestamps look like real ones.
"""

from __future__ import annotations

import threading
import time

__all__ = ["SimClock"]


class SimClock:
    """A thread-safe, monotonic simulated clock."""

    def __init__(self, speed: float = 1.0, epoch_ms: int | None = None) -> None:
        if speed < 0:
            raise ValueError(f"speed = {speed}: give simulated seconds per real second, ≥ 0 (0 freezes the clock)")
        self.speed = speed
        self.epoch_ms = round(time.time() * 1000) if epoch_ms is None else epoch_ms
        self._start = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Simulated seconds since the clock was created."""
        with self._lock:
            return (time.monotonic() - self._start) * self.speed + self._offset

    def advance(self, seconds: float) -> None:
        """Jump `seconds` simulated seconds ahead (never back: the simulators' timelines assume monotony)."""
        if seconds < 0:
            raise ValueError(f"seconds = {seconds}: the simulated clock only moves forward")
        with self._lock:
            self._offset += seconds

    def ms(self, seconds: float) -> int:
        """The epoch milliseconds of simulated time `seconds`."""
        return self.epoch_ms + round(seconds * 1000)
