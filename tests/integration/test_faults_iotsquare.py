"""Back-end fault storms against the IoTSquare simulator: 5xx and System Busy, answers slower than the timeout,
connections dropped mid-answer, bodies that are not JSON and envelopes of the wrong types.

Whatever the back end does, the runner and the daemon go on: a deployment either retries until the storm passes and
ends Done, or fails with the reason naming the fault once give_up_after has passed. Every retry the runner makes is
in `fuota status --json` (count and last cause) and in the logs. The adapter's own retries are bounded by
give_up_after (fuota.backends.registry), so a small give_up_after keeps each storm to seconds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from fuota.backends.base import TaskRef, TaskSpec
from fuota.backends.errors import MalformedAnswer, TransientError
from fuota.backends.iotsquare.adapter import IoTSquareBackend
from fuota.campaign import load_campaign
from fuota.cli.app import app
from fuota.config import load_config
from fuota.core.model import CampaignState
from fuota.service import campaigns as service
from fuota.sim.iotsquare import Faults, IoTSquareSim, fleet_euis
from fuota.sim.iotsquare_faults import Fate
from fuota.store import EventKind, Store
from fuota.views.model import status_data
from tests.support.cli_helpers import fuota, start_run
from tests.support.config_files import Table, iotsquare, sqlite_url, write_campaign, write_config
from tests.support.daemons import start_daemon, stop_daemon, wait_campaign
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(46).bytes(3000)
FAST = {"speed": 400, "join_delay": 20, "phase_time": 4, "fragment_interval": 2}
GIVE_UP = 2  # seconds: the runner's give_up_after; the adapter retries within one call for half of it
# A storm's give_up_after: the test must see the runner's retry and mend the back end before it is spent, and a
# loaded machine (CI: 2 cores, 2 workers) may take a second or two to do so.
STORM_GIVE_UP = 8


def _backend(url: str, name: str = "iot", give_up_after: float = GIVE_UP) -> Table:
    return iotsquare(url, name=name, timeout=0.5, give_up_after=give_up_after)


def _status(folder: Path, campaign: str) -> dict:
    """What `fuota status CAMPAIGN --json` prints (read in this process: a subprocess costs a second)."""
    with Store(f"sqlite:///{folder / 'fuota.db'}") as store:
        record = store.campaign(campaign)
        assert record is not None
        return json.loads(json.dumps(status_data(store, record.id), default=str))


def _run(folder: Path, sim: IoTSquareSim, name: str, euis: list[str]) -> tuple[subprocess.CompletedProcess, dict]:
    write_config(folder, _backend(sim.url))
    write_campaign(folder, name, euis, firmware=FIRMWARE, join_timeout=2)
    result = fuota(folder, "run", "c.toml", timeout=120)
    return result, _status(folder, name)


def _retried(folder: Path) -> list[str]:
    """The causes of the failures the runner recorded and will retry ("retry" events), of the newest campaign."""
    if not (folder / "fuota.db").exists():
        return []
    with Store(f"sqlite:///{folder / 'fuota.db'}") as store:
        records = store.campaigns()
        return [e.cause for e in store.events(records[0].id, kind=EventKind.RETRY)] if records else []


def _storm(folder: Path, sim: IoTSquareSim, faults: Faults, name: str, euis: list[str]) -> tuple[str, dict]:
    """Run a campaign under `faults` until the runner has recorded a failure it will retry, then mend the back end:
    a storm that outlasts the adapter's own retries, whatever their jittered timing. The run's output, the status."""
    write_config(folder, _backend(sim.url, give_up_after=STORM_GIVE_UP))
    write_campaign(folder, name, euis, firmware=FIRMWARE, join_timeout=2)
    sim.faults.set(faults)
    run = start_run(folder)
    try:
        wait_for(lambda: _retried(folder) or run.poll() is not None, 30, "the runner recording a retry")
        sim.faults.clear()
        out, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 0, out[-3000:] + err[-3000:]
    return out + err, _status(folder, name)


def _rebuilt(sim: IoTSquareSim, status: dict) -> bool:
    return all(
        (d["outcome"] == "updated") == sim.device(d["dev_eui"]).session.rebuilt(FIRMWARE) for d in status["devices"]
    )


def test_a_storm_of_5xx_and_system_busy_passes_and_the_campaign_ends_done(tmp_path: Path) -> None:
    euis = fleet_euis(30, seed=50)
    with IoTSquareSim(devices=euis, seed=1, **FAST) as sim:
        output, status = _storm(tmp_path, sim, Faults(error_rate=0.7, busy_rate=0.3), "storm", euis)
        assert status["state"] == "Done" and _rebuilt(sim, status)
        assert {kind for kind, _ in sim.faults.injected} == {"error", "busy"}
        assert sim.done["mcgroup/create"] == 1 and sim.done["fuota/create"] == 1  # refused calls did nothing
    (deployment,) = status["deployments"]
    # HTTP 5xx and System Busy are retried without being anomalies: they break no spec.
    anomalies = {a["cause"] for a in status["anomalies"]}
    assert deployment["retries"] >= 1 and deployment["last_retry"]["cause"] not in anomalies
    assert "PrepareTarget" in deployment["last_retry"]["cause"]
    assert any(word in deployment["last_retry"]["cause"] for word in ("HTTP 50", "1001 System Busy"))
    assert "will retry" in output  # the runner's warning, in the run's output


def test_answers_slower_than_the_timeout_are_retried_and_shown(tmp_path: Path) -> None:
    euis = fleet_euis(20, seed=51)
    with IoTSquareSim(devices=euis, seed=2, **FAST) as sim:
        slow = Faults(slow={"fuota/status": 0.8})  # the client waits 0.5 s
        _, status = _storm(tmp_path, sim, slow, "slow", euis)
        assert sim.faults.injected[("slow", "fuota/status")] >= 2
    assert status["state"] == "Done"
    printed = fuota(tmp_path, "status", "slow", "--json")
    assert printed.returncode == 0 and json.loads(printed.stdout) == status
    (deployment,) = status["deployments"]
    assert deployment["retries"] >= 1 and "no answer within 0.5 s" in deployment["last_retry"]["cause"]
    assert "PollTask" in deployment["last_retry"]["cause"]


def test_dropped_connections_create_nothing_twice(tmp_path: Path) -> None:
    euis = fleet_euis(40, seed=52)
    drops = Faults(drop_rate=0.3, endpoints={"mcgroup/create", "mcdevice/create", "fuota/create", "fuota/status"})
    with IoTSquareSim(devices=euis, faults=drops, seed=11, **FAST) as sim:
        result, status = _run(tmp_path, sim, "drops", euis)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert status["state"] == "Done" and _rebuilt(sim, status)
        injected = sim.faults.injected
        # The server carried out the create and lost its answer: the adapter's look-up found the task.
        assert injected[("drop", "fuota/create")] >= 1
        assert sum(injected.values()) >= 2
        assert sim.done["fuota/create"] == 1 and sim.done["mcgroup/create"] == 1


def test_malformed_json_and_wrong_types_for_a_while_are_anomalies_and_the_campaign_ends_done(tmp_path: Path) -> None:
    euis = fleet_euis(20, seed=53)
    with IoTSquareSim(devices=euis, seed=3, **FAST) as sim:
        garbled = Faults(malformed_rate=0.5, wrong_rate=0.5, endpoints={"fuota/status", "fuota/device/list"})
        _, status = _storm(tmp_path, sim, garbled, "garbled", euis)
        kinds = {kind for kind, _ in sim.faults.injected}
    assert kinds == {"malformed", "wrong"}
    assert status["state"] == "Done" and len(status["devices"]) == 20
    causes = _retried(tmp_path)
    retried = [a for a in status["anomalies"] if a["cause"] in causes]
    assert retried and all("IoTSquare back end 'iot'" in a["cause"] for a in retried)
    (deployment,) = status["deployments"]
    assert deployment["retries"] == len(causes) and deployment["last_retry"]["cause"] in {a["cause"] for a in retried}


def _launch(folder: Path, file: str) -> None:
    """`fuota launch FILE`, in this process (a subprocess costs a second)."""
    config, campaign = load_config(folder / "fuota.toml"), load_campaign(folder / file)
    with Store(config.store.url) as store:
        service.launch(store, service.plan(config, campaign))


def test_malformed_forever_fails_the_deployment_and_the_daemon_serves_another_campaign(tmp_path: Path) -> None:
    euis = fleet_euis(40, seed=54)
    forever = Faults(malformed_rate=1.0, endpoints={"fuota/status"})
    with (
        IoTSquareSim(devices=euis[:20], faults=forever, seed=5, **FAST) as broken_sim,
        IoTSquareSim(devices=euis[20:], seed=6, **FAST) as sim,
    ):
        # The broken back end gives up after 1 s, to fail sooner: this test waits for it.
        write_config(tmp_path, _backend(sim.url), _backend(broken_sim.url, name="bad", give_up_after=1))
        write_campaign(tmp_path, "broken", euis[:20], firmware=FIRMWARE, join_timeout=2, backend="bad", file="b.toml")
        _launch(tmp_path, "b.toml")
        write_campaign(tmp_path, "healthy", euis[20:], firmware=FIRMWARE, join_timeout=2, file="h.toml")
        _launch(tmp_path, "h.toml")
        daemon = start_daemon(tmp_path)
        url = sqlite_url(tmp_path)
        try:
            assert wait_campaign(url, "healthy", timeout=60) is CampaignState.DONE
            assert wait_campaign(url, "broken", timeout=60) is CampaignState.FAILED
            assert daemon.poll() is None
        finally:
            stopped = stop_daemon(daemon, within=20)
    log = stopped.log
    assert stopped.code == 0, log[-3000:]
    broken = _status(tmp_path, "broken")
    (deployment,) = broken["deployments"]
    assert deployment["state"] == "Failed" and deployment["retries"] >= 1
    reasons = {d["reason"] for d in broken["devices"]}
    assert len(reasons) == 1
    (reason,) = reasons
    assert "no well-formed answer for" in reason and "without IoTSquare's JSON envelope" in reason
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    warnings = [line for line in lines if line["level"] == "warning" and line["logger"] == "fuota.runner"]
    assert warnings and all("anomaly" in line["message"] and "will retry" in line["message"] for line in warnings)
    assert any(line["level"] == "error" and "fails" in line["message"] for line in lines)
    assert "sim-token" not in log


# --- the adapter under each fault, without a campaign: only TransientError may come out ---------------------------

MC = "cc3e92cea33ac62a"


@pytest.mark.parametrize("fate", list(Fate))
def test_every_fault_reaches_the_runner_as_a_transient_error(fate: Fate) -> None:
    euis = fleet_euis(5, seed=55)
    with IoTSquareSim(groups={MC: euis}, speed=0, seed=6) as sim:
        backend = IoTSquareBackend("iot", sim.url, "sim-token", timeout=0.5, retry_attempts=1)
        spec = TaskSpec(name="t", target=MC, firmware=bytes(500), redundancy_percent=30, devices=tuple(euis))
        ref: TaskRef = backend.create(spec)
        sim.faults.set(Faults(**{f"{fate}_rate": 1.0}))
        calls = [
            lambda: backend.ready(MC),
            lambda: backend.find(spec),
            lambda: backend.status(ref),
            lambda: backend.devices(ref),
            lambda: backend.prepare(None, tuple(euis), {"name_prefix": "p", "enable_mc_remote": True}),
        ]
        for call in calls * 6:  # the variants of each fault, drawn in turn
            with pytest.raises(TransientError) as caught:
                call()
            assert isinstance(caught.value, MalformedAnswer) is (fate in (Fate.MALFORMED, Fate.WRONG))
        backend.close()
        assert sim.done["fuota/create"] == 1


def test_a_bounded_storm_ends_by_itself_and_faults_change_while_serving() -> None:
    with IoTSquareSim(faults=Faults(error_rate=1.0, calls=2), seed=7) as sim:
        url, headers = f"{sim.url}/openapi/mcgroup/list", {"Authorization": "sim-token"}
        codes = [httpx.get(url, headers=headers).status_code for _ in range(3)]
        assert codes[0] in (500, 502, 503) and codes[1] in (500, 502, 503) and codes[2] == 200
        assert sim.faults.current == Faults()  # the storm's two calls are spent
        sim.faults.set(busy_rate=1.0)
        assert httpx.get(url, headers=headers).json()["code"] == 1001
        with pytest.raises(ValueError, match="not simulated"):
            sim.faults.set(slow={"fuota/stauts": 7.0})
        with pytest.raises(ValueError, match="add up to 1"):
            sim.faults.set(error_rate=0.5)
        sim.faults.clear()
        assert httpx.get(url, headers=headers).json()["code"] == 0


def test_the_cli_simulator_takes_the_faults(tmp_path: Path) -> None:
    cli = CliRunner()
    help_text = cli.invoke(app, ["sim", "iotsquare", "--help"], env={"COLUMNS": "200"}).output
    for option in ("--error-rate", "--busy-rate", "--drop-rate", "--malformed-rate", "--wrong-rate", "--slow"):
        assert option in help_text
    refused = cli.invoke(app, ["sim", "iotsquare", "--port", "0", "--slow", "fuota/status"], env={"COLUMNS": "200"})
    assert refused.exit_code == 2 and "ENDPOINT=SECONDS" in refused.output
    too_much = cli.invoke(app, ["sim", "iotsquare", "--error-rate", "0.6", "--busy-rate", "0.6"])
    assert too_much.exit_code == 2
    sim = subprocess.Popen(
        [sys.executable, "-m", "fuota", "sim", "iotsquare", "--port", "0", "--devices", "2", "--error-rate", "1"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        found = re.search(r"http://127\.0\.0\.1:\d+", sim.stdout.readline())  # type: ignore[union-attr]
        assert found is not None
        status = httpx.get(f"{found.group()}/openapi/mcgroup/list", headers={"Authorization": "sim-token"}).status_code
    finally:
        sim.terminate()
        sim.wait(10)
    assert status in (500, 502, 503)
