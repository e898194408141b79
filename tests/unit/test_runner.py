"""fuota.service.runner against a back end in memory: every command path, with the store on a SQLite file and
the clock in the test's hands (no socket, no thread, no sleep)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fuota.backends import deadline
from fuota.backends.errors import AuthError, MalformedAnswer, RejectedError, TransientError
from fuota.core.model import CampaignState, DeploymentState, Outcome, Preparation, Stage
from fuota.core.reports import TaskProgress
from fuota.core.settings import CampaignSettings
from fuota.service.runner import Runner
from fuota.store import EventKind, NewDeployment, Store
from fuota.views.model import status_data
from tests.support.memory_backend import MemoryBackend
from tests.support.store_helpers import Clock

FIRMWARE = b"\x5a" * 700
PLAN = {"nb_frag": 15, "frag_size": 48, "padding": 20, "redundancy": 4}


def euis(count: int, first: int = 0) -> list[str]:
    return [f"{0x70B3D5E75E000000 + first + i:016x}" for i in range(count)]


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Store:
    with Store(f"sqlite:///{tmp_path / 'fuota.db'}", clock=clock) as opened:
        yield opened


def launch(store: Store, groups: list[list[str]], *, temporary: bool = True, **settings: object) -> int:
    """A campaign of one deployment per group of devices on back end "mem"."""
    values = {"name": "c", "backend": "mem", "kind": "iotsquare", "redundancy_percent": 30, "join_timeout": 60}
    deployments = [
        NewDeployment("mem", None if temporary else f"group-{i}", f"c-{i + 1}", temporary, devices, dict(PLAN))
        for i, devices in enumerate(groups)
    ]
    return store.create_campaign(CampaignSettings.model_validate(values | settings), FIRMWARE, deployments).id


def runner(store: Store, backend: MemoryBackend, clock: Clock, **policies: object) -> Runner:
    options: dict[str, object] = {"poll_interval": {"mem": 1.0}, "give_up_after": {"mem": 30.0}} | policies
    return Runner(store, {"mem": backend}, clock=clock, sleep=clock.advance, workers=1, **options)  # type: ignore[arg-type]


def drive(run: Runner, campaign_id: int, clock: Clock, seconds: float = 600) -> CampaignState:
    """Tick the campaign on the test's clock until it ends (AssertionError after `seconds` of its time)."""
    end = clock.now + timedelta(seconds=seconds)
    while clock.now < end:
        wake = run.tick(campaign_id)
        if wake is None:
            return run.store.campaign(campaign_id).state
        clock.now = max(clock.now + timedelta(milliseconds=100), min(wake, clock.now + timedelta(seconds=1)))
    raise AssertionError(f"campaign {campaign_id} did not end within {seconds} s of its clock")


def outcomes(store: Store, campaign_id: int) -> dict[str, tuple[Outcome | None, str | None]]:
    return {d.dev_eui: (d.outcome, d.reason) for d in store.devices(campaign_id=campaign_id)}


def test_a_campaign_from_its_target_to_each_device_s_outcome(store: Store, clock: Clock) -> None:
    devices = euis(5)
    backend = MemoryBackend(refused={devices[0]: "not registered"}, fails={devices[1]: "3 fragments missing"})
    cid = launch(store, [devices], success_threshold=0.6)
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.DONE
    assert outcomes(store, cid) == {
        devices[0]: (Outcome.FAILED, "not registered"),
        devices[1]: (Outcome.FAILED, "3 fragments missing"),
        **{d: (Outcome.UPDATED, None) for d in devices[2:]},
    }
    operations = [op for op, _ in backend.calls]
    assert operations[:4] == ["prepare", "ready", "find", "create"] and operations[-1] == "cleanup"
    assert backend.count("create") == 1 and backend.cleaned == ["group-c-1"]
    (record,) = store.deployments(cid)
    assert record.state is DeploymentState.DONE and record.backend_ref == {"taskId": 1, "target": "group-c-1"}
    assert backend.tasks["c-1"].spec.redundancy_percent == 30  # percent, as everywhere in fuota
    assert backend.tasks["c-1"].spec.devices == tuple(devices)  # the refused one is the back end's to skip


