"""A Backend that has every call of the one it wraps measured: what a daemon's metrics count (fuota.views.metrics).

`measure(backend, operation, call)` runs `call` and may count and time it; the wrapper is otherwise the back end it
wraps, errors included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from fuota.backends.base import Backend, DeviceReport, TargetReport, TaskRef, TaskSpec, TaskStatus

__all__ = ["Measure", "MeteredBackend"]

T = TypeVar("T")


class Measure(Protocol):
    """Runs one back-end call of `backend`'s `operation` and returns its result."""

    def __call__(self, backend: str, operation: str, call: Callable[[], T]) -> T: ...


class MeteredBackend:
    """A Backend that counts and times every call of the one it wraps; otherwise the same."""

    def __init__(self, inner: Backend, name: str, measure: Measure) -> None:
        self.inner, self.name, self._measure_call = inner, name, measure

    def __getattr__(self, attribute: str) -> object:
        # Adapter-specific attributes (poll_interval, …) stay reachable through the wrapper.
        return getattr(self.inner, attribute)

    def _measure(self, operation: str, call: Callable[[], T]) -> T:
        return self._measure_call(self.name, operation, call)

    def prepare(self, target: str | None, devices: tuple[str, ...], options: dict[str, object]) -> list[TargetReport]:
        """Backend.prepare, measured."""
        return self._measure("prepare", lambda: self.inner.prepare(target, devices, options))

    def ready(self, target: str) -> dict[str, bool]:
        """Backend.ready, measured."""
        return self._measure("ready", lambda: self.inner.ready(target))

    def find(self, spec: TaskSpec) -> TaskRef | None:
        """Backend.find, measured."""
        return self._measure("find", lambda: self.inner.find(spec))

    def create(self, spec: TaskSpec) -> TaskRef:
        """Backend.create, measured."""
        return self._measure("create", lambda: self.inner.create(spec))

    def status(self, ref: TaskRef) -> TaskStatus:
        """Backend.status, measured."""
        return self._measure("status", lambda: self.inner.status(ref))

    def devices(self, ref: TaskRef) -> list[DeviceReport]:
        """Backend.devices, measured."""
        return self._measure("devices", lambda: self.inner.devices(ref))

    def abort(self, ref: TaskRef) -> None:
        """Backend.abort, measured."""
        self._measure("abort", lambda: self.inner.abort(ref))

    def cleanup(self, target: TargetReport) -> None:
        """Backend.cleanup, measured."""
        self._measure("cleanup", lambda: self.inner.cleanup(target))

    def close(self) -> None:
        """Close the wrapped back end."""
        self.inner.close()
