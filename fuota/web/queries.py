"""What each dashboard page shows, as one JSON-ready dict read from the store: the page renders it, its JSON twin
returns it as it is, so the two cannot disagree.

Counts are grouped and the device table paged in SQL (Store.device_counts, Store.devices_page), so a campaign of
10 000 devices costs a few small queries per refresh. Times are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from types import EllipsisType
from typing import Any

from fuota.core.model import Outcome, Stage
from fuota.store import CampaignRecord, DeviceRecord, EventKind, EventRecord, Store

__all__ = ["PER_PAGE", "DeviceFilter", "FilterError", "campaign_data", "campaigns_data", "device_data", "devices_data"]

PER_PAGE = 50
TIMELINE = 50  # latest events on the campaign page; device events have their own page
NO_OUTCOME = "none"  # the outcome filter's value for devices still under way

# How far along a device is, for the progress bars: its stage's step on the way to an outcome.
_STEP = {
    Stage.PENDING: 0,
    Stage.UNKNOWN: 0,
    Stage.MULTICAST_SETUP: 1,
    Stage.MULTICAST_READY: 2,
    Stage.FRAGMENTATION_SETUP: 3,
    Stage.RECEIVING: 4,
    Stage.STATUS_REPORTED: 5,
    Stage.DONE: 6,
    Stage.FAILED: 6,
}
_LAST_STEP = 6


class FilterError(ValueError):
    """A device-table filter the dashboard cannot apply; the message names the parameter, value and choices."""


@dataclass(frozen=True)
class DeviceFilter:
    """The device table's filters and page, as parsed from a query string."""

    deployment: int | None = None
    stage: Stage | None = None
    outcome: Outcome | EllipsisType | None = ...
    page: int = 1

    @classmethod
    def parse(cls, params: dict[str, str]) -> DeviceFilter:
        """Read deployment, stage, outcome and page (empty means any); FilterError on a value that is none."""
        stage, outcome, deployment = params.get("stage", ""), params.get("outcome", ""), params.get("deployment", "")
        if stage and stage not in {s.value for s in Stage}:
            raise FilterError(f"stage = {stage!r} is not one of {', '.join(s.value for s in Stage)}")
        choices = [o.value for o in Outcome] + [NO_OUTCOME]
        if outcome and outcome not in choices:
            raise FilterError(f"outcome = {outcome!r} is not one of {', '.join(choices)}")
        for name in ("deployment", "page"):
            if params.get(name, "") and not params[name].isdigit():
                raise FilterError(f"{name} = {params[name]!r} is not a positive whole number")
        return cls(
            deployment=int(deployment) if deployment else None,
            stage=Stage(stage) if stage else None,
            outcome=... if not outcome else None if outcome == NO_OUTCOME else Outcome(outcome),
            page=max(1, int(params.get("page") or 1)),
        )

    def query(self, **changes: object) -> dict[str, str]:
        """The filter as query parameters, with `changes` applied (e.g. page=2); empty filters left out."""
        values = {
            "deployment": "" if self.deployment is None else str(self.deployment),
            "stage": "" if self.stage is None else self.stage.value,
            "outcome": "" if self.outcome is ... else NO_OUTCOME if self.outcome is None else self.outcome.value,
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and (k != "page" or v != "1")}


def campaigns_data(store: Store) -> dict[str, Any]:
    """The campaigns page: every campaign, newest first, with its progress, times and back ends."""
    records = store.campaigns()
    started = store.started_at()
    per_campaign: dict[int, dict[str, Any]] = {}
    deployment_campaign: dict[int, int] = {}
    for record in records:
        deployments = store.deployments(record.id)
        deployment_campaign.update({d.id: record.id for d in deployments})
        per_campaign[record.id] = {"backends": sorted({d.backend for d in deployments}), "stages": Counter()}
    outcomes: dict[int, Counter[str]] = {r.id: Counter() for r in records}
    for deployment_id, stage, outcome, n in store.device_counts():
        campaign_id = deployment_campaign.get(deployment_id)
        if campaign_id is not None:
            per_campaign[campaign_id]["stages"][stage] += n
            if outcome is not None:
                outcomes[campaign_id][outcome] += n
    return {
        "campaigns": [
            {
                **_campaign_head(r, started.get(r.id)),
                "backends": per_campaign[r.id]["backends"],
                "devices": per_campaign[r.id]["stages"].total(),
                "progress": _progress(per_campaign[r.id]["stages"], r.state.ended),
                "outcomes": dict(outcomes[r.id]),
            }
            for r in records
        ]
    }


