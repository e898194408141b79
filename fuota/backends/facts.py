"""Lenient readers of the progress facts a back end reports (fuota.core.reports.TaskProgress).

A task's state decides what fuota does, so a garbled state is an error (fuota.backends.answers); its times and
counts only inform a person, so a value that cannot be — not a number, negative, a time before 2000 or after 2200,
IoTSquare's −1 for "no next step" — reads as None ("not said") instead of failing the poll.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["count", "epoch_ms", "interval_ms", "timestamp"]

_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_MAX_COUNT = 10_000_000
_MAX_INTERVAL_MS = 86_400_000  # a day between two fragments is already not a campaign


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _sane(at: datetime) -> datetime | None:
    return at if _EARLIEST <= at < _LATEST else None


def epoch_ms(value: object) -> datetime | None:
    """Epoch milliseconds (IoTSquare's int64 times) as an aware UTC datetime; None for anything else."""
    ms = _number(value)
    if ms is None or ms != ms:  # NaN
        return None
    try:
        return _sane(datetime.fromtimestamp(ms / 1000, UTC))
    except (OverflowError, OSError, ValueError):
        return None


def timestamp(value: object) -> datetime | None:
    """An RFC 3339 time with its zone (Milesight's startedAt, updatedAt) as aware UTC; None for anything else —
    a time without a zone too, since the gateway's own zone is not known."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return None if at.tzinfo is None else _sane(at.astimezone(UTC))


def count(value: object) -> int | None:
    """A count of fragments or devices: a whole number ≥ 0 (10 million at most); None for anything else."""
    n = _number(value)
    if n is None or n != n or n < 0 or n > _MAX_COUNT or n != int(n):
        return None
    return int(n)


def interval_ms(value: object) -> float | None:
    """An interval in milliseconds, as seconds: > 0 and at most a day; None for anything else."""
    ms = _number(value)
    if ms is None or ms != ms or not 0 < ms <= _MAX_INTERVAL_MS:
        return None
    return ms / 1000
