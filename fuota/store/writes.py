"""The store's writes: the `Store` class (its reads are the mixin of fuota/store/reads.py), one transaction per
method."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import EllipsisType
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Preparation, Stage, normalize_eui
from fuota.core.reasons import Category
from fuota.core.settings import CampaignSettings
from fuota.store import leases, schema, updates
from fuota.store.db import Database, DuplicateCampaign, LeaseLost, NotFound, StaleState, StoreError
from fuota.store.reads import CAMPAIGN_COLUMNS, StoreReads, campaign_record
from fuota.store.records import CampaignRecord, EventKind, NewDeployment, NewEvent

__all__ = ["Store"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store(StoreReads):
    """The campaigns database. Safe to share between threads; several processes may open the same file."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] = _utc_now) -> None:
        """Open the database at `url` (e.g. `sqlite:///fuota.db`, `postgresql+psycopg://user@host/fuota`) and
        migrate it to the latest schema. `clock` gives the time stamped on rows (simulations speed it up)."""
        self._clock = clock
        self._db = Database(url)
        try:
            self._db.migrate()
        except BaseException:
            self._db.dispose()
            raise

    def close(self) -> None:
        """Close every pooled connection."""
        self._db.dispose()

    def now(self) -> datetime:
        """The store's clock: what it stamps rows and leases with, so what readers compare them with."""
        return self._clock()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- writes ---------------------------------------------------------------------------------------------

    def create_campaign(
        self, settings: CampaignSettings, firmware: bytes, deployments: Sequence[NewDeployment]
    ) -> CampaignRecord:
        """Store a campaign named `settings.name` in `Scheduled` with its settings, its deployments and their
        devices (stage `pending`), all or nothing. Raises DuplicateCampaign if the name is taken."""
        name = settings.name
        try:
            return self._create_campaign(name, settings, firmware, deployments)
        except DuplicateCampaign:
            raise
        except StoreError as exc:
            if self.campaign(name) is not None:
                # Created by another process between our look-up and our insert (PostgreSQL lets both read).
                raise _duplicate(name) from exc
            raise

    def _create_campaign(
        self, name: str, settings: CampaignSettings, firmware: bytes, deployments: Sequence[NewDeployment]
    ) -> CampaignRecord:
        now = self._clock()
        task_names = [d.task_name for d in deployments]
        with self._db.transaction(f"create campaign {name!r}", write=True) as conn:
            if conn.scalar(select(schema.campaigns.c.id).where(schema.campaigns.c.name == name)) is not None:
                raise _duplicate(name)
            taken = select(schema.deployments.c.task_name).where(schema.deployments.c.task_name.in_(task_names))
            if clash := {t for t in task_names if task_names.count(t) > 1} | set(conn.scalars(taken)):
                raise StoreError(f"task names used twice: {sorted(clash)}; every deployment needs its own")
            campaign_id = conn.execute(
                insert(schema.campaigns).values(
                    name=name,
                    state=CampaignState.SCHEDULED.value,
                    settings=_json(settings.model_dump(mode="json")),
                    firmware=firmware,
                    firmware_sha256=hashlib.sha256(firmware).hexdigest(),
                    firmware_size=len(firmware),
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            for new in deployments:
                deployment_id = conn.execute(
                    insert(schema.deployments).values(
                        campaign_id=campaign_id,
                        backend=new.backend,
                        target=new.target,
                        task_name=new.task_name,
                        state=DeploymentState.SCHEDULED.value,
                        plan=new.plan,
                        temporary=new.temporary,
                        created_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]
                if new.devices:
                    pending = {
                        "deployment_id": deployment_id,
                        "stage": Stage.PENDING.value,
                        "raw": {},
                        "updated_at": now,
                    }
                    conn.execute(
                        insert(schema.devices), [{**pending, "dev_eui": normalize_eui(e)} for e in new.devices]
                    )
            return campaign_record(
                conn.execute(select(*CAMPAIGN_COLUMNS).where(schema.campaigns.c.id == campaign_id)).one()
            )

    def update_scheduled(
        self,
        campaign_id: int,
        settings: CampaignSettings,
        firmware: bytes,
        deployments: Sequence[NewDeployment],
        cause: str,
    ) -> None:
        """Replace the settings, image and deployments of a campaign that has sent nothing yet, recording `cause`
        as an event, all or nothing; StaleState when it has begun (fuota/store/updates.py)."""
        now = self._clock()
        with self._db.transaction(f"update campaign {campaign_id}", write=True) as conn:
            settings_json = _json(settings.model_dump(mode="json"))
            updates.replace_scheduled(conn, campaign_id, settings_json, firmware, deployments, now)
            event = NewEvent(EventKind.COMMAND, cause)
            conn.execute(insert(schema.events).values(_event_row(campaign_id, None, event, now)))

    def apply(
        self,
        deployment_id: int,
        *,
        state: DeploymentState | None = None,
        backend_ref: dict[str, Any] | None = None,
        target: str | None = None,
        plan: dict[str, Any] | None = None,
        progress: dict[str, Any] | None = None,
        next_deadline: datetime | EllipsisType | None = ...,
        preparation: Preparation | None = None,
        join_deadline: datetime | EllipsisType | None = ...,
        events: Sequence[NewEvent] = (),
        devices: Sequence[DeviceProgress] = (),
        expected_state: DeploymentState | None = None,
        lease_owner: str | None = None,
    ) -> None:
        """Write one engine step in one transaction: the deployment fields given (None leaves a field as it is;
        for `next_deadline` and `join_deadline` None clears it and `...` leaves it), the events, and the devices
        whose stage, outcome, category, reason, raw fields or firmware version differ from what is stored
        (unknown devices are added; unchanged ones cause no write). With `expected_state`, raise StaleState and
        write nothing if the stored state differs; with `lease_owner`, raise LeaseLost and write nothing if another
        runner holds the deployment's lease.
        """
        now = self._clock()
        with self._db.transaction(f"write a step of deployment {deployment_id}", write=True) as conn:
            # FOR UPDATE holds other writers off this row until commit (SQLite's BEGIN IMMEDIATE already does).
            row = conn.execute(
                select(schema.deployments).where(schema.deployments.c.id == deployment_id).with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"no deployment {deployment_id} in {self._db.url}")
            if lease_owner is not None and row.lease_owner not in (None, lease_owner):
                raise LeaseLost(
                    f"deployment {deployment_id} ({row.task_name}) is driven by {row.lease_owner} now, not "
                    f"{lease_owner}: its lease was taken over"
                )
            if expected_state is not None and row.state != DeploymentState(expected_state):
                raise StaleState(
                    f"deployment {deployment_id} is {row.state}, not {expected_state}: another writer moved it; "
                    "reload it and decide again"
                )
            wanted: dict[str, Any] = {
                "state": None if state is None else DeploymentState(state).value,
                "backend_ref": None if backend_ref is None else _json(backend_ref),
                "target": target,
                "plan": None if plan is None else _json(plan),
                "progress": None if progress is None else _json(progress),
                "preparation": None if preparation is None else Preparation(preparation).value,
            }
            changes = {k: v for k, v in wanted.items() if v is not None and v != row._mapping[k]}
            if next_deadline is not ... and next_deadline != row.next_deadline:
                changes["next_deadline"] = next_deadline
            if join_deadline is not ... and join_deadline != row.join_deadline:
                changes["join_deadline"] = join_deadline
            if changes:
                conn.execute(
                    update(schema.deployments)
                    .where(schema.deployments.c.id == deployment_id)
                    .values(**changes, updated_at=now)
                )
            if events:
                conn.execute(
                    insert(schema.events), [_event_row(row.campaign_id, deployment_id, e, now) for e in events]
                )
            if devices:
                _write_devices(conn, deployment_id, devices, now)

    def set_campaign_state(
        self, campaign_id: int, state: CampaignState, cause: str, *, expected: CampaignState | None = None
    ) -> bool:
        """Move a campaign to `state` (stamping ended_at when it ends) and record the transition; True when it
        moved. With `expected`, it moves only from that state, so that of several runners concluding at once
        exactly one records the transition."""
        state = CampaignState(state)
        now = self._clock()
        with self._db.transaction(f"set campaign {campaign_id} to {state}", write=True) as conn:
            current = conn.scalar(
                select(schema.campaigns.c.state).where(schema.campaigns.c.id == campaign_id).with_for_update()
            )
            if current is None:
                raise NotFound(f"no campaign {campaign_id} in {self._db.url}")
            if current == state or (expected is not None and current != CampaignState(expected).value):
                return False
            conn.execute(
                update(schema.campaigns)
                .where(schema.campaigns.c.id == campaign_id)
                .values(state=state.value, updated_at=now, ended_at=now if state.ended else None)
            )
            transition = NewEvent(EventKind.TRANSITION, cause, from_state=current, to_state=state.value)
            conn.execute(insert(schema.events).values(_event_row(campaign_id, None, transition, now)))
        return True

    def claim_deployments(
        self,
        owner: str,
        ttl: timedelta,
        *,
        campaign_id: int | None = None,
        fair: bool = True,
        force: bool = False,
        dead: frozenset[str] = frozenset(),
    ) -> frozenset[int]:
        """The open deployments `owner` holds after renewing its leases and taking more that nobody holds or
        whose lease expired, up to its fair share among the runners alive (all with `fair=False`; every open one,
        whoever holds it, with `force`; leases of the runners named in `dead` count as expired). A take-over is
        recorded as an event."""
        now = self._clock()
        with self._db.transaction(f"claim deployments for {owner}", write=True) as conn:
            got = leases.claim(conn, owner, now, ttl, campaign_id=campaign_id, fair=fair, force=force, dead=dead)
            for campaign, deployment, event in got.taken_over:
                conn.execute(insert(schema.events).values(_event_row(campaign, deployment, event, now)))
        return got.held

    def renew_leases(self, owner: str, ttl: timedelta) -> int:
        """Say `owner` is alive and extend every lease it holds to now + ttl; how many it holds."""
        now = self._clock()
        with self._db.transaction(f"renew the leases of {owner}", write=True) as conn:
            leases.heartbeat(conn, owner, now)
            return leases.renew(conn, owner, now, ttl)

    def admit(self, deployment_id: int, backend: str, limit: int | None) -> bool:
        """Whether the deployment may begin acting on `backend` within `limit` deployments under way at once,
        counted across every runner of this store; stamps its start when it may."""
        with self._db.transaction(f"admit deployment {deployment_id}", write=True) as conn:
            return leases.admit(conn, deployment_id, backend, limit, self._clock())

    def release_leases(self, owner: str) -> int:
        """Give up every lease `owner` holds and leave the runners alive; how many open deployments it held."""
        with self._db.transaction(f"release the leases of {owner}", write=True) as conn:
            return leases.release(conn, owner)

    def record_event(self, campaign_id: int, *new: NewEvent, deployment_id: int | None = None) -> None:
        """Record events of the campaign (of one of its deployments, given `deployment_id`) that belong to no
        engine step — a retry, an anomaly — all in one transaction."""
        now = self._clock()
        with self._db.transaction(f"record an event of campaign {campaign_id}", write=True) as conn:
            if conn.scalar(select(schema.campaigns.c.id).where(schema.campaigns.c.id == campaign_id)) is None:
                raise NotFound(f"no campaign {campaign_id} in {self._db.url}")
            if new:
                conn.execute(insert(schema.events), [_event_row(campaign_id, deployment_id, e, now) for e in new])


def _duplicate(name: str) -> DuplicateCampaign:
    return DuplicateCampaign(f"a campaign named {name!r} exists already: resume it or choose another name")


def _json(value: Any) -> Any:
    # What the value becomes once stored (tuples turn into lists, keys into strings), so that comparing it
    # with a stored value finds real changes only.
    return json.loads(json.dumps(_storable(value), allow_nan=False))


def _storable(value: Any) -> Any:
    """`value` with what some database cannot hold replaced, the same on every database: NaN and infinities
    (not JSON, refused by PostgreSQL) become their names, NUL characters (refused in PostgreSQL's text) U+FFFD.
    A back end's answer may carry either; it must not stop the deployment."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(key) if isinstance(key, str) else key: _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def _text(value: str) -> str:
    return value.replace("\x00", "\ufffd")


_DEVICE_FIELDS = ("stage", "outcome", "reason", "raw", "firmware_version", "category", "initial_version")


def _write_devices(conn: Connection, deployment_id: int, progress: Sequence[DeviceProgress], now: datetime) -> None:
    latest = {normalize_eui(p.dev_eui): p for p in progress}  # a device reported twice: the last report wins
    rows = conn.execute(select(schema.devices).where(schema.devices.c.deployment_id == deployment_id))
    stored = {row.dev_eui: row for row in rows}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for eui, p in latest.items():
        values = {
            "stage": Stage(p.stage).value,
            "outcome": None if p.outcome is None else Outcome(p.outcome).value,
            "reason": None if p.reason is None else _text(p.reason),
            "raw": _json(p.raw),
            "firmware_version": None if p.firmware_version is None else _text(p.firmware_version)[:64],
            "category": None if p.category is None else Category(p.category).value,
            "initial_version": None if p.initial_version is None else _text(p.initial_version)[:64],
        }
        old = stored.get(eui)
        if old is None:
            inserts.append(
                {**values, "deployment_id": deployment_id, "dev_eui": eui, "updated_at": p.updated_at or now}
            )
        elif values != {k: old._mapping[k] for k in values}:
            updates.append(
                {f"b_{k}": v for k, v in values.items()} | {"b_id": old.id, "b_updated_at": p.updated_at or now}
            )
    if inserts:
        conn.execute(insert(schema.devices), inserts)
    if updates:
        stmt = (
            update(schema.devices)
            .where(schema.devices.c.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}") for name in (*_DEVICE_FIELDS, "updated_at")})
        )
        conn.execute(stmt, updates)


def _event_row(campaign_id: int, deployment_id: int | None, new: NewEvent, now: datetime) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "deployment_id": deployment_id,
        "dev_eui": None if new.dev_eui is None else normalize_eui(new.dev_eui),
        "at": new.at or now,
        "kind": EventKind(new.kind).value,
        "from_state": None if new.from_state is None else str(new.from_state),
        "to_state": None if new.to_state is None else str(new.to_state),
        "cause": _text(new.cause),
    }
