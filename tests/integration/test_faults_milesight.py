"""Back-end faults against the Milesight gateway simulator: the broker restarted mid-campaign, gateways gone for
minutes of simulated time, answers garbled (not JSON, body no object, code no number, lists of the wrong types).

The runner goes on through all of them: a deployment retries until its gateway answers well again and ends Done,
or fails with the reason once give_up_after has passed. Its retries are in `fuota status --json`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from fuota.backends.base import TaskSpec
from fuota.backends.errors import MalformedAnswer, TransientError
from fuota.backends.milesight.adapter import MilesightBackend
from fuota.sim.iotsquare import fleet_euis
from fuota.sim.milesight import AnswerFaults, Call, MilesightSim, gateway_euis
from fuota.sim.milesight_faults import GARBLES
from fuota.sim.milesight_tasks import Timing
from fuota.store import EventKind, Store
from fuota.views.model import status_data
from tests.support.broker import Broker
from tests.support.cli_helpers import start_run, wait_for_state
from tests.support.config_files import milesight, write_config, write_milesight_campaign
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(47).bytes(2000)
GATEWAYS = gateway_euis(2, seed=7)
TIMING = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)
SPEED = 30  # simulated seconds per real second: the fragments (62 × 1 s) take about 2 real seconds


def _setup(folder: Path, broker: Broker, spread: dict[str, list[str]], give_up_after: float) -> None:
    write_config(folder, milesight(broker.url, list(spread), timeout=0.5, give_up_after=give_up_after))
    devices = [d for euis in spread.values() for d in euis]
    write_milesight_campaign(folder, "ms", devices, firmware=FIRMWARE, milesight={"fragment_size": 40})


def _spread(gateways: list[str], per_gateway: int, seed: int) -> dict[str, list[str]]:
    euis = fleet_euis(per_gateway * len(gateways), seed=seed)
    return {g: euis[i :: len(gateways)] for i, g in enumerate(gateways)}


def _status(folder: Path) -> dict:
    """What `fuota status ms --json` prints (read in this process: a subprocess costs a second)."""
    with Store(f"sqlite:///{folder / 'fuota.db'}") as store:
        record = store.campaign("ms")
        assert record is not None
        return json.loads(json.dumps(status_data(store, record.id), default=str))


def _retried(folder: Path, gateway: str | None = None) -> list[str]:
    """The causes of the failures the runner recorded and will retry ("retry" events), of the deployment on
    `gateway` (or of any)."""
    with Store(f"sqlite:///{folder / 'fuota.db'}") as store:
        record = store.campaign("ms")
        if record is None:
            return []
        ids = {d.id for d in store.deployments(record.id) if gateway in (None, d.target)}
        return [e.cause for e in store.events(record.id, kind=EventKind.RETRY) if e.deployment_id in ids]


def _wait_retried(folder: Path, run: subprocess.Popen, gateway: str | None = None, timeout: float = 30) -> None:
    def retried() -> bool:
        if _retried(folder, gateway):
            return True
        assert run.poll() is None, "the runner recorded no retry"
        return False

    wait_for(retried, timeout, "the runner recording a retry")


@contextmanager
def _running(folder: Path) -> Iterator[subprocess.Popen]:
    """`fuota run c.toml` in the background, killed on the way out whatever happened."""
    run = start_run(folder)
    try:
        yield run
    finally:
        run.kill()
        run.communicate()


def _finish(run: subprocess.Popen) -> tuple[int, str]:
    out, err = run.communicate(timeout=120)
    return run.returncode, out[-3000:] + err[-3000:]


def _creates(sim: MilesightSim, gateway: str) -> int:
    return sim.calls[Call(gateway, "POST", "/api/fuota/task")]


def _rebuilt(sim: MilesightSim, devices: list[dict]) -> bool:
    return all(
        (d["outcome"] == "updated") == sim.device(d["dev_eui"]).session.rebuilt(FIRMWARE) for d in devices
    ) and any(d["outcome"] == "updated" for d in devices)


def test_the_broker_restarted_mid_campaign(tmp_path: Path, mqtt_broker: Broker) -> None:
    spread = _spread(GATEWAYS, 15, seed=60)
    with MilesightSim(mqtt_broker.url, spread, loss=0.03, speed=SPEED, timing=TIMING, seed=8) as sim:
        _setup(tmp_path, mqtt_broker, spread, give_up_after=10)
        with _running(tmp_path) as run:
            wait_for_state(tmp_path, "EnqueueFragment")
            mqtt_broker.restart(downtime=1.5)
            code, output = _finish(run)
        assert code == 0, output
        status = _status(tmp_path)
        assert status["state"] == "Done" and _rebuilt(sim, status["devices"])
        assert all(_creates(sim, gateway) == 1 for gateway in GATEWAYS)  # nothing created twice across the outage


def test_gateways_gone_for_minutes_one_comes_back_one_does_not(tmp_path: Path, mqtt_broker: Broker) -> None:
    back, gone = GATEWAYS
    spread = _spread(GATEWAYS, 15, seed=61)
    with MilesightSim(mqtt_broker.url, spread, loss=0.03, speed=SPEED, timing=TIMING, seed=9) as sim:
        # The runner gives up 3 s after the first failure, its adapter's retries within one call after 1.5 s (half of
        # it): the runner records a retry, the test brings `back` back, and the time left lets it answer.
        _setup(tmp_path, mqtt_broker, spread, give_up_after=3)
        with _running(tmp_path) as run:
            wait_for_state(tmp_path, "EnqueueFragment")
            sim.silence(back)
            sim.silence(gone)
            silent_since = sim.clock.now()
            sim.clock.advance(240)  # four simulated minutes pass while both are gone; their tasks run on meanwhile
            _wait_retried(tmp_path, run, back)
            sim.silence(back, False)
            assert sim.clock.now() - silent_since >= 240
            code, output = _finish(run)
        assert code == 1, output  # one deployment failed, so the campaign did
        status = _status(tmp_path)
        states = {d["target"]: d for d in status["deployments"]}
        assert states[back]["state"] == "Done" and states[back]["retries"] >= 1
        assert "no answer within 0.5 s" in states[back]["last_retry"]["cause"]
        assert states[gone]["state"] == "Failed"
        ours = {d["dev_eui"] for d in status["devices"] if d["deployment"] == states[back]["task_name"]}
        assert _rebuilt(sim, [d for d in status["devices"] if d["dev_eui"] in ours])
        lost = [d for d in status["devices"] if d["dev_eui"] not in ours]
        assert lost and all(d["outcome"] == "failed" and "back end silent/slow for" in d["reason"] for d in lost)


def test_garbled_answers_for_a_while_are_anomalies_and_the_campaign_ends_done(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    spread = _spread(GATEWAYS[:1], 20, seed=62)
    with MilesightSim(mqtt_broker.url, spread, loss=0.03, speed=SPEED, timing=TIMING, seed=10) as sim:
        _setup(tmp_path, mqtt_broker, spread, give_up_after=2)
        with _running(tmp_path) as run:
            wait_for_state(tmp_path, "EnqueueFragment")
            garbled = AnswerFaults(malformed_rate=1.0, kinds=("body_not_object", "code_not_number", "wrong_types"))
            sim.garbler.set(garbled)
            _wait_retried(tmp_path, run)
            sim.garbler.clear()
            code, output = _finish(run)
        assert code == 0, output
        status = _status(tmp_path)
        assert status["state"] == "Done" and _rebuilt(sim, status["devices"])
        assert sum(sim.garbler.garbled.values()) >= 1
    (deployment,) = status["deployments"]
    causes = _retried(tmp_path)
    retried = {a["cause"] for a in status["anomalies"] if a["cause"] in causes}
    assert deployment["retries"] == len(causes) >= 1 and deployment["last_retry"]["cause"] in retried
    assert any("gateway" in cause for cause in retried)
    assert "anomaly" in output  # the runner's warning, in the run's output


# --- the adapter under each garbling, without a campaign: only TransientError may come out -------------------------


def test_every_garbled_answer_reaches_the_runner_as_a_transient_error(mqtt_broker: Broker) -> None:
    gateway = GATEWAYS[0]
    euis = fleet_euis(4, seed=63)
    with MilesightSim(mqtt_broker.url, {gateway: euis}, speed=0, seed=11) as sim:
        backend = MilesightBackend("ms", mqtt_broker.url, timeout=0.3, retry_attempts=1)
        options = {"fragment_interval": 1000, "fragment_size": 40}
        spec = TaskSpec(name="t", target=gateway, firmware=bytes(500), redundancy_percent=30, devices=tuple(euis),
                        options=options)  # fmt: skip
        ref = backend.create(spec)
        calls = [
            lambda: backend.prepare(gateway, tuple(euis), {}),
            lambda: backend.find(spec),
            lambda: backend.status(ref),
            lambda: backend.devices(ref),
            lambda: backend.payload_size(gateway, 0),
        ]
        for kind in GARBLES:
            sim.garbler.set(AnswerFaults(malformed_rate=1.0, kinds=[kind]))
            for call in calls * (1 if kind == "not_json" else 4):  # not JSON: nobody's answer, the request times out
                with pytest.raises(TransientError) as caught:
                    call()
                assert isinstance(caught.value, MalformedAnswer) is (kind != "not_json"), (kind, caught.value)
        assert set(sim.garbler.garbled) == set(GARBLES)
        sim.garbler.clear()
        assert backend.status(ref).raw["id"] == ref.ids["taskId"]
        backend.close()
        assert _creates(sim, gateway) == 1
