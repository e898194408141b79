"""Housekeeping of the tasks a back end keeps after they end: what fuota needs of a back end that holds finished
tasks until someone deletes them (Milesight gateways, which cap their count: 10310013), beyond the Backend protocol.

    GatewayTask      one task as a gateway lists it: id, name, status, start, devices, whether fuota made it
    TaskKeeper       the back end's side: keep_tasks, delete a deployment's task, list and delete a gateway's tasks

fuota.service.task_hygiene deletes a deployment's task once its results are stored; fuota.service.gateway_tasks lists
and cleans up a gateway's tasks for `fuota gateway tasks`. A back end that is no TaskKeeper is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from fuota.core.reports import DeviceReport, TaskRef

__all__ = ["REUSE_TASKS", "GatewayTask", "TaskKeeper"]

# The campaign table's field (of a kind whose target model has it) where `fuota retry` names, per target, the task
# of the retried campaign to run again instead of a new one: {target: {"taskId": id, "name": task name}}.
REUSE_TASKS = "reuse_tasks"


@dataclass(frozen=True, slots=True)
class GatewayTask:
    """A task as the gateway lists it. `finished`: it ended (success or failure) and runs nothing any more;
    `by_fuota`: its name and description are those fuota gives a deployment's task."""

    id: int
    name: str
    status: str  # the back end's own word for it, e.g. "upgrade failed"
    started_at: datetime | None
    devices: int
    finished: bool
    by_fuota: bool


@runtime_checkable
class TaskKeeper(Protocol):
    """A back end whose finished tasks stay until deleted."""

    keep_tasks: bool  # the configuration asks to keep finished tasks (`keep_tasks = true`)

    def delete(self, ref: TaskRef) -> bool:
        """Delete the deployment's task; False when it was gone already (that is fine)."""
        ...

    def devices(self, ref: TaskRef) -> list[DeviceReport]:
        """Every device of the task, as the Backend protocol reads them."""
        ...

    def gateway_tasks(self, gateway: str) -> list[GatewayTask]:
        """Every task the gateway holds (all pages), newest first."""
        ...

    def delete_tasks(self, gateway: str, ids: list[int]) -> None:
        """Delete these tasks of the gateway."""
        ...
