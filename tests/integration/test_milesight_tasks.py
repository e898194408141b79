"""Issue 15, item 5: Milesight task hygiene against the gateway simulator on real Mosquitto.

A deployment's finished task is deleted from its gateway once its results are stored (kept with keep_tasks = true);
a gateway at its task cap (10310013) makes the create fail with what it holds and the command that cleans it up;
`fuota gateway tasks` lists and cleans up; `fuota retry` re-runs the original task (6.5) where its devices are the
retry's, else creates a new one; firmwareName is the firmware file's own name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from fuota.backends.milesight.adapter import MilesightBackend
from fuota.backends.milesight.housekeeping import description
from fuota.config import load_config
from fuota.core.model import CampaignState
from fuota.core.reports import TaskRef, TaskSpec
from fuota.service.campaigns import build_backends, build_runner
from fuota.sim.iotsquare import fleet_euis
from fuota.sim.milesight import Call, MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.store import EventKind, Store
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota
from tests.support.config_files import milesight, sqlite_url, write_config, write_milesight_campaign
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(17).bytes(1200)
GATEWAYS = gateway_euis(2, seed=21)
TIMING = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)
CREATE = "/api/fuota/task"


def _sim(broker: Broker, euis: list[str], **options: object) -> MilesightSim:
    spread = {g: euis[i :: len(GATEWAYS)] for i, g in enumerate(GATEWAYS)}
    return MilesightSim(broker.url, spread, speed=60, timing=TIMING, seed=2, **options)  # type: ignore[arg-type]


def _run(folder: Path, file: str = "c.toml") -> subprocess.CompletedProcess:
    return fuota(folder, "run", file, timeout=240)


def _events(folder: Path, name: str, kind: EventKind) -> list[str]:
    with Store(sqlite_url(folder)) as store:
        record = store.campaign(name)
        assert record is not None
        return [e.cause for e in store.events(record.id, kind)]


def test_a_finished_task_is_deleted_once_its_results_are_stored_and_kept_with_keep_tasks(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    euis = fleet_euis(8, seed=3)
    for keep, folder in ((False, tmp_path / "deleting"), (True, tmp_path / "keeping")):
        folder.mkdir()
        with _sim(mqtt_broker, euis) as sim:
            write_config(folder, milesight(mqtt_broker.url, GATEWAYS, keep_tasks=keep))
            write_milesight_campaign(folder, "ms", euis, firmware=None)
            (folder / "WT101 v1.2 (beta)+ü.bin").write_bytes(FIRMWARE)
            text = (folder / "c.toml").read_text().replace('"fw.bin"', '"WT101 v1.2 (beta)+ü.bin"')
            (folder / "c.toml").write_text(text)
            result = _run(folder)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
            held = {g: sim.tasks(g) for g in GATEWAYS}
        commands = _events(folder, "ms", EventKind.COMMAND)
        if keep:
            assert all(len(tasks) == 1 and tasks[0]["status"] == 3 for tasks in held.values()), held
            # firmwareName is the file's own name, made fit for the field: letters, digits, . - _ kept
            assert {t[0]["firmwareName"] for t in held.values()} == {"WT101_v1.2__beta___.bin"}
            assert not [c for c in commands if "deleted from gateway" in c]
        else:
            assert held == {g: [] for g in GATEWAYS}
            for gateway in GATEWAYS:
                assert f"task 1 deleted from gateway {gateway.upper()}" in commands, commands
            with Store(sqlite_url(folder)) as store:
                record = store.campaign("ms")
                assert record is not None and record.state is CampaignState.DONE
                refs = [d.backend_ref or {} for d in store.deployments(record.id)]
                assert {ref.get("task_removal") for ref in refs} == {"deleted"}
                assert {d.outcome for d in store.devices(campaign_id=record.id)} == {"updated"}


def test_a_full_gateway_fails_the_create_with_its_count_and_fuota_gateway_tasks_cleans_up(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    gateway = GATEWAYS[0]
    euis = fleet_euis(4, seed=5)
    with MilesightSim(mqtt_broker.url, {gateway: euis}, speed=60, timing=TIMING, max_tasks=2) as sim:
        _fill(mqtt_broker, gateway, euis)
        wait_for(lambda: all(t["status"] in (3, 4) for t in sim.tasks(gateway)), 30, "the old tasks ending")
        write_config(tmp_path, milesight(mqtt_broker.url, [gateway]))
        write_milesight_campaign(tmp_path, "ms", euis, firmware=FIRMWARE)
        result = _run(tmp_path)
        assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
        causes = " ".join(_events(tmp_path, "ms", EventKind.TRANSITION))
        assert "10310013" in causes and "it holds 2 tasks (2 finished)" in causes, causes
        assert f"`fuota gateway tasks ms {gateway.upper()} --delete-finished`" in causes, causes

        listed = fuota(tmp_path, "gateway", "tasks", "ms", gateway)
        assert listed.returncode == 0, listed.stderr
        assert "2 tasks, 2 finished, 1 created by fuota" in listed.stdout, listed.stdout
        rows = json.loads(fuota(tmp_path, "gateway", "tasks", "ms", gateway, "--json").stdout)
        assert {(r["name"], r["fuota"], r["finished"]) for r in rows} == {
            (f"old-{gateway}", True, True),
            ("by hand", False, True),
        }
        declined = _cli_with_input(tmp_path, "n\n", "gateway", "tasks", "ms", gateway, "--delete-finished")
        assert declined.returncode == 0 and "nothing deleted" in declined.stdout, declined.stderr
        assert len(sim.tasks(gateway)) == 2
        cleaned = fuota(tmp_path, "gateway", "tasks", "ms", gateway, "--delete-finished", "--yes")
        assert cleaned.returncode == 0, cleaned.stderr
        assert [t["name"] for t in sim.tasks(gateway)] == ["by hand"]  # never another's task

        write_milesight_campaign(tmp_path, "ms2", euis, file="c2.toml")
        again = _run(tmp_path, "c2.toml")
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert [t["name"] for t in sim.tasks(gateway)] == ["by hand"]  # the new one deleted once Done

    unknown = fuota(tmp_path, "gateway", "tasks", "nope", gateway)
    assert unknown.returncode == 2 and "backend = 'nope' is not in the configuration" in unknown.stderr
    bad = fuota(tmp_path, "gateway", "tasks", "ms", "12345")
    assert bad.returncode == 2 and "'12345' is not a gateway EUI" in bad.stderr


def test_a_retry_reruns_the_original_task_where_its_devices_are_the_same_and_creates_one_elsewhere(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    euis = fleet_euis(8, seed=7)
    first, second = GATEWAYS
    spread = {first: euis[:4], second: euis[4:]}
    silent = euis[:4] + euis[4:5]  # every device of the first gateway, one of the second
    with MilesightSim(mqtt_broker.url, spread, speed=60, timing=TIMING, never_answer_multicast=silent) as sim:
        write_config(tmp_path, milesight(mqtt_broker.url, GATEWAYS, keep_tasks=True))
        write_milesight_campaign(tmp_path, "ms", euis, firmware=FIRMWARE)
        failed = _run(tmp_path)
        assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr[-3000:]
        for eui in silent:
            sim.device(eui).joins = True
        retried = fuota(tmp_path, "retry", "ms", timeout=240)
        assert retried.returncode == 0, retried.stdout[-3000:] + retried.stderr[-3000:]
        calls = sim.calls
        tasks = {g: sim.tasks(g) for g in GATEWAYS}
    assert calls[Call(first, "POST", "/api/fuota/task/retry")] == 1
    assert calls[Call(first, "POST", CREATE)] == 1  # the original only
    assert calls[Call(second, "POST", "/api/fuota/task/retry")] == 0
    assert calls[Call(second, "POST", CREATE)] == 2  # the original and the retry's own
    assert [t["name"] for t in tasks[first]] == [f"ms-{first}"]
    assert [t["name"] for t in tasks[second]] == [f"ms.retry1-{second}", f"ms-{second}"]
    with Store(sqlite_url(tmp_path)) as store:
        record = store.campaign("ms.retry1")
        assert record is not None and record.state is CampaignState.DONE
        assert {d.outcome for d in store.devices(campaign_id=record.id)} == {"updated"}
        assert len(store.devices(campaign_id=record.id)) == 5  # no device of the re-run task added
        refs = {d.target: d.backend_ref or {} for d in store.deployments(record.id)}
    assert refs[first]["taskId"] == 1 and refs[first]["taskName"] == f"ms-{first}"
    assert refs[second]["taskId"] == 2


class _Killed(BaseException):
    """The runner's process dying at that point (nothing catches it)."""


