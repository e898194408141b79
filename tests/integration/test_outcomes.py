"""Outcomes that say what happened, through the real front ends: a campaign aborted before it started is skipped,
not failed, on a real daemon's /metrics, in `status --json` and in the report; one aborted while it ran is aborted."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from fuota.core.model import CampaignState
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from tests.support.cli_helpers import fuota, wait_for_state
from tests.support.config_files import dashboard, iotsquare, sqlite_url, write_campaign, write_config
from tests.support.daemons import start_daemon, stop_daemon, wait_campaign
from tests.support.web_helpers import FIRMWARE, SIM_TOKEN, TOKEN


def _devices_metric(url: str) -> Counter[str]:
    """fuota_devices summed per outcome, from the daemon's /metrics."""
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=10).text)}
    shown: Counter[str] = Counter()
    for sample in families["fuota_devices"].samples:
        shown[sample.labels["outcome"]] += int(sample.value)
    reasons = Counter()
    for sample in families["fuota_device_reasons"].samples:
        reasons[sample.labels["category"], sample.labels["outcome"]] += int(sample.value)
    return shown + Counter({f"{c}/{o}": n for (c, o), n in reasons.items()})


def test_a_campaign_aborted_before_it_started_exports_no_failed_device(tmp_path: Path) -> None:
    euis = fleet_euis(300, seed=61)
    with IoTSquareSim(devices=euis, token=SIM_TOKEN) as sim:
        write_config(tmp_path, iotsquare(sim.url, token=SIM_TOKEN), dashboard(token=TOKEN))
        write_campaign(tmp_path, "later", euis, firmware=FIRMWARE, start="2099-01-01T02:00:00+00:00")
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        daemon = start_daemon(tmp_path, http="127.0.0.1:0")
        try:
            url = daemon.url()
            assert _devices_metric(url)["none"] == 300
            aborted = fuota(tmp_path, "abort", "later")
            assert aborted.returncode == 0, aborted.stderr
            shown = _devices_metric(url)
        finally:
            assert not stop_daemon(daemon, within=15).killed
        assert sim.calls["fuota/create"] == 0
    assert shown["skipped"] == 300 and shown["aborted/skipped"] == 300
    assert shown["failed"] == shown["unreachable"] == shown["none"] == 0
    status = json.loads(fuota(tmp_path, "status", "later", "--json").stdout)
    assert (status["state"], status["skipped"], status["failed"], status["judged"]) == ("Aborted", 300, 0, 0)
    assert [(r["category"], r["devices"], r["outcomes"], r["failures"]) for r in status["reasons"]] == [
        ("aborted", 300, {"skipped": 300}, 0)
    ]
    assert {d["outcome"] for d in status["devices"]} == {"skipped"}
    text = fuota(tmp_path, "status", "later").stdout
    assert "failed 0, unreachable 0, aborted 0, skipped 300" in text and "why devices did not update" in text
    report = fuota(tmp_path, "report", "later").stdout
    assert "0 failed, 0 unreachable, 0 aborted, 300 skipped" in report
    assert "stopped by the operator (aborted): 300 skipped" in report


def test_a_campaign_aborted_while_it_runs_leaves_its_devices_aborted(tmp_path: Path) -> None:
    euis = fleet_euis(60, seed=62)
    sim = IoTSquareSim(devices=euis, loss=0.05, speed=20, join_delay=10, phase_time=4, fragment_interval=2, seed=5)
    with sim:
        write_config(tmp_path, iotsquare(sim.url), dashboard(token=TOKEN))
        write_campaign(tmp_path, "busy", euis, firmware=FIRMWARE, join_timeout=5)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        daemon = start_daemon(tmp_path, http="127.0.0.1:0")
        try:
            url = daemon.url()
            wait_for_state(tmp_path, "EnqueueFragment")
            assert fuota(tmp_path, "abort", "busy").returncode == 0
            assert wait_campaign(sqlite_url(tmp_path), "busy", timeout=30) is CampaignState.ABORTED
            shown = _devices_metric(url)
        finally:
            assert not stop_daemon(daemon, within=15).killed
    assert shown["aborted"] == 60 and shown["failed"] == shown["unreachable"] == shown["skipped"] == 0
    status = json.loads(fuota(tmp_path, "status", "busy", "--json").stdout)
    assert {(d["outcome"], d["category"]) for d in status["devices"]} == {("aborted", "aborted")}
    assert all(d["reason"].startswith("campaign aborted while the device was at stage") for d in status["devices"])
