"""What the Milesight adapter needs to keep a gateway's task list tidy and to re-run a task (sections 6.1, 6.2, 6.5).

    firmware_name(path, task)      firmwareName: the firmware file's own name, within the spec's limits
    description(task)              the description fuota gives its tasks; with the name, how one is recognised
    gateway_task(entry, gateway)   a 6.2 list entry as a fuota.backends.tasks.GatewayTask
    too_many(backend, gateway, tasks)
                                   the message of 10310013 "Over the maximum task amount": what the gateway holds
                                   and the commands that clean it up
    reused(options, gateway)       the task a `fuota retry` re-runs through 6.5 on this gateway, if any
    listed, entry, delete, rerun   the requests behind MilesightBackend.gateway_tasks, status, delete and create's
                                   re-run of a reused task, over the adapter's NsApiClient

Section 6.1 bounds only the task's name (127 characters) and says nothing of firmwareName's length or characters;
fuota reads that silence conservatively: the name's limit, and the characters every file system and URL keep
(letters, digits, '.', '-', '_'), any other replaced by '_', the extension kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from fuota.backends import answers, facts
from fuota.backends.milesight import codes
from fuota.backends.milesight.mqtt import NsApiClient
from fuota.backends.tasks import REUSE_TASKS, GatewayTask
from fuota.core.model import normalize_eui
from fuota.core.reports import TaskRef, TaskSpec

__all__ = [
    "FINISHED",
    "TASK",
    "TASK_DELETE",
    "TASK_RETRY",
    "delete",
    "description",
    "entry",
    "firmware_name",
    "gateway_task",
    "listed",
    "rerun",
    "reused",
    "too_many",
]

TASK = "/api/fuota/task"
TASK_DELETE = "/api/fuota/task/delete"
TASK_RETRY = "/api/fuota/task/retry"

FINISHED = frozenset({3, 4})  # 6.2's "upgrade success" and "upgrade failed": nothing runs any more
_NOT_KEPT = re.compile(r"[^A-Za-z0-9._-]")
_DESCRIPTION = "fuota deployment "
_SHOWN = 5


def firmware_name(path: object, task: str) -> str:
    """The basename of `path` made fit for firmwareName (see the module docstring); `task`.bin when there is none."""
    longest = codes.TASK_LIMITS["name"][1]
    name = _NOT_KEPT.sub("_", PurePath(str(path)).name) if path else ""
    if not name.strip("._"):
        name = _NOT_KEPT.sub("_", f"{task}.bin")
    suffix = PurePath(name).suffix
    if len(name) > longest:
        keep = suffix if len(suffix) < longest else ""
        name = name[: longest - len(keep)] + keep
    return name


def description(task: str) -> str:
    """The description fuota sends with its task `task` (6.1)."""
    return f"{_DESCRIPTION}{task}"


def gateway_task(entry: Mapping[str, Any], index: int, gateway: str) -> GatewayTask:
    """Entry `index` of gateway `gateway`'s task list (6.2) as a GatewayTask; fuota's tasks are named
    CAMPAIGN-GATEWAY (fuota.backends.milesight.kind) and described by `description`."""
    name = str(entry.get("name") or "")
    status = entry.get("status")
    code = int(status) if isinstance(status, int | str) and str(status).isdigit() else None
    total = facts.count(entry.get("totalDevices"))
    if total is None and isinstance(entry.get("deveui"), list):
        total = len(entry["deveui"])
    by_fuota = name.lower().endswith(f"-{gateway.lower()}") and str(entry.get("description") or "").startswith(
        _DESCRIPTION
    )
    return GatewayTask(
        id=answers.whole(entry["id"], f"tasks[{index}].id"),
        name=name,
        status=codes.TASK_STATUS.get(code, f"status {status!r}") if code is not None else f"status {status!r}",
        started_at=facts.timestamp(entry.get("startedAt")),
        devices=total or 0,
        finished=code in FINISHED,
        by_fuota=by_fuota,
    )


def too_many(backend: str, gateway: str, tasks: list[GatewayTask]) -> str:
    """What to tell the operator when gateway `gateway` refuses a task with 10310013."""
    finished = [t for t in tasks if t.finished]
    ours = [t for t in finished if t.by_fuota]
    shown = ", ".join(f"{t.id} ({t.name})" for t in ours[:_SHOWN]) + (
        f" and {len(ours) - _SHOWN} more" if len(ours) > _SHOWN else ""
    )
    listed = f"`fuota gateway tasks {backend} {gateway.upper()}` lists them"
    if ours:
        remedy = (
            f"{len(ours)} of them are finished tasks fuota created ({shown}): "
            f"`fuota gateway tasks {backend} {gateway.upper()} --delete-finished` deletes those"
        )
    else:
        remedy = "none of them is a finished task fuota created: delete tasks on the gateway's web interface"
    return (
        f"back end {backend!r}: gateway {gateway.upper()} refuses a new task with 10310013 "
        f"{codes.FUOTA_ERROR_CODES[10310013]}: it holds {len(tasks)} tasks ({len(finished)} finished); {listed}; "
        f"{remedy}, then launch again"
    )


def reused(options: Mapping[str, object], gateway: str) -> tuple[int, str] | None:
    """(task id, task name) of the task on `gateway` a retry re-runs (6.5), from the deployment's options."""
    table = options.get(REUSE_TASKS)
    entry = table.get(gateway.lower()) if isinstance(table, Mapping) else None
    if not isinstance(entry, Mapping) or "taskId" not in entry or "name" not in entry:
        return None
    return int(str(entry["taskId"])), str(entry["name"])


