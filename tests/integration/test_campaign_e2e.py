"""A whole campaign through the real `fuota` command against the IoTSquare simulator over loopback HTTP.

The simulator's virtual devices really receive the coded fragments over their lossy channels and really decode
them; the outcomes fuota reports must be what each device really did.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import Store
from tests.support.cli_helpers import fuota, start_run, wait_for_state
from tests.support.config_files import iotsquare, sqlite_url, write_campaign, write_campaign_file, write_config

FIRMWARE = np.random.default_rng(42).bytes(3000)  # 63 fragments of 48 B + 18 coded at IoTSquare's 30 %


def _status(folder: Path, campaign: str) -> dict:
    result = fuota(folder, "status", campaign, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _really_rebuilt(sim: IoTSquareSim, dev_eui: str) -> bool:
    session = sim.device(dev_eui).session
    return session is not None and session.rebuilt(FIRMWARE)


@pytest.mark.parametrize("busy_rate", [0.0, 0.1])
def test_500_devices_end_done_with_the_outcomes_the_devices_really_had(tmp_path: Path, busy_rate: float) -> None:
    euis = fleet_euis(500, seed=7)
    never_join, lossy = set(euis[:3]), set(euis[3:6])
    loss = {eui: (0.95 if eui in lossy else 0.05) for eui in euis}
    sim = IoTSquareSim(devices=euis, loss=loss, never_join=never_join, busy_rate=busy_rate, speed=400,
                       join_delay=20, phase_time=4, fragment_interval=2, seed=3)  # fmt: skip
    with sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "fleet", euis, firmware=FIRMWARE, join_timeout=3)
        result = fuota(tmp_path, "run", "c.toml", timeout=240)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        status = _status(tmp_path, "fleet")
        assert status["state"] == "Done"
        assert [d["state"] for d in status["deployments"]] == ["Done", "Done"]  # 253 + 247 devices
        devices = {d["dev_eui"]: d for d in status["devices"]}
        assert set(devices) == set(euis)
        for eui, device in devices.items():
            assert (device["outcome"] == "updated") == _really_rebuilt(sim, eui), (eui, device)
        for eui in never_join:
            assert devices[eui]["outcome"] == "unreachable" and "join" in devices[eui]["reason"]
        for eui in lossy:
            assert devices[eui]["outcome"] == "failed" and "missing" in devices[eui]["reason"]
            assert devices[eui]["raw"]["nbFragMissing"] > 0  # the back end's own fields, verbatim
        assert status["outcomes"]["updated"] >= 490
        if not busy_rate:  # with System Busy answers a refused create is a call too
            assert sim.calls["fuota/create"] == 2


def _slow_sim(euis: list[str]) -> IoTSquareSim:
    # EnqueueFragment lasts 81 fragments × 2 simulated s / 20 = about 8 real seconds: room to act in it.
    return IoTSquareSim(devices=euis, loss=0.05, speed=20, join_delay=10, phase_time=4, fragment_interval=2, seed=5)


def test_abort_during_enqueue_fragment(tmp_path: Path) -> None:
    euis = fleet_euis(300, seed=8)
    with _slow_sim(euis) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "stop-me", euis, firmware=FIRMWARE, join_timeout=5)
        run = start_run(tmp_path)
        try:
            wait_for_state(tmp_path, "EnqueueFragment")
            aborted = fuota(tmp_path, "abort", "stop-me")
            assert aborted.returncode == 0, aborted.stderr
            assert run.wait(timeout=60) == 1
        finally:
            run.kill()
        assert sim.calls["fuota/abort"] == 2
        status = _status(tmp_path, "stop-me")
        assert status["state"] == "Aborted"
        assert {d["state"] for d in status["deployments"]} == {"Aborted"}
        stages = {d["stage"] for d in status["devices"]}
        assert "receiving" in stages and "failed" not in stages  # each device keeps its last stage
        assert all(d["outcome"] == "aborted" and "aborted" in d["reason"] for d in status["devices"])
        assert (status["failed"], status["aborted"], status["judged"]) == (0, 300, 0)


def test_killed_run_resumes_without_a_second_create(tmp_path: Path) -> None:
    euis = fleet_euis(300, seed=9)
    with _slow_sim(euis) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "crash", euis, firmware=FIRMWARE, join_timeout=5)
        run = start_run(tmp_path)
        try:
            wait_for_state(tmp_path, "EnqueueFragment")
        finally:
            os.kill(run.pid, signal.SIGKILL)
            run.wait()
        creates = sim.calls["fuota/create"]
        assert creates >= 1
        again = fuota(tmp_path, "run", "c.toml", timeout=240)
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert "resuming" in again.stdout
        assert sim.calls["fuota/create"] == 2  # one per deployment, whatever the crash interrupted
        assert _status(tmp_path, "crash")["state"] == "Done"


def test_existing_multicast_group(tmp_path: Path) -> None:
    # The campaign names a group the operator already has: its members come from mcdevice/list, and fuota
    # neither creates nor deletes a group.
    euis = fleet_euis(40, seed=10)
    group = "cc3e92cea33ac62a"
    with IoTSquareSim(groups={group: euis}, loss=0.05, speed=400, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign_file(
            tmp_path,
            "c.toml",
            image=FIRMWARE,
            name="existing",
            backend="iot",
            redundancy_percent=30,
            iotsquare={"mc_eui": group.upper()},
        )
        result = fuota(tmp_path, "run", "c.toml", timeout=120)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        status = _status(tmp_path, "existing")
        assert status["deployments"][0]["target"] == group
        assert {d["dev_eui"] for d in status["devices"]} == set(euis)
        assert all((d["outcome"] == "updated") == _really_rebuilt(sim, d["dev_eui"]) for d in status["devices"])
        assert sim.calls["mcgroup/create"] == 0 and sim.calls["mcgroup/delete"] == 0


def test_a_start_time_is_waited_for(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    euis = fleet_euis(10, seed=12)
    start = (datetime.now(UTC) + timedelta(seconds=4)).isoformat(timespec="seconds")
    with IoTSquareSim(devices=euis, speed=400, join_delay=20, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "later", euis, firmware=FIRMWARE, start=start)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        assert _status(tmp_path, "later")["state"] == "Scheduled"
        assert sim.calls["mcgroup/create"] == 0  # nothing is sent before the start time
        began = time.monotonic()
        result = fuota(tmp_path, "run", "c.toml")
        assert result.returncode == 0, result.stderr[-2000:]
        assert datetime.now(UTC) >= datetime.fromisoformat(start)
        assert time.monotonic() - began >= 1.0
        assert _status(tmp_path, "later")["state"] == "Done"


def test_retry_runs_the_devices_that_did_not_update(tmp_path: Path) -> None:
    euis = fleet_euis(30, seed=13)
    stuck = set(euis[:2])
    with IoTSquareSim(
        devices=euis, never_join=stuck, speed=400, join_delay=20, phase_time=4, fragment_interval=2
    ) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "first", euis, firmware=FIRMWARE, join_timeout=2)
        assert fuota(tmp_path, "run", "c.toml").returncode == 0  # 28 of 30: above the 0.9 threshold
        assert fuota(tmp_path, "retry", "first").returncode == 1  # the two still never join
        retried = _status(tmp_path, "first.retry1")
        assert {d["dev_eui"] for d in retried["devices"]} == stuck
        assert all(d["outcome"] == "unreachable" for d in retried["devices"])
        assert sim.calls["fuota/create"] == 2
        again = fuota(tmp_path, "retry", "first")
        assert again.returncode == 1 and _status(tmp_path, "first.retry2")["state"] == "Failed"


def test_watch_follows_a_campaign_run_by_another_process(tmp_path: Path) -> None:
    euis = fleet_euis(60, seed=14)
    with _slow_sim(euis) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "watched", euis, firmware=FIRMWARE, join_timeout=5)
        run = start_run(tmp_path)
        try:
            wait_for_state(tmp_path, "Created")
            watched = fuota(tmp_path, "watch", "watched", timeout=120)
            assert run.wait(timeout=60) == 0
        finally:
            run.kill()
    assert watched.returncode == 0, watched.stderr
    assert "watched-1" in watched.stdout and "Done" in watched.stdout and "60/60" in watched.stdout


def test_a_back_end_that_fragments_otherwise_is_an_anomaly(tmp_path: Path) -> None:
    euis = fleet_euis(10, seed=15)
    # The simulator cuts 48-byte fragments; this campaign planned 50: IoTSquare decides, fuota says so.
    with IoTSquareSim(devices=euis, speed=400, join_delay=20, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "odd", euis, firmware=FIRMWARE, join_timeout=2, iotsquare={"frag_size": 50})
        result = fuota(tmp_path, "run", "c.toml")
        assert result.returncode == 0, result.stderr[-2000:]
        anomalies = _status(tmp_path, "odd")["anomalies"]
        assert anomalies and "fragSize = 48, fuota planned 50" in anomalies[0]["cause"]
        assert "anomaly" in result.stdout


def test_no_secret_in_any_output(tmp_path: Path) -> None:
    token, key = "tok-Zq81-secret-9f2c", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    euis = fleet_euis(20, seed=16)
    with IoTSquareSim(
        devices=euis, token=token, never_join=euis[:1], speed=400, join_delay=20, phase_time=4, fragment_interval=2
    ) as sim:
        write_config(tmp_path, iotsquare(sim.url, token=token))
        write_campaign(tmp_path, "secret", euis, firmware=FIRMWARE, join_timeout=2, iotsquare={"gen_app_key": key})
        outputs = [fuota(tmp_path, "run", "c.toml")]
        outputs += [fuota(tmp_path, *args) for args in (("status", "secret", "--json"), ("status",), ("list",))]
        outputs += [fuota(tmp_path, "report", "secret", "--format", fmt) for fmt in ("text", "json", "csv", "html")]
    assert outputs[0].returncode == 0, outputs[0].stderr[-2000:]
    with Store(sqlite_url(tmp_path)) as store:
        events = " ".join(e.cause for e in store.events(store.campaign("secret").id))
    everything = " ".join(o.stdout + o.stderr for o in outputs) + events
    assert token not in everything and key not in everything and key.upper() not in everything
