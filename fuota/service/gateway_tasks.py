"""`fuota gateway tasks`: the tasks a gateway holds, and deleting the finished ones fuota created.

Milesight gateways keep every task until it is deleted and refuse new ones past their cap (10310013 "Over the
maximum task amount"). fuota deletes each deployment's task once its results are stored (fuota.service.task_hygiene)
unless `keep_tasks = true`; what is left — kept tasks, tasks of campaigns run before, tasks whose deletion failed,
tasks made on the gateway's web interface — is listed here.

    tasks(config, backend, gateway)        every task of the gateway (id, name, status, start, devices, whether
                                           finished, whether fuota created it), newest first
    removable(tasks)                       those `--delete-finished` deletes: finished AND created by fuota — never a
                                           running task, never one made by someone else
    delete(config, backend, gateway, ids)  delete those tasks (one request)

ConfigError (nothing done) names an unknown back end, one that keeps no tasks, or a gateway EUI that is not one;
BackendError is the gateway's own refusal or silence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fuota.backends.tasks import GatewayTask, TaskKeeper
from fuota.config import Config
from fuota.core.model import EUI_PATTERN, normalize_eui
from fuota.core.settings import ConfigError
from fuota.service.campaigns import build_backends

__all__ = ["delete", "removable", "tasks"]


@contextmanager
def _keeper(config: Config, backend: str, gateway: str) -> Iterator[tuple[TaskKeeper, str]]:
    if not EUI_PATTERN.match(gateway.strip()):
        raise ConfigError(f"gateway {gateway!r} is not a gateway EUI (16 hexadecimal digits)")
    kind = config.backend(backend).kind
    built = build_backends(config, {backend})[backend]
    try:
        if not isinstance(built, TaskKeeper):
            raise ConfigError(
                f"back end {backend!r} ({kind}) keeps no tasks on gateways: `fuota gateway tasks` is for Milesight "
                "back ends"
            )
        yield built, normalize_eui(gateway)
    finally:
        built.close()


def tasks(config: Config, backend: str, gateway: str) -> list[GatewayTask]:
    """Every task `gateway` of back end `backend` holds, newest first."""
    with _keeper(config, backend, gateway) as (keeper, eui):
        return keeper.gateway_tasks(eui)


def removable(listed: list[GatewayTask]) -> list[GatewayTask]:
    """The tasks `--delete-finished` deletes: finished ones fuota created."""
    return [task for task in listed if task.finished and task.by_fuota]


def delete(config: Config, backend: str, gateway: str, ids: list[int]) -> None:
    """Delete the tasks `ids` of `gateway`; refuses (ConfigError, nothing deleted) a task that is not finished or
    not fuota's in the gateway's list as it is now, which may have changed since it was shown."""
    with _keeper(config, backend, gateway) as (keeper, eui):
        allowed = {task.id for task in removable(keeper.gateway_tasks(eui))}
        refused = sorted(set(ids) - allowed)
        if refused:
            raise ConfigError(
                f"tasks {', '.join(map(str, refused))} of gateway {eui.upper()} are not finished tasks fuota created "
                "(any more): nothing was deleted; list them again with `fuota gateway tasks`"
            )
        keeper.delete_tasks(eui, sorted(set(ids)))
