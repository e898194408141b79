"""A silent gateway holds up only its own deployment: the daemon steps a campaign's deployments at once and its
campaigns on a pool, so the other gateway's deployment, and another back end's campaign, end while the silent
gateway's calls still wait out their timeouts and retries."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fuota.core.model import DeploymentState
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.store import Store
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota
from tests.support.config_files import (
    iotsquare,
    milesight,
    sqlite_url,
    write_campaign,
    write_config,
    write_milesight_campaign,
)
from tests.support.daemons import kill_daemon, start_daemon
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(56).bytes(1500)
GATEWAYS = gateway_euis(2, seed=9)
TIMING = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)


def _deployments(url: str, name: str) -> dict[str, DeploymentState]:
    with Store(url) as store:
        record = store.campaign(name)
        return {} if record is None else {d.target or d.task_name: d.state for d in store.deployments(record.id)}


def test_a_silent_gateway_holds_up_only_its_own_deployment(tmp_path: Path, mqtt_broker: Broker) -> None:
    ms = fleet_euis(40, seed=57)
    spread = {g: ms[i::2] for i, g in enumerate(GATEWAYS)}
    iot = fleet_euis(20, seed=58)
    url = sqlite_url(tmp_path)
    with (
        MilesightSim(mqtt_broker.url, spread, speed=30, timing=TIMING, seed=9) as gateways,
        IoTSquareSim(devices=iot, speed=100, join_delay=2, fragment_interval=2) as server,
    ):
        # Each call to the silent gateway waits 2 s, and is tried again for up to 60 s before the runner hears of
        # it: done one after the other, every other deployment would wait that long at each poll.
        write_config(
            tmp_path,
            milesight(mqtt_broker.url, GATEWAYS, timeout=2, give_up_after=120),
            iotsquare(server.url),
            store_url=url,
        ).chmod(0o600)
        write_campaign(tmp_path, "iot", iot, firmware=FIRMWARE, join_timeout=5, file="iot.toml")
        write_milesight_campaign(tmp_path, "ms", ms, file="ms.toml")
        assert fuota(tmp_path, "launch", "ms.toml").returncode == 0
        daemon = start_daemon(tmp_path)
        try:
            wait_for(
                lambda: set(_deployments(url, "ms").values()) <= {DeploymentState.ENQUEUE_FRAGMENT},
                30,
                "both gateways sending fragments",
                every=0.2,
            )
            gateways.silence(GATEWAYS[1])
            assert fuota(tmp_path, "launch", "iot.toml").returncode == 0
            wait_for(
                lambda: (
                    _deployments(url, "ms").get(GATEWAYS[0]) is DeploymentState.DONE
                    and set(_deployments(url, "iot").values()) == {DeploymentState.DONE}
                ),
                40,
                "the other gateway's deployment and the IoTSquare campaign Done",
                every=0.2,
            )
            assert not _deployments(url, "ms")[GATEWAYS[1]].ended  # still waiting for its gateway
        finally:
            kill_daemon(daemon)  # a SIGTERM would wait for the silent gateway's calls under way
