"""When each deployment began acting on its back end, so that max_concurrent holds across daemons.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

One nullable column on deployments: set when a runner admits the deployment under its back end's max_concurrent;
deployments under way before this revision count from their first move past Scheduled.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("started_at")
