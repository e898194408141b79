"""`make demo`: two real campaigns end to end, on a loopback-only rehearsal of both back ends.

It starts the IoTSquare simulator, a Mosquitto of its own with the Milesight gateway simulator on it, writes a
configuration and two campaign files in a fresh folder, launches both campaigns, lets `fuota daemon` drive them,
shows `fuota watch` live, and ends with the text reports and the HTML reports' paths. Some devices are made to
fail (never joining, too lossy, out of memory) so the reports have something to explain. Every process it starts
is stopped before it returns.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.store import Store
from fuota.views.report import render, report_data
from fuota.views.watch import watch

__all__ = ["main"]

console = Console()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _mosquitto(folder: Path, stack: ExitStack) -> str:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = _free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n")
    process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(lambda: (process.terminate(), process.wait(5)))
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"mqtt://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not start on port {port}")


def _files(folder: Path, iot_url: str, broker: str, gateways: list[str], iot: list[str], ms: list[str]) -> None:
    (folder / "firmware.bin").write_bytes(np.random.default_rng(2026).bytes(20_000))
    listed = ", ".join(f'"{g}"' for g in gateways)
    (folder / "fuota.toml").write_text(
        f'[store]\nurl = "sqlite:///{folder / "fuota.db"}"\n\n'
        f'[backends.iot]\nkind = "iotsquare"\nbase_url = "{iot_url}"\ntoken = "sim-token"\npoll_interval = 0.5\n\n'
        f'[backends.ms]\nkind = "milesight"\nbroker_url = "{broker}"\ngateways = [{listed}]\n'
        "poll_interval = 0.5\ntimeout = 3\n"
    )
    (folder / "iot.csv").write_text("dev_eui\n" + "".join(f"{d}\n" for d in iot))
    (folder / "iotsquare.toml").write_text(
        'name = "sensors-iotsquare"\nfirmware = "firmware.bin"\nbackend = "iot"\ndevices_file = "iot.csv"\n'
        'redundancy_percent = 30\n\n[iotsquare]\nregion = "eu868"\nsubnet = "ch_00-07"\n'
        'gen_app_key = "504e83e6dd1a457af1bf93f99d362e89"\njoin_timeout = 5\n'
    )
    (folder / "ms.csv").write_text("dev_eui\n" + "".join(f"{d}\n" for d in ms))
    (folder / "milesight.toml").write_text(
        'name = "meters-milesight"\nfirmware = "firmware.bin"\nbackend = "ms"\ndevices_file = "ms.csv"\n'
        "redundancy_percent = 30\n\n[milesight]\nfragment_interval = 1000\n"
    )


def _fuota(folder: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)


def main() -> int:
    """Run the showcase; exit status 0 when both campaigns ended Done."""
    folder = Path(tempfile.mkdtemp(prefix="fuota-demo-"))
    iot, ms = fleet_euis(300, seed=1), fleet_euis(240, seed=2)
    gateways = gateway_euis(3, seed=1)
    spread = {g: ms[i :: len(gateways)] for i, g in enumerate(gateways)}
    timing = Timing(multicast_setup=20, fragment_setup=10, status_report=10, upgrade=10)
    with ExitStack() as stack:
        console.rule("fuota demo: two campaigns on simulated back ends, loopback only")
        console.print(f"working folder: {folder}")
        iot_sim = stack.enter_context(
            IoTSquareSim(
                devices=iot,
                loss=dict.fromkeys(iot[3:6], 0.9) | dict.fromkeys(iot[6:], 0.05),
                never_join=iot[:3],
                speed=1000,  # fragments paced as a real server would (≈ 28 s each at EU868 RX2): 542 in ≈ 15 s
                join_delay=20,
                phase_time=5,
            )
        )
        broker = _mosquitto(folder, stack)
        stack.enter_context(
            MilesightSim(
                broker,
                spread,
                loss=dict.fromkeys(ms[2:4], 0.9) | dict.fromkeys(ms[4:], 0.05),
                low_memory=ms[:2],
                speed=20,  # slower than the IoTSquare campaign: still under way, live, once that one ends
                timing=timing,
            )
        )
        console.print(f"IoTSquare simulator {iot_sim.url}, 300 devices; Milesight gateways on {broker}, 240 devices")
        _files(folder, iot_sim.url, broker, gateways, iot, ms)
        for campaign in ("iotsquare.toml", "milesight.toml"):
            console.print(f"$ fuota plan {campaign}")
            console.print(_fuota(folder, "plan", campaign).stdout)
            launched = _fuota(folder, "launch", campaign)
            console.print(f"$ fuota launch {campaign}\n{launched.stdout.strip() or launched.stderr.strip()}")
        dashboard = f"127.0.0.1:{_free_port()}"
        daemon = subprocess.Popen(
            [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), "daemon", "--http", dashboard],
            cwd=folder,
            stderr=(folder / "daemon.log").open("w"),
        )
        stack.callback(lambda: (daemon.send_signal(signal.SIGTERM), daemon.wait(10)))
        console.print(f"$ fuota daemon --http {dashboard}   (pid {daemon.pid}, log {folder / 'daemon.log'})")
        console.print(
            f"dashboard while the demo runs: http://{dashboard}/campaigns, Prometheus: http://{dashboard}/metrics"
        )
        store = stack.enter_context(Store(f"sqlite:///{folder / 'fuota.db'}"))
        finals = []
        for record in sorted(store.campaigns(), key=lambda r: r.id):
            console.print(f"$ fuota watch {record.name}")
            finals.append(watch(console, store, record.id, clock=lambda: datetime.now(UTC)))
        for record in sorted(store.campaigns(), key=lambda r: r.id):
            data = report_data(store, record.id)
            console.rule(f"fuota report {record.name}")
            console.print(render(data, "text"), highlight=False, markup=False)
            html = folder / f"{record.name}.html"
            html.write_text(render(data, "html"), encoding="utf-8")
            console.print(f"HTML report: {html}")
        console.rule(f"GET http://{dashboard}/metrics (campaigns and devices)")
        console.print(_metrics(dashboard), highlight=False, markup=False)
    ok = all(state.value == "Done" for state in finals)
    console.rule("demo " + ("done: both campaigns ended Done" if ok else "ended: a campaign did not end Done"))
    return 0 if ok else 1


def _metrics(address: str) -> str:
    """The campaign and device lines of the daemon's /metrics, as Prometheus would scrape them."""
    try:
        body = httpx.get(f"http://{address}/metrics", timeout=5).text
    except httpx.HTTPError as exc:
        return f"(the dashboard did not answer: {exc})"
    return "\n".join(line for line in body.splitlines() if line.startswith(("fuota_campaigns", "fuota_devices{")))


if __name__ == "__main__":
    raise SystemExit(main())
