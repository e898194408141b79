"""Typed campaign settings, the engine's whole state, devices' firmware versions and typed retry events.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

- campaigns.spec (the campaign file as it was written, plus the back end's options) becomes campaigns.settings:
  one versioned document (version 1 of fuota.core.settings.CampaignSettings) with one name and one unit per
  quantity: the back end's table under `target`, its kind under `kind`, join_timeout and expected_version lifted
  out of the vendor's options.
- deployments.preparation and deployments.join_deadline: where a Scheduled deployment is in its preparation
  (waiting, preparing, joining, creating) and until when its members' join is waited for, so that a restart
  resumes them instead of starting over. Deployments of older stores start over from "waiting", as they did.
- devices.firmware_version: the version a device reports, read once from the back end's raw fields (Milesight's
  firmwareVersion) for the devices stored before, a typed field from now on.
- events: a transient failure the runner retried was an "error" (or an "anomaly", for an answer breaking its
  spec) whose cause ended in "; will retry"; it becomes a "retry" event (the anomaly stays, beside its retry).

The conversion is written out here rather than imported, so that this revision keeps meaning what it meant.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_RETRY_SUFFIX = "; will retry"
_campaigns = sa.table(
    "campaigns",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("settings", sa.JSON),
)
_devices = sa.table(
    "devices",
    sa.column("id", sa.Integer),
    sa.column("raw", sa.JSON),
    sa.column("firmware_version", sa.String),
)
_events = sa.table(
    "events",
    sa.column("id", sa.Integer),
    sa.column("campaign_id", sa.Integer),
    sa.column("deployment_id", sa.Integer),
    sa.column("dev_eui", sa.String),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("kind", sa.String),
    sa.column("from_state", sa.String),
    sa.column("to_state", sa.String),
    sa.column("cause", sa.Text),
)


def settings_of(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Version 1 of the settings of campaign `name` from its spec as revision 0003 stored it (a spec missing a
    field, which only a hand-made row can be, gets the field's default)."""
    options = dict(spec.get("options") or {})
    kind = "iotsquare" if spec.get("iotsquare") is not None else "milesight"
    return {
        "version": 1,
        "name": name,
        "backend": str(spec.get("backend") or ""),
        "kind": kind,
        "redundancy_percent": float(spec.get("redundancy_percent") or 0.0),
        "start": spec.get("start"),
        "window": spec.get("window"),
        "success_threshold": float(spec.get("success_threshold", 0.9)),
        "expected_loss": float(spec.get("expected_loss", 0.1)),
        "join_timeout": float(options.get("join_timeout") or 600.0),
        "expected_version": options.get("expected_version"),
        "firmware_path": spec.get("firmware_path"),
        "devices_file": spec.get("devices_file"),
        "target": options,
    }


def spec_of(settings: dict[str, Any]) -> dict[str, Any]:
    """The spec revision 0003 reads back from version 1 of the settings (for a downgrade)."""
    table = dict(settings.get("target") or {})
    return {
        "name": settings["name"],
        "firmware": settings.get("firmware_path") or "",
        "backend": settings["backend"],
        "devices": None,
        "devices_file": settings.get("devices_file"),
        "redundancy_percent": settings["redundancy_percent"],
        "start": settings.get("start"),
        "window": settings.get("window"),
        "success_threshold": settings["success_threshold"],
        "expected_loss": settings["expected_loss"],
        "iotsquare": table if settings["kind"] == "iotsquare" else None,
        "milesight": table if settings["kind"] == "milesight" else None,
        "options": table,
        "firmware_path": settings.get("firmware_path"),
    }


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    # Renamed in place (SQLite ≥ 3.25 and PostgreSQL alike): recreating the table, as a batch migration would, trips
    # the foreign keys of its deployments and events on SQLite.
    op.execute("ALTER TABLE campaigns RENAME COLUMN spec TO settings")
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("preparation", sa.String(16), nullable=False, server_default="waiting"))
        batch.add_column(sa.Column("join_deadline", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("firmware_version", sa.String(64), nullable=True))
    bind = op.get_bind()
    for row in bind.execute(sa.select(_campaigns.c.id, _campaigns.c.name, _campaigns.c.settings)).all():
        settings = settings_of(row.name, _loaded(row.settings))
        bind.execute(sa.update(_campaigns).where(_campaigns.c.id == row.id).values(settings=settings))
    reported = sa.select(_devices.c.id, _devices.c.raw).where(
        sa.cast(_devices.c.raw, sa.Text).like("%firmwareVersion%")
    )
    for row in bind.execute(reported).all():
        version = (_loaded(row.raw) or {}).get("firmwareVersion")
        if isinstance(version, str | int | float) and str(version):
            bind.execute(sa.update(_devices).where(_devices.c.id == row.id).values(firmware_version=str(version)[:64]))
    retried = sa.select(_events).where(
        _events.c.kind.in_(["error", "anomaly"]), _events.c.cause.like(f"%{_RETRY_SUFFIX}")
    )
    for event in bind.execute(retried).all():
        cause = event.cause.removesuffix(_RETRY_SUFFIX)
        if event.kind == "error":
            bind.execute(sa.update(_events).where(_events.c.id == event.id).values(kind="retry", cause=cause))
            continue
        bind.execute(sa.update(_events).where(_events.c.id == event.id).values(cause=cause))
        copy = {
            c: getattr(event, c) for c in ("campaign_id", "deployment_id", "dev_eui", "at", "from_state", "to_state")
        }
        bind.execute(sa.insert(_events).values(**copy, kind="retry", cause=cause))


def downgrade() -> None:
    bind = op.get_bind()
    events = bind.execute(sa.select(_events).where(_events.c.kind.in_(["retry", "anomaly"]))).all()
    anomalies = {(e.campaign_id, e.deployment_id, e.at, e.cause): e.id for e in events if e.kind == "anomaly"}
    for event in events:
        if event.kind != "retry":
            continue
        cause = event.cause + _RETRY_SUFFIX
        twin = anomalies.pop((event.campaign_id, event.deployment_id, event.at, event.cause), None)
        if twin is None:
            bind.execute(sa.update(_events).where(_events.c.id == event.id).values(kind="error", cause=cause))
        else:
            bind.execute(sa.delete(_events).where(_events.c.id == event.id))
            bind.execute(sa.update(_events).where(_events.c.id == twin).values(cause=cause))
    for row in bind.execute(sa.select(_campaigns.c.id, _campaigns.c.settings)).all():
        spec = spec_of(_loaded(row.settings))
        bind.execute(sa.update(_campaigns).where(_campaigns.c.id == row.id).values(settings=spec))
    op.execute("ALTER TABLE campaigns RENAME COLUMN settings TO spec")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("firmware_version")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("join_deadline")
        batch.drop_column("preparation")
