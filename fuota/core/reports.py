"""What the runner asks of a back end and what a back end reports: plain values, whatever the vendor.

Adapters (fuota/backends/<vendor>/) translate their API into these types; the engine (fuota.core.engine) reads
them as observations. A vendor's own fields stay verbatim in `raw`, for people; what fuota itself decides on is a
typed field here (a device's firmware version, for instance), never a vendor's raw key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from fuota.core.model import DeploymentState, Stage
from fuota.core.reasons import Category

__all__ = ["DeviceReport", "DeviceVerdict", "TargetReport", "TaskRef", "TaskSpec", "TaskStatus"]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One deployment's task as the back end will run it.

    `name` is unique per deployment and stored before the create call, so that after a crash the task is found
    by name instead of created twice. `target` is the back end's own address of the devices (IoTSquare: the
    multicast group's mcEUI; Milesight: the gateway EUI). `redundancy_percent` is in percent of the uncoded
    fragments (30 for 30 %), as everywhere in fuota; a back end that wants a fraction converts it at its wire.
    """

    name: str
    target: str
    firmware: bytes
    redundancy_percent: float
    devices: tuple[str, ...] = ()
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskRef:
    """How the back end knows a created task: IoTSquare {"fdID", "mcEUI"}; Milesight {"taskId", "gatewayEUI"}."""

    name: str
    ids: dict[str, object]

    def describe(self) -> str:
        """The back end's ids in words for an event's cause, e.g. "fdID 12, mcEUI 115f50107db01be4"."""
        return ", ".join(f"{key} {value}" for key, value in self.ids.items()) or "no id"


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """The task's state as the back end reports it: mapped to a DeploymentState, with the raw fields kept."""

    state: DeploymentState
    raw: dict[str, object]


class DeviceVerdict(NamedTuple):
    """What a back end's device codes say: the Stage, and the reason and its category when they say it failed."""

    stage: Stage
    reason: str | None
    category: Category | None


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """One device's state as the back end reports it, mapped to a Stage; `reason` says why when it failed, and
    `category` (fuota.core.reasons) what kind of failure that is; `firmware_version` is the version the device
    reports running, where the back end tells it (None otherwise)."""

    dev_eui: str
    stage: Stage
    raw: dict[str, object]
    reason: str | None = None
    firmware_version: str | None = None
    category: Category | None = None


@dataclass(frozen=True, slots=True)
class TargetReport:
    """The outcome of preparing a target: the devices that are in, and those refused with the reason (their
    category is backend_refused unless `categories` names a finer one)."""

    target: str
    members: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)
    temporary: bool = False
    categories: dict[str, Category] = field(default_factory=dict)
