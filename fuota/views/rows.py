"""Device and event rows of the read model, and the device table the dashboard pages and filters in SQL.

    device row  dev_eui, deployment_id, deployment (its task name), stage, outcome (None until it has one),
                category (why it did not end updated, a fuota.core.reasons code; None otherwise), reason (the
                detail), last_change (when the device's row last changed), raw (the back end's fields, verbatim)
    event row   at, kind, deployment (task name; None for the campaign's own), dev_eui, from_state, to_state, cause

Times are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import EllipsisType
from typing import Any

from fuota.core.model import Outcome, Stage
from fuota.store import CampaignRecord, DeviceRecord, EventKind, EventRecord, Store

__all__ = [
    "LARGEST_ID",
    "NO_OUTCOME",
    "PER_PAGE",
    "DeviceFilter",
    "FilterError",
    "anomalies",
    "device_page",
    "device_row",
    "device_rows",
    "devices_page",
    "event_row",
    "iso",
    "latest_events",
]

PER_PAGE = 50
NO_OUTCOME = "none"  # the outcome filter's value for devices still under way
LARGEST_ID = 2**63 - 1  # the store's ids are SQL BIGINTs: beyond, no id (and no row offset) can be


class FilterError(ValueError):
    """A device-table filter that cannot be applied; the message names the parameter, value and choices."""


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
        for name, largest in (("deployment", LARGEST_ID), ("page", LARGEST_ID // PER_PAGE)):
            given = params.get(name, "")
            if given and not (given.isascii() and given.isdigit()):  # "²".isdigit() holds, int("²") fails
                raise FilterError(f"{name} = {given!r} is not a positive whole number")
            if given and int(given) > largest:
                raise FilterError(f"{name} = {given} is beyond any there can be (at most {largest})")
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


def iso(at: datetime | None) -> str | None:
    """A time as the read model shows it: ISO 8601 (UTC, as the store keeps it), or None."""
    return None if at is None else at.isoformat()


def device_row(record: DeviceRecord, names: dict[int, str]) -> dict[str, Any]:
    """One device as a device row; `names` maps deployment ids to task names."""
    return {
        "dev_eui": record.dev_eui,
        "deployment_id": record.deployment_id,
        "deployment": names[record.deployment_id],
        "stage": str(record.stage),
        "outcome": None if record.outcome is None else str(record.outcome),
        "category": None if record.category is None else str(record.category),
        "reason": record.reason,
        "last_change": iso(record.updated_at),
        "raw": record.raw,
    }


def event_row(record: EventRecord, names: dict[int, str]) -> dict[str, Any]:
    """One event as an event row; `names` maps deployment ids to task names."""
    return {
        "at": iso(record.at),
        "kind": str(record.kind),
        "deployment": None if record.deployment_id is None else names.get(record.deployment_id),
        "dev_eui": record.dev_eui,
        "from_state": record.from_state,
        "to_state": record.to_state,
        "cause": record.cause,
    }


def device_rows(store: Store, campaign_id: int) -> list[dict[str, Any]]:
    """Every device of the campaign as a device row, by deployment and EUI."""
    names = _names(store, campaign_id)
    return [device_row(d, names) for d in store.devices(campaign_id=campaign_id)]


def anomalies(store: Store, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's "anomaly" events as event rows, oldest first."""
    names = _names(store, campaign_id)
    return [event_row(e, names) for e in store.events(campaign_id, kind=EventKind.ANOMALY)]


def latest_events(
    store: Store, campaign_id: int, *, limit: int, skip: Sequence[EventKind] = (), dev_eui: str | None = None
) -> dict[str, Any]:
    """{"total": how many events match, "latest": the `limit` latest as event rows, newest first}, of one device
    or skipping some kinds."""
    names = _names(store, campaign_id)
    events, total = store.recent_events(campaign_id, dev_eui=dev_eui, skip=skip, limit=limit)
    return {"total": total, "latest": [event_row(e, names) for e in events]}


def devices_page(store: Store, campaign: CampaignRecord, table: DeviceFilter) -> dict[str, Any]:
    """One page of the campaign's device rows under `table`'s filters, with the totals to page through it.
    Raises FilterError for a deployment that is not the campaign's."""
    names = _names(store, campaign.id)
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
        "devices": [device_row(d, names) for d in rows],
    }


def device_page(store: Store, campaign: CampaignRecord, dev_eui: str, latest: int = 500) -> dict[str, Any] | None:
    """One device: its row in each of the campaign's deployments and its `latest` events; None if the
    campaign has no such device."""
    names = _names(store, campaign.id)
    rows, _ = store.devices_page(campaign.id, dev_eui=dev_eui, limit=len(names) or 1)
    if not rows:
        return None
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "state": str(campaign.state)},
        "dev_eui": rows[0].dev_eui,
        "deployments": [device_row(d, names) for d in rows],
        "events": latest_events(store, campaign.id, limit=latest, dev_eui=dev_eui),
    }


def _names(store: Store, campaign_id: int) -> dict[int, str]:
    return {d.id: d.task_name for d in store.deployments(campaign_id)}
