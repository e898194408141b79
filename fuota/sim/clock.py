"""Simulated time for the back-end simulators: the real clock scaled by `speed`, plus manual jumps.

`speed` simulated seconds pass per real second (0 freezes the clock, so that tests move it only with
`advance`). Simulated seconds count from the clock's creation; `ms` turns them into the epoch milliseconds the
back ends report, and `seconds_at` turns a time a client sends (Milesight's startedAt) back.

The times a simulator reports are those of the wall clock at which each simulated instant happens: simulated
second s is wall time creation + s / speed. A client such as fuota reads the back end's times against its own
wall clock (a real server's clock runs with it), so a simulator run at speed 20 must report a phase that ends
100 simulated seconds from now as ending 5 wall seconds from now, or every time left would be 20 times too long.
Durations a simulator reports (Milesight's fragmentInterval) are scaled the same way, by `wall_ms`. A frozen clock
(speed 0), moved by `advance` alone, counts its seconds as wall seconds from its creation.
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
        """The epoch milliseconds (of the wall clock) of simulated time `seconds`."""
        return self.epoch_ms + round(seconds * 1000 / (self.speed or 1.0))

    def wall_ms(self, ms: float) -> int:
        """A simulated duration of `ms` milliseconds as it passes on the wall clock (a frozen clock's unchanged)."""
        return round(ms / (self.speed or 1.0))

    def seconds_at(self, ms: float) -> float:
        """The simulated time of epoch milliseconds `ms` (of the wall clock): the inverse of `ms`."""
        return (ms - self.epoch_ms) / 1000 * (self.speed or 1.0)
