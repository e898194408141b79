"""The first firmware version the back end reported for each device (issue 15, item 3).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

One nullable column on devices, devices.initial_version: the first non-empty version the back end reported for the
device (Milesight's firmwareVersion, section 6.7), which the engine never overwrites. With devices.firmware_version
(the latest) it tells whether the field changed during the task, so that fuota.core.outcomes does not fail devices
on a field that does not hold the running version. Devices stored before have none: their versions read as never
changed, and fuota judges them by the back end's session codes alone, which is what it does when the field cannot
tell.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("initial_version", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("initial_version")
