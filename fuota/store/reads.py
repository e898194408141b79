"""The store's reads: campaigns, deployments, devices and events as records, and counts grouped in SQL.

A mixin of `fuota.store.Store` (which holds the writes): every method is one read-only transaction of
`self._db`, a `fuota.store.db.Database`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import EllipsisType
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Result, Row, func, select

from fuota.core.model import CampaignState, DeploymentState, Outcome, Preparation, Stage, normalize_eui
from fuota.core.reasons import category_of
from fuota.core.settings import CampaignSettings
from fuota.store import schema
from fuota.store.db import Database, NotFound, StoreError
from fuota.store.records import CampaignRecord, DeploymentRecord, DeviceRecord, EventKind, EventRecord

__all__ = ["CAMPAIGN_COLUMNS", "StoreReads", "campaign_record"]

CAMPAIGN_COLUMNS = [c for c in schema.campaigns.c if c.name != "firmware"]


class StoreReads:
    """The read methods of the store."""

    _db: Database

    def campaign(self, id_or_name: int | str) -> CampaignRecord | None:
        """The campaign with this id (an int) or name (a str), or None."""
        key = schema.campaigns.c.name if isinstance(id_or_name, str) else schema.campaigns.c.id
        with self._db.transaction(f"read campaign {id_or_name!r}") as conn:
            row = conn.execute(select(*CAMPAIGN_COLUMNS).where(key == id_or_name)).first()
        return None if row is None else campaign_record(row)

    def campaigns(self) -> list[CampaignRecord]:
        """Every campaign, newest first."""
        stmt = select(*CAMPAIGN_COLUMNS).order_by(schema.campaigns.c.created_at.desc(), schema.campaigns.c.id.desc())
        with self._db.transaction("list campaigns") as conn:
            return [campaign_record(row) for row in conn.execute(stmt)]

    def deployment(self, deployment_id: int) -> DeploymentRecord | None:
        """The deployment with this id, or None."""
        with self._db.transaction(f"read deployment {deployment_id}") as conn:
            row = conn.execute(select(schema.deployments).where(schema.deployments.c.id == deployment_id)).first()
        return None if row is None else _deployment(row)

    def deployments(self, campaign_id: int | None = None) -> list[DeploymentRecord]:
        """The campaign's deployments (every campaign's without one), in the order they were given."""
        stmt = select(schema.deployments).order_by(schema.deployments.c.id)
        if campaign_id is not None:
            stmt = stmt.where(schema.deployments.c.campaign_id == campaign_id)
        with self._db.transaction(f"list the deployments of campaign {campaign_id}") as conn:
            return [_deployment(row) for row in conn.execute(stmt)]

    def devices(self, campaign_id: int | None = None, deployment_id: int | None = None) -> list[DeviceRecord]:
        """The devices of a campaign and/or a deployment (every device if neither is given), by deployment and
        EUI."""
        stmt = select(schema.devices).select_from(schema.devices.join(schema.deployments))
        if campaign_id is not None:
            stmt = stmt.where(schema.deployments.c.campaign_id == campaign_id)
        if deployment_id is not None:
            stmt = stmt.where(schema.devices.c.deployment_id == deployment_id)
        with self._db.transaction("list devices") as conn:
            result = conn.execute(stmt.order_by(schema.devices.c.deployment_id, schema.devices.c.dev_eui))
            return [_device_from(values) for values in _dicts(result)]

    def events(self, campaign_id: int, kind: EventKind | None = None) -> list[EventRecord]:
        """The campaign's events, oldest first, optionally of one kind only."""
        stmt = select(schema.events).where(schema.events.c.campaign_id == campaign_id)
        if kind is not None:
            stmt = stmt.where(schema.events.c.kind == EventKind(kind).value)
        with self._db.transaction(f"list the events of campaign {campaign_id}") as conn:
            result = conn.execute(stmt.order_by(schema.events.c.at, schema.events.c.id))
            return [_event_from(values) for values in _dicts(result)]

    def device_moves(self, campaign_id: int) -> list[tuple[datetime, int | None, str, str | None, str]]:
        """(at, deployment id, device EUI, from stage, to stage) of the campaign's "device" events that name a device
        and a stage, oldest first: five columns only, for the report's timeline (fuota/views/timeline.py)."""
        e = schema.events.c
        stmt = (
            select(e.at, e.deployment_id, e.dev_eui, e.from_state, e.to_state)
            .where(e.campaign_id == campaign_id, e.kind == EventKind.DEVICE.value)
            .where(e.dev_eui.is_not(None), e.to_state.is_not(None))
            .order_by(e.at, e.id)
        )
        with self._db.transaction(f"list the device moves of campaign {campaign_id}") as conn:
            return [tuple(row) for row in conn.execute(stmt)]

    def device_stages(self, campaign_id: int) -> list[tuple[int, str, str, datetime]]:
        """(deployment id, EUI, stage, updated_at) of every device of the campaign, by deployment and EUI: four
        columns only, for the report's timeline."""
        d = schema.devices.c
        stmt = (
            select(d.deployment_id, d.dev_eui, d.stage, d.updated_at)
            .select_from(schema.devices.join(schema.deployments))
            .where(schema.deployments.c.campaign_id == campaign_id)
            .order_by(d.deployment_id, d.dev_eui)
        )
        with self._db.transaction(f"list the device stages of campaign {campaign_id}") as conn:
            return [tuple(row) for row in conn.execute(stmt)]

    def firmware(self, campaign_id: int) -> bytes:
        """The campaign's firmware image, as stored when it was created."""
        with self._db.transaction(f"read the firmware of campaign {campaign_id}") as conn:
            image = conn.scalar(select(schema.campaigns.c.firmware).where(schema.campaigns.c.id == campaign_id))
        if image is None:
            raise NotFound(f"no campaign {campaign_id} in {self._db.url}")
        return bytes(image)  # some drivers hand back memoryview

    def stage_counts(self, campaign_id: int) -> dict[str, int]:
        """How many of the campaign's devices are at each Stage (every stage present, zeros included)."""
        return self._count(campaign_id, schema.devices.c.stage, Stage)

    def outcome_counts(self, campaign_id: int) -> dict[str, int]:
        """How many of the campaign's devices ended with each Outcome; devices without one are not counted."""
        return self._count(campaign_id, schema.devices.c.outcome, Outcome)

    # --- reads for the dashboard and the metrics: paged and grouped in SQL, so 10 000 devices stay cheap ---

    def devices_page(
        self,
        campaign_id: int,
        *,
        deployment_id: int | None = None,
        stage: Stage | None = None,
        outcome: Outcome | EllipsisType | None = ...,
        dev_eui: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[DeviceRecord], int]:
        """One page of the campaign's devices matching the filters (by deployment and EUI) and how many match in
        all. `outcome` None selects the devices without an outcome yet; `...` (the default) does not filter."""
        where = [schema.deployments.c.campaign_id == campaign_id]
        if deployment_id is not None:
            where.append(schema.devices.c.deployment_id == deployment_id)
        if stage is not None:
            where.append(schema.devices.c.stage == Stage(stage).value)
        if outcome is None:
            where.append(schema.devices.c.outcome.is_(None))
        elif outcome is not ...:
            where.append(schema.devices.c.outcome == Outcome(outcome).value)
        if dev_eui is not None:
            where.append(schema.devices.c.dev_eui == normalize_eui(dev_eui))
        joined = schema.devices.join(schema.deployments)
        rows = (
            select(schema.devices)
            .select_from(joined)
            .where(*where)
            .order_by(schema.devices.c.deployment_id, schema.devices.c.dev_eui)
            .offset(max(0, offset))
            .limit(max(0, limit))
        )
        with self._db.transaction(f"page the devices of campaign {campaign_id}") as conn:
            total = conn.scalar(select(func.count()).select_from(joined).where(*where)) or 0
            return [_device(row) for row in conn.execute(rows)], total

    def campaign_state_counts(self) -> dict[str, int]:
        """How many campaigns are in each CampaignState (every state present, zeros included)."""
        stmt = select(schema.campaigns.c.state, func.count()).group_by(schema.campaigns.c.state)
        counts = dict.fromkeys((s.value for s in CampaignState), 0)
        with self._db.transaction("count campaigns by state") as conn:
            counts.update({state: n for state, n in conn.execute(stmt)})
        return counts

    def device_counts(self, campaign_id: int | None = None) -> list[tuple[int, str, str | None, int]]:
        """(deployment id, stage, outcome, devices) for every combination present, of one campaign or all."""
        stmt = select(
            schema.devices.c.deployment_id, schema.devices.c.stage, schema.devices.c.outcome, func.count()
        ).group_by(schema.devices.c.deployment_id, schema.devices.c.stage, schema.devices.c.outcome)
        if campaign_id is not None:
            stmt = stmt.select_from(schema.devices.join(schema.deployments)).where(
                schema.deployments.c.campaign_id == campaign_id
            )
        with self._db.transaction("count devices by stage and outcome") as conn:
            return [tuple(row) for row in conn.execute(stmt)]

    def device_outcomes(self, campaign_ids: Sequence[int]) -> list[tuple[int, str, str | None]]:
        """(campaign id, device EUI, outcome as stored, None before one) of every device of these campaigns: three
        columns only, the outcome kept as its stored string (for a campaign family, fuota/views/family.py)."""
        stmt = (
            select(schema.deployments.c.campaign_id, schema.devices.c.dev_eui, schema.devices.c.outcome)
            .select_from(schema.devices.join(schema.deployments))
            .where(schema.deployments.c.campaign_id.in_(list(campaign_ids)))
            .order_by(schema.deployments.c.campaign_id, schema.devices.c.id)
        )
        with self._db.transaction("list the outcomes of a campaign family") as conn:
            return [(int(c), str(eui), outcome) for c, eui, outcome in conn.execute(stmt)]

    def category_counts(self, campaign_id: int | None = None) -> list[tuple[int, str | None, str, int]]:
        """(deployment id, category, outcome, devices) for the devices that ended other than updated, of one
        campaign or all."""
        c = schema.devices.c
        stmt = (
            select(c.deployment_id, c.category, c.outcome, func.count())
            .select_from(schema.devices.join(schema.deployments))
            .where(c.outcome.is_not(None), c.outcome != Outcome.UPDATED.value)
            .group_by(c.deployment_id, c.category, c.outcome)
        )
        if campaign_id is not None:
            stmt = stmt.where(schema.deployments.c.campaign_id == campaign_id)
        with self._db.transaction(f"count the failure categories of campaign {campaign_id}") as conn:
            return [tuple(row) for row in conn.execute(stmt)]

    def retries(self, campaign_id: int) -> dict[int, tuple[int, EventRecord]]:
        """For each deployment of the campaign with "retry" events: how many, and the latest one."""
        order = (schema.events.c.at.desc(), schema.events.c.id.desc())
        ranked = (
            select(
                schema.events,
                func.count().over(partition_by=schema.events.c.deployment_id).label("n"),
                func.row_number().over(partition_by=schema.events.c.deployment_id, order_by=order).label("position"),
            )
            .where(
                schema.events.c.campaign_id == campaign_id,
                schema.events.c.kind == EventKind.RETRY.value,
                schema.events.c.deployment_id.is_not(None),
            )
            .subquery()
        )
        stmt = select(ranked).where(ranked.c.position == 1)
        with self._db.transaction(f"count the retries of campaign {campaign_id}") as conn:
            rows = conn.execute(stmt).all()
        columns = [c.name for c in schema.events.c]
        return {row.deployment_id: (row.n, _event_from({name: row._mapping[name] for name in columns})) for row in rows}

    def last_event_at(self, campaign_id: int) -> datetime | None:
        """When the campaign's latest event happened, or None before its first."""
        stmt = select(func.max(schema.events.c.at)).where(schema.events.c.campaign_id == campaign_id)
        with self._db.transaction(f"read the last event of campaign {campaign_id}") as conn:
            return conn.scalar(stmt)

    def recent_events(
        self, campaign_id: int, *, dev_eui: str | None = None, skip: Sequence[EventKind] = (), limit: int = 100
    ) -> tuple[list[EventRecord], int]:
        """The campaign's latest events, newest first, of one device or skipping some kinds, and how many match."""
        where = [schema.events.c.campaign_id == campaign_id]
        if dev_eui is not None:
            where.append(schema.events.c.dev_eui == normalize_eui(dev_eui))
        skipped = {EventKind(k) for k in skip}
        kinds = [k.value for k in EventKind if k not in skipped]
        order = (schema.events.c.at.desc(), schema.events.c.id.desc())
        # Skipping some kinds, each kind kept is read on its own, newest first through ix_events_kind_campaign_id_at,
        # and the few rows merged: walking the campaign's events by time would pass every device event first.
        kinded = [[*where, schema.events.c.kind == kind] for kind in kinds] if skipped else [where]
        with self._db.transaction(f"list the latest events of campaign {campaign_id}") as conn:
            if skipped:
                where.append(schema.events.c.kind.in_(kinds))
            total = conn.scalar(select(func.count()).select_from(schema.events).where(*where)) or 0
            rows = [
                row
                for conditions in kinded
                for row in conn.execute(select(schema.events).where(*conditions).order_by(*order).limit(max(0, limit)))
            ]
        rows.sort(key=lambda row: (row.at, row.id), reverse=True)
        return [_event(row) for row in rows[: max(0, limit)]], total

    def event_counts(self) -> dict[str, int]:
        """How many events of each kind the store holds over all campaigns (every kind present, zeros included)."""
        stmt = select(schema.events.c.kind, func.count()).group_by(schema.events.c.kind)
        counts = dict.fromkeys((k.value for k in EventKind), 0)
        with self._db.transaction("count events by kind") as conn:
            counts.update({kind: n for kind, n in conn.execute(stmt)})
        return counts

    def started_at(self, campaign_id: int | None = None) -> dict[int, datetime]:
        """When each campaign that ever ran (or only `campaign_id`) went Running (its first such transition), by
        campaign id."""
        stmt = (
            select(schema.events.c.campaign_id, func.min(schema.events.c.at))
            .where(
                schema.events.c.deployment_id.is_(None),
                schema.events.c.kind == EventKind.TRANSITION.value,
                schema.events.c.to_state == CampaignState.RUNNING.value,
            )
            .group_by(schema.events.c.campaign_id)
        )
        if campaign_id is not None:
            stmt = stmt.where(schema.events.c.campaign_id == campaign_id)
        with self._db.transaction("read when the campaigns started") as conn:
            return {cid: at for cid, at in conn.execute(stmt)}

    # --- internals ---------------------------------------------------------------------------------------

    def _count(
        self, campaign_id: int, column: ColumnElement[Any], values: type[Stage] | type[Outcome]
    ) -> dict[str, int]:
        stmt = (
            select(column, func.count())
            .select_from(schema.devices.join(schema.deployments))
            .where(schema.deployments.c.campaign_id == campaign_id, column.is_not(None))
            .group_by(column)
        )
        counts = dict.fromkeys((v.value for v in values), 0)
        with self._db.transaction(f"count the devices of campaign {campaign_id}") as conn:
            counts.update({value: n for value, n in conn.execute(stmt)})
        return counts


