"""The Backend protocol: the small contract every network-server adapter fulfils, and what it returns.

Adapters translate one back end's API into these types and never touch the store; the runner is the only place
where back ends, engine and store meet. Errors (fuota.backends.errors) are typed: TransientError is retried by
the adapter itself with capped, jittered back-off; what still escapes is for the runner to record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from fuota.core.model import DeploymentState, Stage

__all__ = ["Backend", "DeviceReport", "TargetReport", "TaskRef", "TaskSpec", "TaskStatus"]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One deployment's task as the back end will run it.

    `name` is unique per deployment and stored before the create call, so that after a crash the task is found
    by name instead of created twice. `target` is the back end's own address of the devices (IoTSquare: the
    multicast group's mcEUI; Milesight: the gateway EUI).
    """

    name: str
    target: str
    firmware: bytes
    redundancy_percent: float  # a share of nb_frag, 0.3 for 30 %, as IoTSquare's redundancyPercent
    devices: tuple[str, ...] = ()
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskRef:
    """How the back end knows a created task: IoTSquare {"fdID", "mcEUI"}; Milesight {"taskId", "gatewayEUI"}."""

    name: str
    ids: dict[str, object]


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """The task's state as the back end reports it: mapped to a DeploymentState, with the raw fields kept."""

    state: DeploymentState
    raw: dict[str, object]


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """One device's state as the back end reports it, mapped to a Stage; `reason` says why when it failed."""

    dev_eui: str
    stage: Stage
    raw: dict[str, object]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class TargetReport:
    """The outcome of preparing a target: the devices that are in, and those refused with the reason."""

    target: str
    members: tuple[str, ...]
    refused: dict[str, str] = field(default_factory=dict)
    temporary: bool = False


class Backend(Protocol):
    """What the runner needs of a network server. Every call has a timeout and raises BackendError subclasses."""

    name: str

    def prepare(self, target: str | None, devices: tuple[str, ...], options: dict[str, object]) -> list[TargetReport]:
        """Make the devices addressable: an existing target's members, or temporary targets holding `devices`."""
        ...

    def ready(self, target: str) -> dict[str, bool]:
        """Which members of `target` are ready to receive (IoTSquare: joined the multicast group)."""
        ...

    def find(self, spec: TaskSpec) -> TaskRef | None:
        """The task created under `spec.name`, if any (how a create is made idempotent)."""
        ...

    def create(self, spec: TaskSpec) -> TaskRef:
        """Create the task; an already existing one with the same name is reconciled, not an error."""
        ...

    def status(self, ref: TaskRef) -> TaskStatus:
        """The task's current state."""
        ...

    def devices(self, ref: TaskRef) -> list[DeviceReport]:
        """Every device of the task (all pages)."""
        ...

    def abort(self, ref: TaskRef) -> None:
        """Stop the task; devices keep what they have."""
        ...

    def cleanup(self, target: TargetReport) -> None:
        """Remove what `prepare` created (temporary targets); a no-op for an existing target."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
