"""`fuota daemon`: start times, maintenance windows, max_concurrent, SIGTERM and a restart, two back ends at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from fuota.campaign import load_campaign
from fuota.config import load_config
from fuota.core.model import CampaignState
from fuota.service import campaigns as service
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.store import Store
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota, wait_for_state
from tests.support.config_files import (
    iotsquare,
    milesight,
    sqlite_url,
    write_campaign,
    write_config,
    write_milesight_campaign,
)
from tests.support.daemons import kill_daemon, start_daemon, stop_daemon, wait_campaign
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(45).bytes(3000)


def test_a_closed_window_holds_the_campaign_until_it_opens(tmp_path: Path) -> None:
    # The runner's clock is injected: a Monday night, one hour before the window opens.
    now = [datetime(2026, 11, 23, 0, 0, tzinfo=UTC)]
    euis = fleet_euis(10, seed=40)
    with IoTSquareSim(devices=euis, speed=400, join_delay=20, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        window = {"days": ["mon"], "start": "01:00", "end": "05:00"}
        write_campaign(tmp_path, "night", euis, firmware=FIRMWARE, window=window, join_timeout=2)
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

        def finished() -> bool:
            if runner.tick(record.id) is None:
                return True
            now[0] += timedelta(seconds=0.2)
            return False

        wait_for(finished, 30, "the runner finishing the campaign", every=0.05)
        assert sim.calls["mcgroup/create"] == 1
        assert store.campaign(record.id).state is CampaignState.DONE
        store.close()


def test_start_time_then_sigterm(tmp_path: Path) -> None:
    euis = fleet_euis(20, seed=41)
    start = datetime.now(UTC) + timedelta(seconds=2)
    with IoTSquareSim(devices=euis, speed=400, join_delay=20, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "soon", euis, firmware=FIRMWARE, start=start.isoformat(), join_timeout=2)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        daemon = start_daemon(tmp_path)
        try:
            assert wait_campaign(sqlite_url(tmp_path), "soon", timeout=90) is CampaignState.DONE
            stopped = stop_daemon(daemon, within=10)
        finally:
            kill_daemon(daemon)
    assert stopped.code == 0 and stopped.seconds < 5, stopped.log[-2000:]
    with Store(sqlite_url(tmp_path)) as store:
        record = store.campaign("soon")
        first = min(e.at for e in store.events(record.id) if e.kind == "transition")
    assert first >= start - timedelta(milliseconds=50)
    assert '"message": "daemon started' in stopped.log  # --log-json: one JSON object per line
    # The campaign ended: nothing is left for another daemon, and no third-party INFO line made it to the log.
    assert "stopped; 0 open deployment(s) left for the next daemon" in stopped.log
    assert '"logger": "transitions' not in stopped.log


def test_sigterm_mid_campaign_and_a_restart_finishes_it(tmp_path: Path) -> None:
    euis = fleet_euis(100, seed=42)
    with IoTSquareSim(devices=euis, loss=0.05, speed=20, join_delay=10, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "long", euis, firmware=FIRMWARE, join_timeout=5)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        daemon = start_daemon(tmp_path)
        try:
            wait_for_state(tmp_path, "EnqueueFragment")
            stopped = stop_daemon(daemon, within=10)
            # within one poll interval (0.2 s) plus start-up slack
            assert stopped.code == 0 and stopped.seconds < 3, stopped.log[-2000:]
            assert "stopped; 1 open deployment(s) left for the next daemon" in stopped.log
            daemon = start_daemon(tmp_path)
            assert wait_campaign(sqlite_url(tmp_path), "long", timeout=90) is CampaignState.DONE
        finally:
            assert not stop_daemon(daemon, within=10).killed, "the daemon did not stop within 10 s of SIGTERM"
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
        write_config(tmp_path, iotsquare(iot.url, max_concurrent=1), milesight(mqtt_broker.url, [gateway], timeout=2))
        write_campaign(tmp_path, "iot-fleet", iot_devices, firmware=FIRMWARE, join_timeout=2)
        write_milesight_campaign(tmp_path, "ms-fleet", ms_devices, file="m.toml")
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        assert fuota(tmp_path, "launch", "m.toml").returncode == 0
        daemon = start_daemon(tmp_path)
        try:
            assert wait_campaign(sqlite_url(tmp_path), "iot-fleet", timeout=90) is CampaignState.DONE
            assert wait_campaign(sqlite_url(tmp_path), "ms-fleet", timeout=90) is CampaignState.DONE
        finally:
            stopped = stop_daemon(daemon, within=10)
        assert stopped.code == 0, stopped.log[-2000:]
    with Store(sqlite_url(tmp_path)) as store:
        record = store.campaign("iot-fleet")
        deployments = store.deployments(record.id)
        assert len(deployments) == 2  # 253 + 47 devices
        events = store.events(record.id)
        first_done = min(e.at for e in events if e.to_state == "Done" and e.deployment_id == deployments[0].id)
        second_created = min(e.at for e in events if e.to_state == "Created" and e.deployment_id == deployments[1].id)
        assert first_done <= second_created  # max_concurrent = 1: one deployment of the back end at a time
