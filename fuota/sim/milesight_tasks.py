"""FUOTA tasks of one simulated Milesight gateway (spec chapter 6): timelines evaluated lazily, real decoding.

A task's run goes, on the simulated clock (durations in `Timing`):

    created ─ startedAt ─ +multicast_setup ─ +fragment_setup ─ fragments ─ +status_report ─ +upgrade
    0 pending 1 waiting                      2 executing                                   3 success / 4 failed

    multicastSessionStatus   1 trying, 2 confirmed (second half)  3 ready   4 processing   5 complete
    fragmentSessionStatus    0                                    1 trying  3 processing   12 complete  13 upgraded

Fragment n leaves at the fragments' start + (n − 1) · fragmentInterval. A device's codes come from what happened
to it: one that never answers the multicast set-up is multicastSessionStatus 6 (10 when the task's frequency is
outside the channel plan) and hears no fragment; a low-memory one refuses the fragmentation session
(fragmentSessionStatus 7); the others receive the fragments through their own lossy channel into a real
codec.Decoder, and at the status report the decoder decides: 12, then 13 after the upgrade phase, when it rebuilt
the image, else 9 (lack of fragments). A device's `status` (6.7) uses 6.2's values: failed (4) as soon as its
failure is known, success (3) once upgraded. The task ends upgrade success (3) when every device succeeded, else
upgrade failed (4); then stoppedAt is set, and updatedAt is the time of the latest status change. Times and the
fragmentInterval are reported as they pass on the wall clock (fuota.sim.clock): at speed 60, a task paced at
1000 ms reports 17 ms, the pace a client really sees.

A device's `firmwareVersion` (6.7, "Supported firmware version", "" in the spec's sample) is one reading of
`FirmwareVersions`: "" always (the default, as the sample), the version the device runs (`before`, then `after` once
it reports fragmentSessionStatus 13), or a version that never changes (`before` always).

Task IDs count from 1 on each gateway. The list (6.2) is newest first and leaves fileContent empty, as the spec's
sample does. A gateway keeps every task, finished or not, until it is deleted (6.4), and refuses a create beyond
`max_tasks` with 10310013 "Over the maximum task amount", as real gateways cap their task count.
Retry (6.5) is allowed on a failed task only: a new run, starting at once, of the devices that
failed; the others keep their outcome. Nothing runs in the background: each request first sends the fragments
due by now, so every answer agrees with the devices' decoders whatever the polling cadence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

import codec
from fuota.sim.clock import SimClock
from fuota.sim.fleet import Broadcast, Fleet, VirtualDevice
from fuota.sim.milesight_codes import (
    ApiError,
    FuotaError,
    ReturnCode,
    TaskRequest,
    TaskStatus,
    parse_task,
    query_int,
    window,
)
from fuota.sim.milesight_codes import FragmentSessionStatus as Frag
from fuota.sim.milesight_codes import MulticastSessionStatus as Mc

__all__ = ["PROFILE_ID", "PROFILE_NAME", "Faults", "FirmwareVersions", "FuotaTask", "TaskBook", "Timing"]

_Row = tuple[Mc, Frag, TaskStatus]

PROFILE_ID = "5a6e4d6c-0c1f-4a8e-9a57-3e0c2d9b7f10"  # the one device profile of the simulated network servers
PROFILE_NAME = "ClassC-OTAA"  # FUOTA multicasts to Class C devices (tmpMcInfo groupType 0)


@dataclass(frozen=True, slots=True)
class Timing:
    """Simulated seconds of each phase but the fragments' (whose length is fragments · fragmentInterval)."""

    multicast_setup: float = 60.0
    fragment_setup: float = 30.0
    status_report: float = 30.0
    upgrade: float = 60.0

    def __post_init__(self) -> None:
        if min(self.multicast_setup, self.fragment_setup, self.status_report, self.upgrade) < 0:
            raise ValueError(f"{self}: phases are durations, ≥ 0 simulated seconds")


@dataclass(frozen=True, slots=True)
class Faults:
    """What makes devices fail: EUIs (lower case) short of memory, and the gateway's frequency range."""

    low_memory: Collection[str]
    frequencies: tuple[int, int]


