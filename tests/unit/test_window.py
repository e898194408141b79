"""Maintenance windows (fuota.core.settings.Window): open or closed at a moment, and when they next open, across
days, overnight windows, time zones and daylight-saving changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest

from fuota.core.settings import DAYS, Window


@pytest.mark.parametrize(
    ("window", "now", "open_"),
    [
        ({"days": ["mon"], "start": "01:00", "end": "05:00"}, datetime(2026, 11, 23, 2, tzinfo=UTC), True),
        ({"days": ["mon"], "start": "01:00", "end": "05:00"}, datetime(2026, 11, 23, 5, tzinfo=UTC), False),
        ({"days": ["tue"], "start": "01:00", "end": "05:00"}, datetime(2026, 11, 23, 2, tzinfo=UTC), False),
        ({"days": ["mon"], "start": "22:00", "end": "04:00", "timezone": "Europe/Paris"},
         datetime(2026, 11, 24, 2, tzinfo=UTC), True),  # Tuesday 03:00 in Paris: Monday's night window
        ({"start": "08:00", "end": "18:00", "timezone": "America/New_York"}, datetime(2026, 11, 23, 12, tzinfo=UTC),
         False),  # 07:00 in New York
    ],
)  # fmt: skip
def test_window(window: dict, now: datetime, open_: bool) -> None:
    assert Window.model_validate(window).open_at(now) is open_


# --- next_opening, against a plain oracle ---------------------------------------------------------------------------

_STEP = timedelta(minutes=5)


def _oracle(window: Window, now: datetime) -> datetime | None:
    """The first 5-minute step at or after `now` that open_at accepts, scanning nine days: exact for windows whose
    times, and zones whose daylight-saving jumps, fall on 5-minute marks, from a `now` on one."""
    at = now
    for _ in range(9 * 24 * 12):
        if window.open_at(at):
            return at
        at += _STEP
    return None


_ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo"]
# Around the daylight-saving changes of 2026 (Paris 29 Mar / 25 Oct, New York 8 Mar / 1 Nov, Sydney 5 Apr / 4 Oct).
_DAYS = [
    datetime(2026, 3, 7, tzinfo=UTC),
    datetime(2026, 3, 28, tzinfo=UTC),
    datetime(2026, 4, 4, tzinfo=UTC),
    datetime(2026, 10, 3, tzinfo=UTC),
    datetime(2026, 10, 24, tzinfo=UTC),
    datetime(2026, 10, 31, tzinfo=UTC),
    datetime(2026, 11, 23, tzinfo=UTC),
]


def _random_windows(count: int) -> list[tuple[Window, datetime]]:
    rng = random.Random(14)
    cases = []
    for _ in range(count):
        days = sorted(rng.sample(range(7), rng.randint(1, 7)))
        start = time(rng.randrange(24), rng.randrange(0, 60, 5))
        # A third overnight, some whole days, the rest within one day; some around 02:00–03:00, DST's hour.
        end = start if rng.random() < 0.15 else time(rng.randrange(24), rng.randrange(0, 60, 5))
        if rng.random() < 0.3:
            start = time(2, rng.randrange(0, 60, 5))
        window = Window(days=[DAYS[d] for d in days], start=start, end=end, timezone=rng.choice(_ZONES))
        now = rng.choice(_DAYS) + timedelta(minutes=5 * rng.randrange(3 * 24 * 12))
        cases.append((window, now))
    return cases


@pytest.mark.parametrize(("window", "now"), _random_windows(300))
def test_next_opening_matches_the_oracle(window: Window, now: datetime) -> None:
    assert window.next_opening(now) == _oracle(window, now)


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        # Overnight, asked inside: now.
        ({"days": ["mon"], "start": "22:00", "end": "04:00"}, datetime(2026, 11, 24, 3, tzinfo=UTC),
         datetime(2026, 11, 24, 3, tzinfo=UTC)),
        # Overnight, asked after it closed: next Monday 22:00.
        ({"days": ["mon"], "start": "22:00", "end": "04:00"}, datetime(2026, 11, 24, 4, tzinfo=UTC),
         datetime(2026, 11, 30, 22, tzinfo=UTC)),
        # Paris skips 02:00–03:00 on 29 March 2026: a 02:30 start opens at 03:00 local, 01:00 UTC.
        ({"days": ["sun"], "start": "02:30", "end": "05:00", "timezone": "Europe/Paris"},
         datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 3, 29, 1, tzinfo=UTC)),
        # Paris repeats 02:00–03:00 on 25 October 2026: the first 02:30 (summer time, 00:30 UTC).
        ({"days": ["sun"], "start": "02:30", "end": "05:00", "timezone": "Europe/Paris"},
         datetime(2026, 10, 24, 12, tzinfo=UTC), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        # A whole day (start = end) on Wednesdays in New York: Wednesday 00:00 EST.
        ({"days": ["wed"], "timezone": "America/New_York"}, datetime(2026, 11, 23, 12, tzinfo=UTC),
         datetime(2026, 11, 25, 5, tzinfo=UTC)),
        ({"days": []}, datetime(2026, 11, 23, tzinfo=UTC), None),
    ],
)  # fmt: skip
def test_next_opening_examples(window: dict, now: datetime, expected: datetime | None) -> None:
    assert Window.model_validate(window).next_opening(now) == expected
