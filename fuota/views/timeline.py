"""The report's timeline: devices per stage over time, replayed from the store's "device" events.

    stages   the stages that ever had a device, in Stage order (strings outside Stage, a newer engine's, after)
    points   [{at, counts: {stage: devices}}]: one at the campaign's creation, one per distinct event time, and one
             at its end

A replay needs each device's history, so this reads the campaign's device rows and its "device" events (no other
kind); the rest of the read model counts in SQL. The replay is one pass over the events, keeping the counts per stage
as it goes, so its cost grows with events + devices, not their product.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from fuota.core.model import Stage
from fuota.store import Store
from fuota.views.rows import iso

__all__ = ["timeline"]


def timeline(store: Store, campaign_id: int) -> dict[str, Any]:
    """The campaign's timeline, {"stages", "points"}. Raises LookupError if there is no such campaign."""
    campaign = store.campaign(campaign_id)
    if campaign is None:
        raise LookupError(f"campaign {campaign_id} does not exist; `fuota list` shows the campaigns")
    moves: list[tuple[datetime, tuple[int | None, str], str]] = []
    first: dict[tuple[int | None, str], str | None] = {}
    for at, deployment_id, dev_eui, from_state, to_state in store.device_moves(campaign_id):
        key = (deployment_id, dev_eui)
        first.setdefault(key, from_state)
        moves.append((at, key, to_state))
    last = {key: (at, stage) for at, key, stage in moves}
    # create_campaign stores every device pending, so a stored device starts there unless its first event
    # says otherwise; a device known only from events (added by a back end) counts from that event on.
    where = {key: stage for key, stage in first.items() if stage is not None}
    for deployment_id, dev_eui, stage, updated_at in store.device_stages(campaign_id):
        key = (deployment_id, dev_eui)
        where.setdefault(key, Stage.PENDING.value)
        replayed_at, replayed = last.get(key, (updated_at, where[key]))
        if replayed != stage:
            # The events missed a change: show it when the row last changed, so that the timeline ends where
            # the devices are.
            moves.append((max(updated_at, replayed_at), key, stage))
    moves.sort(key=lambda move: move[0])  # stable: events keep the store's order within one time
    # Counted as the replay goes, one move at a time: a point copies the few stages, never recounts the devices.
    counts = Counter(where.values())
    points: list[tuple[datetime, dict[str, int]]] = [(campaign.created_at, dict(counts))]
    for n, (at, key, stage) in enumerate(moves):
        before = where.get(key)
        if before is not None:
            counts[before] -= 1
        counts[stage] += 1
        where[key] = stage
        # Events of one engine step share a time: one point with the state after all of them.
        if n + 1 == len(moves) or moves[n + 1][0] != at:
            if points[-1][0] == at:
                points.pop()
            points.append((at, {s: k for s, k in counts.items() if k}))
    if campaign.ended_at is not None and campaign.ended_at > points[-1][0]:
        points.append((campaign.ended_at, points[-1][1]))
    seen = {stage for _, counts in points for stage in counts}
    stages = [s.value for s in Stage if s.value in seen] + sorted(seen - {s.value for s in Stage})
    return {
        "stages": stages,
        "points": [{"at": iso(at), "counts": {s: counts.get(s, 0) for s in stages}} for at, counts in points],
    }