@dataclass(frozen=True, slots=True)
class FirmwareVersions:
    """What a device's `firmwareVersion` in 6.7's device list holds: `reading` "empty" ("" always, as the spec's
    sample), "running" (the version the device runs: `before`, then `after` once it applied the image) or "fixed"
    (`before` always: a "supported version" that never changes)."""

    reading: Literal["empty", "running", "fixed"] = "empty"
    before: str = "1.0.0"
    after: str = "2.0.0"

    def __post_init__(self) -> None:
        if self.reading not in ("empty", "running", "fixed"):
            raise ValueError(f"reading = {self.reading!r}: one of empty, running, fixed")

    def of(self, fragment: Frag) -> str:
        """The field for a device whose fragment session status is `fragment`."""
        if self.reading == "empty":
            return ""
        return self.after if self.reading == "running" and fragment is Frag.UPGRADE_COMPLETE else self.before


class Run:
    """One pass of a task over some of its devices: the timeline, who failed at set-up, the broadcast."""

    def __init__(
        self, devices: list[VirtualDevice], start: float, request: TaskRequest, timing: Timing, faults: Faults
    ) -> None:
        self.start = start
        self.confirmed = start + timing.multicast_setup / 2
        self.ready = start + timing.multicast_setup
        self.sending = self.ready + timing.fragment_setup
        self.interval = request.fragment_interval_ms / 1000
        self.reported = self.sending + request.plan.total * self.interval + timing.status_report
        self.upgraded = self.reported + timing.upgrade
        low, high = faults.frequencies
        self.refused: dict[str, Mc] = {}  # devices whose multicast set-up failed, and how
        for device in devices:
            if not device.joins:
                self.refused[device.dev_eui] = Mc.SETUP_TIMEOUT
            elif not low <= request.frequency <= high:
                self.refused[device.dev_eui] = Mc.FREQUENCY_ERROR
        self.short = {d.dev_eui for d in devices if d.dev_eui in faults.low_memory and d.dev_eui not in self.refused}
        self.receivers = [d for d in devices if d.dev_eui not in self.refused and d.dev_eui not in self.short]
        self.broadcast: Broadcast | None = None

    def advance(self, t: float, request: TaskRequest, fragments: np.ndarray) -> None:
        """Open the receivers' fragmentation sessions and send the fragments due by `t`."""
        if t < self.sending or not self.receivers:
            return
        if self.broadcast is None:
            self.broadcast = Broadcast(self.receivers, request.plan, fragments)
        self.broadcast.send_until(int((t - self.sending) // self.interval) + 1)

    def row(self, eui: str, t: float, image: bytes) -> _Row:
        """The device's multicast and fragment session codes and its status at `t`."""
        if t < self.start:
            return Mc.NOT_STARTED, Frag.NOT_STARTED, TaskStatus.PENDING
        refusal = self.refused.get(eui)
        if t < self.ready:
            setting_up = t < self.confirmed or refusal is not None
            return (Mc.SETTING_UP if setting_up else Mc.CONFIRMED), Frag.NOT_STARTED, TaskStatus.WAITING
        if refusal is not None:
            return refusal, Frag.NOT_STARTED, TaskStatus.FAILED
        mc = Mc.READY if t < self.sending else Mc.PROCESSING if t < self.reported else Mc.COMPLETE
        if t < self.sending:
            return mc, Frag.SETTING_UP, TaskStatus.WAITING
        if eui in self.short:
            return mc, Frag.LOW_MEMORY, TaskStatus.FAILED
        if t < self.reported:
            return mc, Frag.PROCESSING, TaskStatus.EXECUTING
        assert self.broadcast is not None  # advance() opened it at self.sending: eui is a receiver
        session = self.broadcast.sessions[eui]
        if not session.complete:
            return mc, Frag.LACK_OF_FRAGMENTS, TaskStatus.FAILED
        if not session.rebuilt(image):
            return mc, Frag.UPGRADE_FAILED, TaskStatus.FAILED
        if t < self.upgraded:
            return mc, Frag.SESSION_COMPLETE, TaskStatus.EXECUTING
        return mc, Frag.UPGRADE_COMPLETE, TaskStatus.SUCCESS


class FuotaTask:
    """One task: the request, its runs, and which run each device is in."""

    def __init__(
        self, task_id: int, request: TaskRequest, now: float, fleet: Fleet, timing: Timing, faults: Faults,
        clock: SimClock, versions: FirmwareVersions = FirmwareVersions(),
    ) -> None:  # fmt: skip
        self.id, self.request, self.created_at, self.clock = task_id, request, now, clock
        self.fleet, self.timing, self.faults, self.versions = fleet, timing, faults, versions
        self.fragments = codec.encode(request.image, request.plan.frag_size, request.plan.redundancy)
        self.runs: list[Run] = []
        self.run_of: dict[str, Run] = {}
        self._launch(request.deveui, max(now, clock.seconds_at(request.started_at_ms)))

    def _launch(self, euis: list[str], start: float) -> None:
        run = Run([self.fleet[eui] for eui in euis], start, self.request, self.timing, self.faults)
        self.runs.append(run)
        self.run_of.update(dict.fromkeys(euis, run))

    def rows(self, now: float) -> dict[str, _Row]:
        """Every device's codes and status at `now`, in the request's order, its fragments due by now sent."""
        for run in self.runs:
            run.advance(now, self.request, self.fragments)
        return {eui: self.run_of[eui].row(eui, now, self.request.image) for eui in self.request.deveui}

    def status(self, now: float) -> tuple[TaskStatus, float]:
        """The task's status at `now` and since when: the latest run's phase, then the verdict over all devices."""
        run = self.runs[-1]
        if now < run.start:
            return TaskStatus.PENDING, self.created_at
        if now < run.sending:
            return TaskStatus.WAITING, run.start
        if now < run.upgraded:
            return TaskStatus.EXECUTING, run.sending
        done = all(status is TaskStatus.SUCCESS for _, _, status in self.rows(now).values())
        return (TaskStatus.SUCCESS if done else TaskStatus.FAILED), run.upgraded

    def failed_devices(self, now: float) -> list[str]:
        """The devices a retry (6.5) would run again; 10310014 unless the task has failed."""
        status, _ = self.status(now)
        if status is not TaskStatus.FAILED:
            raise ApiError(FuotaError.TASK_STATUS, f"task {self.id} is {status.description}, not upgrade failed")
        return [eui for eui, (_, _, status) in self.rows(now).items() if status is TaskStatus.FAILED]

    def retry(self, euis: list[str], now: float) -> None:
        """Run `euis` again, from `now`."""
        self._launch(euis, now)

    def summary(self, now: float) -> dict[str, object]:
        """The task as 6.2 lists it."""
        status, since = self.status(now)
        rows = self.rows(now)
        request, plan = self.request, self.request.plan
        return {
            "id": self.id,
            "name": request.name,
            "description": request.description,
            "status": int(status),
            "startedAt": self._iso(self.clock.seconds_at(request.started_at_ms)),
            "stoppedAt": self._iso(since) if status in (TaskStatus.SUCCESS, TaskStatus.FAILED) else "",
            "createdAt": self._iso(self.created_at),
            "updatedAt": self._iso(since),
            "firmwareName": request.firmware_name,
            "doneDevices": sum(row[2] is TaskStatus.SUCCESS for row in rows.values()),
            "totalDevices": len(rows),
            "deveui": list(request.deveui),
            "firmwareInfo": {
                "firmwareName": request.firmware_name, "description": "", "fileContent": "", "productModel": "",
                "firmwareVersion": "", "supportHardwareVersion": "", "supportFirmwareVersion": "",
                "officialFirmwareUrl": "",
            },
            "fragmentInfo": {
                "fragmentSize": plan.frag_size,
                "fragmentInterval": self.clock.wall_ms(request.fragment_interval_ms),
                "fragmentRedundancy": request.fragment_redundancy,
            },
            "tmpMcInfo": {
                "sessionTimeDelay": 0, "sessionTimeOut": 0, "status": 0, "groupType": 0, "dr": request.dr,
                "frequency": request.frequency,
            },
            "isOfficialFirmware": False,
            # 6.2's table and sample list it for every task; a local firmware's is empty, as the sample's unset fields
            "officialFirmwareInfo": {
                "id": "", "model": "", "name": "", "firmwareVersion": "", "hardwareVersion": "",
                "supportMinHardwareVersion": "", "supportMinFirmwareVersion": "", "url": "", "md5": "", "crc32": "",
                "size": "0", "frequencyBands": [], "firmwareNotesCn": "", "firmwareNotesEn": "",
            },
        }  # fmt: skip

    def devices(self, now: float) -> list[dict[str, object]]:
        """Every device as 6.7 lists it."""
        return [
            {
                "devEui": eui, "name": self.fleet[eui].name, "profileId": PROFILE_ID, "profileName": PROFILE_NAME,
                "hardwareVersion": "", "firmwareVersion": self.versions.of(frag), "fragmentSessionStatus": int(frag),
                "multicastSessionStatus": int(mc), "status": int(status), "productModel": "", "taskId": self.id,
            }
            for eui, (mc, frag, status) in self.rows(now).items()
        ]  # fmt: skip

    def _iso(self, seconds: float) -> str:
        return dt.datetime.fromtimestamp(self.clock.ms(seconds) / 1000, dt.UTC).isoformat(timespec="milliseconds")


class TaskBook:
    """One gateway's tasks and the endpoints of chapter 6 that act on them."""

    def __init__(
        self, devices: Collection[str], fleet: Fleet, payload_sizes: Mapping[int, int], timing: Timing,
        faults: Faults, max_tasks: int, clock: SimClock, versions: FirmwareVersions = FirmwareVersions(),
    ) -> None:  # fmt: skip
        self.devices, self.fleet, self.payload_sizes = devices, fleet, payload_sizes
        self.timing, self.faults, self.max_tasks, self.clock = timing, faults, max_tasks, clock
        self.versions = versions
        self.tasks: dict[int, FuotaTask] = {}
        self.phases: list[tuple[str, float, float]] = []  # each task's fragment phase: (name, start, end), kept
        self._next_id = 1

    def advance(self, now: float) -> None:
        """Bring every task up to `now`."""
        for task in self.tasks.values():
            task.rows(now)

    def create(self, body: Mapping[str, object], query: Mapping[str, str], now: float) -> dict[str, object]:
        """POST /api/fuota/task (6.1): {"id": task ID}."""
        request = parse_task(body, self.devices, self.payload_sizes)
        if any(task.request.name == request.name for task in self.tasks.values()):
            raise ApiError(ReturnCode.ALREADY_EXISTS, f"a task named {request.name!r} exists")
        if len(self.tasks) >= self.max_tasks:
            raise ApiError(FuotaError.TOO_MANY_TASKS, f"{len(self.tasks)} tasks: delete some first")
        task = FuotaTask(self._next_id, request, now, self.fleet, self.timing, self.faults, self.clock, self.versions)
        self.tasks[task.id] = task
        first = task.runs[0]
        self.phases.append((request.name, first.sending, first.sending + request.plan.total * first.interval))
        self._next_id += 1
        return {"id": task.id}

    def summaries(self, now: float) -> list[dict[str, object]]:
        """Every task as 6.2 lists it, newest first: what a test or rehearsal inspects."""
        return [task.summary(now) for task in reversed(self.tasks.values())]

    def list_tasks(self, body: Mapping[str, object], query: Mapping[str, str], now: float) -> dict[str, object]:
        """GET /api/fuota/task (6.2): newest first, `search` in the name (any case)."""
        needle = query.get("search", "").strip().lower()
        tasks = [task for task in reversed(self.tasks.values()) if needle in task.request.name.lower()]
        return {"total": len(tasks), "tasks": [task.summary(now) for task in tasks[window(query)]]}

    def delete(self, body: Mapping[str, object], query: Mapping[str, str], now: float) -> dict[str, object]:
        """POST /api/fuota/task/delete (6.4): all the ids or none; a running task stops at once."""
        for task_id in self._ids(body):
            del self.tasks[task_id]
        return {"code": int(ReturnCode.SUCCESS), "error": ""}

    def retry(self, body: Mapping[str, object], query: Mapping[str, str], now: float) -> dict[str, object]:
        """POST /api/fuota/task/retry (6.5): every id must name a failed task, else nothing is retried."""
        retries = [(task, task.failed_devices(now)) for task in map(self.tasks.__getitem__, self._ids(body))]
        for task, euis in retries:
            task.retry(euis, now)
        return {"code": int(ReturnCode.SUCCESS), "error": ""}

    def device_list(self, body: Mapping[str, object], query: Mapping[str, str], now: float) -> dict[str, object]:
        """GET /api/fuota/devices?taskId= (6.7): the task's devices in its order, `search` in EUI or name."""
        task_id = query_int(query, "taskId")
        task = self.tasks.get(task_id)
        if task is None:
            raise ApiError(ReturnCode.NOT_FOUND, f"no task {task_id} on this gateway")
        needle = query.get("search", "").strip().lower()
        rows = [row for row in task.devices(now) if needle in f"{row['devEui']} {row['name']}".lower()]
        return {"total": len(rows), "devices": rows[window(query)]}

    def _ids(self, body: Mapping[str, object]) -> list[int]:
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
            raise ApiError(ReturnCode.PARAMETER, "ids must be a non-empty list of task IDs")
        unknown = [i for i in ids if i not in self.tasks]
        if unknown:
            raise ApiError(ReturnCode.NOT_FOUND, f"no task {unknown} on this gateway")
        return list(dict.fromkeys(ids))
