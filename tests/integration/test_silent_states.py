"""No silent states, through the real `fuota` command: a future start and a window show in launch, list and status;
status and watch say when no daemon drives a campaign; a refused token before any task ends the campaign Failed
with the reason (`fuota run` and the daemon); a changed campaign file is refused on relaunch unless `--update`
while Scheduled; without a configuration no store is created; `--version`; help without `<bool>`."""

from __future__ import annotations

import json
import os
import re
import select
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from fuota.cli.app import app
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import Store
from fuota.web import create_app
from fuota.web.server import Dashboard
from tests.support.cli_helpers import fuota
from tests.support.config_files import iotsquare, sqlite_url, write_campaign, write_config
from tests.support.daemons import start_daemon, stop_daemon, wait_campaign

FIRMWARE = np.random.default_rng(14).bytes(3000)
WINDOW = {"days": ["sat", "sun"], "start": "22:00", "end": "04:00", "timezone": "Europe/Paris"}


def _json(folder: Path, *args: str) -> dict | list:
    result = fuota(folder, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _in_the_past(folder: Path, seconds: float) -> None:
    """Move every stamp of the store `seconds` back, as if the campaigns had been launched that long ago."""
    with sqlite3.connect(folder / "fuota.db") as db:
        for table in ("campaigns", "deployments"):
            db.execute(f"UPDATE {table} SET created_at = datetime(created_at, '-{seconds:.0f} seconds')")
            db.execute(f"UPDATE {table} SET updated_at = datetime(updated_at, '-{seconds:.0f} seconds')")


def test_a_future_start_and_a_window_show_in_launch_list_and_status(tmp_path: Path) -> None:
    euis = fleet_euis(4, seed=1)
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    with IoTSquareSim(devices=euis) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "weekend", euis, firmware=FIRMWARE, start=start.isoformat(), window=WINDOW)
        launched = fuota(tmp_path, "launch", "c.toml")
    assert launched.returncode == 0, launched.stderr
    assert "window sat,sun 22:00–04:00 (overnight) Europe/Paris" in launched.stdout
    assert "next opening" in launched.stdout
    status = _json(tmp_path, "status", "weekend")
    (row,) = _json(tmp_path, "list")
    opening = datetime.fromisoformat(status["next_opening_at"])
    assert status["state"] == "Scheduled" and status["start_at"] == start.isoformat()
    assert opening >= start and opening.astimezone().weekday() in (4, 5, 6)  # Fri–Sun in UTC for a Paris weekend
    for key in ("start_at", "window", "window_open", "next_opening_at"):
        assert row[key] == status[key]
    text = fuota(tmp_path, "status", "weekend").stdout
    assert f"next opening {opening.strftime('%Y-%m-%d %H:%M:%S')} UTC" in text