def listed(api: NsApiClient, gateway: str) -> list[GatewayTask]:
    """Every task `gateway` holds (all pages of 6.2), newest first as the gateway lists them."""
    tasks = api.pages(gateway, TASK, {}, "tasks", "total")
    with api.answer_shape(gateway, TASK):
        return [gateway_task(task, i, gateway) for i, task in enumerate(answers.items(tasks, "tasks"))]


def entry(api: NsApiClient, gateway: str, task_id: int, name: str) -> dict[str, Any] | None:
    """Task `task_id`'s entry in the gateway's list (6.2), searched by its name; None when it is not there."""
    tasks = api.pages(gateway, TASK, {"search": name}, "tasks", "total")
    with api.answer_shape(gateway, TASK):
        rows = enumerate(answers.items(tasks, "tasks"))
        return next((task for i, task in rows if answers.whole(task["id"], f"tasks[{i}].id") == task_id), None)


def delete(api: NsApiClient, gateway: str, ids: list[int]) -> bool:
    """Delete tasks `ids` of `gateway` in one request (6.4); False when the gateway had none of them (code 5)."""
    body = api.call("POST", TASK_DELETE, gateway, {"ids": ids}, accept=codes.NOT_FOUND_CODES)
    return body.get("code") in (None, "") or int(str(body["code"])) not in codes.NOT_FOUND_CODES


def rerun(api: NsApiClient, gateway: str, spec: TaskSpec) -> TaskRef | None:
    """The task `spec`'s options reuse on `gateway` (a `fuota retry`), run again (6.5) when it failed and followed
    when it already runs again; None (create a new task) when there is none, it is gone, it succeeded, or it holds
    other devices than `spec`. Its ref keeps the task's own name (`taskName`), by which its status is searched."""
    reuse = reused(spec.options, gateway)
    if reuse is None:
        return None
    task_id, name = reuse
    found = entry(api, gateway, task_id, name)
    wanted = {normalize_eui(device) for device in spec.devices}
    if found is None or {normalize_eui(str(e)) for e in found.get("deveui") or []} != wanted:
        return None
    ref = TaskRef(spec.name, {"taskId": task_id, "gatewayEUI": gateway, "taskName": name})
    status = str(found.get("status"))
    if status == "4":  # upgrade failed: the one status 6.5 re-runs
        api.once("POST", TASK_RETRY, gateway, {"ids": [task_id]}, idempotent=False)
        return ref
    # Pending, waiting or executing: our retry already went out (its answer was lost); success: nothing to re-run.
    return ref if status in ("0", "1", "2") else None
