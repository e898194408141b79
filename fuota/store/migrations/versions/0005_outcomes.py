"""Outcomes that say what happened (aborted, skipped) and a category for every reason.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

- devices.category: why the device did not end updated, as a fuota.core.reasons.Category code. Stored reasons get
  theirs by matching the texts fuota wrote before this revision (CATEGORY_OF below, by the start of the text); an
  unreachable device is never_joined whatever its text; a reason no pattern knows is "unknown".
- A device "failed" because its campaign was aborted ("campaign aborted while the device was at stage …") becomes
  "aborted", or "skipped" when its deployment never had a task (no back-end reference: nothing was sent to it).
- A failed device whose category is never_joined (Milesight's multicast session codes 6 and 8) becomes
  "unreachable", as fuota.core.outcomes now decides: unreachable is exactly never_joined.

The reasons' texts are kept as they were. The conversion is written out here rather than imported, so that this
revision keeps meaning what it meant.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ABORTED_TEXT = "campaign aborted while the device was at stage"

# The start of every reason text fuota wrote up to revision 0004 (core/outcomes.py, the adapters' code tables and
# their refusals), and its category.
CATEGORY_OF: tuple[tuple[str, str], ...] = (
    (_ABORTED_TEXT, "aborted"),
    ("could not rebuild the image", "too_few_fragments"),
    ("too few fragments received", "too_few_fragments"),
    ("never joined the multicast group", "never_joined"),
    ("the device did not answer the multicast set-up", "never_joined"),
    ("the device did not answer the Class C session request", "never_joined"),
    ("the multicast ID in the device's answer does not match", "multicast_error"),
    ("the device reports the multicast ID as not defined", "multicast_error"),
    ("the device does not support the task's multicast", "multicast_error"),
    ("fragment session set-up timeout", "setup_timeout"),
    ("the device refused the fragment session's descriptor", "session_refused"),
    ("the device does not support the fragment", "session_refused"),
    ("not enough memory", "low_memory"),
    ("never answered the fragment session status request", "no_status_report"),
    ("status report timeout", "no_status_report"),
    ("received the whole image but did not answer", "upgrade_failed"),
    ("closed the session but IoTSquare did not mark it Done", "upgrade_failed"),
    ("the device received the image but the upgrade failed", "upgrade_failed"),
    ("upgrade timeout", "upgrade_failed"),
    ("the device reports firmware", "wrong_version"),
    ("deployment failed:", "deployment_failed"),
    ("the task ended while the device was at stage", "backend_silent"),
    ("IoTSquare refused the DevEUI", "backend_refused"),
    ("device not registered on IoTSquare", "backend_refused"),
    ("the multicast group is full", "backend_refused"),
    ("already bound to another multicast group", "backend_refused"),
    ("incompatible with the multicast group", "backend_refused"),
    ("IoTSquare does not know it as a multicast-capable device", "backend_refused"),
    ("refused by IoTSquare", "backend_refused"),
    ("not a member of multicast group", "backend_refused"),
    ("not known to gateway", "backend_refused"),
)

_devices = sa.table(
    "devices",
    sa.column("id", sa.Integer),
    sa.column("deployment_id", sa.Integer),
    sa.column("stage", sa.String),
    sa.column("outcome", sa.String),
    sa.column("reason", sa.Text),
    sa.column("category", sa.String),
)
_deployments = sa.table(
    "deployments",
    sa.column("id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("backend_ref", sa.JSON),
)


def category_of(reason: str | None, outcome: str | None) -> str:
    """The category of a reason stored before this revision."""
    if outcome == "unreachable":
        return "never_joined"
    text = reason or ""
    return next((category for start, category in CATEGORY_OF if text.startswith(start)), "unknown")


def outcome_of(outcome: str | None, category: str, deployment_state: str, task_created: bool) -> str | None:
    """The outcome of a device stored before this revision, under this revision's rules."""
    if outcome == "failed" and category == "aborted" and deployment_state == "Aborted":
        return "aborted" if task_created else "skipped"
    if outcome == "failed" and category == "never_joined":
        return "unreachable"
    return outcome


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("category", sa.String(32), nullable=True))
    bind = op.get_bind()
    deployments = {
        row.id: (row.state, row.backend_ref is not None)
        for row in bind.execute(sa.select(_deployments.c.id, _deployments.c.state, _deployments.c.backend_ref))
    }
    unsettled = sa.or_(_devices.c.outcome.is_(None), _devices.c.outcome != "updated")
    stored = sa.select(_devices).where(
        unsettled, sa.or_(_devices.c.reason.is_not(None), _devices.c.outcome.is_not(None))
    )
    for row in bind.execute(stored).all():
        category = category_of(row.reason, row.outcome)
        state, task_created = deployments[row.deployment_id]
        outcome = outcome_of(row.outcome, category, state, task_created)
        bind.execute(sa.update(_devices).where(_devices.c.id == row.id).values(category=category, outcome=outcome))


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.update(_devices).where(_devices.c.outcome.in_(["aborted", "skipped"])).values(outcome="failed"))
    # Before this revision only a device at stage pending or multicast_setup was unreachable.
    moved = sa.and_(_devices.c.outcome == "unreachable", _devices.c.stage.not_in(["pending", "multicast_setup"]))
    bind.execute(sa.update(_devices).where(moved).values(outcome="failed"))
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("category")
