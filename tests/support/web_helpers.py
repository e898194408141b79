"""A real `fuota daemon --http` beside an IoTSquare simulator, for the dashboard's tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import Store
from tests.support.cli_helpers import fuota
from tests.support.config_files import dashboard, iotsquare, sqlite_url, write_campaign, write_config
from tests.support.daemons import Daemon, start_daemon, stop_daemon

TOKEN = "dashboard-s3cret-7f2a"
SIM_TOKEN = "sim-s3cret-91c4"
FIRMWARE = np.random.default_rng(46).bytes(3000)


@dataclass
class Running:
    """A daemon serving the dashboard, the campaign it drives and where it runs."""

    url: str
    folder: Path
    campaign_id: int
    daemon: Daemon

    def store(self) -> Store:
        """The daemon's store, opened by the test (close it)."""
        return Store(sqlite_url(self.folder))


@contextmanager
def campaign_under_way(folder: Path, devices: int = 2000, speed: float = 6) -> Iterator[Running]:
    """A `devices`-strong IoTSquare campaign launched and driven by a daemon serving the dashboard. The slow
    simulated clock keeps it running for tens of seconds, its progress moving every second."""
    euis = fleet_euis(devices, seed=47)
    with IoTSquareSim(
        devices=euis, token=SIM_TOKEN, loss=0.05, speed=speed, join_delay=10, phase_time=4, fragment_interval=2
    ) as sim:
        write_config(folder, iotsquare(sim.url, token=SIM_TOKEN, poll_interval=0.3), dashboard(token=TOKEN))
        write_campaign(folder, "fleet", euis, firmware=FIRMWARE, join_timeout=5)
        launched = fuota(folder, "launch", "c.toml", "--json")
        assert launched.returncode == 0, launched.stderr
        daemon = start_daemon(folder, http="127.0.0.1:0")
        try:
            yield Running(daemon.url(), folder, json.loads(launched.stdout)["id"], daemon)
        finally:
            assert not stop_daemon(daemon, within=15).killed, "the daemon did not stop within 15 s of SIGTERM"
