"""The latest progress facts a deployment's back end reported (fuota.core.reports.TaskProgress).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

One nullable JSON column on deployments, written by the runner when a task status it polls says something new
(its times, fragments, devices done): the read model (fuota/views/progress.py) derives fragments sent, progress
and time left from it. Deployments stored before have none and read as "the back end said nothing yet".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("progress", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("progress")
