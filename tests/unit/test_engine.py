"""fuota.core.engine: the transition table, anomalies, and a deployment driven from start to outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuota.core.engine import TRANSITIONS, TRIGGERS, DeploymentEngine
from fuota.core.messages import (
    AbortRequested,
    AbortTask,
    BackendFailed,
    CheckJoined,
    Cleanup,
    CreateTask,
    DevicesReported,
    JoinedReported,
    PollTask,
    PrepareTarget,
    Step,
    TargetPrepared,
    TaskCreated,
    TaskReported,
)
from fuota.core.model import DeploymentState, Outcome, Preparation, Stage
from fuota.core.reports import DeviceReport, TargetReport, TaskRef, TaskStatus

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
S = DeploymentState
# The task's phases in the order IoTSquare runs them (section 9.2): a report moves a deployment forward, never back.
PHASES = [S.CREATED, S.SEND_FRAG_SESS_SETUP, S.ENQUEUE_FRAGMENT, S.SEND_FRAG_SESS_STATUS, S.SEND_FRAG_SESS_DEL,
          S.CLEANUP, S.DONE]  # fmt: skip


def expected(trigger: str, state: DeploymentState) -> DeploymentState | None:
    """Where the domain rules send `state` on `trigger`; None where the trigger is an anomaly. Stated from the
    rules, not read off the table: ended states are final; the task is created once, from Scheduled; abort and fail
    end any open deployment; before its task exists nothing can be reported of it; a report moves a deployment
    forward through the phases, never backwards, Unknown when the back end says so, and out of Unknown to any
    phase but Created (a poll may miss short phases)."""
    if state.ended:
        return None
    if trigger == "create":
        return S.CREATED if state is S.SCHEDULED else None
    if trigger in ("abort", "fail"):
        return S.ABORTED if trigger == "abort" else S.FAILED
    reported = S(trigger.removeprefix("report_"))
    if state is S.SCHEDULED or reported is S.CREATED:
        return None
    if reported is S.UNKNOWN:
        return None if state is S.UNKNOWN else S.UNKNOWN
    if state is S.UNKNOWN:
        return reported
    return reported if PHASES.index(reported) > PHASES.index(state) else None


@given(state=st.sampled_from(list(DeploymentState)), trigger=st.sampled_from(TRIGGERS))
def test_every_state_trigger_pair_follows_the_domain_rules(state: DeploymentState, trigger: str) -> None:
    engine = DeploymentEngine(state)
    step = Step()
    moved = engine.fire(trigger, "test", step)
    if (goal := expected(trigger, state)) is not None:
        assert moved and engine.state is goal
        assert [e.kind for e in step.events] == ["transition"]
    else:
        assert not moved and engine.state is state
        assert [e.kind for e in step.events] == ["anomaly"]
        assert trigger in step.events[0].cause and str(state) in step.events[0].cause


def test_every_pair_is_exercised() -> None:
    # The hypothesis test above samples; this walks the whole product once, for certain.
    for state in DeploymentState:
        for trigger in TRIGGERS:
            engine = DeploymentEngine(state)
            engine.fire(trigger, "walk", Step())
            assert engine.state is (expected(trigger, state) or state), (state, trigger)


def test_the_triggers_are_every_report_and_create_abort_fail() -> None:
    assert set(TRIGGERS) == {f"report_{s.value}" for s in [*PHASES, S.UNKNOWN]} | {"create", "abort", "fail"}
    assert {t["trigger"] for t in TRANSITIONS} <= set(TRIGGERS)


def test_ended_states_are_final() -> None:
    for state in (DeploymentState.DONE, DeploymentState.ABORTED, DeploymentState.FAILED):
        for trigger in TRIGGERS:
            engine = DeploymentEngine(state)
            assert not engine.fire(trigger, "after the end", Step()) and engine.state is state


def test_done_back_to_enqueue_is_an_anomaly() -> None:
    engine = DeploymentEngine(DeploymentState.DONE)
    step = engine.handle(TaskReported(TaskStatus(DeploymentState.ENQUEUE_FRAGMENT, {})), T0)
    assert engine.state is DeploymentState.DONE
    assert step.events[0].kind == "anomaly"


def _drive_to_created(engine: DeploymentEngine, members: tuple[str, ...], refused: dict[str, str]) -> datetime:
    now = T0
    assert engine.timer(now - timedelta(minutes=1)).commands == []  # before the start time: nothing
    assert engine.timer(now).commands == [PrepareTarget()]
    engine.handle(TargetPrepared(TargetReport("aa" * 8, members, refused, temporary=True)), now)
    assert engine.timer(now).commands == [CheckJoined()]
    joined = {m: m != members[-1] for m in members}
    engine.handle(JoinedReported(joined), now)
    assert engine.timer(now).commands == [CheckJoined()]  # one member still out: wait
    now += timedelta(minutes=11)  # past the join timeout: go without it
    engine.handle(JoinedReported(joined), now)
    assert engine.timer(now).commands == [CreateTask()]
    step = engine.handle(TaskCreated(TaskRef("fuota-1", {"fdID": 16, "mcEUI": "aa" * 8})), now)
    assert engine.state is DeploymentState.CREATED and step.events[0].kind == "transition"
    assert step.events[0].cause == f"task fuota-1 created (fdID 16, mcEUI {'aa' * 8})"  # words, not a dict
    assert engine.timer(now).commands == [PollTask()]
    return now


def test_a_deployment_from_start_to_outcomes() -> None:
    members = ("01" * 8, "02" * 8, "03" * 8)
    engine = DeploymentEngine(start_at=T0, temporary=True)
    now = _drive_to_created(engine, members, {"04" * 8: "device not registered"})
    engine.handle(TaskReported(TaskStatus(DeploymentState.ENQUEUE_FRAGMENT, {"state": "EnqueueFragment"})), now)
    reports = (
        DeviceReport(members[0], Stage.DONE, {"state": "Done"}),
        DeviceReport(members[1], Stage.STATUS_REPORTED, {"state": "FragSessStatusAns"}, "3 fragments missing"),
        DeviceReport(members[2], Stage.MULTICAST_SETUP, {"state": "MC Not Joined"}),
    )
    step = engine.handle(DevicesReported(reports), now)
    assert len(step.devices) == 3
    assert engine.handle(DevicesReported(reports), now).devices == []  # nothing changed, nothing to write
    step = engine.handle(TaskReported(TaskStatus(DeploymentState.DONE, {"state": "Done"})), now)
    assert engine.state is DeploymentState.DONE
    assert Cleanup() in step.commands and step.deadline is None
    outcomes = {d.dev_eui: (d.outcome, d.reason) for d in engine.devices.values()}
    assert outcomes[members[0]] == (Outcome.UPDATED, None)
    assert outcomes[members[1]] == (Outcome.FAILED, "3 fragments missing")
    assert outcomes[members[2]][0] is Outcome.UNREACHABLE and "never joined" in outcomes[members[2]][1]
    assert outcomes["04" * 8] == (Outcome.FAILED, "device not registered")
    assert engine.timer(now).commands == []


def test_abort_keeps_each_device_stage() -> None:
    engine = DeploymentEngine(DeploymentState.ENQUEUE_FRAGMENT)
    engine.handle(DevicesReported((DeviceReport("01" * 8, Stage.RECEIVING, {}),)), T0)
    step = engine.handle(AbortRequested("operator asked"), T0)
    assert engine.state is DeploymentState.ABORTED and AbortTask() in step.commands
    device = engine.devices["01" * 8]
    assert device.stage is Stage.RECEIVING and device.outcome is Outcome.ABORTED and "aborted" in device.reason


def test_abort_before_the_task_exists_sends_no_abort() -> None:
    engine = DeploymentEngine()
    step = engine.handle(AbortRequested(), T0)
    assert engine.state is DeploymentState.ABORTED and AbortTask() not in step.commands


@pytest.mark.parametrize("state", [s for s in DeploymentState if not s.ended])
def test_backend_failure_fails_the_deployment(state: DeploymentState) -> None:
    engine = DeploymentEngine(state)
    step = engine.handle(BackendFailed("14001 MCGroup Not Exist"), T0)
    assert engine.state is DeploymentState.FAILED and step.events[0].cause == "14001 MCGroup Not Exist"


def test_existing_target_is_not_cleaned_up() -> None:
    engine = DeploymentEngine(temporary=False)
    assert engine.timer(T0).commands == [PrepareTarget()]  # to learn the group's members
    engine.handle(TaskCreated(TaskRef("fuota-1", {"fdID": 1})), T0)
    step = engine.handle(TaskReported(TaskStatus(DeploymentState.DONE, {})), T0)
    assert engine.state is DeploymentState.DONE and Cleanup() not in step.commands


def test_a_task_the_back_end_failed_fails_the_deployment_and_keeps_reasons() -> None:
    engine = DeploymentEngine(DeploymentState.ENQUEUE_FRAGMENT)
    engine.handle(DevicesReported((DeviceReport("01" * 8, Stage.FAILED, {"fragmentSessionStatus": 9}, "too few"),)), T0)
    step = engine.handle(TaskReported(TaskStatus(DeploymentState.FAILED, {"status": 4})), T0)
    assert engine.state is DeploymentState.FAILED and step.deadline is None
    assert engine.devices["01" * 8].reason == "too few" and engine.devices["01" * 8].outcome is Outcome.FAILED


def _versions(engine: DeploymentEngine, *reports: tuple[str, Stage, str | None]) -> list[str]:
    """Feed each (EUI, stage, version reported) in turn, end the task; the anomaly events of its end."""
    for eui, stage, version in reports:
        raw = {"firmwareVersion": version or ""}
        engine.handle(DevicesReported((DeviceReport(eui, stage, raw, firmware_version=version),)), T0)
    step = engine.handle(TaskReported(TaskStatus(DeploymentState.DONE, {"status": 3})), T0)
    return [e.cause for e in step.events if e.kind == "anomaly"]


A, B = "01" * 8, "02" * 8


@pytest.mark.parametrize(
    ("first", "reported", "outcome"),
    [("v1.2", "v1.4", Outcome.UPDATED), ("v1.2", "v1.3", Outcome.FAILED), (None, None, Outcome.UPDATED)],
)
def test_updated_means_the_device_reports_the_version_sent(
    first: str | None, reported: str | None, outcome: Outcome
) -> None:
    engine = DeploymentEngine(DeploymentState.ENQUEUE_FRAGMENT, expected_version="v1.4")
    # B's version changes from its first report to v1.4: the field is the running version.
    anomalies = _versions(
        engine, (A, Stage.RECEIVING, first), (B, Stage.RECEIVING, "v1.2"), (A, Stage.DONE, reported),
        (B, Stage.DONE, "v1.4"),
    )  # fmt: skip
    device = engine.devices[A]
    assert device.outcome is outcome and anomalies == []
    assert outcome is Outcome.UPDATED or "'v1.3', not the 'v1.4' sent" in str(device.reason)


def test_the_version_is_judged_on_the_typed_field_not_on_a_vendor_s_raw_key() -> None:
    engine = DeploymentEngine(DeploymentState.ENQUEUE_FRAGMENT, expected_version="v1.4")
    engine.handle(DevicesReported((DeviceReport(A, Stage.RECEIVING, {}, firmware_version="v1.2"),)), T0)
    engine.handle(DevicesReported((DeviceReport(B, Stage.DONE, {"firmwareVersion": "v1.3"}),)), T0)
    engine.handle(DevicesReported((DeviceReport(A, Stage.DONE, {}, firmware_version="v1.4"),)), T0)
    engine.handle(TaskReported(TaskStatus(DeploymentState.DONE, {})), T0)
    assert engine.devices[B].outcome is Outcome.UPDATED  # no typed version: nothing contradicts it


def test_a_version_reported_once_is_kept_when_a_later_report_omits_it() -> None:
    engine = DeploymentEngine(DeploymentState.ENQUEUE_FRAGMENT, expected_version="v1.4")
    anomalies = _versions(
        engine, (A, Stage.RECEIVING, "v1.2"), (A, Stage.STATUS_REPORTED, "v1.3"), (A, Stage.DONE, None)
    )
    assert engine.devices[A].firmware_version == "v1.3" and engine.devices[A].outcome is Outcome.FAILED
    assert anomalies == []


def test_the_first_version_seen_is_kept_as_the_initial_one_and_never_overwritten() -> None:
    engine = DeploymentEngine(DeploymentState.ENQUEUE_FRAGMENT)
    for version in (None, "v1.2", None, "v1.3", "v1.4"):
        engine.handle(DevicesReported((DeviceReport(A, Stage.RECEIVING, {}, firmware_version=version),)), T0)
        if version is None and engine.devices[A].initial_version is None:
            continue
        assert engine.devices[A].initial_version == "v1.2"
    assert engine.devices[A].firmware_version == "v1.4"


@pytest.mark.parametrize(
    ("versions", "words"),
    [
        ((None, None), "no device of the task reported a firmware version (all empty)"),
        (("v1.0", "v1.0"), "no device's reported firmware version changed during the task ('v1.0' on 2 devices)"),
    ],
    ids=["empty", "never-changes"],
)
def test_versions_that_cannot_judge_fail_no_device_and_are_one_anomaly(
    versions: tuple[str | None, str | None], words: str
) -> None:
    engine = DeploymentEngine(DeploymentState.ENQUEUE_FRAGMENT, expected_version="v1.4")
    first, last = versions
    anomalies = _versions(
        engine, (A, Stage.RECEIVING, first), (B, Stage.RECEIVING, first), (A, Stage.DONE, last),
        (B, Stage.FAILED, last),
    )  # fmt: skip
    assert engine.devices[A].outcome is Outcome.UPDATED
    assert len(anomalies) == 1 and anomalies[0].startswith("firmware versions cannot judge: ") and words in anomalies[0]
    assert "judges the devices by the back end's session codes alone" in anomalies[0]


def test_without_expected_version_or_with_it_met_there_is_no_version_anomaly() -> None:
    assert _versions(DeploymentEngine(DeploymentState.ENQUEUE_FRAGMENT), (A, Stage.DONE, None)) == []
    met = DeploymentEngine(DeploymentState.ENQUEUE_FRAGMENT, expected_version="v1.4")
    assert _versions(met, (A, Stage.RECEIVING, "v1.4"), (A, Stage.DONE, "v1.4")) == []  # already on it: met
    assert met.devices[A].outcome is Outcome.UPDATED


def test_the_preparation_and_the_join_deadline_are_state_a_new_engine_resumes() -> None:
    """What the runner stores after each step is all a restarted engine needs: the phase and the deadline."""
    members = ("01" * 8, "02" * 8)
    first = DeploymentEngine(join_timeout=timedelta(minutes=10), temporary=True)
    assert first.preparation is Preparation.WAITING and first.timer(T0).commands == [PrepareTarget()]
    assert first.preparation is Preparation.PREPARING
    first.handle(TargetPrepared(TargetReport("aa" * 8, members, {}, temporary=True)), T0)
    assert first.preparation is Preparation.JOINING and first.join_deadline == T0 + timedelta(minutes=10)
    # A restart five minutes later, from what was stored: it neither prepares again nor restarts the join timeout.
    again = DeploymentEngine(
        devices=dict(first.devices),
        join_timeout=timedelta(minutes=10),
        temporary=True,
        preparation=first.preparation,
        join_deadline=first.join_deadline,
    )
    later = T0 + timedelta(minutes=5)
    assert again.timer(later).commands == [CheckJoined()]
    again.handle(JoinedReported({members[0]: True, members[1]: False}), later)
    assert again.preparation is Preparation.JOINING  # still within the first deadline
    again.handle(JoinedReported({members[0]: True, members[1]: False}), T0 + timedelta(minutes=10))
    assert again.preparation is Preparation.CREATING and again.timer(T0 + timedelta(minutes=10)).commands == [
        CreateTask()
    ]
