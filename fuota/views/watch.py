"""`fuota watch` and `fuota run`'s live view: a campaign read from the store alone, so it works beside any runner.

Each refresh reads the read model's aggregates (fuota.views.model) and the latest few events — never the whole
event log: one progress bar per deployment with its phase and fragments sent (fuota.views.progress), the devices
per stage, the latest events, under a headline with the campaign's progress and time left — or, once it ended, its
share of devices updated — and the schedule (start, window, next opening) with a warning when no runner drives the
campaign (fuota.views.schedule). It ends when the campaign ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table

from fuota.core.model import CampaignState
from fuota.store import Store
from fuota.views.formatting import credentials_words, format_time, fragments_words, progress_words
from fuota.views.model import campaign_overview
from fuota.views.rows import latest_events
from fuota.views.schedule import schedule_lines, undriven_text

__all__ = ["render", "view", "watch", "watch_data"]

_LATEST = 8


def watch_data(store: Store, campaign_id: int, now: datetime) -> dict[str, Any]:
    """What the watch shows at `now`: the campaign overview (summary, deployments, reasons) with its progress at
    `now`, and the latest events. Raises LookupError if there is no such campaign."""
    return {
        **campaign_overview(store, campaign_id, now),
        "events": latest_events(store, campaign_id, limit=_LATEST),
    }


def render(data: dict[str, Any]) -> Group:
    """`data` (from watch_data) as one Rich renderable."""
    s = data["summary"]
    # Every text from the store is escaped: a back end's words are plain text, never Rich markup.
    bars = Table(title=f"campaign {s['id']} {escape(s['name'])}: {s['state']}", expand=False)
    columns = ("deployment", "phase", "progress", "%", "fragments", "updated", "failed", "unreachable", "pending")
    for column in (*columns, "retries"):
        bars.add_column(column)
    for d in data["deployments"]:
        bar = ProgressBar(total=100, completed=d["progress"], width=30)
        numbers = (f"{d['updated']}/{d['devices']}", *(str(d[k]) for k in ("failed", "unreachable", "pending")))
        phase = f"{d['state']} ({d['phase']})"
        bars.add_row(
            escape(d["task_name"]),
            escape(phase),
            bar,
            f"{d['progress']:g}",
            fragments_words(d),
            *numbers,
            str(d["retries"]),
        )
    counts = Table("stage", "devices", title="devices per stage")
    for stage, n in s["counts"].items():
        counts.add_row(stage, str(n))
    latest = Table("time", "what", title="latest events")
    for e in reversed(data["events"]["latest"]):  # oldest first, as a log reads
        what = f"{e['kind']}: {e['from_state'] or ''} → {e['to_state'] or ''} {e['dev_eui'] or ''} {e['cause']}"
        latest.add_row(datetime.fromisoformat(e["at"]).strftime("%H:%M:%S"), escape(what.strip()))
    if s["ended_at"] is not None:
        left = f"ended {format_time(s['ended_at'])}"
    else:
        ends = "" if s["ends_at"] is None else f" (ends {format_time(s['ends_at'])})"
        left = f"time left: {_duration(s['time_left_seconds'])}{ends}"
    # An ended campaign shows what it achieved, its share of devices updated, rather than its 100 %.
    done = progress_words(s) if s["phase"] == "ended" else f"progress {s['progress']:g} %"
    footer = (
        f"{s['settled']}/{s['devices']} devices settled, {done}, "
        f"{fragments_words(s)} fragments sent, started {format_time(s['started_at'])}, {left}"
    )
    refused = [words for d in data["deployments"] if (words := credentials_words(d)) is not None]
    # The headline first: a terminal shorter than the view crops its bottom, never the progress and time left.
    return Group(footer, *map(escape, [*schedule_lines(s), *refused]), bars, counts, latest)


def view(store: Store, campaign_id: int, now: datetime) -> Group:
    """The campaign as it stands in the store at `now`, as one Rich renderable."""
    return render(watch_data(store, campaign_id, now))


def watch(
    console: Console,
    store: Store,
    campaign_id: int,
    *,
    clock: Callable[[], datetime],
    interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    warn: Callable[[str], None] | None = None,
) -> CampaignState:
    """Show the live view until the campaign ends; return its final state. `clock` gives the time left's now;
    `warn` is told, once each time it begins, that no runner drives the campaign (fuota.views.schedule), so that
    a watch nobody's daemon will ever end says so beyond the live view too."""
    data = watch_data(store, campaign_id, clock())
    warned = _warn_undriven(data, False, warn)
    with Live(render(data), console=console, refresh_per_second=4) as live:
        while not CampaignState(data["summary"]["state"]).ended:
            sleep(interval)
            data = watch_data(store, campaign_id, clock())
            warned = _warn_undriven(data, warned, warn)
            live.update(render(data))
    return CampaignState(data["summary"]["state"])


def _warn_undriven(data: dict[str, Any], warned: bool, warn: Callable[[str], None] | None) -> bool:
    """Whether the campaign is undriven now, telling `warn` when it just became so."""
    text = undriven_text(data["summary"])
    if text is not None and not warned and warn is not None:
        warn(text)
    return text is not None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
