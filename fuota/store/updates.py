"""Replacing a Scheduled campaign's settings, image and deployments (`fuota launch --update`), while nothing was sent.

"Nothing was sent" is checked inside the write transaction, with the campaign's deployments locked: the campaign
is Scheduled, and every deployment is Scheduled, still waiting to prepare, with no back-end reference and not yet
let begin (started_at). A runner stores each step before it acts (fuota/service/runner.py), so a deployment
that passes this check has had nothing sent for it.

Deployments are matched by task name: a kept one is updated in place (its devices replaced, all pending) and keeps
its id; one the new plan no longer has is deleted with its devices and events; a new one is inserted. Every kept
deployment's lease is handed to UPDATE_OWNER, already expired: a runner that built its engine from the old rows
has its next write refused (LeaseLost) and takes the deployment over afresh from the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from fuota.core.model import CampaignState, DeploymentState, Preparation, Stage, normalize_eui
from fuota.store import schema
from fuota.store.db import NotFound, StaleState
from fuota.store.records import NewDeployment

__all__ = ["UPDATE_OWNER", "replace_scheduled"]

UPDATE_OWNER = "fuota launch --update"

_deployments = schema.deployments


def replace_scheduled(
    conn: Connection,
    campaign_id: int,
    settings: dict[str, Any],
    firmware: bytes,
    deployments: Sequence[NewDeployment],
    now: datetime,
) -> None:
    """Give the campaign these settings (a CampaignSettings document), image and deployments; StaleState, and
    nothing written, when something may have been sent already."""
    state = conn.scalar(select(schema.campaigns.c.state).where(schema.campaigns.c.id == campaign_id).with_for_update())
    if state is None:
        raise NotFound(f"no campaign {campaign_id}")
    rows = conn.execute(select(_deployments).where(_deployments.c.campaign_id == campaign_id).with_for_update()).all()
    begun = [
        r.task_name
        for r in rows
        if r.state != DeploymentState.SCHEDULED.value
        or r.backend_ref is not None
        or r.started_at is not None
        or r.preparation != Preparation.WAITING.value
    ]
    if state != CampaignState.SCHEDULED.value or begun:
        raise StaleState(
            f"campaign {campaign_id} is {state} and has begun on its back end ({', '.join(begun) or 'its state'}): "
            "its settings can no longer change; abort it and launch the new file under another name"
        )
    conn.execute(
        update(schema.campaigns)
        .where(schema.campaigns.c.id == campaign_id)
        .values(
            settings=settings,
            firmware=firmware,
            firmware_sha256=hashlib.sha256(firmware).hexdigest(),
            firmware_size=len(firmware),
            updated_at=now,
        )
    )
    stored = {r.task_name: r.id for r in rows}
    wanted = {d.task_name for d in deployments}
    gone = [deployment_id for name, deployment_id in stored.items() if name not in wanted]
    if gone:
        conn.execute(delete(schema.events).where(schema.events.c.deployment_id.in_(gone)))
        conn.execute(delete(schema.devices).where(schema.devices.c.deployment_id.in_(gone)))
        conn.execute(delete(_deployments).where(_deployments.c.id.in_(gone)))
    for new in deployments:
        values = {"backend": new.backend, "target": new.target, "plan": new.plan, "temporary": new.temporary}
        deployment_id = stored.get(new.task_name)
        if deployment_id is None:
            deployment_id = conn.execute(
                insert(_deployments).values(
                    campaign_id=campaign_id,
                    task_name=new.task_name,
                    state=DeploymentState.SCHEDULED.value,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
            ).inserted_primary_key[0]
        else:
            conn.execute(
                update(_deployments)
                .where(_deployments.c.id == deployment_id)
                .values(**values, updated_at=now, lease_owner=UPDATE_OWNER, lease_until=now)
            )
            conn.execute(delete(schema.devices).where(schema.devices.c.deployment_id == deployment_id))
        if new.devices:
            pending = {"deployment_id": deployment_id, "stage": Stage.PENDING.value, "raw": {}, "updated_at": now}
            conn.execute(insert(schema.devices), [{**pending, "dev_eui": normalize_eui(e)} for e in new.devices])