def campaign_data(store: Store, campaign: CampaignRecord, table: DeviceFilter) -> dict[str, Any]:
    """The campaign page: its deployments with stage counts, progress and failure reasons, the latest events,
    and the device table's current page."""
    deployments = store.deployments(campaign.id)
    stages: dict[int, Counter[str]] = {d.id: Counter() for d in deployments}
    outcomes: dict[int, Counter[str]] = {d.id: Counter() for d in deployments}
    for deployment_id, stage, outcome, n in store.device_counts(campaign.id):
        stages[deployment_id][stage] += n
        if outcome is not None:
            outcomes[deployment_id][outcome] += n
    reasons: dict[int, list[dict[str, Any]]] = {d.id: [] for d in deployments}
    overall: Counter[str | None] = Counter()
    for deployment_id, reason, n in store.reason_counts(campaign.id):
        reasons[deployment_id].append({"reason": reason, "devices": n})
        overall[reason] += n
    everything: Counter[str] = sum(stages.values(), Counter())
    events, total = store.recent_events(campaign.id, skip=[EventKind.DEVICE], limit=TIMELINE)
    names = {d.id: d.task_name for d in deployments}
    return {
        **_campaign_head(campaign, store.started_at().get(campaign.id)),
        "updated_at": _iso(campaign.updated_at),
        "firmware": {"size": campaign.firmware_size, "sha256": campaign.firmware_sha256},
        "devices": everything.total(),
        "progress": _progress(everything, campaign.state.ended),
        "counts": {s.value: everything[s.value] for s in Stage},
        "outcomes": {o.value: sum(c[o.value] for c in outcomes.values()) for o in Outcome},
        "reasons": [{"reason": r, "devices": n} for r, n in overall.most_common()],
        "deployments": [
            {
                "id": d.id,
                "task_name": d.task_name,
                "backend": d.backend,
                "target": d.target,
                "state": str(d.state),
                "devices": stages[d.id].total(),
                "progress": _progress(stages[d.id], d.state.ended),
                "counts": {s.value: stages[d.id][s.value] for s in Stage},
                "outcomes": {o.value: outcomes[d.id][o.value] for o in Outcome},
                "reasons": reasons[d.id],
            }
            for d in deployments
        ],
        "events": {"total": total, "latest": [_event(e, names) for e in events]},
        "table": devices_data(store, campaign, table),
    }


def devices_data(store: Store, campaign: CampaignRecord, table: DeviceFilter) -> dict[str, Any]:
    """One page of the campaign's device table under `table`'s filters, with the totals to page through it."""
    names = {d.id: d.task_name for d in store.deployments(campaign.id)}
    if table.deployment is not None and table.deployment not in names:
        known = ", ".join(str(i) for i in names) or "none"
        raise FilterError(f"deployment = {table.deployment} is not a deployment of this campaign (known: {known})")
    rows, total = store.devices_page(
        campaign.id,
        deployment_id=table.deployment,
        stage=table.stage,
        outcome=table.outcome,
        offset=(table.page - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    return {
        "campaign": campaign.id,
        "campaign_state": str(campaign.state),
        "filters": table.query(page=1),
        "page": table.page,
        "pages": max(1, -(-total // PER_PAGE)),
        "per_page": PER_PAGE,
        "total": total,
        "deployments": [{"id": i, "task_name": n} for i, n in names.items()],
        "devices": [_device(d, names) for d in rows],
    }


def device_data(store: Store, campaign: CampaignRecord, dev_eui: str) -> dict[str, Any] | None:
    """The device page: the device in each of the campaign's deployments (its codes), and its events; None if
    the campaign has no such device."""
    rows, _ = store.devices_page(campaign.id, dev_eui=dev_eui, limit=len(store.deployments(campaign.id)) or 1)
    if not rows:
        return None
    names = {d.id: d.task_name for d in store.deployments(campaign.id)}
    events, total = store.recent_events(campaign.id, dev_eui=dev_eui, limit=500)
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "state": str(campaign.state)},
        "dev_eui": rows[0].dev_eui,
        "deployments": [{**_device(d, names), "raw": d.raw} for d in rows],
        "events": {"total": total, "latest": [_event(e, names) for e in events]},
    }


def _campaign_head(record: CampaignRecord, started: datetime | None) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "state": str(record.state),
        "created_at": _iso(record.created_at),
        "started_at": _iso(started),
        "ended_at": _iso(record.ended_at),
    }


def _progress(stages: Counter[str], ended: bool) -> float:
    """Percent of the way the devices have gone through the stages; 100 once nothing more will happen."""
    total = stages.total()
    if ended or not total:
        return 100.0 if ended else 0.0
    steps = sum(_STEP[Stage(stage)] * n for stage, n in stages.items())
    return round(100 * steps / (_LAST_STEP * total), 1)


def _device(record: DeviceRecord, names: dict[int, str]) -> dict[str, Any]:
    return {
        "dev_eui": record.dev_eui,
        "deployment_id": record.deployment_id,
        "deployment": names[record.deployment_id],
        "stage": str(record.stage),
        "outcome": None if record.outcome is None else str(record.outcome),
        "reason": record.reason,
        "updated_at": _iso(record.updated_at),
    }


def _event(record: EventRecord, names: dict[int, str]) -> dict[str, Any]:
    return {
        "at": _iso(record.at),
        "kind": str(record.kind),
        "deployment": None if record.deployment_id is None else names.get(record.deployment_id),
        "dev_eui": record.dev_eui,
        "from_state": record.from_state,
        "to_state": record.to_state,
        "cause": record.cause,
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
