"""What the CLI shows: plans, campaign status (text and JSON), the campaign list and live progress."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from fuota.core.model import Stage
from fuota.store import CampaignRecord, EventRecord, Store
from fuota.views.report import device_data

__all__ = ["live_progress", "print_list", "print_plan", "print_status", "print_sweep", "status_data"]

RETRY_SUFFIX = "; will retry"  # how the runner ends the cause of a transient failure it will retry
_RETRIED_KINDS = ("error", "anomaly")


def _retries(events: list[EventRecord], deployment_id: int) -> tuple[int, dict[str, str] | None]:
    """How many transient failures of the deployment the runner recorded (each retried), and the last one."""
    mine = [
        e
        for e in events
        if e.kind in _RETRIED_KINDS and e.deployment_id == deployment_id and e.cause.endswith(RETRY_SUFFIX)
    ]
    if not mine:
        return 0, None
    last = mine[-1]
    return len(mine), {"at": last.at.isoformat(), "kind": str(last.kind), "cause": last.cause}


def status_data(store: Store, campaign_id: int) -> dict[str, object]:
    """The campaign as one JSON-ready object: id, name, state, counts, deployments (with their retries: how many
    transient failures were recorded and the last one) and devices."""
    campaign = store.campaign(campaign_id)
    assert campaign is not None
    deployments = store.deployments(campaign_id)
    names = {d.id: d.task_name for d in deployments}
    devices = store.devices(campaign_id=campaign_id)
    # Only the kinds a retry is recorded as: device events run to thousands and live progress calls this each tick.
    events = [e for kind in _RETRIED_KINDS for e in store.events(campaign_id, kind=kind)]
    events.sort(key=lambda e: (e.at, e.id))
    retries = {d.id: _retries(events, d.id) for d in deployments}
    return {
        "id": campaign.id,
        "name": campaign.name,
        "state": str(campaign.state),
        "counts": dict(Counter(str(d.stage) for d in devices)),
        "outcomes": dict(Counter(str(d.outcome) for d in devices if d.outcome is not None)),
        "deployments": [
            {
                "id": d.id,
                "backend": d.backend,
                "target": d.target,
                "state": str(d.state),
                "backend_ref": d.backend_ref,
                "task_name": d.task_name,
                "retries": retries[d.id][0],
                "last_retry": retries[d.id][1],
            }
            for d in deployments
        ],
        "anomalies": [{"at": e.at.isoformat(), "cause": e.cause} for e in events if e.kind == "anomaly"],
        "devices": [device_data(d, names[d.deployment_id]) for d in devices],
    }


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def print_plan(console: Console, data: dict) -> None:
    """The plan of `fuota plan` as tables: what is sent, how fast, how long, and who will decode."""
    firmware = data["firmware"]
    console.print(
        f"campaign [bold]{escape(data['name'])}[/]: {firmware['size']} B (sha256 {firmware['sha256'][:16]}…), "
        f"{data['devices']} devices, {len(data['deployments'])} deployments"
    )
    table = Table("task", "target", "devices", "uncoded + coded", "frag", "pad", "air ms", "every s", "sends", "decode")
    for d in data["deployments"]:
        p = d["plan"]
        row = [d["task_name"], d["target"], str(d["devices"]), f"{p['nb_frag']} + {p['redundancy']}"]
        row += [str(p["frag_size"]), str(p["padding"])]
        if p["send_duration_s"] is None:
            row += ["?", "?", "?"]
        else:
            row += [f"{p['airtime_ms']:g}", f"{p['interval_ms'] / 1000:g}", _duration(p["send_duration_s"])]
        table.add_row(*row, f"{100 * p['p_decode']:.1f} %")
    console.print(table)
    for d in data["deployments"]:
        if why := d["plan"].get("pacing_unknown"):
            console.print(f"{escape(d['task_name'])}: {escape(why)}")
    loss = data["deployments"][0]["plan"]["expected_loss"] if data["deployments"] else 0
    console.print(
        f"decode: share of devices expected to rebuild the image at {100 * loss:g} % fragment loss "
        "(Monte Carlo on the real TS004 matrix)"
    )
    for advice in data.get("recommendations", []):
        if advice["redundancy"] is None:
            console.print(f"target {advice['target']:g} at {advice['loss']:g} loss: {advice['why']}")
            continue
        low, high = advice["p_decode_interval"]
        adds = "" if advice["adds_s"] is None else f", {advice['adds_s']:+g} s of sending"
        console.print(
            f"target {advice['target']:g} of devices at {advice['loss']:g} loss: redundancy {advice['redundancy']} "
            f"({advice['percent']:g} %), {100 * advice['p_decode']:.2f} % decode [95 % CI {100 * low:.2f}–"
            f"{100 * high:.2f} %]{adds}"
        )


def print_sweep(console: Console, data: dict) -> None:
    """The sweep as a table: rows of redundancy, columns of loss, cells the share of devices decoding."""
    table = Table(
        "redundancy", *(f"loss {loss:g}" for loss in data["losses"]), title=f"share decoding, M = {data['nb_frag']}"
    )
    for row in data["rows"]:
        table.add_row(str(row["redundancy"]), *(f"{100 * share:.1f} %" for share in row["shares"]))
    console.print(table)


def _summary(store: Store, campaign_id: int) -> Table:
    data = status_data(store, campaign_id)
    table = Table(title=f"campaign {data['id']} {data['name']}: {data['state']}")
    table.add_column("deployment")
    table.add_column("target")
    table.add_column("state")
    stages = [s.value for s in Stage]
    per: dict[str, Counter] = {}
    for device in data["devices"]:
        per.setdefault(device["deployment"], Counter())[device["stage"]] += 1
    shown = [s for s in stages if any(c[s] for c in per.values())]
    for stage in shown:
        table.add_column(stage, justify="right")
    table.add_column("retries", justify="right")
    for d in data["deployments"]:
        counts = per.get(d["task_name"], Counter())
        row = [d["task_name"], d["target"] or "-", d["state"], *(str(counts[s]) for s in shown)]
        table.add_row(*row, str(d["retries"]))
    return table


def print_status(console: Console, store: Store, campaign_id: int) -> None:
    """The campaign, its deployments and the devices that did not end updated, with their reasons."""
    console.print(_summary(store, campaign_id))
    data = status_data(store, campaign_id)
    console.print("outcomes: " + (", ".join(f"{k} {v}" for k, v in sorted(data["outcomes"].items())) or "none yet"))
    for anomaly in data["anomalies"]:
        console.print(f"[yellow]anomaly[/] {anomaly['at']}: {escape(anomaly['cause'])}")
    for d in data["deployments"]:
        if d["last_retry"] is not None:
            last = d["last_retry"]
            console.print(f"{d['task_name']}: {d['retries']} retries, the last {last['at']}: {escape(last['cause'])}")
    failed = [d for d in data["devices"] if d["outcome"] not in (None, "updated")]
    if failed:
        table = Table("device", "deployment", "stage", "outcome", "reason", title="devices not updated")
        for d in failed[:50]:
            table.add_row(d["dev_eui"], d["deployment"], d["stage"], d["outcome"], d["reason"] or "")
        console.print(table)
        if len(failed) > 50:
            console.print(f"… and {len(failed) - 50} more: `fuota status {campaign_id} --json` lists them all")


def print_list(console: Console, records: list[CampaignRecord]) -> None:
    """The campaigns as a table."""
    table = Table("id", "name", "state", "created")
    for r in records:
        table.add_row(str(r.id), r.name, str(r.state), r.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"))
    console.print(table)


@contextmanager
def live_progress(console: Console, store: Store, campaign_id: int) -> Iterator[Callable[[], None]]:
    """A live table of the campaign's deployments and stage counts; yields the function that refreshes it."""
    with Live(_summary(store, campaign_id), console=console, refresh_per_second=4, transient=False) as live:
        yield lambda: live.update(_summary(store, campaign_id))
