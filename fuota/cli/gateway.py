"""`fuota gateway tasks BACKEND GATEWAY [--delete-finished [--yes]]`: a gateway's tasks, and removing the finished
ones fuota created (fuota.service.gateway_tasks does the work; this module only prints).

Exit codes: 0 done (or nothing to delete, or the confirmation declined), 1 the gateway refused or did not answer,
2 bad input (an unknown back end, one that keeps no tasks, a malformed EUI).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from fuota.cli.common import JsonOption, fail, load, out
from fuota.core.settings import ConfigError

if TYPE_CHECKING:
    from fuota.backends.tasks import GatewayTask

__all__ = ["gateway_app"]

gateway_app = typer.Typer(help="Look after a gateway's FUOTA tasks.", no_args_is_help=True, rich_markup_mode=None)


@gateway_app.command("tasks")
def tasks(
    backend: Annotated[str, typer.Argument(help="The back end's name ([backends.NAME], a Milesight one).")],
    gateway: Annotated[str, typer.Argument(help="The gateway's EUI.")],
    delete_finished: Annotated[
        bool,
        typer.Option("--delete-finished", help="Delete the finished tasks fuota created (never a running one)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List the tasks a gateway holds: id, name, status, start, devices; `fuota` marks those fuota created.

    Gateways refuse new tasks past their cap (10310013). --delete-finished deletes the finished tasks fuota created,
    after asking (unless --yes); running tasks and tasks made by others are never deleted.
    """
    from fuota.backends.errors import BackendError
    from fuota.service import gateway_tasks as service

    config = load()
    try:
        listed = service.tasks(config, backend, gateway)
        if as_json:
            print(json.dumps([_row(task) for task in listed], indent=2))
        else:
            _print(gateway, listed)
        if not delete_finished:
            return
        chosen = service.removable(listed)
        if not chosen:
            out.print("no finished task fuota created: nothing to delete")
            return
        ids = ", ".join(str(task.id) for task in chosen)
        if not yes and not typer.confirm(f"delete {len(chosen)} finished fuota tasks ({ids})?", err=True):
            out.print("nothing deleted")
            return
        service.delete(config, backend, gateway, [task.id for task in chosen])
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    except BackendError as exc:
        raise fail(str(exc), 1) from exc
    out.print(f"deleted {len(chosen)} tasks from gateway {gateway.upper()}: {ids}", highlight=False)


def _row(task: GatewayTask) -> dict[str, object]:
    started = task.started_at.isoformat() if task.started_at else None
    return {
        "id": task.id,
        "name": task.name,
        "status": task.status,
        "started_at": started,
        "devices": task.devices,
        "finished": task.finished,
        "fuota": task.by_fuota,
    }


def _print(gateway: str, listed: list[GatewayTask]) -> None:
    finished = sum(task.finished for task in listed)
    ours = sum(task.by_fuota for task in listed)
    summary = f"gateway {gateway.upper()}: {len(listed)} tasks, {finished} finished, {ours} created by fuota"
    out.print(summary, highlight=False)
    if listed:
        out.print(f"{'id':>6}  {'name':<40} {'status':<16} {'started (UTC)':<17} {'devices':>7}  by", highlight=False)
    for task in listed:
        started = task.started_at.strftime("%Y-%m-%d %H:%M") if task.started_at else "-"
        mark = "fuota" if task.by_fuota else ""
        line = f"{task.id:>6}  {task.name:<40} {task.status:<16} {started:<17} {task.devices:>7}  {mark}"
        out.print(escape(line), highlight=False)
