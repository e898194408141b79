"""The deployment state machine, sans-IO: observations and `now` in, commands, events and a deadline out.

It imports no I/O library and never reads the clock (DESIGN.md §3). The states are IoTSquare's task states
(section 9.2) plus fuota's Scheduled, Aborted and Failed; TRANSITIONS below is the whole table. A back-end report
may skip states (a poll can miss a short phase), so every later phase is reachable from every earlier one, but
never the other way round: an observation that implies an illegal jump (say Done → EnqueueFragment) is recorded
as an anomaly and does not move the deployment.

Before the task exists the deployment stays Scheduled and walks through its preparation: make the target
addressable (an existing group's members, or a temporary group fuota creates and later deletes), wait for the
members to join, then create the task — which the runner does only after looking it up by its stored name, so a
restart never creates it twice. That preparation (fuota.core.model.Preparation) and the join deadline are part of
the engine's state, which the runner stores with every step: a restart resumes it where it was.

Transitions are fired through `transitions`' own API (`may_trigger`, `trigger`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from transitions import Machine

from fuota.core.messages import (
    AbortRequested,
    AbortTask,
    BackendFailed,
    CheckJoined,
    Cleanup,
    CreateTask,
    DevicesReported,
    Event,
    JoinedReported,
    Observation,
    PollTask,
    PrepareTarget,
    Step,
    TargetPrepared,
    TaskCreated,
    TaskReported,
)
from fuota.core.model import DeploymentState, DeviceProgress, Outcome, Preparation, Stage
from fuota.core.outcomes import outcome_of, version_anomaly
from fuota.core.reasons import Category
from fuota.core.reports import TargetReport
from fuota.core.settings import DEFAULT_JOIN_TIMEOUT, DEFAULT_POLL_INTERVAL

__all__ = ["TRANSITIONS", "TRIGGERS", "DeploymentEngine"]

_S = DeploymentState
_OPEN = [s.value for s in _S if not s.ended]

# The whole table. "report_X" is fired when the back end reports its task in state X.
TRANSITIONS: list[dict[str, object]] = [
    {"trigger": "create", "source": "Scheduled", "dest": "Created"},
    {"trigger": "report_SendFragSessSetup", "source": ["Created", "Unknown"], "dest": "SendFragSessSetup"},
    {
        "trigger": "report_EnqueueFragment",
        "source": ["Created", "SendFragSessSetup", "Unknown"],
        "dest": "EnqueueFragment",
    },
    {
        "trigger": "report_SendFragSessStatus",
        "source": ["Created", "SendFragSessSetup", "EnqueueFragment", "Unknown"],
        "dest": "SendFragSessStatus",
    },
    {
        "trigger": "report_SendFragSessDel",
        "source": ["Created", "SendFragSessSetup", "EnqueueFragment", "SendFragSessStatus", "Unknown"],
        "dest": "SendFragSessDel",
    },
    {
        "trigger": "report_Cleanup",
        "source": [
            "Created",
            "SendFragSessSetup",
            "EnqueueFragment",
            "SendFragSessStatus",
            "SendFragSessDel",
            "Unknown",
        ],
        "dest": "Cleanup",
    },
    {
        "trigger": "report_Done",
        "source": [
            "Created",
            "SendFragSessSetup",
            "EnqueueFragment",
            "SendFragSessStatus",
            "SendFragSessDel",
            "Cleanup",
            "Unknown",
        ],
        "dest": "Done",
    },
    {
        "trigger": "report_Unknown",
        "source": [
            "Created",
            "SendFragSessSetup",
            "EnqueueFragment",
            "SendFragSessStatus",
            "SendFragSessDel",
            "Cleanup",
        ],
        "dest": "Unknown",
    },
    {"trigger": "abort", "source": _OPEN, "dest": "Aborted"},
    {"trigger": "fail", "source": _OPEN, "dest": "Failed"},
]
TRIGGERS = sorted({str(t["trigger"]) for t in TRANSITIONS} | {"report_Created"})


_COMMAND = {
    Preparation.PREPARING: PrepareTarget(),
    Preparation.JOINING: CheckJoined(),
    Preparation.CREATING: CreateTask(),
}


class DeploymentEngine:
    """One deployment's machine. Feed it with `handle(observation, now)` and `timer(now)`."""

    def __init__(
        self,
        state: DeploymentState = DeploymentState.SCHEDULED,
        devices: dict[str, DeviceProgress] | None = None,
        *,
        start_at: datetime | None = None,
        poll_interval: timedelta = timedelta(seconds=DEFAULT_POLL_INTERVAL),
        join_timeout: timedelta = timedelta(seconds=DEFAULT_JOIN_TIMEOUT),
        temporary: bool = False,
        expected_version: str | None = None,
        preparation: Preparation = Preparation.WAITING,
        join_deadline: datetime | None = None,
    ) -> None:
        self.machine = Machine(
            model=self,
            states=[s.value for s in DeploymentState],
            transitions=TRANSITIONS,
            initial=state.value,
            auto_transitions=False,
            model_attribute="_state",
        )
        self.devices = dict(devices or {})
        self.start_at = start_at
        self.poll_interval = poll_interval
        self.join_timeout = join_timeout
        self.temporary = temporary
        self.expected_version = expected_version
        self.preparation = preparation
        self.join_deadline = join_deadline  # when the members' join stops being waited for

    @property
    def state(self) -> DeploymentState:
        """The deployment's current state."""
        return DeploymentState(self._state)

    @property
    def started(self) -> bool:
        """True once the deployment began acting on its back end (preparing its target or later)."""
        return self.state is not DeploymentState.SCHEDULED or self.preparation is not Preparation.WAITING

    def fire(self, trigger: str, cause: str, step: Step) -> bool:
        """Fire `trigger`; one the table does not allow from here (or does not know) becomes an anomaly event and
        leaves the state as it was."""
        before = self.state
        if not self.may_trigger(trigger):  # type: ignore[attr-defined]  # added by transitions.Machine
            step.events.append(Event("anomaly", f"{trigger} is not allowed in {before}: {cause}", before, before))
            return False
        self.trigger(trigger)  # type: ignore[attr-defined]
        step.events.append(Event("transition", cause, before, self.state))
        return True

    def timer(self, now: datetime) -> Step:
        """The deadline passed: do what is due."""
        step = Step()
        state = self.state
        if state.ended:
            return step
        if state is DeploymentState.SCHEDULED:
            if self.start_at is not None and now < self.start_at:
                step.deadline = self.start_at
                return step
            if self.preparation is Preparation.WAITING:
                self.preparation = Preparation.PREPARING
            step.commands.append(_COMMAND[self.preparation])
        else:
            step.commands.append(PollTask())
        step.deadline = now + self.poll_interval
        return step

    def handle(self, observation: Observation, now: datetime) -> Step:
        """Take one observation; return what to persist and do next."""
        step = Step(deadline=now + self.poll_interval)
        match observation:
            case AbortRequested(cause=cause):
                had_task = self.state is not DeploymentState.SCHEDULED
                if self.fire("abort", cause, step):
                    step.commands.extend([AbortTask()] if had_task else [])
                    self._finish(step, cause, task_created=had_task)
            case BackendFailed(cause=cause):
                if self.fire("fail", cause, step):
                    self._finish(step, cause)
            case TargetPrepared(report=report):
                self._prepared(report, step)
                self.preparation, self.join_deadline = Preparation.JOINING, now + self.join_timeout
                step.deadline = now
            case JoinedReported(joined=joined):
                self._joined(joined, step)
                if all(joined.values()) or (self.join_deadline is not None and now >= self.join_deadline):
                    self.preparation = Preparation.CREATING
                    step.deadline = now
            case TaskCreated(ref=ref):
                if self.state is DeploymentState.SCHEDULED:
                    self.fire("create", f"task {ref.name} created ({ref.describe()})", step)
                step.deadline = now
            case TaskReported(status=status):
                if status.state is DeploymentState.FAILED:
                    if self.fire("fail", "the back end reports the task failed", step):
                        self._finish(step, "the back end reports the task failed")
                elif status.state is not self.state:
                    self.fire(f"report_{status.state.value}", f"back end reports {status.state}", step)
                if self.state is DeploymentState.DONE:
                    self._finish(step, "back end reports Done")
            case DevicesReported(reports=reports):
                for report in reports:
                    known = self.devices.get(report.dev_eui)
                    if known is not None and known.outcome is not None:
                        continue  # refused at preparation: settled
                    progress = DeviceProgress(
                        report.dev_eui,
                        report.stage,
                        dict(report.raw),
                        None,
                        report.reason,
                        firmware_version=report.firmware_version or (known.firmware_version if known else None),
                        category=report.category,
                        # The first non-empty version seen, never overwritten: did the version change? (outcomes)
                        initial_version=(known.initial_version if known else None) or report.firmware_version or None,
                    )
                    self._update(progress, step)
        return step

    def _prepared(self, report: TargetReport, step: Step) -> None:
        for dev_eui, reason in report.refused.items():
            category = report.categories.get(dev_eui, Category.BACKEND_REFUSED)
            self._update(DeviceProgress(dev_eui, Stage.FAILED, {}, Outcome.FAILED, reason, category=category), step)
        for dev_eui in report.members:
            known = self.devices.get(dev_eui)
            if known is None or known.stage is Stage.PENDING:
                self._update(DeviceProgress(dev_eui, Stage.MULTICAST_SETUP, known.raw if known else {}), step)

    def _joined(self, joined: dict[str, bool], step: Step) -> None:
        for dev_eui, ready in joined.items():
            known = self.devices.get(dev_eui)
            if ready and (known is None or known.stage in (Stage.PENDING, Stage.MULTICAST_SETUP)):
                self._update(DeviceProgress(dev_eui, Stage.MULTICAST_READY, {"joined": True}), step)

    def _update(self, device: DeviceProgress, step: Step) -> None:
        known = self.devices.get(device.dev_eui)
        if known == device:
            return
        self.devices[device.dev_eui] = device
        step.devices.append(device)
        before = known.stage if known is not None else None
        settled = device.outcome is not None and (known is None or known.outcome is None)
        if before is not device.stage or settled:
            cause = f"{device.outcome}: {device.reason or 'ok'}" if settled else (device.reason or "reported")
            step.events.append(Event("device", cause, before, device.stage, device.dev_eui))

    def _finish(self, step: Step, cause: str, *, task_created: bool = True) -> None:
        expected = self.expected_version
        anomaly = version_anomaly(self.devices.values(), expected)
        if anomaly is not None:
            step.events.append(Event("anomaly", anomaly, self.state, self.state))
            expected = None  # the versions cannot judge: the back end's session codes alone do
        for device in list(self.devices.values()):
            ended = outcome_of(device, self.state, cause, expected, task_created=task_created)
            self._update(ended, step)
        if self.temporary:
            step.commands.append(Cleanup())
        step.deadline = None
