"""fuota's value objects: what a campaign is, what state its deployments and devices are in. No I/O.

A campaign (one firmware image for a set of devices) fans out into deployments, one per back-end target (an
IoTSquare multicast group, a Milesight gateway); each deployment has its own state machine (fuota.core.engine), and
each device in it a normalized Stage plus the back end's raw codes, and at the end an Outcome with a reason.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from fuota.core.reasons import Category

__all__ = [
    "EUI_PATTERN",
    "CampaignState",
    "DeploymentState",
    "DeviceProgress",
    "Outcome",
    "Preparation",
    "Stage",
    "normalize_eui",
]

EUI_PATTERN = re.compile(r"^[0-9a-fA-F]{16}$")


def normalize_eui(value: str) -> str:
    """An EUI-64 as 16 lower-case hex digits; the back ends send either case (DESIGN.md §5)."""
    return value.strip().lower()


class DeploymentState(enum.StrEnum):
    """The deployment's state: IoTSquare's task states (its section 9.2) plus fuota's own three."""

    SCHEDULED = "Scheduled"  # stored, nothing sent yet
    CREATED = "Created"
    SEND_FRAG_SESS_SETUP = "SendFragSessSetup"
    ENQUEUE_FRAGMENT = "EnqueueFragment"
    SEND_FRAG_SESS_STATUS = "SendFragSessStatus"
    SEND_FRAG_SESS_DEL = "SendFragSessDel"
    CLEANUP = "Cleanup"
    DONE = "Done"
    UNKNOWN = "Unknown"
    ABORTED = "Aborted"
    FAILED = "Failed"

    @property
    def ended(self) -> bool:
        """True for the states a deployment never leaves."""
        return self in (DeploymentState.DONE, DeploymentState.ABORTED, DeploymentState.FAILED)


class Preparation(enum.StrEnum):
    """Where a Scheduled deployment is in its preparation, before its task exists (stored with it, so that a
    restart neither prepares the target again nor waits for the members' join anew)."""

    WAITING = "waiting"  # for the start time, the window, its turn under max_concurrent
    PREPARING = "preparing"  # making the target addressable (a temporary group, its members)
    JOINING = "joining"  # waiting for the members to join, until the join deadline
    CREATING = "creating"  # looking the task up by name, creating it if absent


class CampaignState(enum.StrEnum):
    """A campaign's state, derived from its deployments."""

    SCHEDULED = "Scheduled"
    RUNNING = "Running"
    DONE = "Done"
    FAILED = "Failed"
    ABORTED = "Aborted"

    @property
    def ended(self) -> bool:
        """True once the campaign can no longer change."""
        return self in (CampaignState.DONE, CampaignState.FAILED, CampaignState.ABORTED)


class Stage(enum.StrEnum):
    """Where one device is in a deployment, normalized over the back ends (DESIGN.md §2)."""

    PENDING = "pending"
    MULTICAST_SETUP = "multicast_setup"
    MULTICAST_READY = "multicast_ready"
    FRAGMENTATION_SETUP = "fragmentation_setup"
    RECEIVING = "receiving"
    STATUS_REPORTED = "status_reported"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Outcome(enum.StrEnum):
    """How a device ended; fuota.core.outcomes.outcome_of says which device gets which.

    updated, failed and unreachable are the campaign's verdict on a device it ran to an end: the success share
    and the alerts count them. aborted (the operator stopped it before the device finished) and skipped (its
    deployment was stopped before its task existed: nothing was sent to it) are deliberate stops, not failures.
    """

    UPDATED = "updated"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    ABORTED = "aborted"
    SKIPPED = "skipped"

    @property
    def judged(self) -> bool:
        """True for the outcomes the success share counts (updated, failed, unreachable)."""
        return self in (Outcome.UPDATED, Outcome.FAILED, Outcome.UNREACHABLE)


@dataclass(frozen=True, slots=True)
class DeviceProgress:
    """One device's latest report in a deployment: its Stage, the back end's own fields verbatim, the firmware
    version it reports (where the back end tells it), and — once the deployment has ended — its Outcome and the
    reason. A failure carries its `category` (fuota.core.reasons) beside the per-device detail in `reason`.
    `initial_version` is the first non-empty version the back end reported for it, kept as it was (the engine never
    overwrites it): with `firmware_version` it tells whether the reported version changed during the task."""

    dev_eui: str
    stage: Stage
    raw: dict[str, object] = field(default_factory=dict)
    outcome: Outcome | None = None
    reason: str | None = None
    updated_at: datetime | None = None
    firmware_version: str | None = None
    category: Category | None = None
    initial_version: str | None = None