def campaign_record(row: Row[Any]) -> CampaignRecord:
    """A row of `campaigns` (without the firmware) as a record, its settings document typed."""
    try:
        settings = CampaignSettings.model_validate(row.settings)
    except ValidationError as exc:
        raise StoreError(
            f"campaign {row.id} ({row.name}): its stored settings cannot be read ({exc.error_count()} problems, the "
            f"first at {'.'.join(map(str, exc.errors()[0]['loc']))}); was it stored by a newer fuota? Upgrade fuota"
        ) from exc
    return CampaignRecord(**{**row._mapping, "state": CampaignState(row.state), "settings": settings})


def _deployment(row: Row[Any]) -> DeploymentRecord:
    values = {**row._mapping, "state": DeploymentState(row.state), "preparation": Preparation(row.preparation)}
    return DeploymentRecord(**values)


def _dicts(result: Result[Any]) -> Iterator[dict[str, Any]]:
    """The rows of `result` as dicts: the column names read once, not once per row as Row._mapping does, which
    counts at 100 000 devices."""
    names = list(result.keys())
    return (dict(zip(names, row, strict=True)) for row in result)


def _device(row: Row[Any]) -> DeviceRecord:
    return _device_from(row._mapping)


def _device_from(values: Mapping[str, Any]) -> DeviceRecord:
    outcome = None if values["outcome"] is None else Outcome(values["outcome"])
    category = None if values["category"] is None else category_of(values["category"])
    return DeviceRecord(**{**values, "stage": Stage(values["stage"]), "outcome": outcome, "category": category})


def _event(row: Row[Any]) -> EventRecord:
    return _event_from(row._mapping)


def _event_from(values: Mapping[str, Any]) -> EventRecord:
    return EventRecord(**{**values, "kind": EventKind(values["kind"])})
