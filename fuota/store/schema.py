"""The store's tables, as SQLAlchemy Core. Migrations 0001–0008 create exactly these; a test holds the two together.

Everything here is portable SQL: enum values are stored as their strings (new members need no migration),
JSON goes into the generic `JSON` type, and timestamps into `UTCDateTime`, which hands back timezone-aware
UTC whether the database keeps the zone (PostgreSQL) or not (SQLite).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

__all__ = ["UTCDateTime", "campaigns", "deployments", "devices", "events", "metadata", "runners"]

# Named constraints keep future migrations writable on SQLite, whose batch mode recreates tables by name.
metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in as an aware datetime and always comes back as aware UTC.

    SQLite keeps no zone, so values are converted to UTC before they are stored and tagged UTC when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive time is ambiguous: refusing it is the only way not to store a wrong instant.
            raise ValueError(f"naive datetime {value.isoformat()} given to the store: pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("state", String(32), nullable=False),
    # A CampaignSettings document (fuota.core.settings), versioned (migration 0004).
    Column("settings", JSON, nullable=False),
    Column("firmware", LargeBinary, nullable=False),
    Column("firmware_sha256", String(64), nullable=False),
    Column("firmware_size", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("backend", String(64), nullable=False),
    Column("target", String(64), nullable=True),
    Column("task_name", String(200), nullable=False, unique=True),
    Column("state", String(32), nullable=False),
    # none_as_null: "no reference yet" is SQL NULL, not the JSON literal null.
    Column("backend_ref", JSON(none_as_null=True), nullable=True),
    Column("plan", JSON(none_as_null=True), nullable=True),
    Column("temporary", Boolean, nullable=False),
    Column("next_deadline", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Which runner drives the deployment, and until when (migration 0002): see fuota/store/leases.py.
    Column("lease_owner", String(200), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    # When a runner let it begin under its back end's max_concurrent (migration 0003): fuota/store/leases.py.
    Column("started_at", UTCDateTime, nullable=True),
    # The engine's preparation phase and join deadline, before the task exists (migration 0004).
    Column("preparation", String(16), nullable=False, server_default="waiting"),
    Column("join_deadline", UTCDateTime, nullable=True),
    # The latest progress facts its back end reported, TaskProgress.as_json() (migration 0006).
    Column("progress", JSON(none_as_null=True), nullable=True),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("deployment_id", Integer, ForeignKey("deployments.id"), nullable=False),
    Column("dev_eui", String(16), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("reason", Text, nullable=True),
    Column("raw", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("firmware_version", String(64), nullable=True),  # as the device reports it (migration 0004)
    # Why it did not end updated, as a fuota.core.reasons.Category code; the detail stays in `reason` (0005).
    Column("category", String(32), nullable=True),
    # The first non-empty version the back end reported for it, never overwritten (migration 0007).
    Column("initial_version", String(64), nullable=True),
    # Also serves lookups by deployment, so deployment_id needs no index of its own.
    UniqueConstraint("deployment_id", "dev_eui"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), nullable=False),
    Column("deployment_id", Integer, ForeignKey("deployments.id"), nullable=True),
    Column("dev_eui", String(16), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("from_state", String(32), nullable=True),
    Column("to_state", String(32), nullable=True),
    Column("cause", Text, nullable=False),
    Index(None, "campaign_id", "at"),
    # The events of one kind of a campaign, newest last (migration 0008): retries, the start, the latest events
    # other than device changes and the counts per kind read a few index entries, not every device event.
    Index(None, "kind", "campaign_id", "at"),
    # One device's events, newest first, for its dashboard page (migration 0008).
    Index(None, "campaign_id", "dev_eui", "at"),
)

# The runners (daemons) alive on this database, by their last heartbeat: leases are shared out among them.
runners = Table(
    "runners",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
)
