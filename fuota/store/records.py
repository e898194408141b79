"""What goes into the store and what comes out of it: plain frozen dataclasses, never ORM objects.

`NewDeployment` and `NewEvent` are what callers hand to `fuota.store.Store`; the `*Record` classes are the
stored rows, with enum columns turned back into fuota.core.model's enums and timestamps as aware UTC datetimes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Preparation, Stage
from fuota.core.reasons import Category
from fuota.core.settings import CampaignSettings

__all__ = [
    "CampaignRecord",
    "DeploymentRecord",
    "DeviceRecord",
    "EventKind",
    "EventRecord",
    "NewDeployment",
    "NewEvent",
]


class EventKind(enum.StrEnum):
    """What an event records."""

    TRANSITION = "transition"  # a deployment or campaign changed state
    ANOMALY = "anomaly"  # an observation implied an illegal jump and was not applied
    DEVICE = "device"  # a device changed stage or got its outcome
    COMMAND = "command"  # fuota asked a back end to do something
    ERROR = "error"  # a back end or fuota itself failed
    RETRY = "retry"  # a transient back-end failure the runner will try again
    LEASE = "lease"  # a runner took over a deployment whose previous runner's lease had expired
    CREDENTIALS = "credentials"  # a back end refused the credentials (to_state "refused") or accepted them again


@dataclass(frozen=True, slots=True)
class NewDeployment:
    """A deployment to store with its campaign: one back-end target and the devices it updates."""

    backend: str
    target: str | None
    task_name: str
    temporary: bool
    devices: list[str]
    plan: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to record; `at` defaults to the store's clock when the event is written."""

    kind: EventKind
    cause: str
    from_state: str | None = None
    to_state: str | None = None
    dev_eui: str | None = None
    at: datetime | None = None

    def __post_init__(self) -> None:
        # Fail where the event is made rather than deep inside a transaction.
        object.__setattr__(self, "kind", EventKind(self.kind))


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A stored campaign. The firmware image itself is left out (see `Store.firmware`) so that listing
    campaigns does not load every image."""

    id: int
    name: str
    state: CampaignState
    settings: CampaignSettings
    firmware_sha256: str
    firmware_size: int
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """A stored deployment: one back-end task of a campaign."""

    id: int
    campaign_id: int
    backend: str
    target: str | None
    task_name: str
    state: DeploymentState
    backend_ref: dict[str, object] | None
    plan: dict[str, object] | None
    temporary: bool
    next_deadline: datetime | None
    created_at: datetime
    updated_at: datetime
    lease_owner: str | None = None  # the runner that drives it, while lease_until lies ahead
    lease_until: datetime | None = None
    started_at: datetime | None = None  # when a runner let it begin acting on its back end
    preparation: Preparation = Preparation.WAITING  # before its task exists: where its preparation is
    join_deadline: datetime | None = None  # until when its members' join is waited for
    progress: dict[str, object] | None = None  # the latest TaskProgress its back end reported, as JSON


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A stored device of a deployment, with its latest stage and, once ended, its outcome."""

    id: int
    deployment_id: int
    dev_eui: str
    stage: Stage
    outcome: Outcome | None
    reason: str | None
    raw: dict[str, object]
    updated_at: datetime
    firmware_version: str | None = None
    category: Category | None = None  # why it did not end updated (fuota.core.reasons)
    initial_version: str | None = None  # the first non-empty version reported, kept as it was

    def progress(self) -> DeviceProgress:
        """The device as the engine sees it, e.g. to rebuild a deployment's state after a restart."""
        return DeviceProgress(
            dev_eui=self.dev_eui,
            stage=self.stage,
            raw=self.raw,
            outcome=self.outcome,
            reason=self.reason,
            updated_at=self.updated_at,
            firmware_version=self.firmware_version,
            category=self.category,
            initial_version=self.initial_version,
        )


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A stored event of a campaign's log."""

    id: int
    campaign_id: int
    deployment_id: int | None
    dev_eui: str | None
    at: datetime
    kind: EventKind
    from_state: str | None
    to_state: str | None
    cause: str
