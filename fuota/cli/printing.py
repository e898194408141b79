"""What the CLI prints to a terminal: a plan's sweep (the plan itself: fuota.cli.plan_output), a campaign's
status, the campaign list and live progress — Rich tables of what fuota.views returns (the JSON outputs are the
views' dicts as they are)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from fuota.store import Store
from fuota.views.formatting import credentials_words, format_time, fragments_words, progress_words
from fuota.views.model import status_data
from fuota.views.schedule import schedule_lines
from fuota.views.watch import view

__all__ = ["live_progress", "print_list", "print_retry", "print_status", "print_sweep"]


def print_sweep(console: Console, data: dict) -> None:
    """The sweep as a table: rows of redundancy, columns of loss, cells the share of devices decoding."""
    table = Table(
        "redundancy", *(f"loss {loss:g}" for loss in data["losses"]), title=f"share decoding, M = {data['nb_frag']}"
    )
    for row in data["rows"]:
        table.add_row(str(row["redundancy"]), *(f"{100 * share:.1f} %" for share in row["shares"]))
    console.print(table)


def print_retry(console: Console, retry: dict[str, Any], family: dict[str, Any]) -> None:
    """A retry's devices (their latest outcome in the family) and the family's total, as `fuota retry --dry-run`
    shows them."""
    devices = retry["devices"]
    console.print(f"family {escape(retry['retry_of']['name'])}: {escape(family['line'])}")
    if not devices:
        whose = f" whose latest outcome is {' or '.join(retry['only'])}" if retry["only"] else ""
        console.print(
            f"no device to retry{whose} ({retry['left_out_updated']} updated devices are never sent the image again)"
        )
        return
    outcomes = Counter(d["latest_outcome"] or "no outcome" for d in devices)
    chosen = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    redundancy = "" if retry["redundancy_percent"] is None else f", redundancy {retry['redundancy_percent']:g} %"
    console.print(
        f"retry {escape(retry['name'])}: {len(devices)} devices ({chosen}){redundancy}; "
        f"{retry['left_out_updated']} updated devices left out"
    )
    table = Table("device", "latest outcome", "in campaign", title="devices chosen")
    for d in devices[:50]:
        table.add_row(d["dev_eui"], d["latest_outcome"] or "-", str(d["campaign_id"] or "-"))
    console.print(table)
    if len(devices) > 50:
        console.print(f"… and {len(devices) - 50} more: `--json` lists them all")


def _now() -> datetime:
    # The CLI is a front end: it reads the clock, and the views take it as `now`.
    return datetime.now(UTC)


def _deployments(summary: dict[str, Any], deployments: list[dict[str, Any]]) -> Table:
    """The campaign's deployments with their progress (fuota.views.progress), fragments sent, the devices per stage
    (the stages some device is at) and their retries."""
    table = Table(
        title=f"campaign {summary['id']} {escape(summary['name'])}: {summary['state']}, {progress_words(summary)}"
    )
    for column in ("deployment", "target", "state"):
        table.add_column(column)
    table.add_column("progress", justify="right")
    table.add_column("fragments", justify="right")
    shown = [stage for stage, n in summary["counts"].items() if n]
    for stage in shown:
        table.add_column(stage, justify="right")
    table.add_column("retries", justify="right")
    for d in deployments:
        row = [escape(d["task_name"]), escape(d["target"] or "-"), d["state"], progress_words(d), fragments_words(d)]
        table.add_row(*row, *(str(d["counts"][s]) for s in shown), str(d["retries"]))
    return table


def print_status(console: Console, store: Store, campaign_id: int) -> None:
    """The campaign, its deployments and the devices that did not end updated, with their reasons."""
    data = status_data(store, campaign_id, _now())
    console.print(_deployments(data, data["deployments"]))
    for line in schedule_lines(data):
        console.print(escape(line), highlight=False)
    outcomes = ", ".join(f"{k} {v}" for k, v in [*data["outcomes"].items(), ("pending", data["pending"])])
    console.print(f"outcomes: {outcomes}")
    family = data["family"]
    if family["retries"]:
        members = ", ".join(f"{m['id']} {m['name']} {m['state']}" for m in family["members"])
        console.print(
            f"family {escape(family['root']['name'])}: {escape(family['line'])} (campaigns {escape(members)})"
        )
    for anomaly in data["anomalies"]:
        console.print(f"[yellow]anomaly[/] {anomaly['at']}: {escape(anomaly['cause'])}")
    for d in data["deployments"]:
        if (refused := credentials_words(d)) is not None:
            console.print(f"[red]{escape(refused)}[/]")
        if d["last_retry"] is not None:
            last = d["last_retry"]
            console.print(f"{d['task_name']}: {d['retries']} retries, the last {last['at']}: {escape(last['cause'])}")
    if data["reasons"]:
        reasons = Table("devices", "category", "reason", "outcomes", "what to do", title="why devices did not update")
        for r in data["reasons"]:
            outcomes = ", ".join(f"{k} {n}" for k, n in r["outcomes"].items())
            reasons.add_row(
                str(r["devices"]),
                *(escape(r[k] or "") for k in ("category", "label")),
                outcomes,
                escape(r["advice"] or ""),
            )
        console.print(reasons)
    failed = [d for d in data["devices"] if d["outcome"] not in (None, "updated")]
    if failed:
        table = Table("device", "deployment", "stage", "outcome", "category", "reason", title="devices not updated")
        for d in failed[:50]:
            table.add_row(
                *(escape(d[k] or "") for k in ("dev_eui", "deployment", "stage", "outcome", "category", "reason"))
            )
        console.print(table)
        if len(failed) > 50:
            console.print(f"… and {len(failed) - 50} more: `fuota status {campaign_id} --json` lists them all")


def print_list(console: Console, rows: list[dict[str, Any]]) -> None:
    """The campaign rows (fuota.views.model.campaign_list) as a table: progress and time left while under way, the
    share of devices updated once ended."""
    table = Table("id", "name", "state", "progress", "devices", "created", "started", "ended", "next opening")
    for r in rows:
        times = (format_time(r[key]) for key in ("created_at", "started_at", "ended_at", "next_opening_at"))
        table.add_row(str(r["id"]), escape(r["name"]), r["state"], progress_words(r), str(r["devices"]), *times)
    console.print(table)
    for r in (r for r in rows if r["ended_at"] is None):
        for line in schedule_lines(r):
            console.print(f"campaign {r['id']} ({escape(r['name'])}): {escape(line)}", highlight=False)


@contextmanager
def live_progress(console: Console, store: Store, campaign_id: int) -> Iterator[Callable[[], None]]:
    """`fuota run`'s live view, the same as `fuota watch`'s (fuota.views.watch); yields the function that
    refreshes it."""
    with Live(view(store, campaign_id, _now()), console=console, refresh_per_second=4) as live:
        yield lambda: live.update(view(store, campaign_id, _now()))
