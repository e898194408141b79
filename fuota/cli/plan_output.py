"""What `fuota plan` prints to a terminal — the checks, the deployments' forecast, the warnings with their fixes,
the finish time — and the progress indicator of `--target` (Rich, on stderr, only when it is a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fuota.cli.common import err

__all__ = ["forecast_progress", "print_plan"]


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


@contextmanager
def forecast_progress(wanted: bool = True) -> Iterator[Callable[[float], None] | None]:
    """A bar on stderr, when `wanted` and stderr is a terminal, for each Monte Carlo the forecast runs (the share,
    the redundancy reaching success_threshold or --target); yields the function told the share done of the current
    one (None otherwise, so that pipes and JSON stay clean). Each computation starts the bar again."""
    if not wanted or not err.is_terminal:
        yield None
        return
    columns = (TextColumn("forecasting (Monte Carlo on the TS004 matrix)"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("forecast", total=1.0)
        yield lambda done: bar.update(task, completed=done)


def print_plan(console: Console, data: dict) -> None:
    """The plan of `fuota plan`: what was checked, what is sent, how fast, how long, who will decode, and the
    warnings with what fixes them."""
    firmware = data["firmware"]
    console.print(
        f"campaign [bold]{escape(data['name'])}[/]: {firmware['size']} B (sha256 {firmware['sha256'][:16]}…), "
        f"{data['devices']} devices, {len(data['deployments'])} deployments"
    )
    for line in data.get("checks", []):
        console.print(f"[green]checked[/] {escape(line)}")
    every = "every s (estimated)" if data.get("estimated") else "every s"
    table = Table("task", "target", "devices", "uncoded + coded", "frag", "air ms", every, "sends", "decode")
    for d in data["deployments"]:
        p = d["plan"]
        row = [d["task_name"], d["target"], str(d["devices"]), f"{p['nb_frag']} + {p['redundancy']}"]
        row.append(str(p["frag_size"]))
        if p["send_duration_s"] is None:
            row += ["?", "?", "?"]
        else:
            row += [f"{p['airtime_ms']:g}", f"{p['interval_ms'] / 1000:g}", _duration(p["send_duration_s"])]
        table.add_row(*row, f"{100 * p['p_decode']:.1f} %")
    console.print(table)
    for d in data["deployments"]:
        if why := d["plan"].get("pacing_unknown"):
            console.print(f"{escape(d['task_name'])}: {escape(why)}")
    if data["deployments"]:
        first = data["deployments"][0]["plan"]
        low, high = first["p_decode_interval"]
        console.print(
            f"decode: share of devices expected to rebuild the image at {100 * first['expected_loss']:g} % fragment "
            f"loss (Monte Carlo on the real TS004 matrix, {first['trials']} trials, 95 % interval "
            f"{100 * low:.1f}–{100 * high:.1f} %)"
        )
        if data.get("estimated"):
            console.print(
                "pacing estimated: the back end paces the fragments itself; fuota assumes the duty-cycle minimum "
                "at the region's RX2 data rate"
            )
    if data.get("total_duration_s") is not None:
        console.print(
            f"total duration {_duration(data['total_duration_s'])} ({data['total_duration_s']:g} s, set-up "
            f"included), finishing at {data['finish_at'] or '?'}"
        )
    for warning in data.get("warnings", []):
        console.print(f"[bold yellow]warning:[/] {escape(warning['text'])}")
    for advice in data.get("recommendations", []):
        if advice["redundancy"] is None:
            console.print(f"target {advice['target']:g} at {advice['loss']:g} loss: {advice['why']}")
            continue
        low, high = advice["p_decode_interval"]
        adds = "" if advice["adds_s"] is None else f", {advice['adds_s']:+g} s of sending"
        console.print(
            f"target {advice['target']:g} of devices at {advice['loss']:g} loss: redundancy {advice['redundancy']} "
            f"(redundancy_percent = {advice['redundancy_percent']}), {100 * advice['p_decode']:.2f} % decode "
            f"[95 % CI {100 * low:.2f}–{100 * high:.2f} %, {advice['trials']} trials]{adds}"
        )
