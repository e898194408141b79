"""Issue 15, items 1 and 2: every reading of the ns-api envelope the spec allows, and one MQTT identity per process.

The spec's response sample carries `gatewayEUI` twice (filled, then ""), no per-endpoint answer shows it, one
answer echoes `"id": 1` as a number, and the request's `id` is a "Random value". The gateway simulator plays each
reading (fuota.sim.milesight.Envelope); a campaign ends with the same outcomes under every one. A broker
disconnects the older of two connections that share a client id: a daemon and two `fuota plan`s at once must not
knock each other off (mosquitto's log says "already connected, closing old connection" when one does).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from fuota.backends.milesight.mqtt import NsApiClient, mqtt_client_id
from fuota.core.model import CampaignState
from fuota.sim.iotsquare import fleet_euis
from fuota.sim.milesight import Envelope, MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.store import Store
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota
from tests.support.config_files import milesight, sqlite_url, write_config, write_milesight_campaign
from tests.support.daemons import kill_daemon, start_daemon, stop_daemon, wait_campaign
from tests.support.milesight_responder import Request, Responder
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(7).bytes(1500)
GATEWAYS = gateway_euis(2, seed=5)
TIMING = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)
READINGS = {
    "the default envelope": Envelope(),
    "no gatewayEUI, numeric ids, a type field": Envelope("absent", numeric_ids=True, typed=True),
    'gatewayEUI "", numeric ids': Envelope("empty", numeric_ids=True),
}


def _outcomes(folder: Path, broker: Broker, envelope: Envelope) -> dict[str, str]:
    euis = fleet_euis(40, seed=9)
    spread = {g: euis[i :: len(GATEWAYS)] for i, g in enumerate(GATEWAYS)}
    loss = {e: (0.9 if i < 3 else 0.02) for i, e in enumerate(euis)}
    folder.mkdir()
    with MilesightSim(broker.url, spread, loss=loss, speed=60, timing=TIMING, seed=3, envelope=envelope):
        write_config(folder, milesight(broker.url, GATEWAYS, timeout=1, give_up_after=4))
        write_milesight_campaign(folder, "ms", euis, firmware=FIRMWARE)
        result = fuota(folder, "run", "c.toml", timeout=240)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    status = json.loads(fuota(folder, "status", "ms", "--json").stdout)
    assert status["state"] == "Done"
    return {d["dev_eui"]: d["outcome"] for d in status["devices"]}


def test_every_envelope_reading_ends_with_the_same_outcomes(tmp_path: Path, mqtt_broker: Broker) -> None:
    found = {name: _outcomes(tmp_path / str(i), mqtt_broker, e) for i, (name, e) in enumerate(READINGS.items())}
    default = found["the default envelope"]
    assert sorted(set(default.values())) == ["failed", "updated"]  # the lossy three really failed
    for name, outcomes in found.items():
        assert outcomes == default, name


def test_ids_are_decimal_digits_unique_per_process_and_an_answer_naming_another_gateway_is_refused(
    mqtt_broker: Broker,
) -> None:
    gateway, other = GATEWAYS[0], GATEWAYS[1]
    seen: list[Request] = []

    def answer(request: Request) -> dict[str, object]:
        seen.append(request)
        return {"code": 200}

    with Responder(mqtt_broker, gateway).on("GET", "/x", answer), Responder(mqtt_broker, other, answer_all=True):
        first = NsApiClient(mqtt_broker.url, "milesight/ns-api/request", "milesight/ns-api/response", timeout=3)
        second = NsApiClient(mqtt_broker.url, "milesight/ns-api/request", "milesight/ns-api/response", timeout=3)
        try:
            for api in (first, second, first):
                assert api.request("GET", "/x", gateway)["body"] == {"code": 200}  # the other gateway's 25 ignored
        finally:
            first.close()
            second.close()
    ids = [r.id for r in seen]
    assert all(isinstance(i, str) and i.isdigit() and int(i) < 2**53 for i in ids), ids
    assert len(set(ids)) == 3 and int(ids[2]) == int(ids[0]) + 1
    assert first.client_id != second.client_id
    assert re.fullmatch(r"fuota-[^-]+-\d+-[0-9a-f]{6}", first.client_id)
    assert mqtt_client_id("fuota") != mqtt_client_id("fuota")


def test_a_daemon_and_two_plans_at_once_share_the_broker(tmp_path: Path, mqtt_broker: Broker) -> None:
    euis = fleet_euis(30, seed=11)
    spread = {g: euis[i :: len(GATEWAYS)] for i, g in enumerate(GATEWAYS)}
    with MilesightSim(mqtt_broker.url, spread, loss=0.02, speed=10, timing=TIMING, seed=4):
        write_config(tmp_path, milesight(mqtt_broker.url, GATEWAYS, timeout=2))
        write_milesight_campaign(tmp_path, "ms", euis, firmware=FIRMWARE)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        daemon = start_daemon(tmp_path)
        try:
            # The plans connect while the daemon's connection is in use: once its tasks exist, until it ends.
            wait_for(lambda: _tasks_created(tmp_path), 60, "the daemon creating the tasks", every=0.1)
            command = [sys.executable, "-m", "fuota", "--config", str(tmp_path / "fuota.toml"), "plan", "c.toml"]
            pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
            plans = [subprocess.Popen(command, cwd=tmp_path, **pipes) for _ in "ab"]
            for plan in plans:
                _, err = plan.communicate(timeout=120)
                assert plan.returncode == 0, err.decode()[-2000:]
            with Store(sqlite_url(tmp_path)) as store:
                assert store.campaign("ms").state is CampaignState.RUNNING  # the daemon was connected throughout
            assert wait_campaign(sqlite_url(tmp_path), "ms", timeout=120) is CampaignState.DONE
            stop_daemon(daemon, within=10)
        finally:
            kill_daemon(daemon)
    log = (mqtt_broker.folder / f"mosquitto-{mqtt_broker.port}.log").read_text()
    assert "already connected, closing old connection" not in log
    fuota_ids = set(re.findall(r"as (fuota-[^ ]+)", log))
    assert len(fuota_ids) >= 3, log[-3000:]  # the daemon's, each plan's (and the launch's): all different


def _tasks_created(folder: Path) -> bool:
    with Store(sqlite_url(folder)) as store:
        record = store.campaign("ms")
        return record is not None and all(d.backend_ref for d in store.deployments(record.id))
