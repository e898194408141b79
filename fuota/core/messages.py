"""What flows in and out of the engine: observations in, commands and events out. Plain values, no I/O.

The runner turns back-end answers and user requests into observations, hands them to a deployment's engine
together with `now`, and carries out the commands the engine returns (DESIGN.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fuota.core.model import DeviceProgress
from fuota.core.reports import DeviceReport, TargetReport, TaskRef, TaskStatus

__all__ = [
    "AbortRequested",
    "AbortTask",
    "BackendFailed",
    "CheckJoined",
    "Cleanup",
    "Command",
    "CreateTask",
    "DevicesReported",
    "Event",
    "JoinedReported",
    "Observation",
    "PollTask",
    "PrepareTarget",
    "Step",
    "TargetPrepared",
    "TaskCreated",
    "TaskReported",
]


# Observations: what happened.
@dataclass(frozen=True, slots=True)
class TargetPrepared:
    """The back end made the deployment's devices addressable; some may have been refused."""

    report: TargetReport


@dataclass(frozen=True, slots=True)
class JoinedReported:
    """Which members of the target are ready (IoTSquare: joined the multicast group)."""

    joined: dict[str, bool]


@dataclass(frozen=True, slots=True)
class TaskCreated:
    """The task exists on the back end (created now, or found by name after a restart)."""

    ref: TaskRef


@dataclass(frozen=True, slots=True)
class TaskReported:
    """The back end's task state."""

    status: TaskStatus


@dataclass(frozen=True, slots=True)
class DevicesReported:
    """The back end's report of every device of the task."""

    reports: tuple[DeviceReport, ...]


@dataclass(frozen=True, slots=True)
class AbortRequested:
    """A person asked to stop."""

    cause: str = "abort requested"


@dataclass(frozen=True, slots=True)
class BackendFailed:
    """A permanent back-end error: the deployment cannot go on."""

    cause: str


Observation = (
    TargetPrepared | JoinedReported | TaskCreated | TaskReported | DevicesReported | AbortRequested | BackendFailed
)


# Commands: what the runner must do.
@dataclass(frozen=True, slots=True)
class PrepareTarget:
    """Make the deployment's devices addressable (temporary multicast group, members)."""


@dataclass(frozen=True, slots=True)
class CheckJoined:
    """Ask which members are ready."""


@dataclass(frozen=True, slots=True)
class CreateTask:
    """Create the task, after looking it up by its stored name (never twice)."""


@dataclass(frozen=True, slots=True)
class PollTask:
    """Ask for the task's state and every device's."""


@dataclass(frozen=True, slots=True)
class AbortTask:
    """Stop the task on the back end."""


@dataclass(frozen=True, slots=True)
class Cleanup:
    """Remove what fuota created for the deployment (temporary targets)."""


Command = PrepareTarget | CheckJoined | CreateTask | PollTask | AbortTask | Cleanup


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a deployment's history: a transition, an anomaly, a device change, a command."""

    kind: str
    cause: str
    from_state: str | None = None
    to_state: str | None = None
    dev_eui: str | None = None


@dataclass(slots=True)
class Step:
    """What one call into the engine produced: persist `events` and `devices` with the state, then run
    `commands`, then call the engine's timer again at `deadline`."""

    events: list[Event] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    devices: list[DeviceProgress] = field(default_factory=list)
    deadline: datetime | None = None
