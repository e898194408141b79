"""The initial schema: campaigns, their deployments, the devices of each deployment, and the events log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written by hand to match fuota/store/schema.py (tests/integration/test_store.py checks that autogenerate finds no
difference). Constraint names follow the naming convention there so later batch migrations on SQLite can
address them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("firmware", sa.LargeBinary(), nullable=False),
        sa.Column("firmware_sha256", sa.String(64), nullable=False),
        sa.Column("firmware_size", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.UniqueConstraint("name", name="uq_campaigns_name"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=True),
        sa.Column("task_name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("backend_ref", sa.JSON(), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=True),
        sa.Column("temporary", sa.Boolean(), nullable=False),
        _timestamp("next_deadline", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name="fk_deployments_campaign_id_campaigns"),
        sa.UniqueConstraint("task_name", name="uq_deployments_task_name"),
    )
    op.create_index("ix_deployments_campaign_id", "deployments", ["campaign_id"])
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("dev_eui", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("raw", sa.JSON(), nullable=False),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"], name="fk_devices_deployment_id_deployments"),
        sa.UniqueConstraint("deployment_id", "dev_eui", name="uq_devices_deployment_id_dev_eui"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("dev_eui", sa.String(16), nullable=True),
        _timestamp("at"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name="fk_events_campaign_id_campaigns"),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"], name="fk_events_deployment_id_deployments"),
    )
    op.create_index("ix_events_campaign_id_at", "events", ["campaign_id", "at"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("devices")
    op.drop_index("ix_deployments_campaign_id", table_name="deployments")
    op.drop_table("deployments")
    op.drop_table("campaigns")
