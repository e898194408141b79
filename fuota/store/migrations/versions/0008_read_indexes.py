"""Two indexes on events, so that reads stay linear at fleet scale (issue 16, item 5).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A campaign of 100 000 devices holds some 450 000 "device" events and a handful of others. The reads that want the
others — the retries of each deployment, when the campaign went Running, the latest events the dashboard shows
beside the device changes, the counts per kind of /metrics — scanned every event of the campaign (or of the store)
through ix_events_campaign_id_at; with ix_events_kind_campaign_id_at they read only the entries of their kinds.
A device's dashboard page (its latest events) reads its own through ix_events_campaign_id_dev_eui_at. Nothing else
changes: no column, no data.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_kind_campaign_id_at", "events", ["kind", "campaign_id", "at"])
    op.create_index("ix_events_campaign_id_dev_eui_at", "events", ["campaign_id", "dev_eui", "at"])


def downgrade() -> None:
    op.drop_index("ix_events_campaign_id_dev_eui_at", table_name="events")
    op.drop_index("ix_events_kind_campaign_id_at", table_name="events")
