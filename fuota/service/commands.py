"""How the runner carries out one engine command through a back end, and the observations the answers make.

Every call here may block on the network and raise a BackendError; the runner (fuota/service/runner.py) persists the
engine's step before calling, and feeds what comes back to the engine.

A task is created with the campaign's table as its options, plus `firmware_name`: the firmware file's own name
(where the campaign read it), which a back end that names the image (Milesight's firmwareName) keeps. Aborting a
task a back end deletes with it (fuota.backends.tasks.TaskKeeper) first stores its last device report.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import PurePath

from fuota.backends.base import Backend, TargetReport, TaskRef, TaskSpec
from fuota.backends.errors import BackendError
from fuota.backends.tasks import TaskKeeper
from fuota.core.messages import (
    AbortTask,
    CheckJoined,
    Cleanup,
    Command,
    CreateTask,
    DevicesReported,
    JoinedReported,
    Observation,
    PollTask,
    PrepareTarget,
    TargetPrepared,
    TaskCreated,
    TaskReported,
)
from fuota.service.firmware import checked_firmware
from fuota.service.task_hygiene import store_last_report
from fuota.store import CampaignRecord, DeploymentRecord, Store

__all__ = ["PLAN_FIELDS", "carry_out", "plan_differences"]


def carry_out(
    store: Store,
    campaign: CampaignRecord,
    record: DeploymentRecord,
    backend: Backend,
    command: Command,
    on_status: Callable[[dict[str, object]], None],
) -> list[tuple[Observation, dict[str, object]]]:
    """Carry out `command` of `record`'s engine through `backend`; the observations the answers make, each with
    the deployment fields to store with it. `on_status` sees each raw task status (the runner compares plans)."""
    ref = TaskRef(record.task_name, dict(record.backend_ref)) if record.backend_ref else None
    devices = tuple(d.dev_eui for d in store.devices(deployment_id=record.id))
    settings = campaign.settings
    match command:
        case PrepareTarget():
            options = {**settings.target, "name_prefix": record.task_name}
            report = backend.prepare(None if record.temporary else record.target, devices, options)
            return [(TargetPrepared(report), {"target": report.target})]
        case CheckJoined():
            return [(JoinedReported(backend.ready(record.target or "")), {})]
        case CreateTask():
            spec = TaskSpec(
                name=record.task_name,
                target=record.target or "",
                firmware=checked_firmware(
                    store.firmware(campaign.id), campaign.firmware_sha256, settings.firmware_path
                ),
                redundancy_percent=settings.redundancy_percent,
                devices=devices,
                options=_options(settings.target, settings.firmware_path),
            )
            found = backend.find(spec) or backend.create(spec)
            return [(TaskCreated(found), {"backend_ref": dict(found.ids)})]
        case PollTask() if ref is not None:
            # The devices are asked after the task, so that when the task reports Done the devices' report
            # is at least as recent; they are fed first so that the outcomes are judged on it.
            status = backend.status(ref)
            on_status(status.raw)
            reports = tuple(backend.devices(ref))
            # The progress facts are stored with the task's step; the store writes them only when they changed.
            progress = {"progress": status.progress.as_json()}
            return [(DevicesReported(reports), {}), (TaskReported(status), progress)]
        case AbortTask() if ref is not None:
            if isinstance(backend, TaskKeeper):
                # The abort matters more than the report: without it, devices keep what was last polled.
                with suppress(BackendError):
                    store_last_report(store, record, backend, ref)
            backend.abort(ref)
        case Cleanup() if record.target and record.temporary:
            backend.cleanup(TargetReport(record.target, (), {}, temporary=True))
    return []


def _options(table: dict[str, object], firmware_path: str | None) -> dict[str, object]:
    """A task's options: the campaign's table, and the firmware file's own name where the campaign read it."""
    options = dict(table)
    if firmware_path:
        options.setdefault("firmware_name", PurePath(firmware_path).name)
    return options


PLAN_FIELDS = {"nbFrag": "nb_frag", "fragSize": "frag_size", "padding": "padding", "redundancy": "redundancy"}


def plan_differences(ours: dict[str, object] | None, raw: dict[str, object]) -> list[str]:
    """Where the back end's reported plan (IoTSquare fuota/status: nbFrag, fragSize, padding, redundancy)
    differs from fuota's; empty when it agrees or reports none."""
    if not ours:
        return []
    return [
        f"{theirs} = {raw[theirs]!r}, fuota planned {ours.get(mine)!r}"
        for theirs, mine in PLAN_FIELDS.items()
        if theirs in raw and mine in ours and str(raw[theirs]) != str(ours[mine])
    ]
