"""A campaign's settings, typed: what the store keeps of a campaign (one versioned JSON document) and what every
reader gets back. Each quantity has one name and one unit, and each default is defined here once.

    redundancy_percent   coded fragments in percent of the uncoded ones (30 for 30 %); a back end that wants a
                         fraction (IoTSquare's redundancyPercent 0.3) converts it in its own folder, at its wire
    success_threshold    share (0–1) of the campaign's devices that must end updated for it to end Done
    expected_loss        share (0–1) of the fragments a device is expected to miss, for the forecast
    join_timeout         seconds a deployment waits for its members to join before it sends without the others
    expected_version     where devices report their firmware version, "updated" means they report this one
    target               the back end's own campaign table ([iotsquare], [milesight]) as its kind validated and
                         completed it; only that kind reads it (fuota/backends/<vendor>/kind.py)
    retry_of             of a retry (`fuota retry`): the id of its family's root, the campaign the retries began
                         with; None for a campaign launched from a file (fuota/views/family.py defines families)

Pure pydantic models: no I/O, no clock. ConfigError, raised for any configuration or campaign that cannot be used,
is defined here, under the settings every such check protects.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

__all__ = [
    "A_WEEK",
    "DEFAULT_EXPECTED_LOSS",
    "DEFAULT_GIVE_UP_AFTER",
    "DEFAULT_JOIN_TIMEOUT",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_SUCCESS_THRESHOLD",
    "SETTINGS_VERSION",
    "CampaignSettings",
    "ConfigError",
    "Window",
    "aware_utc",
]

SETTINGS_VERSION = 1
DEFAULT_SUCCESS_THRESHOLD = 0.9
DEFAULT_EXPECTED_LOSS = 0.1
DEFAULT_JOIN_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 10.0  # seconds between two polls of a task, unless its back end's configuration says
DEFAULT_GIVE_UP_AFTER = 600.0  # seconds a back end may stay silent before its deployment fails
A_WEEK = 7 * 86400.0  # the longest join_timeout or give_up_after fuota accepts


class ConfigError(ValueError):
    """A configuration or campaign file that cannot be used; the message names the field, value and fix."""


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Percent = Annotated[float, Field(ge=0, le=100)]
Share = Annotated[float, Field(ge=0, le=1)]


class Window(BaseModel):
    """`window`: when deployments may start — days of the week and hours, in a named time zone.

    A window whose end is before its start runs overnight (22:00–04:00 on "mon" covers Monday 22:00 to Tuesday
    04:00). A campaign whose window is closed waits for the next opening.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Day] = list(DAYS)
    start: time = time(0, 0)
    end: time = time(0, 0)  # equal to start: the whole day
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone = {name!r} is not a time zone name such as Europe/Paris") from exc
        return name

    def open_at(self, now: datetime) -> bool:
        """Whether `now` (aware) falls inside the window."""
        local = now.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        today = DAYS[local.weekday()]
        if self.start == self.end:
            return today in self.days
        if self.start < self.end:
            return today in self.days and self.start <= clock < self.end
        yesterday = DAYS[(local - timedelta(days=1)).weekday()]
        return (today in self.days and clock >= self.start) or (yesterday in self.days and clock < self.end)

    def next_opening(self, now: datetime) -> datetime | None:
        """The first moment at or after `now` (aware) inside the window, in UTC: `now` itself while it is open;
        None when the window has no day.

        The window opens either when the local clock passes its start (or midnight, for a whole-day window) on
        one of its days, or when a daylight-saving jump lands the clock inside it (a start at 02:30 on the
        night the clock skips from 02:00 to 03:00 opens at 03:00). So the answer is the earliest of those
        candidates, over the eight days ahead, that open_at accepts.
        """
        if not self.days:
            return None
        now = now.astimezone(UTC)
        if self.open_at(now):
            return now
        zone = ZoneInfo(self.timezone)
        today = now.astimezone(zone).date()
        candidates = set(_offset_changes(zone, now, now + timedelta(days=9)))
        for offset in range(-1, 9):
            day = today + timedelta(days=offset)
            for clock in (self.start, time(0, 0)):
                for fold in (0, 1):
                    local = datetime.combine(day, clock, tzinfo=zone).replace(fold=fold)
                    candidates.add(local.astimezone(UTC))
        opening = [c for c in candidates if c > now and self.open_at(c)]
        return min(opening, default=None)


def _offset_changes(zone: ZoneInfo, begin: datetime, end: datetime) -> list[datetime]:
    """The moments in [begin, end) where `zone`'s UTC offset changes, to the second: an hourly scan, then
    bisection (no zone changes its offset twice within an hour)."""
    found = []
    step = timedelta(hours=1)
    at = begin
    while at < end:
        after = at + step
        if at.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset():
            low, high = at, after  # offset(low) is the old one, offset(high) the new one
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == at.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
        at = after
    return found


def aware_utc(start: datetime | None) -> datetime | None:
    """`start` in UTC; ValueError when it has no time zone or leaves the calendar once converted."""
    if start is None:
        return None
    if start.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-11-24T02:00:00Z (RFC 3339)")
    try:
        return start.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC (years 1–9999)") from None


class CampaignSettings(BaseModel):
    """A launched campaign's settings, as stored (version SETTINGS_VERSION) and read back by everyone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = SETTINGS_VERSION
    name: str
    backend: str  # the [backends.NAME] it is sent through
    kind: str  # that back end's kind when the campaign was launched ("iotsquare", "milesight")
    redundancy_percent: Percent
    start: datetime | None = None
    window: Window | None = None
    success_threshold: Share = DEFAULT_SUCCESS_THRESHOLD
    expected_loss: Annotated[float, Field(ge=0, lt=1)] = DEFAULT_EXPECTED_LOSS
    join_timeout: Annotated[float, Field(gt=0, le=A_WEEK)] = DEFAULT_JOIN_TIMEOUT
    expected_version: str | None = None
    firmware_path: str | None = None  # where the image was read at launch, checked again before each create
    devices_file: str | None = None  # where the device list came from, if from a file (for people)
    target: dict[str, JsonValue] = {}
    retry_of: Annotated[int, Field(ge=1)] | None = None  # optional: settings stored before it need no migration

    @field_validator("start")
    @classmethod
    def _aware(cls, start: datetime | None) -> datetime | None:
        return aware_utc(start)
