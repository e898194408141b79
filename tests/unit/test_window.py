"""Maintenance windows (fuota.core.settings.Window): open or closed at a moment, across days and time zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fuota.core.settings import Window


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