def test_a_task_created_before_a_crash_is_found_by_its_name_not_created_again(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    cid = launch(store, [euis(3)])
    first = runner(store, backend, clock)
    for _ in range(3):  # prepare, check the members, then create
        first.tick(cid)
        clock.advance(1)
    assert backend.count("create") == 1
    # The runner died after the create but before storing its answer: the store still says "creating".
    store.apply(store.deployments(cid)[0].id, preparation=Preparation.CREATING)
    with store._db.transaction("forget the task's reference", write=True) as conn:  # what the crash left
        conn.exec_driver_sql("UPDATE deployments SET state = 'Scheduled', backend_ref = NULL")
    assert drive(runner(store, backend, clock, name="second"), cid, clock) is CampaignState.DONE
    assert backend.count("create") == 1 and backend.count("find") == 2


def test_abort_stops_the_task_and_every_device_keeps_its_stage(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    cid = launch(store, [euis(3)])
    run = runner(store, backend, clock)
    while store.deployments(cid)[0].state is not DeploymentState.ENQUEUE_FRAGMENT:
        run.tick(cid)
        clock.advance(1)
    assert run.abort(cid, "operator asked") is CampaignState.ABORTED
    assert backend.count("abort") == 1 and backend.tasks["c-1"].aborted
    devices = store.devices(campaign_id=cid)
    assert {(d.stage, d.outcome, d.category) for d in devices} == {(Stage.RECEIVING, Outcome.ABORTED, "aborted")}
    assert all("aborted" in (d.reason or "") for d in devices)
    assert store.campaign(cid).state is CampaignState.ABORTED and backend.cleaned == ["group-c-1"]


def test_abort_before_the_task_exists_sends_no_abort(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    cid = launch(store, [euis(2)])
    assert runner(store, backend, clock).abort(cid, "changed my mind") is CampaignState.ABORTED
    assert backend.count("abort") == 0 and store.deployments(cid)[0].state is DeploymentState.ABORTED
    devices = store.devices(campaign_id=cid)
    assert {(d.stage, d.outcome, d.category) for d in devices} == {(Stage.PENDING, Outcome.SKIPPED, "aborted")}
    assert all("nothing was sent" in (d.reason or "") for d in devices)


def test_transient_failures_are_retry_events_and_the_campaign_goes_on(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    backend.fail_next("status", TransientError("HTTP 503"), MalformedAnswer("not JSON"))
    cid = launch(store, [euis(2)])
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.DONE
    retries = store.events(cid, EventKind.RETRY)
    assert [e.cause for e in retries] == ["c-1 PollTask: HTTP 503", "c-1 PollTask: not JSON"]
    assert all(e.deployment_id == store.deployments(cid)[0].id for e in retries)
    # An answer that breaks its spec is an anomaly too, for people to look at.
    assert [e.cause for e in store.events(cid, EventKind.ANOMALY)] == ["c-1 PollTask: not JSON"]
    assert not [e for e in store.events(cid) if "will retry" in e.cause]


def test_a_back_end_silent_for_give_up_after_fails_its_deployment(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    backend.fail_next("status", *[TransientError("no answer within 10 s")] * 1000)
    cid = launch(store, [euis(2)])
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.FAILED
    (record,) = store.deployments(cid)
    assert record.state is DeploymentState.FAILED
    (failed,) = [e for e in store.events(cid, EventKind.TRANSITION) if e.to_state == "Failed" and e.deployment_id]
    assert failed.cause.startswith("back end silent/slow for 3") and "giving up: no answer within 10 s" in failed.cause
    assert 29 <= len(store.events(cid, EventKind.RETRY)) <= 31  # one a second, for give_up_after = 30 s


def test_give_up_after_counts_from_the_adapter_s_first_failure(store: Store, clock: Clock) -> None:
    # The adapter's retry loop had already been failing for 25 s when it gave up: 5 s of give_up_after are left.
    late = TransientError("no answer within 10 s")
    late.silent_for = 25.0
    backend = MemoryBackend()
    backend.fail_next("status", *[late] * 1000)
    cid = launch(store, [euis(2)])
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.FAILED
    (failed,) = [e for e in store.events(cid, EventKind.TRANSITION) if e.to_state == "Failed" and e.deployment_id]
    assert failed.cause.startswith("back end silent/slow for 30 s (give_up_after = 30 s)")
    assert 4 <= len(store.events(cid, EventKind.RETRY)) <= 6  # one a second, for the 5 s left


def test_a_refusal_fails_the_deployment_with_the_back_end_s_reason(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    backend.fail_next("create", RejectedError("16001 Fuota Deployment Already Exist: wait for it to end"))
    cid = launch(store, [euis(2)])
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.FAILED
    assert {reason for _, reason in outcomes(store, cid).values()} == {
        "deployment failed: CreateTask: 16001 Fuota Deployment Already Exist: wait for it to end"
    }


def test_refused_credentials_before_any_task_fail_the_campaign_with_the_reason(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    backend.fail_next("prepare", AuthError("1003 token expired: check token / token_env"))
    cid = launch(store, [euis(2)])
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.FAILED
    (record,) = store.deployments(cid)
    assert record.state is DeploymentState.FAILED and record.backend_ref is None
    transitions = store.events(cid, EventKind.TRANSITION)
    (ended,) = [e for e in transitions if e.deployment_id is None and e.to_state == "Failed"]
    assert "refused fuota's credentials before any task existed" in ended.cause and "1003 token expired" in ended.cause
    assert backend.count("create") == 0


def refusals(store: Store, campaign_id: int) -> list[tuple[str | None, str]]:
    return [(e.to_state, e.cause) for e in store.events(campaign_id, EventKind.CREDENTIALS)]


def test_refused_credentials_once_the_task_exists_wait_visibly_and_resume(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    backend.fail_next("status", *[AuthError("1003 token expired: check token / token_env")] * 5)
    cid = launch(store, [euis(2)])
    run = runner(store, backend, clock)
    while backend.count("status") < 3:
        assert run.tick(cid) is not None
        clock.advance(1.0)
    (row,) = status_data(store, cid)["deployments"]
    assert row["credentials_refused_since"] is not None and row["state"] == "Created"
    assert [state for state, _ in refusals(store, cid)] == ["refused"]  # once, not at every poll
    assert drive(run, cid, clock) is CampaignState.DONE
    (refused, accepted) = refusals(store, cid)
    assert refused[0] == "refused" and "credentials refused since" in refused[1] and "1003 token expired" in refused[1]
    assert accepted[0] == "accepted" and "credentials accepted again after" in accepted[1]
    assert status_data(store, cid)["deployments"][0]["credentials_refused_since"] is None
    assert backend.count("create") == 1


def test_refused_credentials_fail_the_deployment_after_give_up_after(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    backend.fail_next("status", *[AuthError("1004 Invalid Token: check token / token_env")] * 500)
    cid = launch(store, [euis(2)])
    started = clock.now
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.FAILED
    (record,) = store.deployments(cid)
    (ended,) = [
        e for e in store.events(cid, EventKind.TRANSITION) if e.deployment_id == record.id and e.to_state == "Failed"
    ]
    assert "credentials refused for" in ended.cause and "give_up_after = 30 s" in ended.cause and "1004" in ended.cause
    assert (ended.at - started).total_seconds() >= 30
    assert [state for state, _ in refusals(store, cid)] == ["refused"]
    assert status_data(store, cid)["deployments"][0]["credentials_refused_since"] is None  # ended: no longer waiting


def test_a_wait_for_credentials_carries_over_a_restart(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    backend.fail_next("status", *[AuthError("1003 token expired")] * 500)
    cid = launch(store, [euis(2)])
    first = runner(store, backend, clock)
    while not refusals(store, cid):
        first.tick(cid)
        clock.advance(1.0)
    refused_at = store.events(cid, EventKind.CREDENTIALS)[0].at
    clock.advance(20.0)
    # Another runner (a daemon started again) takes the deployment over: its give_up_after counts from the first.
    second = runner(store, backend, clock, name="second")
    assert drive(second, cid, clock, seconds=60) is CampaignState.FAILED
    (ended,) = [e for e in store.events(cid, EventKind.TRANSITION) if e.deployment_id and e.to_state == "Failed"]
    assert (ended.at - refused_at).total_seconds() < 35
    assert [state for state, _ in refusals(store, cid)] == ["refused"]


def test_an_existing_target_is_left_as_it_was(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    cid = launch(store, [euis(2)], temporary=False)
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.DONE
    assert backend.count("cleanup") == 0 and ("prepare", "group-0") in backend.calls


def test_max_concurrent_lets_one_deployment_run_at_a_time(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    cid = launch(store, [euis(2, 0), euis(2, 10), euis(2, 20)])
    assert drive(runner(store, backend, clock, max_concurrent={"mem": 1}), cid, clock) is CampaignState.DONE
    prepared = [about for op, about in backend.calls if op == "prepare"]
    ends = [about for op, about in backend.calls if op == "cleanup"]
    assert prepared == ["group-c-1", "group-c-2", "group-c-3"] == ends
    order = [(op, about) for op, about in backend.calls if op in ("prepare", "cleanup")]
    assert order == [(op, g) for g in prepared for op in ("prepare", "cleanup")]  # each ends before the next begins


def test_a_restart_while_joining_neither_prepares_again_nor_restarts_the_join_timeout(
    store: Store, clock: Clock
) -> None:
    devices = euis(3)
    backend = MemoryBackend(joined={devices[0]})  # two members never join
    cid = launch(store, [devices], join_timeout=60)
    first = runner(store, backend, clock, name="first")
    prepared_at = clock.now
    first.tick(cid)  # prepares the target
    (record,) = store.deployments(cid)
    assert record.preparation is Preparation.JOINING
    assert record.join_deadline == prepared_at + timedelta(seconds=60)
    clock.advance(20)
    first.tick(cid)
    # The process is killed here; another starts 25 s later, from the store alone.
    clock.advance(25)
    second = runner(store, backend, clock, name="second")
    while backend.count("create") == 0:
        second.tick(cid)
        clock.advance(1)
    assert backend.count("prepare") == 1
    created = next(e.at for e in store.events(cid, EventKind.TRANSITION) if e.to_state == "Created")
    assert created <= prepared_at + timedelta(seconds=61)  # the first join deadline held, not a new one
    assert drive(second, cid, clock) is CampaignState.FAILED  # 1 of 3 updated, below 0.9
    assert {o for o, _ in outcomes(store, cid).values()} == {Outcome.UPDATED, Outcome.UNREACHABLE}


def test_a_firmware_file_changed_since_launch_stops_every_deployment(
    store: Store, clock: Clock, tmp_path: Path
) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(FIRMWARE)
    backend = MemoryBackend()
    cid = launch(store, [euis(2, 0), euis(2, 10)], firmware_path=str(image))
    image.write_bytes(FIRMWARE + b"!")
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.FAILED
    assert backend.count("create") == 0
    assert {d.state for d in store.deployments(cid)} <= {DeploymentState.FAILED, DeploymentState.ABORTED}
    assert all("changed since launch" in (reason or "") for _, reason in outcomes(store, cid).values())


def test_updated_means_the_version_sent_where_devices_report_one(store: Store, clock: Clock) -> None:
    devices = euis(2)
    backend = MemoryBackend(versions={devices[0]: "v2", devices[1]: "v1"}, old_versions=dict.fromkeys(devices, "v1"))
    cid = launch(store, [devices], expected_version="v2", success_threshold=0.5)
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.DONE
    result = outcomes(store, cid)
    assert result[devices[0]] == (Outcome.UPDATED, None)
    assert result[devices[1]][0] is Outcome.FAILED and "'v1'" in (result[devices[1]][1] or "")
    stored = {d.dev_eui: (d.initial_version, d.firmware_version) for d in store.devices(campaign_id=cid)}
    assert stored == {devices[0]: ("v1", "v2"), devices[1]: ("v1", "v1")}
    assert store.events(cid, EventKind.ANOMALY) == []


def test_versions_that_never_change_fail_no_device_and_are_one_anomaly(store: Store, clock: Clock) -> None:
    devices = euis(2)
    backend = MemoryBackend(versions=dict.fromkeys(devices, "v1"), old_versions=dict.fromkeys(devices, "v1"))
    cid = launch(store, [devices], expected_version="v2")
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.DONE
    assert set(outcomes(store, cid).values()) == {(Outcome.UPDATED, None)}
    (anomaly,) = store.events(cid, EventKind.ANOMALY)
    assert anomaly.cause.startswith("firmware versions cannot judge: no device's reported firmware version changed")


def test_a_back_end_that_fragments_otherwise_is_one_anomaly(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    cid = launch(store, [euis(2)])
    original = backend.status

    def status(ref):
        answer = original(ref)
        return type(answer)(answer.state, {**answer.raw, "nbFrag": 16, "redundancy": 4})

    backend.status = status  # type: ignore[method-assign]
    assert drive(runner(store, backend, clock), cid, clock) is CampaignState.DONE
    (anomaly,) = store.events(cid, EventKind.ANOMALY)
    assert anomaly.cause == "c-1: the back end's plan differs: nbFrag = 16, fuota planned 15"


def test_the_back_end_s_progress_facts_are_stored_with_each_polled_step(store: Store, clock: Clock) -> None:
    backend = MemoryBackend()
    cid = launch(store, [euis(2)])
    original = backend.status
    said: list[TaskProgress] = []

    def status(ref):
        answer = original(ref)
        facts = TaskProgress(phase_started_at=clock.now.replace(microsecond=0), fragments_total=19)
        said.append(facts)
        return type(answer)(answer.state, answer.raw, facts)

    backend.status = status  # type: ignore[method-assign]
    run = runner(store, backend, clock)
    while not said:
        run.tick(cid)
        clock.advance(0.5)
    (record,) = store.deployments(cid)
    assert record.progress == said[-1].as_json() and TaskProgress.from_json(record.progress) == said[-1]
    assert drive(run, cid, clock) is CampaignState.DONE
    (record,) = store.deployments(cid)
    assert TaskProgress.from_json(record.progress) == said[-1]  # the last one reported, the Done one


def test_a_failure_caused_by_the_stop_is_recorded_as_nothing(store: Store, clock: Clock) -> None:
    # Past give_up_after already: were it the back end's, this failure would fail the deployment at once.
    cut = TransientError("fuota is stopping: no new back-end call starts")
    cut.silent_for = 100.0
    backend = MemoryBackend()
    backend.fail_next("status", cut)
    cid = launch(store, [euis(2)])
    deadline.stop()
    try:
        assert drive(runner(store, backend, clock), cid, clock) is CampaignState.DONE
    finally:
        deadline.carry_on()
    assert not store.events(cid, EventKind.RETRY)
    assert not [e for e in store.events(cid, EventKind.TRANSITION) if e.to_state == "Failed"]
