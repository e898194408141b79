"""What the runner asks of a back end and what a back end reports: plain values, whatever the vendor.

Adapters (fuota/backends/<vendor>/) translate their API into these types; the engine (fuota.core.engine) reads
them as observations. A vendor's own fields stay verbatim in `raw`, for people; what fuota itself decides on is a
typed field here (a device's firmware version, for instance), never a vendor's raw key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple

from fuota.core.model import DeploymentState, Stage
from fuota.core.reasons import Category

__all__ = ["DeviceReport", "DeviceVerdict", "TargetReport", "TaskProgress", "TaskRef", "TaskSpec", "TaskStatus"]


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
class TaskProgress:
    """How far a task is, in the back end's own words: every field None where the back end does not say it (or said
    something that cannot be: a time before 2000 or after 2200, a negative count). Times are aware UTC datetimes of
    the back end's clock; what they mean for a deployment's progress and time left is fuota.views.progress's to say.

    task_started_at      when the task began (IoTSquare createtime; Milesight startedAt)
    phase_started_at     when the task entered its current state (IoTSquare updatetime; Milesight updatedAt)
    phase_ends_at        when the current state ends, where the back end plans it (IoTSquare nextStepTime)
    fragments_total      fragments the task sends, coded ones included (IoTSquare nbFrag + redundancy)
    fragments_sent       fragments sent so far, where the back end counts them (neither back end does yet)
    fragment_interval_s  seconds between two fragments, where the task has a fixed one (Milesight fragmentInterval)
    devices_done         devices that finished the upgrade (Milesight doneDevices)
    devices_total        devices of the task (Milesight totalDevices)
    """

    task_started_at: datetime | None = None
    phase_started_at: datetime | None = None
    phase_ends_at: datetime | None = None
    fragments_total: int | None = None
    fragments_sent: int | None = None
    fragment_interval_s: float | None = None
    devices_done: int | None = None
    devices_total: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The fields said (None left out), times as ISO 8601: what the store keeps as deployments.progress."""
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in asdict(self).items()
            if value is not None
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TaskProgress:
        """The inverse of as_json; keys it does not know (a newer fuota's) are left out."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = (data or {}).get(f.name)
            if value is not None and f.name.endswith("_at"):
                value = datetime.fromisoformat(str(value))
            values[f.name] = value
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """The task's state as the back end reports it: mapped to a DeploymentState, with the raw fields kept and the
    progress facts the back end gave, typed and checked."""

    state: DeploymentState
    raw: dict[str, object]
    progress: TaskProgress = field(default_factory=TaskProgress)


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
