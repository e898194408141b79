"""Leases: which runner drives each deployment, and until when, so that several daemons share one database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Two nullable columns on deployments (existing rows start without a lease, so any runner may take them), and a
table of the runners alive, by their last heartbeat.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(200), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "runners",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_runners"),
    )


def downgrade() -> None:
    op.drop_table("runners")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
