"""The firmware's sha256 is recorded at launch and checked again before each task is created: a changed file or a
damaged stored copy stops the campaign with that reason, before anything is sent; a file that is gone is no
reason to stop."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from fuota.core.model import CampaignState
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from tests.support.cli_helpers import fuota
from tests.support.config_files import iotsquare, sqlite_url, write_campaign, write_config
from tests.support.daemons import start_daemon, stop_daemon, wait_campaign

FIRMWARE = np.random.default_rng(48).bytes(1500)


def _launch(folder: Path, sim: IoTSquareSim, euis: list[str]) -> None:
    write_config(folder, iotsquare(sim.url))
    write_campaign(folder, "fw", euis, firmware=FIRMWARE, join_timeout=2)
    assert fuota(folder, "launch", "c.toml").returncode == 0


def _drive(folder: Path) -> tuple[CampaignState, dict]:
    daemon = start_daemon(folder)
    try:
        state = wait_campaign(sqlite_url(folder), "fw", timeout=60)
    finally:
        assert stop_daemon(daemon).code == 0
    return state, json.loads(fuota(folder, "status", "fw", "--json").stdout)


def test_a_firmware_file_changed_after_launch_stops_the_campaign_before_the_create(tmp_path: Path) -> None:
    euis = fleet_euis(10, seed=49)
    with IoTSquareSim(devices=euis, speed=50, join_delay=1, fragment_interval=2) as sim:
        _launch(tmp_path, sim, euis)
        (tmp_path / "fw.bin").write_bytes(FIRMWARE[:-1] + b"\x00")
        state, status = _drive(tmp_path)
        assert sim.calls["fuota/create"] == 0
    assert state is CampaignState.FAILED
    assert "fw.bin changed since launch" in json.dumps(status)
    assert all("changed since launch" in d["reason"] for d in status["devices"])


def test_a_damaged_stored_copy_stops_the_campaign(tmp_path: Path) -> None:
    euis = fleet_euis(10, seed=50)
    with IoTSquareSim(devices=euis, speed=50, join_delay=1, fragment_interval=2) as sim:
        _launch(tmp_path, sim, euis)
        with sqlite3.connect(tmp_path / "fuota.db") as db:
            db.execute("UPDATE campaigns SET firmware = ?", (FIRMWARE[:-1] + b"\x00",))
        state, status = _drive(tmp_path)
        assert sim.calls["fuota/create"] == 0
    assert state is CampaignState.FAILED
    assert "the store is damaged" in json.dumps(status)


def test_a_firmware_file_removed_after_launch_is_no_reason_to_stop(tmp_path: Path) -> None:
    euis = fleet_euis(10, seed=51)
    with IoTSquareSim(devices=euis, speed=50, join_delay=1, fragment_interval=2) as sim:
        _launch(tmp_path, sim, euis)
        (tmp_path / "fw.bin").unlink()
        state, _ = _drive(tmp_path)
        assert sim.calls["fuota/create"] == 1
    assert state is CampaignState.DONE
