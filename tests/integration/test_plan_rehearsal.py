"""`fuota plan` is what gets sent, and a dry run that checks what it can: the real `fuota` command against both
simulators (IoTSquare over loopback HTTP, Milesight gateways on a real mosquitto).

A rehearsal confirms the forecast: each simulator paces fragments as its real server would for that plan (the
IoTSquare server at the duty-cycle minimum of the region's RX2 data rate, a Milesight gateway at the task's
fragmentInterval), so the fragment phase the simulator ran, read on its simulated clock, is within 10 % of the plan's
send_duration_s.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

import numpy as np

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota
from tests.support.config_files import iotsquare, milesight, write_campaign, write_config, write_milesight_campaign

FIRMWARE = np.random.default_rng(61).bytes(2000)  # IoTSquare: 42 fragments of 48 B + 12 coded at 30 %
GATEWAYS = gateway_euis(2, seed=4)
TIMING = Timing(multicast_setup=4, fragment_setup=2, status_report=2, upgrade=2)


def _plan(folder: Path, *args: str) -> dict:
    result = fuota(folder, "plan", "c.toml", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _within_10_percent(simulated: float, forecast: float) -> None:
    assert abs(simulated - forecast) <= 0.1 * forecast, (simulated, forecast)


def test_an_iotsquare_rehearsal_confirms_the_estimated_forecast(tmp_path: Path) -> None:
    euis = fleet_euis(6, seed=61)
    with IoTSquareSim(devices=euis, speed=3000, join_delay=2, phase_time=2) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "rehearsal", euis, firmware=FIRMWARE, join_timeout=5)
        data = _plan(tmp_path)
        plan = data["deployments"][0]["plan"]
        assert data["estimated"] is True and plan["estimated"] is True  # IoTSquare paces by itself
        assert plan["interval_ms"] == plan["min_interval_ms"] and plan["duty_cycle"]["ok"] is True
        assert any("reachable, token accepted" in line for line in data["checks"])
        assert any("6 devices registered" in line for line in data["checks"])
        assert data["total_duration_s"] >= plan["send_duration_s"] and data["finish_at"]
        assert sim.calls["fuota/create"] == 0 and sim.calls["mcgroup/create"] == 0  # a dry run sends nothing
        assert not (tmp_path / "fuota.db").exists()  # and stores nothing
        result = fuota(tmp_path, "run", "c.toml")
        assert result.returncode == 0, result.stderr
        [(name, start, end)] = sim.fragment_phases
    assert name.startswith("rehearsal")
    _within_10_percent(end - start, plan["send_duration_s"])


def test_a_milesight_rehearsal_keeps_the_interval_sent_and_flags_the_duty_cycle(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    euis = fleet_euis(8, seed=62)
    spread = {g: euis[i :: len(GATEWAYS)] for i, g in enumerate(GATEWAYS)}
    with MilesightSim(mqtt_broker.url, spread, speed=400, timing=TIMING) as sim:
        write_config(tmp_path, milesight(mqtt_broker.url, GATEWAYS, timeout=2))
        write_milesight_campaign(tmp_path, "ms", euis, firmware=FIRMWARE, milesight={"fragment_interval": 5000})
        data = _plan(tmp_path)
        plan = data["deployments"][0]["plan"]
        # What the gateway is told is what the forecast uses, even where the duty cycle needs longer (EU868 DR0).
        assert data["estimated"] is False and plan["interval_ms"] == 5000
        assert plan["send_duration_s"] == (plan["nb_frag"] + plan["redundancy"]) * 5
        cycle = plan["duty_cycle"]
        assert cycle["ok"] is False and cycle["send_duration_s"] > plan["send_duration_s"]
        # No fragment is short enough at SF12 for 5 s (a preamble alone takes 0.4 s of air): a faster data rate is.
        assert cycle["fixes"]["dr"] > 0 and "fragment_size" not in cycle["fixes"]
        assert [w["kind"] for w in data["warnings"]] == ["duty_cycle"]
        assert "fragment_interval = 5000 ms" in data["warnings"][0]["text"]
        text = fuota(tmp_path, "plan", "c.toml")
        assert text.returncode == 0 and "may breach the duty cycle" in " ".join(text.stdout.split())
        result = fuota(tmp_path, "run", "c.toml")
        assert result.returncode == 0, result.stderr
        assert "may breach the duty cycle" in " ".join(result.stderr.split())  # said again at launch
        phases = sim.fragment_phases
    assert len(phases) == len(GATEWAYS)
    for _, start, end in phases:
        _within_10_percent(end - start, plan["send_duration_s"])


def test_strict_duty_cycle_refuses_the_breach_and_stores_nothing(tmp_path: Path, mqtt_broker: Broker) -> None:
    euis = fleet_euis(4, seed=63)
    with MilesightSim(mqtt_broker.url, {GATEWAYS[0]: euis}, speed=0):
        write_config(tmp_path, milesight(mqtt_broker.url, GATEWAYS[:1], timeout=2))
        write_milesight_campaign(tmp_path, "ms", euis, firmware=FIRMWARE, milesight={"fragment_interval": 5000})
        for command in ("plan", "launch"):
            refused = fuota(tmp_path, command, "c.toml", "--strict-duty-cycle")
            message = " ".join(refused.stderr.split())
            assert refused.returncode == 2, refused.stderr
            assert "--strict-duty-cycle" in message and "fragment_interval = 5000 ms" in message and "dr = " in message
        assert not (tmp_path / "fuota.db").exists()
        # The same rule from the back end's configuration; a legal interval at a faster data rate passes it.
        write_config(tmp_path, milesight(mqtt_broker.url, GATEWAYS[:1], timeout=2, strict_duty_cycle=True))
        refused = fuota(tmp_path, "launch", "c.toml")
        assert refused.returncode == 2 and "strict_duty_cycle = true" in " ".join(refused.stderr.split())
        legal = {"fragment_interval": 5000, "dr": 3}
        write_milesight_campaign(tmp_path, "ms", euis, firmware=FIRMWARE, milesight=legal)
        data = _plan(tmp_path)
        assert data["strict_duty_cycle"] is True and data["warnings"] == []
        assert data["deployments"][0]["plan"]["duty_cycle"]["ok"] is True


def test_plan_checks_the_iotsquare_server_and_names_what_is_wrong(tmp_path: Path) -> None:
    euis = fleet_euis(5, seed=64)
    stranger = "00000000000000aa"
    group = "cc3e92cea33ac62a"
    with IoTSquareSim(devices=euis[:4], groups={group: euis[:2]}, speed=0) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "checks", [*euis[:4], stranger], firmware=FIRMWARE)
        unknown = fuota(tmp_path, "plan", "c.toml")
        assert unknown.returncode == 2 and stranger in unknown.stderr and "not registered" in unknown.stderr
        write_config(tmp_path, iotsquare(sim.url, token="wrong"))
        refused = fuota(tmp_path, "plan", "c.toml")
        assert refused.returncode == 2 and "backends.iot.token" in refused.stderr
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "checks", [], firmware=FIRMWARE, iotsquare={"mc_eui": "cc3e92cea33ac62b"})
        missing = fuota(tmp_path, "plan", "c.toml")
        assert missing.returncode == 2 and "mc_eui = 'cc3e92cea33ac62b'" in " ".join(missing.stderr.split())
        write_campaign(tmp_path, "checks", [], firmware=FIRMWARE, iotsquare={"mc_eui": group})
        data = _plan(tmp_path)
        assert any(f"multicast group {group}: 2 members, 2 joined" in line for line in data["checks"])
        assert sim.calls["fuota/create"] == sim.calls["mcgroup/create"] == sim.calls["mcdevice/create"] == 0
    write_config(tmp_path, iotsquare("http://127.0.0.1:9"))  # nothing listens there
    down = fuota(tmp_path, "plan", "c.toml")
    assert down.returncode == 2 and "check base_url" in " ".join(down.stderr.split())


def test_a_forecast_below_the_success_threshold_is_warned_with_the_redundancy_that_reaches_it(tmp_path: Path) -> None:
    euis = fleet_euis(3, seed=65)
    with IoTSquareSim(devices=euis, speed=0) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "lossy", euis, firmware=FIRMWARE, success_threshold=0.9)
        data = _plan(tmp_path, "--loss", "0.25")
        [warning] = data["warnings"]
        plan = data["deployments"][0]["plan"]
        assert warning["kind"] == "success_threshold" and plan["p_decode"] < 0.9
        assert plan["below_threshold"]["p_decode"] >= 0.9
        percent = warning["fixes"]["redundancy_percent"]
        assert 30 < percent <= 100 and f"redundancy_percent = {percent}" in warning["text"]
        text = fuota(tmp_path, "plan", "c.toml", "--loss", "0.25").stdout
        assert "below success_threshold = 0.9" in " ".join(text.split())
        # The redundancy it names does reach the threshold when planned.
        write_campaign(tmp_path, "lossy", euis, firmware=FIRMWARE, success_threshold=0.9, redundancy_percent=percent)
        better = _plan(tmp_path, "--loss", "0.25")
        assert better["warnings"] == [] and better["deployments"][0]["plan"]["p_decode"] >= 0.9


def test_plan_target_shows_its_progress_on_a_terminal_only(tmp_path: Path) -> None:
    euis = fleet_euis(3, seed=66)
    with IoTSquareSim(devices=euis, speed=0) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "target", euis, firmware=FIRMWARE)
        args = ["plan", "c.toml", "--json", "--target", "0.95", "--loss", "0.25"]
        command = [sys.executable, "-m", "fuota", "--config", str(tmp_path / "fuota.toml"), *args]
        leader, follower = os.openpty()  # stderr on a terminal, stdout a pipe: the bar goes to stderr only
        try:
            result = subprocess.run(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=follower, timeout=120)
            os.close(follower)
            shown = b""
            while select.select([leader], [], [], 0.5)[0]:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
        finally:
            os.close(leader)
        assert result.returncode == 0
        assert json.loads(result.stdout)["recommendations"][0]["redundancy"] is not None
        assert b"forecasting" in shown
        piped = fuota(tmp_path, *args)
        assert piped.returncode == 0 and "forecasting" not in piped.stderr
