"""Deleting a deployment's finished task from its back end once its results are stored (Milesight gateways keep
finished tasks, and refuse new ones past their cap: 10310013).

    tidy(store, campaign_id, backends, owner=, now=, dead=)
                         for every deployment of the campaign that ended Done or Failed on a back end that keeps
                         tasks (fuota.backends.tasks.TaskKeeper, not `keep_tasks`): delete its task, then mark it
                         done in its backend_ref (`task_removal`) with an event; returns how many are left to
                         another runner (the campaign is not concluded before they are done)
    store_last_report(store, record, backend, ref)
                         the task's device list, stored verbatim (raw fields, reported firmware version) on the
                         deployment's devices, their stage and outcome kept: before a task is deleted, since its
                         device report goes with it

The runner calls `tidy` at every pass (after the engine's steps are stored, before the campaign is concluded) and
before it concludes an aborted campaign, so that a runner killed after storing a deployment's end but before
deleting its task deletes it when it starts again; a task already gone counts as deleted. Done means the last poll
stored the devices with the task's end; a Failed deployment (fuota gave up, or the back end refused something)
first takes and stores one last device report, and keeps its task when that fails. A deletion that fails leaves an
`error` event and the task (`fuota gateway tasks` removes it): the deployment's outcome does not change. Aborted
deployments are not touched here: aborting a Milesight task is deleting it (fuota.service.commands).

A deployment is tidied by the runner that drove it, or by any once that runner's lease lapsed or its process is
known to have ended (`dead`): two daemons on one store do not both delete (nor both record the deletion). Until
then the other runners wait for it rather than conclude the campaign, which would leave its task behind.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

from fuota.backends.base import Backend, TaskRef
from fuota.backends.errors import BackendError
from fuota.backends.tasks import TaskKeeper
from fuota.core.model import DeploymentState
from fuota.store import DeploymentRecord, EventKind, NewEvent, Store

__all__ = ["REMOVAL", "store_last_report", "tidy"]

REMOVAL = "task_removal"  # backend_ref's key: "deleted", "gone" (it was not there any more) or "failed"
_ENDED = (DeploymentState.DONE, DeploymentState.FAILED)

log = logging.getLogger("fuota.runner")


def _mine(record: DeploymentRecord, owner: str, now: datetime, dead: Callable[[set[str]], frozenset[str]]) -> bool:
    if record.lease_owner in (None, owner) or record.lease_until is None or record.lease_until < now:
        return True
    return bool(dead({record.lease_owner}))


def tidy(
    store: Store,
    campaign_id: int,
    backends: dict[str, Backend],
    *,
    owner: str,
    now: datetime,
    dead: Callable[[set[str]], frozenset[str]] = lambda owners: frozenset(),
) -> int:
    """Delete the finished tasks of the campaign's ended deployments (see the module docstring); how many are left
    to the live runner that drove them."""
    left = 0
    for record in store.deployments(campaign_id):
        backend = backends.get(record.backend)
        if record.state not in _ENDED or not record.backend_ref or REMOVAL in record.backend_ref:
            continue
        if not isinstance(backend, TaskKeeper) or backend.keep_tasks:
            continue
        if not _mine(record, owner, now, dead):
            left += 1
            continue
        _remove(store, campaign_id, record, backend)
    return left


def store_last_report(store: Store, record: DeploymentRecord, backend: TaskKeeper, ref: TaskRef) -> None:
    """Store the task's device list on the deployment's devices (see the module docstring); BackendError when the
    back end cannot give it."""
    reports = {report.dev_eui: report for report in backend.devices(ref)}
    changed = []
    for device in store.devices(deployment_id=record.id):
        report = reports.get(device.dev_eui)
        if report is not None:
            version = report.firmware_version or device.firmware_version
            changed.append(dataclasses.replace(device.progress(), raw=dict(report.raw), firmware_version=version))
    if changed:
        store.apply(record.id, devices=changed)


def _remove(store: Store, campaign_id: int, record: DeploymentRecord, backend: TaskKeeper) -> None:
    assert record.backend_ref is not None  # _due checked it
    ref = TaskRef(record.task_name, dict(record.backend_ref))
    where = f"task {record.backend_ref.get('taskId', '?')} ({record.task_name}) of gateway {record.target or '?'}"
    try:
        if record.state is DeploymentState.FAILED:
            store_last_report(store, record, backend, ref)
    except BackendError as exc:
        cause = f"{where} kept: its last device report could not be taken ({exc}); `fuota gateway tasks` removes it"
        _mark(store, record, "failed", NewEvent(EventKind.ERROR, cause))
        return
    try:
        existed = backend.delete(ref)
    except BackendError as exc:
        cause = f"{where} could not be deleted: {exc}; `fuota gateway tasks` removes it"
        log.warning("campaign %s: %s", campaign_id, cause)
        _mark(store, record, "failed", NewEvent(EventKind.ERROR, cause))
        return
    gateway = (record.target or "?").upper()
    task = record.backend_ref.get("taskId", "?")
    cause = f"task {task} deleted from gateway {gateway}" if existed else f"task {task} already gone from {gateway}"
    _mark(store, record, "deleted" if existed else "gone", NewEvent(EventKind.COMMAND, cause))


def _mark(store: Store, record: DeploymentRecord, how: str, event: NewEvent) -> None:
    """Record the attempt in backend_ref, with its event, in one transaction: it is not made again."""
    store.apply(record.id, backend_ref={**(record.backend_ref or {}), REMOVAL: how}, events=[event])
