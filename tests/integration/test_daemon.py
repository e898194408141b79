"""`fuota daemon`: start times, maintenance windows, max_concurrent, SIGTERM and a restart, two back ends at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from fuota.campaign import load_campaign
from fuota.config import load_config
from fuota.core.model import CampaignState
from fuota.core.settings import Window
from fuota.service import campaigns as service
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.store import Store
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota, wait_for_state, write_campaign, write_config

FIRMWARE = np.random.default_rng(45).bytes(3000)


@pytest.mark.parametrize(
    ("window", "now", "open_"),
    [
        ({"days": ["mon"], "start": "01:00", "end": "05:00"}, datetime(2026, 11, 23, 2, tzinfo=UTC), True),
        ({"days": ["mon"], "start": "01:00", "end": "05:00"}, datetime(2026, 11, 23, 5, tzinfo=UTC), False),
        ({"days": ["tue"], "start": "01:00", "end": "05:00"}, datetime(2026, 11, 23, 2, tzinfo=UTC), False),
        ({"days": ["mon"], "start": "22:00", "end": "04:00", "timezone": "Europe/Paris"},
         datetime(2026, 11, 24, 2, tzinfo=UTC), True),  # Tuesday 03:00 in Paris: Monday's night window
        ({"start": "08:00", "end": "18:00", "timezone": "America/New_York"}, datetime(2026, 11, 23, 12, tzinfo=UTC),
         False),  # 07:00 in New York
    ],
)  # fmt: skip
def test_window(window: dict, now: datetime, open_: bool) -> None:
    assert Window.model_validate(window).open_at(now) is open_


def test_a_closed_window_holds_the_campaign_until_it_opens(tmp_path: Path) -> None:
    # The runner's clock is injected: a Monday night, one hour before the window opens.
    now = [datetime(2026, 11, 23, 0, 0, tzinfo=UTC)]
    euis = fleet_euis(10, seed=40)
    with IoTSquareSim(devices=euis, speed=400, join_delay=20, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, sim.url)
        body = 'window = { days = ["mon"], start = "01:00", end = "05:00" }'
        write_campaign(tmp_path, "night", euis, firmware=FIRMWARE, body=body, join_timeout=2)
        config = load_config(tmp_path / "fuota.toml")
        campaign = load_campaign(tmp_path / "c.toml")
        store = Store(config.store.url)
        record, _ = service.launch(store, service.plan(config, campaign))
        backends = service.build_backends(config, ["iot"])
        runner = service.build_runner(config, store, backends, clock=lambda: now[0])
        for _ in range(5):
            runner.tick(record.id)
        assert sim.calls["mcgroup/create"] == 0 and store.campaign(record.id).state is CampaignState.SCHEDULED
        now[0] = datetime(2026, 11, 23, 1, 0, 1, tzinfo=UTC)  # the window opens
        deadline = time.monotonic() + 30
        while runner.tick(record.id) is not None and time.monotonic() < deadline:
            now[0] += timedelta(seconds=0.2)
            time.sleep(0.05)
        assert sim.calls["mcgroup/create"] == 1
        assert store.campaign(record.id).state is CampaignState.DONE
        store.close()


def _daemon(folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), "daemon", "--log-json"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_campaign(folder: Path, name: str, timeout: float = 90) -> CampaignState:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Store(f"sqlite:///{folder / 'fuota.db'}") as store:
            record = store.campaign(name)
            if record is not None and record.state.ended:
                return record.state
        time.sleep(0.2)
    raise AssertionError(f"campaign {name} did not end within {timeout} s")


def _stop(daemon: subprocess.Popen, within: float) -> tuple[int, float, str]:
    began = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    try:
        _, err = daemon.communicate(timeout=within)
    finally:
        daemon.kill()
    return daemon.returncode, time.monotonic() - began, err


def test_start_time_then_sigterm(tmp_path: Path) -> None:
    euis = fleet_euis(20, seed=41)
    start = datetime.now(UTC) + timedelta(seconds=2)
    with IoTSquareSim(devices=euis, speed=400, join_delay=20, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, sim.url)
        write_campaign(tmp_path, "soon", euis, firmware=FIRMWARE, body=f'start = "{start.isoformat()}"', join_timeout=2)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        daemon = _daemon(tmp_path)
        try:
            assert _wait_campaign(tmp_path, "soon") is CampaignState.DONE
            code, took, err = _stop(daemon, within=10)
        finally:
            daemon.kill()
    assert code == 0 and took < 5, err[-2000:]
    with Store(f"sqlite:///{tmp_path / 'fuota.db'}") as store:
        record = store.campaign("soon")
        first = min(e.at for e in store.events(record.id) if e.kind == "transition")
    assert first >= start - timedelta(milliseconds=50)
    assert '"message": "daemon started' in err  # --log-json: one JSON object per line


def test_sigterm_mid_campaign_and_a_restart_finishes_it(tmp_path: Path) -> None:
    euis = fleet_euis(100, seed=42)
    with IoTSquareSim(devices=euis, loss=0.05, speed=20, join_delay=10, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, sim.url)
        write_campaign(tmp_path, "long", euis, firmware=FIRMWARE, join_timeout=5)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        daemon = _daemon(tmp_path)
        try:
            wait_for_state(tmp_path, "EnqueueFragment")
            code, took, err = _stop(daemon, within=10)
            assert code == 0 and took < 3, err[-2000:]  # within one poll interval (0.2 s) plus start-up slack
            daemon = _daemon(tmp_path)
            assert _wait_campaign(tmp_path, "long") is CampaignState.DONE
        finally:
            _stop(daemon, within=10)
        status = fuota(tmp_path, "status", "long", "--json").stdout
        for device in json.loads(status)["devices"]:
            session = sim.device(device["dev_eui"]).session
            assert (device["outcome"] == "updated") == (session is not None and session.rebuilt(FIRMWARE))
        assert sim.calls["fuota/create"] == 1


def test_two_back_ends_at_once_and_max_concurrent(tmp_path: Path, mqtt_broker: Broker) -> None:
    iot_devices, ms_devices = fleet_euis(300, seed=43), fleet_euis(40, seed=44)
    gateway = gateway_euis(1, seed=6)[0]
    timing = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)
    with (
        IoTSquareSim(devices=iot_devices, speed=400, join_delay=20, phase_time=4, fragment_interval=2) as iot,
        MilesightSim(mqtt_broker.url, {gateway: ms_devices}, speed=60, timing=timing),
    ):
        write_config(tmp_path, iot.url, extra="max_concurrent = 1\n")
        with (tmp_path / "fuota.toml").open("a") as config:
            config.write(f'\n[backends.ms]\nkind = "milesight"\nbroker_url = "{mqtt_broker.url}"\n'
                         f'gateways = ["{gateway}"]\npoll_interval = 0.2\ntimeout = 2\n')  # fmt: skip
        write_campaign(tmp_path, "iot-fleet", iot_devices, firmware=FIRMWARE, join_timeout=2)
        listed = ", ".join(f'"{d}"' for d in ms_devices)
        (tmp_path / "m.toml").write_text(
            f'name = "ms-fleet"\nfirmware = "fw.bin"\nbackend = "ms"\nredundancy_percent = 30\n'
            f"devices = [{listed}]\n[milesight]\nfragment_interval = 1000\n"
        )
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        assert fuota(tmp_path, "launch", "m.toml").returncode == 0
        daemon = _daemon(tmp_path)
        try:
            assert _wait_campaign(tmp_path, "iot-fleet") is CampaignState.DONE
            assert _wait_campaign(tmp_path, "ms-fleet") is CampaignState.DONE
        finally:
            code, _, err = _stop(daemon, within=10)
        assert code == 0, err[-2000:]
    with Store(f"sqlite:///{tmp_path / 'fuota.db'}") as store:
        record = store.campaign("iot-fleet")
        deployments = store.deployments(record.id)
        assert len(deployments) == 2  # 253 + 47 devices
        events = store.events(record.id)
        first_done = min(e.at for e in events if e.to_state == "Done" and e.deployment_id == deployments[0].id)
        second_created = min(e.at for e in events if e.to_state == "Created" and e.deployment_id == deployments[1].id)
        assert first_done <= second_created  # max_concurrent = 1: one deployment of the back end at a time
