"""The daemon at fleet scale (issue 16 item 5): one campaign of FLEET devices (10 000 by default, `FLEET=100000 make
bench` or `make bench-fleet` for 100 000) driven by `fuota daemon` processes on each simulator.

Runs, each on a fresh store: IoTSquare (groups of ≤ 253, one deployment each) and Milesight (gateways of 500
devices, one deployment each, on a real Mosquitto), each by one daemon on SQLite and by three daemons on
PostgreSQL; then, to show that more daemons pay when the back end is the bottleneck, IoTSquare again with every
call answered LATENCY s late and the devices quick (FAST), by one and by three daemons on PostgreSQL (goal:
three ≤ 0.5× one's wall time).

Each run starts with the simulator's clock frozen (nothing a device does changes): once the daemons have created
every deployment and settled, the rows written over QUIET s are divided by the polls made meanwhile ("rows per
quiet poll", goal 0); then the clock runs and the campaign ends. Printed per run: wall time from launch to the
campaign's end; the daemons' CPU seconds per 1 000 device-polls (benchmarks/fleet_probe.py defines a device-poll);
each daemon's peak memory; store bytes per device; rows written per device change over the whole run (goal O(1));
and the creates the back end carried out against the deployments (goal: equal, none driven twice). The
simulators, Mosquitto, PostgreSQL and the daemons share the machine's cores.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.fleet_probe import CHANGES, DevicePolls, WriteCounter, cpu_seconds, peak_mib
from benchmarks.timing import duration
from benchmarks.workload import load_oracle
from fuota.core.model import CampaignState
from fuota.sim.fleet import fleet_euis
from fuota.sim.iotsquare import IoTSquareSim
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.store import Store

load_oracle()  # puts the repository root on sys.path: tests.support is not installed
from tests.support.broker import Broker  # noqa: E402
from tests.support.cli_helpers import fuota  # noqa: E402
from tests.support.config_files import (  # noqa: E402
    iotsquare,
    milesight,
    write_campaign,
    write_config,
    write_milesight_campaign,
)
from tests.support.daemons import start_daemon, stop_daemon, wait_campaign  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402
from tests.support.waiting import wait_for  # noqa: E402

FLEET = int(os.environ.get("FLEET", "10000"))
GATEWAY = 500
FIRMWARE = np.random.default_rng(16).bytes(2400)  # 50 fragments of 48 B: the campaign is mostly polling
SPEED = 20.0
LATENCY = 0.25
FAST = 200.0  # the latency runs' simulated clock: the devices are quick, the calls slow
QUIET = 6.0
RATIO_GOAL = 0.5


@dataclass(frozen=True)
class Run:
    """One campaign driven to its end, and what it cost."""

    label: str
    devices: int
    deployments: int
    wall: float
    cpu: float
    device_polls: int
    peak_mib: list[float]
    store_bytes: int
    quiet_rows: int
    quiet_polls: int
    rows: int
    changes: int
    creates: int
    state: CampaignState


def _thaw(sim: IoTSquareSim | MilesightSim, speed: float) -> None:
    """Let a frozen simulated clock run at `speed` from where it stands (SimClock has no public way to)."""
    clock = sim.clock
    with clock._lock:
        clock._offset += (time.monotonic() - clock._start) * clock.speed
        clock._start, clock.speed = time.monotonic(), speed


def _settled(counter: WriteCounter, every: float = 1.5) -> float:
    """Wait until every deployment is prepared (waiting for its members to join, or its task created) and no row
    has been written for `every` seconds since; return the time.monotonic() of the last write seen."""
    last = [sum(counter.counts().values()), time.monotonic()]

    def still() -> bool:
        now = sum(counter.counts().values())
        if now != last[0] or counter.preparing():
            last[:] = [now, time.monotonic()]
        return time.monotonic() - last[1] >= every

    wait_for(still, 600, "the daemons settling with the back end's clock frozen", every=0.25)
    return last[1]


def drive(
    label: str,
    folder: Path,
    url: str,
    sim: IoTSquareSim | MilesightSim,
    daemons: int,
    shape: tuple[int, int],
    speed: float = SPEED,
) -> Run:
    """Start `daemons` daemons on the store at `url` (configuration and campaign c.toml written in `folder`), launch
    the campaign with `sim`'s clock frozen, measure the quiet polls, let it run to its end at `speed`; see the
    module doc. The wall time leaves out the frozen span after the last write (the quiet measurement)."""
    Store(url).close()
    counter, polls = WriteCounter(url), DevicePolls()
    counter.install()
    polls.attach(sim)
    procs = [start_daemon(folder, name=f"d{i}", lease_seconds=30) for i in range(daemons)]
    try:
        launched = fuota(folder, "launch", "c.toml", timeout=600)
        if launched.returncode != 0:
            raise RuntimeError(f"fuota launch failed ({launched.returncode}): {launched.stderr[-2000:]}")
        begin = time.monotonic()
        settled = _settled(counter)
        before, polled = counter.counts(), _polls(sim)
        time.sleep(QUIET)
        after, quiet_polls = counter.counts(), _polls(sim) - polled
        quiet_rows = sum(after[t] - before[t] for t in after if t != CHANGES)
        thawed = time.monotonic()
        _thaw(sim, speed)
        state = wait_campaign(url, "fleet", timeout=3600)
        wall = time.monotonic() - begin - (thawed - settled)
        cpu = sum(cpu_seconds(d.pid) for d in procs)
        peaks = [peak_mib(d.pid) for d in procs]
    finally:
        for d in procs:
            stop_daemon(d, within=30)
    total = counter.counts()
    size = counter.size()
    counter.close()
    return Run(
        label,
        *shape,
        wall,
        cpu,
        polls.rows,
        peaks,
        size,
        quiet_rows,
        quiet_polls,
        sum(n for t, n in total.items() if t != CHANGES),
        total[CHANGES],
        _creates(sim),
        state,
    )


def _polls(sim: IoTSquareSim | MilesightSim) -> int:
    """Every request the back end received: each is one poll of something (task, group or device list)."""
    return sum(sim.calls.values())


def _creates(sim: IoTSquareSim | MilesightSim) -> int:
    if isinstance(sim, IoTSquareSim):
        return sim.done["fuota/create"]
    return sum(n for call, n in sim.calls.items() if call.method == "POST" and call.path == "/api/fuota/task")


def iotsquare_run(label: str, url: str, daemons: int, devices: int, latency: float = 0.0, speed: float = SPEED) -> Run:
    """One IoTSquare campaign of `devices` on temporary groups, `daemons` daemons on the store at `url`."""
    euis = fleet_euis(devices, seed=16)
    with tempfile.TemporaryDirectory(prefix="fuota-fleet-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        sim = stack.enter_context(
            IoTSquareSim(devices=euis, speed=0, delay=latency, join_delay=20, phase_time=2, fragment_interval=1)
        )
        write_config(folder, iotsquare(sim.url, poll_interval=0.5, timeout=30), store_url=url)
        write_campaign(folder, "fleet", euis, firmware=FIRMWARE, join_timeout=600)
        return drive(label, folder, url, sim, daemons, (devices, -(-devices // 253)), speed)


def milesight_run(label: str, url: str, daemons: int, devices: int) -> Run:
    """One Milesight campaign of `devices` on gateways of GATEWAY devices, `daemons` daemons on the store at `url`."""
    euis = fleet_euis(devices, seed=17)
    gateways = gateway_euis(-(-devices // GATEWAY), seed=17)
    members = {gw: euis[i * GATEWAY : (i + 1) * GATEWAY] for i, gw in enumerate(gateways)}
    with tempfile.TemporaryDirectory(prefix="fuota-fleet-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        broker = Broker(folder).start()
        stack.callback(broker.stop)
        sim = stack.enter_context(MilesightSim(broker.url, members, speed=0))
        write_config(folder, milesight(broker.url, gateways, poll_interval=0.5, timeout=30), store_url=url)
        write_milesight_campaign(folder, "fleet", euis, firmware=FIRMWARE)
        return drive(label, folder, url, sim, daemons, (devices, len(gateways)))


class _Runs(list[Run]):
    """The runs so far; each said in one line as it ends (a 100 000-device run takes minutes), the table after."""

    def append(self, run: Run) -> None:
        super().append(run)
        print(f"  {run.label}: {run.state.value} in {duration(run.wall)}", flush=True)


def measure(devices: int = FLEET) -> list[Run]:
    """Every run of the module docstring, at `devices` devices."""
    runs = _Runs()
    with tempfile.TemporaryDirectory(prefix="fuota-fleet-db-") as tmp:
        runs.append(iotsquare_run("IoTSquare, SQLite ×1", f"sqlite:///{tmp}/iot.db", 1, devices))
        runs.append(milesight_run("Milesight, SQLite ×1", f"sqlite:///{tmp}/ms.db", 1, devices))
    server = PostgresServer().start()
    try:
        runs.append(iotsquare_run("IoTSquare, PostgreSQL ×3", server.create_database(), 3, devices))
        runs.append(milesight_run("Milesight, PostgreSQL ×3", server.create_database(), 3, devices))
        slow = f"IoTSquare, {LATENCY * 1e3:g} ms a call, PostgreSQL"
        runs.append(iotsquare_run(f"{slow} ×1", server.create_database(), 1, devices, LATENCY, FAST))
        runs.append(iotsquare_run(f"{slow} ×3", server.create_database(), 3, devices, LATENCY, FAST))
    finally:
        server.stop()
    return runs


def table(runs: list[Run]) -> str:
    """The runs as a text table, the three-daemon ratio against its goal and the machine."""
    head = (
        f"{'run':<44} {'devices':>8} {'depl.':>5} {'wall':>8} {'CPU s/1k polls':>14} {'device-polls':>12} "
        f"{'peak MiB':>16} {'B/device':>8} {'rows/quiet poll':>15} {'rows/change':>11} {'creates':>7} state"
    )
    lines = [head]
    for r in runs:
        per_k = r.cpu / (r.device_polls / 1000) if r.device_polls else float("nan")
        quiet = r.quiet_rows / r.quiet_polls if r.quiet_polls else float("nan")
        lines.append(
            f"{r.label:<44} {r.devices:>8} {r.deployments:>5} {duration(r.wall):>8} {per_k:>14.3f} "
            f"{r.device_polls:>12} {'/'.join(f'{p:.0f}' for p in r.peak_mib):>16} "
            f"{r.store_bytes / r.devices:>8.0f} {quiet:>15.2f} {r.rows / max(r.changes, 1):>11.2f} "
            f"{r.creates:>7} {r.state.value}"
        )
    slow = [r for r in runs if "ms a call" in r.label]
    if len(slow) == 2:
        ratio = slow[1].wall / slow[0].wall
        verdict = "met" if ratio <= RATIO_GOAL else "MISSED"
        lines.append(f"three daemons / one, back end the bottleneck: {ratio:.2f} (goal ≤ {RATIO_GOAL}: {verdict})")
    lines.append(f"machine: {os.cpu_count()} cores shared by the simulators, Mosquitto, PostgreSQL and the daemons")
    return "\n".join(lines)


def main() -> int:
    """`python -m benchmarks.bench_fleet [devices]`: every run, then the table."""
    devices = int(sys.argv[1]) if len(sys.argv) > 1 else FLEET
    print(table(measure(devices)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
