"""A campaign through Milesight gateways: the real `fuota` command, a real mosquitto, the gateway simulator.

One deployment per gateway; each virtual device really receives and decodes the fragments, and its session codes
(multicast 0–13, fragment 0–16) come from what really happened.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fuota.sim.iotsquare import fleet_euis
from fuota.sim.milesight import Call, MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota, start_run, wait_for_state
from tests.support.config_files import milesight, write_config, write_milesight_campaign

FIRMWARE = np.random.default_rng(43).bytes(2000)  # 47 fragments of 43 B + 15 coded at 30 %
GATEWAYS = gateway_euis(3, seed=1)
TIMING = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)


def _setup(
    folder: Path, broker: Broker, devices: list[str], *, options: dict | None = None, give_up_after: float = 4
) -> None:
    write_config(folder, milesight(broker.url, GATEWAYS, timeout=1, give_up_after=give_up_after))
    write_milesight_campaign(folder, "ms", devices, firmware=FIRMWARE, milesight=options)


def _fleet(n: int = 600) -> tuple[list[str], dict[str, list[str]]]:
    euis = fleet_euis(n, seed=21)
    return euis, {g: euis[i :: len(GATEWAYS)] for i, g in enumerate(GATEWAYS)}


def _status(folder: Path) -> dict:
    result = fuota(folder, "status", "ms", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _rebuilt(sim: MilesightSim, eui: str) -> bool:
    session = sim.device(eui).session
    return session is not None and session.rebuilt(FIRMWARE)


def _check_outcomes(sim: MilesightSim, status: dict, euis: list[str]) -> dict[str, dict]:
    devices = {d["dev_eui"]: d for d in status["devices"]}
    assert set(devices) == set(euis)
    for eui, device in devices.items():
        assert (device["outcome"] == "updated") == _rebuilt(sim, eui), (eui, device)
    return devices


def test_three_gateways_600_devices(tmp_path: Path, mqtt_broker: Broker) -> None:
    euis, spread = _fleet()
    silent_multicast, low_memory, lossy = set(euis[:2]), set(euis[2:4]), set(euis[4:6])
    loss = {e: (0.9 if e in lossy else 0.03) for e in euis}
    faults = {"never_answer_multicast": silent_multicast, "low_memory": low_memory}
    with MilesightSim(mqtt_broker.url, spread, loss=loss, speed=60, timing=TIMING, seed=2, **faults) as sim:
        _setup(tmp_path, mqtt_broker, euis)
        result = fuota(tmp_path, "run", "c.toml", timeout=240)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        status = _status(tmp_path)
        assert status["state"] == "Done"
        assert sorted(d["target"] for d in status["deployments"]) == sorted(GATEWAYS)  # one per gateway
        devices = _check_outcomes(sim, status, euis)
        for gateway in GATEWAYS:
            assert (
                sim.calls[Call(gateway.upper(), "POST", "/api/fuota/task")]
                + sim.calls[Call(gateway, "POST", "/api/fuota/task")]
                == 1
            )
    for eui in silent_multicast:
        assert devices[eui]["outcome"] != "updated" and "multicast" in devices[eui]["reason"]
    for eui in low_memory:
        assert devices[eui]["outcome"] == "failed" and "memory" in devices[eui]["reason"]
    for eui in lossy:
        assert devices[eui]["outcome"] == "failed" and "fragment" in devices[eui]["reason"]
    assert devices[euis[0]]["raw"]["multicastSessionStatus"] == 6  # the gateway's own codes, verbatim
    assert sum(d["outcome"] == "updated" for d in devices.values()) >= 590


def test_broker_restart_in_the_middle(tmp_path: Path, mqtt_broker: Broker) -> None:
    euis, spread = _fleet(150)
    with MilesightSim(mqtt_broker.url, spread, loss=0.03, speed=15, timing=TIMING, seed=3) as sim:
        _setup(tmp_path, mqtt_broker, euis, give_up_after=60)
        run = start_run(tmp_path)
        try:
            wait_for_state(tmp_path, "EnqueueFragment")
            mqtt_broker.restart(downtime=1.5)
            out, err = run.communicate(timeout=180)
        finally:
            run.kill()
        assert run.returncode == 0, out[-2000:] + err[-2000:]
        status = _status(tmp_path)
        assert status["state"] == "Done"
        _check_outcomes(sim, status, euis)
        for gateway in GATEWAYS:
            creates = (
                sim.calls[Call(gateway.upper(), "POST", "/api/fuota/task")]
                + sim.calls[Call(gateway, "POST", "/api/fuota/task")]
            )
            assert creates == 1  # nothing created twice across the outage


def test_a_silent_gateway_fails_its_deployment_only(tmp_path: Path, mqtt_broker: Broker) -> None:
    euis, spread = _fleet(150)
    with MilesightSim(mqtt_broker.url, spread, loss=0.03, speed=15, timing=TIMING, seed=4) as sim:
        _setup(tmp_path, mqtt_broker, euis)
        run = start_run(tmp_path)
        try:
            wait_for_state(tmp_path, "EnqueueFragment")
            sim.silence(GATEWAYS[1])
            out, err = run.communicate(timeout=180)
        finally:
            run.kill()
        assert run.returncode == 1, out[-2000:] + err[-2000:]
        status = _status(tmp_path)
    states = {d["target"]: d["state"] for d in status["deployments"]}
    assert states[GATEWAYS[1]] == "Failed" and states[GATEWAYS[0]] == states[GATEWAYS[2]] == "Done"
    assert status["state"] == "Failed"
    silent = [d for d in status["devices"] if d["deployment"].endswith(GATEWAYS[1])]
    assert silent and all(d["outcome"] == "failed" and "no answer" in d["reason"] for d in silent)


def _digest(folder: Path) -> str:
    db = folder / "fuota.db"
    return db.read_bytes().hex() if db.exists() else "absent"


@pytest.mark.parametrize(
    ("options", "devices_extra", "gateways_extra", "words"),
    [
        ({"fragment_size": 50}, [], [], ["fragment_size", "50"]),
        ({"fragment_interval": 500}, [], [], ["fragment_interval", "500"]),
        ({}, ["0123456789abcdef"], [], ["0123456789abcdef"]),
        ({"gateways": ["24e124fffe000000"]}, [], [], ["24e124fffe000000"]),
    ],
    ids=["fragment size above payload", "interval", "unknown device", "unknown gateway"],
)
def test_bad_parameters_are_refused_before_anything_is_sent(
    tmp_path: Path,
    mqtt_broker: Broker,
    options: dict,
    devices_extra: list[str],
    gateways_extra: list[str],
    words: list[str],
) -> None:
    euis, spread = _fleet(30)
    with MilesightSim(mqtt_broker.url, spread, speed=15, timing=TIMING) as sim:
        _setup(tmp_path, mqtt_broker, euis + devices_extra, options=options)
        result = fuota(tmp_path, "launch", "c.toml", timeout=120)
        assert result.returncode == 2, result.stdout + result.stderr
        for word in words:
            assert word in result.stderr, result.stderr
        assert _digest(tmp_path) == "absent"
        assert not any(call.method == "POST" for call in sim.calls)
