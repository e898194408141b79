"""File-transfer tasks in the IoTSquare simulator (spec section 9): one timeline each, evaluated lazily.

A task runs Created → SendFragSessSetup → EnqueueFragment → SendFragSessStatus → SendFragSessDel → Cleanup →
Done on the simulated clock: `phase` seconds per phase, except EnqueueFragment which lasts (nbFrag + redundancy)
· the fragment interval, fragment n leaving at its start + (n − 1) · interval. The interval is the one a real server
keeps to (the duty-cycle minimum at the group region's RX2 data rate, as `fuota plan` estimates it) unless a
fixed `fragment_interval` is given, e.g. for fast tests. Nothing runs in the background:
each request first sends the fragments due by now (`advance`), then reports, so every answer is consistent with
the devices' real decoders, whatever the polling cadence.

The members taking part are those joined when the set-up starts; their fragmentation sessions begin then.
Abort stops the fragments at once and freezes every device where it was (state, counts); the task reports
Cleanup for one phase, then Done, and each device not Done says "task aborted" in its error_message.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

import codec
from fuota.planning.pacing import min_interval_ms
from fuota.sim.clock import SimClock
from fuota.sim.fleet import Broadcast, Session
from fuota.sim.iotsquare_codes import ApiError, DeviceState, Reply, TaskState, eui, integer, page
from fuota.sim.iotsquare_groups import GroupBook, McGroup

__all__ = ["FuotaTask", "TaskBook", "Timing"]


@dataclass(frozen=True, slots=True)
class Timing:
    """Simulated durations in seconds: each phase but EnqueueFragment, and the gap between two fragments (None: as
    the real server paces, the duty-cycle minimum at the group region's RX2 data rate — what `fuota plan`
    estimates, fuota.planning.pacing)."""

    phase: float = 5.0
    fragment_interval: float | None = None

    def interval(self, frag_size: int, region: str) -> float:
        """Seconds between two fragments of `frag_size` bytes sent to a group of `region`."""
        if self.fragment_interval is not None:
            return self.fragment_interval
        try:
            return min_interval_ms(frag_size, region) / 1000
        except (KeyError, ValueError):  # a region fuota's tables lack: the old fixed pace
            return 2.0


class FuotaTask:
    """One file-transfer task on one group: its plan, its timeline and its devices' sessions."""

    def __init__(
        self, fd_id: int, group: McGroup, name: str, image: bytes, plan: codec.FragPlan, descriptor: str,
        now: float, timing: Timing, clock: SimClock,
    ) -> None:  # fmt: skip
        self.fd_id, self.mc_eui, self.name, self.image = fd_id, group.mc_eui, name, image
        self.plan, self.descriptor, self.timing, self.clock = plan, descriptor, timing, clock
        self.interval = timing.interval(plan.frag_size, group.region)
        self.members = [(m.device, m.joined_at) for m in group.members.values()]  # the group as it was at create
        self.created_at = now
        self.setup_at = now + timing.phase
        self.enqueue_at = self.setup_at + timing.phase
        self.status_at = self.enqueue_at + plan.total * self.interval
        self.del_at = self.status_at + timing.phase
        self.cleanup_at = self.del_at + timing.phase
        self.aborted_at: float | None = None
        self.broadcast: Broadcast | None = None
        self._schedule = [
            (TaskState.CREATED, now),
            (TaskState.SEND_FRAG_SESS_SETUP, self.setup_at),
            (TaskState.ENQUEUE_FRAGMENT, self.enqueue_at),
            (TaskState.SEND_FRAG_SESS_STATUS, self.status_at),
            (TaskState.SEND_FRAG_SESS_DEL, self.del_at),
            (TaskState.CLEANUP, self.cleanup_at),
            (TaskState.DONE, self.cleanup_at + timing.phase),
        ]

    def _frozen(self, now: float) -> float:
        # The devices' clock: it stops at the abort.
        return now if self.aborted_at is None else min(now, self.aborted_at)

    def advance(self, now: float) -> None:
        """Start the devices' sessions and send the fragments due by `now`."""
        t = self._frozen(now)
        if self.broadcast is None and t >= self.setup_at:
            joined = [device for device, at in self.members if at is not None and at <= self.setup_at]
            fragments = codec.encode(self.image, self.plan.frag_size, self.plan.redundancy, self.plan.version)
            self.broadcast = Broadcast(joined, self.plan, fragments)
        if self.broadcast is not None and t >= self.enqueue_at:
            interval = self.interval
            due = int((t - self.enqueue_at) // interval) + 1 if interval > 0 else self.plan.total
            self.broadcast.send_until(due)

    def abort(self, now: float) -> None:
        """Stop sending now; Cleanup for one phase, then Done. A task already cleaning up is left alone."""
        if self.aborted_at is not None or now >= self.cleanup_at:
            return
        self.advance(now)
        self.aborted_at = now
        kept = [(state, at) for state, at in self._schedule if at < now and state is not TaskState.CLEANUP]
        self._schedule = [*kept, (TaskState.CLEANUP, now), (TaskState.DONE, now + self.timing.phase)]

    def summary(self, now: float) -> dict[str, object]:
        """The FuotaDeploymentSummary at `now` (9.2)."""
        index = bisect.bisect_right([at for _, at in self._schedule], now) - 1
        state, since = self._schedule[max(index, 0)]
        following = self._schedule[index + 1][1] if index + 1 < len(self._schedule) else None
        return {
            "fdID": self.fd_id,
            "firmwareName": self.name,
            "payloadSize": len(self.image),
            "createtime": self.clock.ms(self.created_at),
            "updatetime": self.clock.ms(since),
            "state": state,
            "nextStepTime": -1 if following is None else self.clock.ms(following),
        }

    def status(self, now: float) -> dict[str, object]:
        """The FuotaDeploymentStatus at `now` (9.3)."""
        return {
            **self.summary(now),
            "nbFrag": self.plan.nb_frag,
            "fragSize": self.plan.frag_size,
            "padding": self.plan.padding,
            "redundancy": self.plan.redundancy,
            "descriptor": self.descriptor,
        }

    def devices(self, now: float) -> list[dict[str, object]]:
        """Every member's FuotaDeploymentDevice at `now` (9.4); counts are numbers, error_message a string."""
        t, rows = self._frozen(now), []
        for device, joined_at in self.members:
            session = self.broadcast.sessions.get(device.dev_eui) if self.broadcast else None
            state, since, error = self._device_state(session, joined_at, t)
            if self.aborted_at is not None and now >= self.aborted_at and state is not DeviceState.DONE:
                error = f"task aborted; {error}" if error else "task aborted"
            rows.append(
                {
                    "devEUI": device.dev_eui,
                    "fdID": self.fd_id,
                    "nbFragReceived": session.received if session else 0,
                    "nbFragMissing": session.missing if session else 0,
                    "createtime": self.clock.ms(self.created_at),
                    "updatetime": self.clock.ms(since),
                    "state": state,
                    "error_message": error,
                }
            )
        return rows

    def _device_state(
        self, session: Session | None, joined_at: float | None, t: float
    ) -> tuple[DeviceState, float, str]:
        joined = joined_at is not None and joined_at <= t
        if session is None:
            if joined:
                late = "joined the multicast group after the fragmentation session set-up" if t >= self.setup_at else ""
                return DeviceState.MC_JOINED, max(joined_at or 0.0, self.created_at), late
            absent = "not joined the multicast group: no fragmentation session" if t >= self.setup_at else ""
            return DeviceState.MC_NOT_JOINED, self.created_at, absent
        if t < self.enqueue_at:
            return DeviceState.MC_JOINED, max(joined_at or 0.0, self.created_at), ""
        if t < self.status_at:
            return DeviceState.FRAG_SESSION_SETUP_ANS, self.enqueue_at, ""
        if not session.rebuilt(self.image):
            missing = f"{session.missing} of {self.plan.nb_frag} fragments missing after {session.received} received"
            return DeviceState.FRAG_SESS_STATUS_ANS, self.status_at, f"could not rebuild the image: {missing}"
        if t < self.del_at:
            return DeviceState.FRAG_SESS_STATUS_ANS, self.status_at, ""
        if t < self.cleanup_at:
            return DeviceState.FRAG_SESS_DEL_ANS, self.del_at, ""
        return DeviceState.DONE, self.cleanup_at, ""


class TaskBook:
    """The file-transfer tasks and the endpoints of section 9."""

    def __init__(
        self, groups: GroupBook, timing: Timing, frag_size: int, rng: np.random.Generator, clock: SimClock
    ) -> None:
        self.groups, self.timing, self.frag_size, self._rng, self.clock = groups, timing, frag_size, rng, clock
        self.tasks: dict[int, FuotaTask] = {}
        self.phases: list[tuple[str, float, float]] = []  # each task's fragment phase (name, start, end), kept
        self.busy: bool | int = False  # 16001 as for a busy group: every create (True), or that many more
        self._next_id = 1

    def advance(self, now: float) -> None:
        """Bring every task up to `now`."""
        for task in self.tasks.values():
            task.advance(now)

    def forget(self, mc_euis: list[str]) -> None:
        """Drop the tasks of deleted groups."""
        self.tasks = {fd: task for fd, task in self.tasks.items() if task.mc_eui not in mc_euis}

    def create(self, body: dict[str, object], now: float) -> Reply:
        """POST fuota/create (9.1): answers no fdID, as the real server; clients find it with fuota/list."""
        group = self.groups.get(eui(body, "mcEUI"))
        name, percent, payload = body.get("firmwareName"), body.get("redundancyPercent"), body.get("payload")
        if name is None or name == "" or percent is None or payload is None or payload == "":
            raise ApiError(1006, "firmwareName, redundancyPercent and payload are required")
        if not isinstance(name, str):
            raise ApiError(1007, f"firmwareName must be a string, not {name!r}")
        if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0.1 <= percent <= 1:
            raise ApiError(1007, f"redundancyPercent {percent!r}: a share of nbFrag in 0.1..1")
        try:
            image = base64.b64decode(payload, validate=True)  # type: ignore[arg-type]
        except (binascii.Error, TypeError, ValueError):
            raise ApiError(1007, "payload must be base64") from None
        if any(task.mc_eui == group.mc_eui and task.name == name for task in self.tasks.values()):
            raise ApiError(16001, f"{group.mc_eui} already has a task named {name}")
        if self.busy is True or (self.busy is not False and self.busy > 0):
            if self.busy is not True:
                self.busy -= 1
            raise ApiError(16001, f"{group.mc_eui} is busy with another task")
        try:
            # floor, as the spec's own sample implies (section 9.3: 13737 B at 0.3 → redundancy 86)
            plan = codec.plan(
                len(image), self.frag_size, percent=Decimal(str(percent)) * 100, rounding=codec.Rounding.IOTSQUARE
            )
        except codec.PlanError as exc:
            raise ApiError(1007, str(exc)) from None
        descriptor = base64.b64encode(self._rng.bytes(4)).decode()
        task = FuotaTask(self._next_id, group, name, image, plan, descriptor, now, self.timing, self.clock)
        self.tasks[task.fd_id] = task
        self.phases.append((name, task.enqueue_at, task.status_at))
        self._next_id += 1
        return Reply()

    def list_tasks(self, body: dict[str, object], now: float) -> Reply:
        """GET fuota/list (9.2): the group's tasks, newest first as in the spec's sample."""
        group = self.groups.get(eui(body, "mcEUI"))
        tasks = sorted((t for t in self.tasks.values() if t.mc_eui == group.mc_eui), key=lambda t: -t.fd_id)
        chosen = tasks[page(body)]
        for task in chosen:
            task.advance(now)
        return Reply([task.summary(now) for task in chosen], len(tasks))

    def status(self, body: dict[str, object], now: float) -> Reply:
        """GET fuota/status (9.3)."""
        task = self._task(body, now)
        return Reply(task.status(now))

    def devices(self, body: dict[str, object], now: float) -> Reply:
        """GET fuota/device/list (9.4)."""
        rows = self._task(body, now).devices(now)
        return Reply(rows[page(body)], len(rows))

    def abort(self, body: dict[str, object], now: float) -> Reply:
        """POST fuota/abort (9.5); aborting a task already cleaning up or done answers ok and changes nothing."""
        self._task(body, now).abort(now)
        return Reply()

    def _task(self, body: dict[str, object], now: float) -> FuotaTask:
        group = self.groups.get(eui(body, "mcEUI"))
        fd_id = integer(body, "fdID")
        task = self.tasks.get(fd_id)
        if task is None or task.mc_eui != group.mc_eui:
            # The spec has no "task not found" code; a failed look-up is its generic 1008 Query Error.
            raise ApiError(1008, f"no task fdID {fd_id} on multicast group {group.mc_eui}")
        task.advance(now)
        return task
