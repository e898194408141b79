"""The contract every back end fulfils, run against both adapters and their simulators over real sockets.

IoTSquare over loopback HTTP; Milesight over a real mosquitto. What the runner relies on must hold for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from fuota.backends.base import Backend, TaskSpec
from fuota.backends.iotsquare.adapter import IoTSquareBackend
from fuota.backends.milesight.adapter import MilesightBackend
from fuota.core.model import DeploymentState, Stage
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from tests.support.broker import Broker
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(44).bytes(1500)


@dataclass
class Harness:
    """One back end under test, with the target and devices its simulator holds."""

    backend: Backend
    target: str
    devices: list[str]
    options: dict[str, object] = field(default_factory=dict)

    def spec(self, name: str) -> TaskSpec:
        return TaskSpec(name, self.target, FIRMWARE, 30, tuple(self.devices), self.options)


@pytest.fixture(params=["iotsquare", "milesight"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    euis = fleet_euis(12, seed=30)
    if request.param == "iotsquare":
        group = "cc3e92cea33ac62a"
        with IoTSquareSim(groups={group: euis}, speed=400, phase_time=4, fragment_interval=2) as sim:
            backend = IoTSquareBackend("iot", sim.url, "sim-token", timeout=2)
            yield Harness(backend, group.upper(), euis)
            backend.close()
        return
    broker = Broker(tmp_path).start()
    try:
        gateway = gateway_euis(1, seed=5)[0]
        timing = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)
        with MilesightSim(broker.url, {gateway: euis}, speed=100, timing=timing):
            backend = MilesightBackend("ms", broker_url=broker.url, timeout=2)
            yield Harness(backend, gateway.upper(), euis, {"fragment_size": 43, "fragment_interval": 1000})
            backend.close()
    finally:
        broker.stop()


def test_prepare_gives_the_members(harness: Harness) -> None:
    report = harness.backend.prepare(harness.target, tuple(harness.devices), dict(harness.options))
    assert report.target == harness.target.lower()  # EUIs come back normalized, whatever case was given
    assert set(report.members) == set(harness.devices) and not report.refused
    ready = harness.backend.ready(report.target)  # a device a back end does not list is not held back
    assert all(ready.get(d, True) for d in harness.devices)


def test_create_is_idempotent_and_found_by_name(harness: Harness) -> None:
    spec = harness.spec("contract-create")
    assert harness.backend.find(spec) is None
    ref = harness.backend.create(spec)
    assert harness.backend.find(spec) == ref
    assert harness.backend.create(spec) == ref  # a second create finds the first task instead


def test_a_task_runs_to_done_with_every_device_reported(harness: Harness) -> None:
    ref = harness.backend.create(harness.spec("contract-run"))
    states = []

    def done() -> bool:
        status = harness.backend.status(ref)
        assert isinstance(status.state, DeploymentState) and status.raw
        states.append(status.state)
        return status.state is DeploymentState.DONE

    wait_for(done, 60, "the task Done", every=0.1)
    assert states[-1] is DeploymentState.DONE
    reports = harness.backend.devices(ref)
    assert sorted(r.dev_eui for r in reports) == sorted(harness.devices)
    assert all(r.raw and isinstance(r.stage, Stage) for r in reports)
    assert all(r.stage is Stage.DONE for r in reports)  # no loss: everyone rebuilt the image


def test_abort_is_accepted_twice(harness: Harness) -> None:
    ref = harness.backend.create(harness.spec("contract-abort"))
    harness.backend.abort(ref)
    harness.backend.abort(ref)  # a repeated abort (after a lost answer) is harmless
