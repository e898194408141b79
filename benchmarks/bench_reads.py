"""Reads at fleet scale (issue 16 item 5): every read path of the read model, in-process, on a SQLite store holding
one campaign of 1 000, 10 000 and 100 000 devices.

The store is filled through the Store's own API as a runner would fill it: deployments of 250 devices, each
walked through multicast set-up, fragmentation and status in a few engine steps (one "device" event per move,
several devices per step time), ending with 90 % updated, 7 % failed and 3 % unreachable, and a few retries and
anomalies. Timed, best of three rounds: status_data, campaign_list, report_data plus each format's rendering, the
dashboard's campaign page data (fuota.web.queries.campaign_data, first page) and a /metrics scrape.

The plain baseline, measured in the same run, is the floor any read of the campaign pays: every device row and
every event row of the campaign fetched with the sqlite3 module (no parsing, no shaping). Printed: each time,
its ratio to that floor, t(100 000) / t(10 000) (goal ≤ 12) and the dashboard page and /metrics at 100 000
(goal < 0.5 s). `python -m benchmarks.bench_reads [sizes…]` runs it alone.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.timing import best_of, duration
from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Stage
from fuota.core.reasons import Category
from fuota.core.settings import CampaignSettings
from fuota.store import EventKind, NewDeployment, NewEvent, Store
from fuota.views.metrics import DaemonMetrics
from fuota.views.model import campaign_list, status_data
from fuota.views.report import FORMATS, render, report_data
from fuota.views.rows import DeviceFilter
from fuota.web.queries import campaign_data

SIZES = (1_000, 10_000, 100_000)
GROUP = 250
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
RATIO_GOAL = 12.0
PAGE_GOAL = 0.5
# The stages a device walks through, one engine step each.
WALK = (Stage.MULTICAST_SETUP, Stage.MULTICAST_READY, Stage.FRAGMENTATION_SETUP, Stage.RECEIVING)


class _Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _euis(deployment: int, n: int) -> list[str]:
    return [f"70b3d5{deployment:06x}{i:04x}" for i in range(n)]


def _ending(i: int) -> tuple[Stage, Outcome, str | None, Category | None]:
    if i % 100 < 90:
        return Stage.DONE, Outcome.UPDATED, None, None
    if i % 100 < 97:
        return Stage.FAILED, Outcome.FAILED, "missing fragments: 3 of 40", Category.TOO_FEW_FRAGMENTS
    return Stage.MULTICAST_SETUP, Outcome.UNREACHABLE, "never joined the multicast group", Category.NEVER_JOINED


def fill(path: Path, devices: int) -> tuple[Store, int]:
    """A SQLite store at `path` holding one ended campaign of `devices` devices; (store, campaign id)."""
    clock = _Clock()
    store = Store(f"sqlite:///{path}", clock=clock)
    groups = [min(GROUP, devices - start) for start in range(0, devices, GROUP)]
    plan = {"nb_frag": 287, "frag_size": 48, "padding": 39, "redundancy": 86}
    new = [
        NewDeployment("iotsquare", f"group-{n}", f"fuota-scale-{n}", True, _euis(n, size), plan)
        for n, size in enumerate(groups)
    ]
    settings = CampaignSettings.model_validate(
        {
            "name": "scale",
            "backend": "iot",
            "kind": "iotsquare",
            "redundancy_percent": 30,
            "target": {"region": "EU868"},
        }
    )
    campaign = store.create_campaign(settings, b"\x07" * 13737, new)
    clock.now = T0 + timedelta(seconds=10)
    store.set_campaign_state(campaign.id, CampaignState.RUNNING, "start")
    for n, d in enumerate(store.deployments(campaign.id)):
        euis = _euis(n, groups[n])
        at = T0 + timedelta(seconds=20 + n)
        previous = {eui: Stage.PENDING for eui in euis}
        for step, stage in enumerate(WALK):
            # Half the devices move in each of two steps a few seconds apart: several event times per stage.
            for half in (0, 1):
                clock.now = at + timedelta(seconds=60 * step + 5 * half)
                moving = [eui for i, eui in enumerate(euis) if i % 2 == half and not _stays(i, stage)]
                store.apply(
                    d.id,
                    state=DeploymentState.ENQUEUE_FRAGMENT,
                    events=[_moved(e, previous[e], stage) for e in moving],
                    devices=[DeviceProgress(e, stage, {"step": step}, updated_at=clock.now) for e in moving],
                )
                previous.update(dict.fromkeys(moving, stage))
        clock.now = at + timedelta(seconds=600)
        ends = [(eui, *_ending(i)) for i, eui in enumerate(euis)]
        events = [_moved(e, previous[e], s) for e, s, *_ in ends if previous[e] is not s]
        store.apply(
            d.id,
            state=DeploymentState.DONE,
            events=events,
            devices=[DeviceProgress(e, s, {"step": 9}, o, r, clock.now, category=c) for e, s, o, r, c in ends],
            progress={"task_started_at": at.isoformat(), "phase_started_at": at.isoformat(), "fragments_total": 373},
        )
        if n % 20 == 0:
            store.record_event(
                campaign.id, NewEvent(EventKind.RETRY, "PollTask: no answer (try 1)"), deployment_id=d.id
            )
            store.record_event(campaign.id, NewEvent(EventKind.ANOMALY, "malformed answer"), deployment_id=d.id)
    clock.now = T0 + timedelta(seconds=600 + 2 * len(groups) + 60)
    store.set_campaign_state(campaign.id, CampaignState.DONE, "done")
    return store, campaign.id


def _moved(eui: str, before: Stage, after: Stage) -> NewEvent:
    return NewEvent(EventKind.DEVICE, "reported", before.value, after.value, eui)


def _stays(i: int, stage: Stage) -> bool:
    """Unreachable devices never get past multicast set-up."""
    return i % 100 >= 97 and stage is not Stage.MULTICAST_SETUP


def _plain(path: Path, campaign_id: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "SELECT d.* FROM devices d JOIN deployments p ON d.deployment_id = p.id WHERE p.campaign_id = ?",
            (campaign_id,),
        ).fetchall()
        conn.execute("SELECT * FROM events WHERE campaign_id = ?", (campaign_id,)).fetchall()
    return None


def readers(store: Store, campaign_id: int) -> dict[str, Callable[[], Any]]:
    """Every read path, by name, as a call with no arguments."""
    record = store.campaign(campaign_id)
    assert record is not None
    metrics = DaemonMetrics(store)
    calls: dict[str, Callable[[], Any]] = {
        "status_data": lambda: status_data(store, campaign_id),
        "campaign_list": lambda: campaign_list(store),
        "report_data": lambda: report_data(store, campaign_id),
    }
    data = report_data(store, campaign_id)
    for fmt in FORMATS:
        calls[f"report {fmt} (render)"] = lambda fmt=fmt: render(data, fmt)
    calls["dashboard campaign page"] = lambda: campaign_data(store, record, DeviceFilter.parse({}))
    calls["/metrics"] = metrics.exposition
    return calls


def measure(sizes: tuple[int, ...] = SIZES, repeat: int = 3) -> dict[int, dict[str, float]]:
    """{devices: {read path: best seconds}}, with "plain" the baseline; prints as it goes. Every store is filled
    first, then each round times every read at every size in turn, so that a change in the machine's load between
    sizes does not pass for growth."""
    found: dict[int, dict[str, float]] = {size: {} for size in sizes}
    with tempfile.TemporaryDirectory() as folder:
        calls: dict[int, dict[str, Callable[[], Any]]] = {}
        for size in sizes:
            path = Path(folder) / f"reads-{size}.db"
            start = time.perf_counter()
            store, campaign_id = fill(path, size)
            print(f"  {size} devices stored in {duration(time.perf_counter() - start)}", flush=True)
            listed = campaign_list(store)[0]
            if listed["devices"] != size or listed["state"] != CampaignState.DONE:
                raise RuntimeError(f"the store holds {listed['devices']} devices ({listed['state']}), not {size}")
            calls[size] = {"plain": lambda p=path, c=campaign_id: _plain(p, c), **readers(store, campaign_id)}
        for _ in range(repeat):
            for size in sizes:
                for name, call in calls[size].items():
                    found[size][name] = min(found[size].get(name, float("inf")), best_of(call, 1)[0])
    return found


def table(found: dict[int, dict[str, float]]) -> str:
    """The figures: each read path at each size, × the plain floor, growth from 10 000 to 100 000, goals met."""
    sizes = sorted(found)
    names = list(found[sizes[0]])
    header = ["read", *(f"{s:,}".replace(",", " ") for s in sizes), "× plain (largest)"]
    grows = len(sizes) >= 2
    if grows:
        header.append(f"t({sizes[-1]})/t({sizes[-2]})")
    header.append("goal met")
    rows = [header]
    for name in names:
        largest = found[sizes[-1]][name]
        row = [name, *(duration(found[s][name]) for s in sizes), f"{largest / found[sizes[-1]]['plain']:.1f}×"]
        met = []
        if grows:
            ratio = largest / found[sizes[-2]][name]
            row.append(f"{ratio:.1f}")
            met.append(ratio <= RATIO_GOAL)
        if name in ("dashboard campaign page", "/metrics") and sizes[-1] >= 100_000:
            met.append(largest < PAGE_GOAL)
        row.append("—" if name == "plain" else ("yes" if all(met) else "NO"))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the read benchmark at the sizes given (default 1 000, 10 000, 100 000) and print the table."""
    sizes = tuple(int(a) for a in argv) or SIZES
    print(
        f"reads at fleet scale — goals: t({sizes[-1]})/t(previous) ≤ {RATIO_GOAL:g}, page and /metrics < {PAGE_GOAL} s"
    )
    print(table(measure(sizes)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
