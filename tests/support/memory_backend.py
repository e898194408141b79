"""A back end that lives in memory, for the runner's unit tests: the Backend protocol without a network.

Tasks go through the phases of IoTSquare's section 9.2 one poll at a time (Created → EnqueueFragment → Done). A
device that joined its group is reported at the stage STAGES gives for the phase, and is done at the end unless it
is listed in `fails`; one that never joined stays in multicast set-up. Every call is recorded in `calls`; `faults`
makes the next calls of an operation raise instead, which is how a test makes a back end slow, silent, refusing or
garbled. Nothing here is thread-safe beyond what the runner needs (it steps one deployment on one thread at a time).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from fuota.backends.errors import BackendError
from fuota.core.model import DeploymentState, Stage
from fuota.core.reports import DeviceReport, TargetReport, TaskRef, TaskSpec, TaskStatus

__all__ = ["MemoryBackend", "MemoryTask"]

PHASES = [DeploymentState.CREATED, DeploymentState.ENQUEUE_FRAGMENT, DeploymentState.DONE]
STAGES = {
    DeploymentState.CREATED: Stage.MULTICAST_READY,
    DeploymentState.ENQUEUE_FRAGMENT: Stage.RECEIVING,
    DeploymentState.DONE: Stage.DONE,
}


@dataclass
class MemoryTask:
    """One task: its spec, its reference and how far it went."""

    spec: TaskSpec
    ref: TaskRef
    phase: int = 0
    aborted: bool = False

    @property
    def state(self) -> DeploymentState:
        return DeploymentState.ABORTED if self.aborted else PHASES[self.phase]


@dataclass
class MemoryBackend:
    """The Backend protocol in memory. `joined` says which devices join their group (all by default); `refused`
    which devices prepare refuses and why; `fails` which devices end failed with what reason; `versions` what firmware
    version a device reports once done, `old_versions` what it reports before."""

    name: str = "mem"
    joined: set[str] | None = None
    refused: dict[str, str] = field(default_factory=dict)
    fails: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    old_versions: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, MemoryTask] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, task or target)
    faults: dict[str, deque[BackendError]] = field(default_factory=dict)
    cleaned: list[str] = field(default_factory=list)
    closed: bool = False
    _members: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def fail_next(self, operation: str, *errors: BackendError) -> None:
        """Make the next len(errors) calls of `operation` raise these errors, in order."""
        self.faults.setdefault(operation, deque()).extend(errors)

    def count(self, operation: str) -> int:
        """How many calls of `operation` were made (those that raised included)."""
        return Counter(op for op, _ in self.calls)[operation]

    def _call(self, operation: str, about: str) -> None:
        self.calls.append((operation, about))
        pending = self.faults.get(operation)
        if pending:
            raise pending.popleft()

    # --- the Backend protocol -----------------------------------------------------------------------------------

    def prepare(self, target: str | None, devices: tuple[str, ...], options: dict[str, object]) -> TargetReport:
        name = target or f"group-{options['name_prefix']}"
        self._call("prepare", name)
        members = tuple(d for d in devices if d not in self.refused)
        self._members[name] = members
        return TargetReport(name, members, {d: self.refused[d] for d in devices if d in self.refused}, target is None)

    def ready(self, target: str) -> dict[str, bool]:
        self._call("ready", target)
        return {d: self.joined is None or d in self.joined for d in self._members.get(target, ())}

    def find(self, spec: TaskSpec) -> TaskRef | None:
        self._call("find", spec.name)
        task = self.tasks.get(spec.name)
        return None if task is None else task.ref

    def create(self, spec: TaskSpec) -> TaskRef:
        self._call("create", spec.name)
        ref = TaskRef(spec.name, {"taskId": len(self.tasks) + 1, "target": spec.target})
        self.tasks[spec.name] = MemoryTask(spec, ref)
        return ref

    def status(self, ref: TaskRef) -> TaskStatus:
        self._call("status", ref.name)
        task = self.tasks[ref.name]
        if not task.aborted and task.phase < len(PHASES) - 1:
            task.phase += 1  # one phase further at each poll
        return TaskStatus(task.state, {"phase": task.state.value})

    def devices(self, ref: TaskRef) -> list[DeviceReport]:
        self._call("devices", ref.name)
        task = self.tasks[ref.name]
        stage = STAGES.get(task.state, Stage.RECEIVING)
        reports = []
        for dev_eui in task.spec.devices:
            if self.joined is not None and dev_eui not in self.joined:
                reports.append(DeviceReport(dev_eui, Stage.MULTICAST_SETUP, {"joined": False}))
            elif stage is Stage.DONE and dev_eui in self.fails:
                reports.append(DeviceReport(dev_eui, Stage.FAILED, {"why": "scripted"}, self.fails[dev_eui]))
            else:
                version = (self.versions if stage is Stage.DONE else self.old_versions).get(dev_eui)
                reports.append(DeviceReport(dev_eui, stage, {"stage": stage.value}, None, version))
        return reports

    def abort(self, ref: TaskRef) -> None:
        self._call("abort", ref.name)
        self.tasks[ref.name].aborted = True

    def cleanup(self, target: TargetReport) -> None:
        self._call("cleanup", target.target)
        self.cleaned.append(target.target)

    def close(self) -> None:
        self.closed = True