def _drive(folder: Path, name: str, lease: timedelta = timedelta(seconds=2)) -> CampaignState:
    """Drive campaign "ms" to its end in this process with a runner called `name`."""
    config = load_config(folder / "fuota.toml")
    backends = build_backends(config, {"ms"})
    try:
        with Store(config.store.url) as store:
            record = store.campaign("ms")
            assert record is not None
            return build_runner(config, store, backends, name=name, lease=lease).run(record.id, wake=0.1)
    finally:
        for backend in backends.values():
            backend.close()


def test_a_runner_killed_after_storing_the_end_deletes_the_task_when_started_again(
    tmp_path: Path, mqtt_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = GATEWAYS[0]
    euis = fleet_euis(4, seed=13)
    deleting = MilesightBackend.delete

    def killed(self: MilesightBackend, ref: TaskRef) -> bool:
        raise _Killed

    with MilesightSim(mqtt_broker.url, {gateway: euis}, speed=60, timing=TIMING) as sim:
        write_config(tmp_path, milesight(mqtt_broker.url, [gateway]))
        write_milesight_campaign(tmp_path, "ms", euis, firmware=FIRMWARE)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        monkeypatch.setattr(MilesightBackend, "delete", killed)
        with pytest.raises(_Killed):
            _drive(tmp_path, "first")
        with Store(sqlite_url(tmp_path)) as store:
            record = store.campaign("ms")
            assert record is not None and record.state is CampaignState.RUNNING
            (deployment,) = store.deployments(record.id)
            assert deployment.state == "Done" and "task_removal" not in (deployment.backend_ref or {})
            assert {d.outcome for d in store.devices(campaign_id=record.id)} == {"updated"}  # stored before
        assert len(sim.tasks(gateway)) == 1
        monkeypatch.setattr(MilesightBackend, "delete", deleting)
        # Another runner takes over once the first one's lease lapsed, deletes the task, then concludes.
        assert _drive(tmp_path, "second") is CampaignState.DONE
        assert sim.tasks(gateway) == []
    assert f"task 1 deleted from gateway {gateway.upper()}" in _events(tmp_path, "ms", EventKind.COMMAND)


def test_a_deletion_that_fails_leaves_an_error_event_and_the_outcome_as_it_was(
    tmp_path: Path, mqtt_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = GATEWAYS[0]
    euis = fleet_euis(4, seed=15)
    deleting = MilesightBackend.delete
    with MilesightSim(mqtt_broker.url, {gateway: euis}, speed=60, timing=TIMING) as sim:

        def unanswered(self: MilesightBackend, ref: TaskRef) -> bool:
            sim.silence(gateway)  # the gateway goes quiet just then: the real request times out
            return deleting(self, ref)

        monkeypatch.setattr(MilesightBackend, "delete", unanswered)
        write_config(tmp_path, milesight(mqtt_broker.url, [gateway], timeout=0.5, give_up_after=2))
        write_milesight_campaign(tmp_path, "ms", euis, firmware=FIRMWARE)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        assert _drive(tmp_path, "only") is CampaignState.DONE
        sim.silence(gateway, False)
        assert len(sim.tasks(gateway)) == 1
    errors = _events(tmp_path, "ms", EventKind.ERROR)
    assert any("could not be deleted" in e and "`fuota gateway tasks` removes it" in e for e in errors), errors
    with Store(sqlite_url(tmp_path)) as store:
        record = store.campaign("ms")
        assert record is not None
        assert {d.outcome for d in store.devices(campaign_id=record.id)} == {"updated"}
        assert [(d.backend_ref or {}).get("task_removal") for d in store.deployments(record.id)] == ["failed"]


def _fill(broker: Broker, gateway: str, euis: list[str]) -> None:
    """Two tasks on `gateway`: one as fuota names and describes its own, one made by hand."""
    backend = MilesightBackend("ms", broker.url, timeout=3)
    try:
        options: dict[str, object] = {"fragment_interval": 1000}
        spec = TaskSpec(f"old-{gateway}", gateway, FIRMWARE, 30.0, tuple(euis), options)
        backend.create(spec)
        manual = TaskSpec("by hand", gateway, FIRMWARE, 30.0, tuple(euis), {**options, "description": "mine"})
        backend.create(manual)
    finally:
        backend.close()
    assert description(f"old-{gateway}").startswith("fuota deployment")


def _cli_with_input(folder: Path, text: str, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "fuota", "--config", str(folder / "fuota.toml"), *args]
    return subprocess.run(command, cwd=folder, input=text, capture_output=True, text=True, timeout=60, check=False)
