"""A real `fuota daemon --http` beside an IoTSquare simulator, for the dashboard's tests."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import Store
from tests.support.cli_helpers import fuota, write_campaign, write_config

TOKEN = "dashboard-s3cret-7f2a"
SIM_TOKEN = "sim-s3cret-91c4"
FIRMWARE = np.random.default_rng(46).bytes(3000)
_URL = re.compile(r"dashboard on (http://\S+)/campaigns")


@dataclass
class Running:
    """A daemon serving the dashboard, the campaign it drives and where its log goes."""

    url: str
    folder: Path
    campaign_id: int
    log: Path
    process: subprocess.Popen

    def store(self) -> Store:
        """The daemon's store, opened by the test (close it)."""
        return Store(f"sqlite:///{self.folder / 'fuota.db'}")


def start_daemon(folder: Path, timeout: float = 30) -> tuple[subprocess.Popen, str, Path]:
    """`fuota daemon --http 127.0.0.1:0` in `folder` (any free port); returns it, its dashboard's URL and its log
    once the URL is logged."""
    log = folder / "daemon.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), "daemon", "--http", "127.0.0.1:0"],
            cwd=folder,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := _URL.search(log.read_text()):
            return process, found.group(1), log
        if process.poll() is not None:
            raise AssertionError(f"the daemon exited {process.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the daemon logged no dashboard URL within {timeout} s: {log.read_text()[-2000:]}")


def stop_daemon(process: subprocess.Popen, timeout: float = 15) -> int:
    """SIGTERM, then wait; the exit code."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    finally:
        process.kill()


@contextmanager
def campaign_under_way(folder: Path, devices: int = 2000, speed: float = 6) -> Iterator[Running]:
    """A `devices`-strong IoTSquare campaign launched and driven by a daemon serving the dashboard. The slow
    simulated clock keeps it running for tens of seconds, its progress moving every second."""
    euis = fleet_euis(devices, seed=47)
    with IoTSquareSim(
        devices=euis, token=SIM_TOKEN, loss=0.05, speed=speed, join_delay=10, phase_time=4, fragment_interval=2
    ) as sim:
        write_config(folder, sim.url, token=SIM_TOKEN, poll=0.3, extra=f'\n[dashboard]\ntoken = "{TOKEN}"\n')
        write_campaign(folder, "fleet", euis, firmware=FIRMWARE, join_timeout=5)
        launched = fuota(folder, "launch", "c.toml", "--json")
        assert launched.returncode == 0, launched.stderr
        process, url, log = start_daemon(folder)
        try:
            yield Running(url, folder, json.loads(launched.stdout)["id"], log, process)
        finally:
            if process.poll() is None:
                stop_daemon(process)


def wait_until(condition, timeout: float = 30, every: float = 0.2) -> None:
    """Wait until `condition()` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(every)
