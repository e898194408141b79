"""The read model's schedule and "driven" facts: when a campaign may start, and whether anything drives it.

Each is defined here once; fuota.views.model adds the keys to the campaign summary and the campaign row, and every
front end (launch, list, status, watch, report, dashboard) prints them with the two text helpers below.

    start_at          the campaign's `start` (ISO 8601, UTC), None without one
    window            its maintenance window in words ("mon–fri 22:00–04:00 (overnight) Europe/Paris"), None
                      without one
    window_open       whether that window is open now; None without a window
    next_opening_at   when a deployment of it may next begin: the first moment from now on, not before its start,
                      inside its window. None once it ended, when no deployment waits to begin any more, and when
                      nothing holds it back (no start ahead, no window)
    driven_by         the runners (daemons, `fuota run`) holding a live lease on one of its open deployments: they
                      drive it. A lease lives DEFAULT_LEASE (30 s) after its runner last claimed or renewed it, and
                      a runner renews its leases every pass, including while a campaign waits for its start or its
                      window — so a waiting campaign that a daemon holds is driven
    undriven_seconds  how long nothing has driven the open campaign, once that exceeds DEFAULT_LEASE (None while
                      it is driven, within that grace, or once it ended). Counted from the latest of: its runner's
                      last renewal (a lease's end minus DEFAULT_LEASE), the campaign row's and its deployments' last
                      changes, its creation. The grace is the lease length because a live runner touches what it
                      drives more often than that

Nothing here reads the clock: every function takes `now` (the store's clock, Store.now(), which stamps leases).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

from fuota.core.model import DeploymentState
from fuota.core.settings import DAYS, Window
from fuota.store import CampaignRecord, DeploymentRecord
from fuota.store.leases import DEFAULT_LEASE
from fuota.views.formatting import format_time
from fuota.views.rows import iso

__all__ = [
    "driving",
    "schedule",
    "schedule_keys",
    "schedule_lines",
    "schedule_rows",
    "schedule_text",
    "undriven_text",
    "window_text",
]


def window_text(window: Window) -> str:
    """The window in words: its days (runs of consecutive days as "mon–fri"), its hours and its time zone."""
    hours = "all day" if window.start == window.end else f"{_hhmm(window.start)}–{_hhmm(window.end)}"
    if window.end < window.start:
        hours += " (overnight)"
    return f"{_days(window.days)} {hours} {window.timezone}"


def schedule(record: CampaignRecord, deployments: Iterable[DeploymentRecord], now: datetime) -> dict[str, Any]:
    """start_at, window, window_open and next_opening_at of the campaign at `now` (see the module docstring)."""
    settings = record.settings
    start, window = settings.start, settings.window
    waiting = any(d.state is DeploymentState.SCHEDULED for d in deployments)
    begin = max(now, start) if start is not None else now
    if record.state.ended or not waiting:
        opening = None
    elif window is not None:
        opening = window.next_opening(begin)
    else:
        opening = start if start is not None and start > now else None
    return {
        "start_at": iso(start),
        "window": None if window is None else window_text(window),
        "window_open": None if window is None else window.open_at(now),
        "next_opening_at": iso(opening),
    }


def driving(record: CampaignRecord, deployments: Iterable[DeploymentRecord], now: datetime) -> dict[str, Any]:
    """driven_by and undriven_seconds of the campaign at `now` (see the module docstring)."""
    open_ = [d for d in deployments if not d.state.ended]
    if record.state.ended:
        return {"driven_by": [], "undriven_seconds": None}
    live = sorted({d.lease_owner for d in open_ if d.lease_owner and d.lease_until and d.lease_until > now})
    if live:
        return {"driven_by": live, "undriven_seconds": None}
    touched = [record.created_at, record.updated_at, *(d.updated_at for d in open_)]
    touched += [d.lease_until - DEFAULT_LEASE for d in open_ if d.lease_until is not None]
    silent = (now - max(touched)).total_seconds()
    return {"driven_by": [], "undriven_seconds": silent if silent > DEFAULT_LEASE.total_seconds() else None}


def schedule_keys(record: CampaignRecord, deployments: Iterable[DeploymentRecord], now: datetime) -> dict[str, Any]:
    """Every key of this module for the campaign at `now`, as the summary and the campaign row carry them."""
    deployments = list(deployments)
    return {**schedule(record, deployments, now), **driving(record, deployments, now)}


def schedule_text(data: dict[str, Any]) -> str | None:
    """The schedule keys of `data` (a summary or campaign row) in one line, or None when it has no start and no
    window."""
    parts = []
    if data["start_at"] is not None:
        parts.append(f"start {format_time(data['start_at'])}")
    if data["window"] is not None:
        parts.append(f"window {data['window']} ({'open' if data['window_open'] else 'closed'} now)")
    if data["next_opening_at"] is not None:
        parts.append(f"next opening {format_time(data['next_opening_at'])}")
    return " · ".join(parts) or None


def undriven_text(data: dict[str, Any]) -> str | None:
    """The warning for an open campaign nothing drives (`data`: a summary or campaign row), or None."""
    seconds = data["undriven_seconds"]
    if seconds is None:
        return None
    return (
        f"no daemon has driven this campaign for {seconds:.0f} s: start `fuota daemon` on this store, or "
        "`fuota run CAMPAIGN.toml`, to drive it"
    )


def schedule_lines(data: dict[str, Any]) -> list[str]:
    """The schedule line and the undriven warning of `data` that apply, as plain text lines."""
    return [line for line in (schedule_text(data), undriven_text(data)) if line is not None]


def schedule_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The schedule keys of `data` that apply, and the undriven warning, as (label, text) rows for a report."""
    rows = []
    if data["start_at"] is not None:
        rows.append(("start", format_time(data["start_at"])))
    if data["window"] is not None:
        rows.append(("window", f"{data['window']}, {'open' if data['window_open'] else 'closed'} now"))
    if data["next_opening_at"] is not None:
        rows.append(("opens", format_time(data["next_opening_at"])))  # the next opening
    if (undriven := undriven_text(data)) is not None:
        rows.append(("driven", undriven))
    return rows


def _hhmm(clock: time) -> str:
    return clock.strftime("%H:%M:%S" if clock.second else "%H:%M")


def _days(days: list[str]) -> str:
    chosen = [DAYS.index(d) for d in DAYS if d in days]  # in week order, each once
    if len(chosen) == len(DAYS):
        return "every day"
    runs: list[list[int]] = []
    for day in chosen:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(f"{DAYS[r[0]]}–{DAYS[r[-1]]}" if len(r) > 2 else ",".join(DAYS[d] for d in r) for r in runs)