def test_status_and_watch_say_when_no_daemon_drives_the_campaign(tmp_path: Path) -> None:
    euis = fleet_euis(3, seed=2)
    with IoTSquareSim(devices=euis) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "orphan", euis, firmware=FIRMWARE)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
    assert _json(tmp_path, "status", "orphan")["undriven_seconds"] is None  # a daemon has a lease's time
    _in_the_past(tmp_path, 300)
    status = _json(tmp_path, "status", "orphan")
    assert status["driven_by"] == [] and 300 <= status["undriven_seconds"] < 400
    assert "no daemon has driven this campaign for 3" in fuota(tmp_path, "status", "orphan").stdout
    assert "no daemon has driven this campaign" in fuota(tmp_path, "list").stdout
    watch = subprocess.Popen(
        [sys.executable, "-m", "fuota", "--config", str(tmp_path / "fuota.toml"), "watch", "orphan"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "warning: no daemon has driven this campaign for 3" in _stderr_line(watch, "warning:", 60)
        assert watch.poll() is None  # and it goes on watching: a daemon started now would still be seen
    finally:
        watch.kill()
        watch.wait()


def _stderr_line(process: subprocess.Popen, start: str, timeout: float) -> str:
    """The first line of the process's stderr that begins with `start`; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([process.stderr], [], [], left)
        line = process.stderr.readline() if ready else ""
        if line.startswith(start):
            return line
        assert line or not ready, f"stderr closed before a line beginning {start!r}"
    raise AssertionError(f"no line beginning {start!r} on stderr within {timeout} s")


def test_a_refused_token_before_any_task_fails_the_run_with_the_reason(tmp_path: Path) -> None:
    euis = fleet_euis(5, seed=11)
    with IoTSquareSim(devices=euis, speed=400) as sim:
        write_config(tmp_path, iotsquare(sim.url, token="not-the-token"))
        write_campaign(tmp_path, "locked", euis, firmware=FIRMWARE)
        result = fuota(tmp_path, "run", "c.toml")
        assert sim.calls["fuota/create"] == 0
    assert result.returncode == 1, result.stderr
    assert "not-the-token" not in result.stdout + result.stderr
    with Store(sqlite_url(tmp_path)) as store:
        record = store.campaign("locked")
        assert record is not None and str(record.state) == "Failed"
        (ended,) = [e for e in store.events(record.id) if e.deployment_id is None and e.to_state == "Failed"]
    assert "refused fuota's credentials before any task existed" in ended.cause and "1004" in ended.cause


def test_a_refused_token_before_any_task_fails_the_campaign_in_the_daemon(tmp_path: Path) -> None:
    euis = fleet_euis(5, seed=12)
    with IoTSquareSim(devices=euis, speed=400) as sim:
        write_config(tmp_path, iotsquare(sim.url, token="not-the-token"))
        write_campaign(tmp_path, "locked", euis, firmware=FIRMWARE)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        daemon = start_daemon(tmp_path)
        try:
            assert str(wait_campaign(sqlite_url(tmp_path), "locked", timeout=60)) == "Failed"
        finally:
            stopped = stop_daemon(daemon)
    assert stopped.code == 0 and "transitions.core" not in stopped.log
    assert "refused fuota's credentials" in _json(tmp_path, "status", "locked")["devices"][0]["reason"]


def test_a_changed_file_is_refused_and_updated_only_with_update_while_scheduled(tmp_path: Path) -> None:
    euis = fleet_euis(6, seed=3)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    with IoTSquareSim(devices=euis) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "tuned", euis[:4], firmware=FIRMWARE, start=later)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        before = (tmp_path / "fuota.db").read_bytes()
        write_campaign(tmp_path, "tuned", euis, firmware=FIRMWARE, start=later, redundancy_percent=50)
        refused = fuota(tmp_path, "launch", "c.toml")
        said = " ".join(refused.stderr.split())
        assert refused.returncode == 2
        assert "redundancy_percent: 30.0 → 50.0" in said and "devices: 4 → 6 (2 added" in said
        assert "Nothing was changed" in said and "`fuota launch --update FILE`" in said
        assert (tmp_path / "fuota.db").read_bytes() == before  # nothing changed
        updated = fuota(tmp_path, "launch", "c.toml", "--update")
        assert updated.returncode == 0, updated.stderr
        assert "updated redundancy_percent: 30.0 → 50.0" in updated.stdout
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0  # the file and the store agree now
    status = _json(tmp_path, "status", "tuned")
    assert status["redundancy_percent"] == 50 and len(status["devices"]) == 6 and status["state"] == "Scheduled"
    assert [(d["task_name"], d["devices"]) for d in status["deployments"]] == [("tuned-1", 6)]


def test_a_changed_file_of_a_started_campaign_is_refused_even_with_update(tmp_path: Path) -> None:
    euis = fleet_euis(4, seed=4)
    with IoTSquareSim(devices=euis, speed=400, join_delay=20, phase_time=4, fragment_interval=2) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "begun", euis, firmware=FIRMWARE, join_timeout=2)
        assert fuota(tmp_path, "run", "c.toml").returncode == 0
        write_campaign(tmp_path, "begun", euis, firmware=FIRMWARE, join_timeout=2, redundancy_percent=50)
        refused = fuota(tmp_path, "launch", "c.toml", "--update")
    assert refused.returncode == 2 and "already ended" in " ".join(refused.stderr.split())


_COMMANDS = [
    ("list",),
    ("status",),
    ("watch",),
    ("report",),
    ("daemon",),
    ("abort", "1"),
    ("retry", "1"),
    ("plan", "c.toml"),
    ("launch", "c.toml"),
    ("run", "c.toml"),
]


def _bare_fuota(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`fuota ARGS` in `folder` with no --config and none of fuota's variables but `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FUOTA_")}
    return subprocess.run(
        [sys.executable, "-m", "fuota", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "COLUMNS": "200", **env},
        check=False,
    )


@pytest.mark.parametrize("command", _COMMANDS, ids=lambda c: c[0])
def test_without_a_configuration_nothing_is_created_and_the_paths_tried_are_named(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "c.toml").write_text('name = "x"\n')
    result = _bare_fuota(tmp_path, *command)
    assert result.returncode == 2, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert "no configuration file found; tried --config (not given), $FUOTA_CONFIG (not set)" in said
    assert f"./fuota.toml ({tmp_path / 'fuota.toml'}: no such file)" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_a_named_store_works_without_a_configuration(tmp_path: Path) -> None:
    elsewhere = tmp_path / "kept"
    elsewhere.mkdir()
    url = f"sqlite:///{elsewhere / 'fuota.db'}"
    assert _bare_fuota(tmp_path, "--store", url, "list").returncode == 0
    assert _bare_fuota(tmp_path, "list", FUOTA_STORE_URL=url).returncode == 0
    assert not (tmp_path / "fuota.db").exists() and (elsewhere / "fuota.db").exists()


def test_version_and_help_without_bool_placeholders(tmp_path: Path) -> None:
    version = _bare_fuota(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("fuota 0.")
    # Help is the same in this process (a subprocess each would cost a second on a busy machine).
    for command in ("", "plan", "launch", "run", "status", "list", "watch", "report", "daemon", "sim iotsquare"):
        shown = CliRunner().invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0 and "Usage:" in shown.stdout, command
        assert "<bool>" not in shown.stdout, command
        assert command != "status" or "--json" in shown.stdout


def test_the_dashboard_shows_the_schedule_the_zone_and_an_undriven_campaign(tmp_path: Path) -> None:
    euis = fleet_euis(4, seed=5)
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    with IoTSquareSim(devices=euis) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "weekend", euis, firmware=FIRMWARE, start=start.isoformat(), window=WINDOW)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
    _in_the_past(tmp_path, 120)
    with Store(sqlite_url(tmp_path)) as store:
        dashboard = Dashboard(create_app(store), "127.0.0.1", 0).start()
        try:
            api = httpx.get(f"{dashboard.url}/api/campaigns/1", timeout=10).json()
            page = httpx.get(f"{dashboard.url}/campaigns/1", timeout=10).text
            listing = httpx.get(f"{dashboard.url}/campaigns", timeout=10).text
        finally:
            dashboard.stop()
    opening = datetime.fromisoformat(api["next_opening_at"]).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert api["start_at"] == start.isoformat() and 120 <= api["undriven_seconds"] < 200
    assert f"next opening {opening}" in page and "window sat,sun 22:00–04:00 (overnight) Europe/Paris" in page
    assert 'id="campaign-undriven"' in page and "no daemon has driven this campaign for 1" in page
    assert opening in listing and "not driven" in listing
    assert re.search(r"created \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)  # every time says its zone
