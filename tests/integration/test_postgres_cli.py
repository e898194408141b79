"""The real `fuota` command with its store on the session's PostgreSQL server, against the IoTSquare simulator.

The store's own suite (tests/integration/test_store.py) runs on PostgreSQL too; this checks that the command line,
from a URL in the configuration to the reports, works the same with a server database as with a SQLite file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import Store
from tests.support.cli_helpers import fuota, start_run, wait_for_state
from tests.support.config_files import iotsquare, write_campaign, write_config
from tests.support.postgres import PASSWORD, PASSWORD_ROLE, PostgresServer

FIRMWARE = np.random.default_rng(43).bytes(1500)


def test_a_campaign_runs_to_done_on_postgresql_and_no_output_shows_the_password(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database(owner=PASSWORD_ROLE)
    euis = fleet_euis(20, seed=21)
    with IoTSquareSim(devices=euis, loss=0.05, speed=400, join_delay=20, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, iotsquare(sim.url), store_url=url)
        write_campaign(tmp_path, "pg", euis, firmware=FIRMWARE, join_timeout=3)
        run = fuota(tmp_path, "run", "c.toml")
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        status = fuota(tmp_path, "status", "pg", "--json")
        listed = fuota(tmp_path, "list")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["state"] == "Done"
    assert {d["dev_eui"] for d in report["devices"]} == set(euis)
    assert report["outcomes"]["updated"] >= 18
    assert listed.returncode == 0 and "pg" in listed.stdout and "Done" in listed.stdout
    assert not (tmp_path / "fuota.db").exists()  # the store really was the server
    with Store(url) as store:
        assert store.firmware(store.campaign("pg").id) == FIRMWARE
    assert all(PASSWORD not in o.stdout + o.stderr for o in (run, status, listed))


def test_a_second_process_follows_a_run_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    euis = fleet_euis(30, seed=22)
    # EnqueueFragment lasts some real seconds at this speed: room for a second process to read the store.
    with IoTSquareSim(devices=euis, loss=0.05, speed=20, join_delay=10, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, iotsquare(sim.url), store_url=postgres_url)
        write_campaign(tmp_path, "followed", euis, firmware=FIRMWARE, join_timeout=5)
        run = start_run(tmp_path)
        try:
            wait_for_state(tmp_path, "EnqueueFragment", store_url=postgres_url)
            during = fuota(tmp_path, "status", "followed", "--json")
            assert run.wait(timeout=120) == 0, run.stderr.read()[-2000:]
        finally:
            run.kill()
            run.wait()
    assert during.returncode == 0, during.stderr
    assert json.loads(during.stdout)["state"] == "Running"
    assert json.loads(fuota(tmp_path, "status", "followed", "--json").stdout)["state"] == "Done"


def test_an_unreachable_server_is_refused_naming_the_url_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://fuota:{PASSWORD}@127.0.0.1:1/fuota"
    write_config(tmp_path, iotsquare("http://127.0.0.1:1"), store_url=url)
    result = fuota(tmp_path, "list")
    assert result.returncode == 2
    assert "postgresql+psycopg://fuota:***@127.0.0.1:1/fuota" in result.stderr and "server runs" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
