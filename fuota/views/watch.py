"""`fuota watch`: a live view of a campaign, read from the store alone, so it works beside any runner or daemon.

One progress bar per deployment (devices updated / total), the counts per stage, the latest events and an
estimate of the time left from the pace so far. It ends when the campaign ends.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from fuota.core.model import CampaignState, Outcome, Stage
from fuota.store import Store

__all__ = ["view", "watch"]

_LATEST = 8


def _eta(started: datetime | None, done: int, total: int, now: datetime) -> str:
    """Time left at the pace so far: devices settled per second since the first deployment started."""
    if started is None or done == 0 or done >= total:
        return "—"
    rate = done / max((now - started).total_seconds(), 1e-3)
    seconds = (total - done) / rate
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def view(store: Store, campaign_id: int, now: datetime | None = None) -> Group:
    """The campaign as it stands in the store, as one Rich renderable."""
    now = now or datetime.now(UTC)
    campaign = store.campaign(campaign_id)
    if campaign is None:
        raise LookupError(f"campaign {campaign_id} does not exist; `fuota list` shows the campaigns")
    deployments = store.deployments(campaign_id)
    devices = store.devices(campaign_id=campaign_id)
    events = store.events(campaign_id)
    by_deployment: dict[int, list] = {d.id: [] for d in deployments}
    for device in devices:
        by_deployment[device.deployment_id].append(device)
    bars = Table(title=f"campaign {campaign.id} {campaign.name}: {campaign.state}", expand=False)
    for column in ("deployment", "state", "progress", "updated", "failed"):
        bars.add_column(column)
    for d in deployments:
        members = by_deployment[d.id]
        updated = sum(m.outcome is Outcome.UPDATED or m.stage is Stage.DONE for m in members)
        failed = sum(m.outcome in (Outcome.FAILED, Outcome.UNREACHABLE) and m.stage is not Stage.DONE for m in members)
        bar = ProgressBar(total=max(len(members), 1), completed=updated, width=30)
        bars.add_row(d.task_name, str(d.state), bar, f"{updated}/{len(members)}", str(failed))
    stages = Counter(str(d.stage) for d in devices)
    counts = Table("stage", "devices", title="devices per stage")
    for stage in Stage:
        if stages[stage.value]:
            counts.add_row(stage.value, str(stages[stage.value]))
    latest = Table("time", "what", title="latest events")
    for event in events[-_LATEST:]:
        what = f"{event.kind}: {event.from_state or ''} → {event.to_state or ''} {event.dev_eui or ''} {event.cause}"
        latest.add_row(event.at.strftime("%H:%M:%S"), what.strip())
    started = next((e.at for e in events if e.kind == "transition"), None)
    settled = sum(d.outcome is not None or d.stage is Stage.DONE for d in devices)
    eta = "ended" if campaign.state.ended else _eta(started, settled, len(devices), now)
    return Group(bars, counts, latest, f"{settled}/{len(devices)} devices settled, time left: {eta}")


def watch(
    console: Console,
    store: Store,
    campaign_id: int,
    *,
    interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> CampaignState:
    """Show the live view until the campaign ends; return its final state."""
    with Live(view(store, campaign_id), console=console, refresh_per_second=4) as live:
        while True:
            campaign = store.campaign(campaign_id)
            assert campaign is not None  # checked by view() on entry; campaigns are never deleted
            live.update(view(store, campaign_id))
            if campaign.state.ended:
                return campaign.state
            sleep(interval)
