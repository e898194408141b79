"""The Backend protocol every adapter fulfils, and the BackendKind plug-in every vendor folder declares.

    Backend      what the runner asks of one configured network server: prepare a target, find/create a task,
                 poll it and its devices, abort it, clean up (fuota.core.reports holds what goes in and out)
    BackendKind  everything fuota needs of a kind of back end besides its adapter: its `[backends.NAME]` model,
                 its campaign-file table, how it splits a campaign's devices into deployments, how it is built

Adapters translate one back end's API into these types and never touch the store; the runner is the only place
where back ends, engine and store meet. Errors (fuota.backends.errors) are typed: TransientError is retried by
the adapter itself with capped, jittered back-off; what still escapes is for the runner to record.

Adding a back end is one folder, fuota/backends/<vendor>/ (kind, adapter, its wire, its code tables), and one
line in fuota/backends/registry.py: nothing outside those imports the vendor's modules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

import codec
from fuota.backends.config import BackendConfig
from fuota.core.reports import DeviceReport, TargetReport, TaskRef, TaskSpec, TaskStatus
from fuota.core.settings import ConfigError

__all__ = [
    "Backend",
    "BackendKind",
    "DeploymentPlan",
    "DeviceReport",
    "KindPlan",
    "Pacing",
    "PlanRequest",
    "TargetReport",
    "TaskRef",
    "TaskSpec",
    "TaskStatus",
]


class Backend(Protocol):
    """What the runner needs of a network server. Every call has a timeout and raises BackendError subclasses."""

    name: str

    def prepare(self, target: str | None, devices: tuple[str, ...], options: dict[str, object]) -> TargetReport:
        """Make the devices addressable: an existing target's members, or one temporary target holding `devices`."""
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


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What a kind needs of a campaign to plan its deployments: nothing is read or stored yet."""

    name: str  # the campaign's unique name, the stem of its deployments' task names
    devices: tuple[str, ...]
    firmware_size: int
    redundancy_percent: float
    table: BaseModel | None  # the campaign file's table of this kind ([iotsquare], [milesight]), if given


@dataclass(frozen=True, slots=True)
class DeploymentPlan:
    """One deployment as it would be sent: its task's unique name, its target and devices, its fragmentation."""

    task_name: str
    backend: str
    target: str | None  # None: a temporary target fuota creates
    temporary: bool
    devices: tuple[str, ...]
    frag: codec.FragPlan


@dataclass(frozen=True, slots=True)
class KindPlan:
    """A kind's plan of a campaign: its table validated and completed (kept as CampaignSettings.target), the
    engine's policies that come from it, and the deployments."""

    target: dict[str, Any]
    deployments: list[DeploymentPlan]
    join_timeout: float | None = None  # None: the default (fuota.core.settings.DEFAULT_JOIN_TIMEOUT)
    expected_version: str | None = None


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fragments go out on the air, as far as the campaign says: the channel plan, the data rate (None: the
    region's RX2 one), the interval between two fragments as sent (None: the back end paces by itself) and the
    longest interval the back end accepts (None: no limit, or not set by fuota)."""

    region: str
    dr: int | None = None
    interval_ms: float | None = None
    max_interval_ms: float | None = None
    notes: list[str] = field(default_factory=list)
    # A deployment's own pacing where its target differs (Milesight: each gateway's channel plan), by target.
    by_target: dict[str, Pacing] = field(default_factory=dict)

    def at(self, target: str | None) -> Pacing:
        """The pacing of the deployment whose target is `target`: its own where the kind gave one, else this."""
        return self.by_target.get(target or "", self)


class BackendKind(ABC):
    """One kind of back end (a vendor's network server), as a plug-in: its models and its planning rules."""

    name: ClassVar[str]  # `kind = "…"` in [backends.NAME], and the name of its table in a campaign file
    config_model: ClassVar[type[BackendConfig]]  # [backends.NAME]
    target_model: ClassVar[type[BaseModel]]  # the campaign file's table
    rounding: ClassVar[codec.Rounding]  # how the back end turns redundancy_percent into a count of fragments
    redundancy_percent: ClassVar[tuple[float, float]]  # the range it accepts, in percent
    # Whether its tasks report the finishing phases (SendFragSessStatus … Cleanup) as states of their own; where
    # they do not (Milesight), the read model estimates the finishing from the time since the last fragment.
    reports_finishing: ClassVar[bool] = True

    @abstractmethod
    def build(self, name: str, config: BackendConfig) -> Backend:
        """The adapter of `[backends.NAME]`; ConfigError (or ValueError) when it cannot be built."""

    @abstractmethod
    def plan(self, name: str, config: BackendConfig, request: PlanRequest) -> KindPlan:
        """The deployments the campaign fans out into on back end `name`; ConfigError naming the field, the value
        and what to do when it cannot be sent as written. May ask the back end (nothing is sent)."""

    @abstractmethod
    def pacing(self, target: dict[str, Any]) -> Pacing:
        """How the deployments of a campaign whose completed table is `target` send their fragments."""

    def check(self, name: str, config: BackendConfig, planned: KindPlan) -> list[str]:
        """`fuota plan`'s dry run: ask the back end, read-only, what it can tell before anything is sent (the
        token, reachability, that devices and targets exist); the lines saying what was checked, ConfigError naming
        the field, device or value and what to do when something would fail. Nothing is sent or stored."""
        return []

    def connect(self, name: str, config: BackendConfig) -> Backend:
        """`build`, with a value the configuration's checks let through but the adapter cannot use (a ValueError)
        turned into ConfigError naming the back end."""
        try:
            return self.build(name, config)
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(f"backends.{name}: {exc}") from exc

    def brings_devices(self, table: BaseModel | None) -> bool:
        """Whether the table names a target that brings its own devices (an existing multicast group), so that
        the campaign may list none."""
        return False

    def check_redundancy(self, name: str, percent: float) -> None:
        """ConfigError when `percent` is outside what this kind of back end accepts."""
        low, high = self.redundancy_percent
        if not low <= percent <= high:
            raise ConfigError(
                f"redundancy_percent = {percent:g} is out of range for back end {name!r} ({self.name}): "
                f"{low:g}–{high:g}"
            )

    def frag_plan(self, request: PlanRequest, frag_size: int) -> codec.FragPlan:
        """The fragmentation of the campaign's image at `frag_size`, rounded as this back end rounds."""
        try:
            return codec.plan(
                request.firmware_size, frag_size, percent=request.redundancy_percent, rounding=self.rounding
            )
        except codec.PlanError as exc:
            raise ConfigError(f"firmware of {request.firmware_size} bytes cannot be fragmented: {exc}") from exc
