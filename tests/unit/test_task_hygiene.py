"""fuota.service.task_hygiene on a real SQLite store: which ended deployments' tasks are deleted, in what order with
their last device report, and what is recorded (the Milesight tests run it against the simulator)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fuota.backends.errors import TransientError
from fuota.backends.tasks import GatewayTask, TaskKeeper
from fuota.core.model import DeploymentState, Stage
from fuota.core.reports import DeviceReport, TaskRef
from fuota.service.task_hygiene import REMOVAL, tidy
from fuota.store import EventKind, Store
from tests.support.store_helpers import EUIS, T0, Clock, new_campaign


class Keeper:
    """A TaskKeeper that records what it is asked, in order."""

    def __init__(self, *, keep: bool = False, gone: bool = False, silent: bool = False) -> None:
        self.keep_tasks, self.gone, self.silent = keep, gone, silent
        self.asked: list[str] = []

    def delete(self, ref: TaskRef) -> bool:
        self.asked.append(f"delete {ref.ids['taskId']}")
        if self.silent:
            raise TransientError("no answer in 1 s")
        return not self.gone

    def devices(self, ref: TaskRef) -> list[DeviceReport]:
        self.asked.append("devices")
        if self.silent:
            raise TransientError("no answer in 1 s")
        return [DeviceReport(EUIS[0], Stage.RECEIVING, {"fragmentSessionStatus": 3}, None, "v2")]

    def gateway_tasks(self, gateway: str) -> list[GatewayTask]:
        return []

    def delete_tasks(self, gateway: str, ids: list[int]) -> None:
        self.asked.append(f"delete_tasks {ids}")

    def close(self) -> None:
        pass


def _ended(tmp_path: Path, state: DeploymentState) -> tuple[Store, int, int]:
    store = Store(f"sqlite:///{tmp_path / 'fuota.db'}", clock=Clock())
    campaign_id, deployment_id = new_campaign(store)
    store.claim_deployments("me", timedelta(seconds=30), campaign_id=campaign_id)  # held while it ran
    backend_ref = {"taskId": 7, "gatewayEUI": "24e124fffe000001"}
    store.apply(deployment_id, state=state, backend_ref=backend_ref, lease_owner="me")
    return store, campaign_id, deployment_id


def _tidy(store: Store, campaign_id: int, keeper: object, owner: str = "me", later: float = 0) -> int:
    return tidy(store, campaign_id, {"iotsquare": keeper}, owner=owner, now=T0 + timedelta(seconds=later))  # type: ignore[dict-item]


def test_the_keeper_stub_is_a_task_keeper() -> None:
    assert isinstance(Keeper(), TaskKeeper)


def test_a_done_deployment_s_task_is_deleted_once_and_the_deletion_recorded(tmp_path: Path) -> None:
    store, campaign_id, deployment_id = _ended(tmp_path, DeploymentState.DONE)
    keeper = Keeper()
    assert _tidy(store, campaign_id, keeper) == 0
    assert _tidy(store, campaign_id, keeper) == 0
    assert keeper.asked == ["delete 7"]  # no last report: Done stored it with the task's end; and only once
    assert store.deployment(deployment_id).backend_ref[REMOVAL] == "deleted"  # type: ignore[union-attr]
    assert [e.cause for e in store.events(campaign_id, EventKind.COMMAND)][-1] == (
        "task 7 deleted from gateway ?"  # the sample deployment has no target
    )


def test_a_failed_deployment_stores_its_last_device_report_before_its_task_is_deleted(tmp_path: Path) -> None:
    store, campaign_id, deployment_id = _ended(tmp_path, DeploymentState.FAILED)
    keeper = Keeper(gone=True)
    _tidy(store, campaign_id, keeper)
    assert keeper.asked == ["devices", "delete 7"]
    device = next(d for d in store.devices(deployment_id=deployment_id) if d.dev_eui == EUIS[0])
    assert device.raw == {"fragmentSessionStatus": 3} and device.firmware_version == "v2"
    assert store.deployment(deployment_id).backend_ref[REMOVAL] == "gone"  # type: ignore[union-attr]


def test_a_failed_deployment_whose_report_cannot_be_taken_keeps_its_task(tmp_path: Path) -> None:
    store, campaign_id, deployment_id = _ended(tmp_path, DeploymentState.FAILED)
    keeper = Keeper(silent=True)
    _tidy(store, campaign_id, keeper)
    assert keeper.asked == ["devices"]  # never deleted before its last report is stored
    assert store.deployment(deployment_id).state is DeploymentState.FAILED
    assert "kept: its last device report could not be taken" in store.events(campaign_id, EventKind.ERROR)[-1].cause


@pytest.mark.parametrize("state", [DeploymentState.ABORTED, DeploymentState.ENQUEUE_FRAGMENT])
def test_aborted_and_open_deployments_are_left_alone(tmp_path: Path, state: DeploymentState) -> None:
    store, campaign_id, _ = _ended(tmp_path, state)
    keeper = Keeper()
    assert _tidy(store, campaign_id, keeper) == 0
    assert keeper.asked == []


def test_kept_tasks_are_left_alone(tmp_path: Path) -> None:
    store, campaign_id, deployment_id = _ended(tmp_path, DeploymentState.DONE)
    keeper = Keeper(keep=True)
    assert _tidy(store, campaign_id, keeper) == 0
    assert keeper.asked == [] and REMOVAL not in (store.deployment(deployment_id).backend_ref or {})  # type: ignore[union-attr]


def test_another_live_runner_s_deployment_is_left_to_it_until_its_lease_lapses(tmp_path: Path) -> None:
    store, campaign_id, _ = _ended(tmp_path, DeploymentState.DONE)
    keeper = Keeper()
    assert _tidy(store, campaign_id, keeper, owner="other") == 1  # the conclusion waits for it
    assert keeper.asked == []
    assert _tidy(store, campaign_id, keeper, owner="other", later=31) == 0
    assert keeper.asked == ["delete 7"]
