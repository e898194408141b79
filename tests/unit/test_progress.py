"""The progress model (fuota.views.progress) against numbers worked out by hand from its docstring's definitions,
and the lenient readers of what a back end reports (fuota.backends.facts, TaskProgress)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fuota.backends import facts
from fuota.core.model import DeploymentState as S
from fuota.core.reports import TaskProgress
from fuota.core.settings import CampaignSettings
from fuota.views.progress import campaign_progress, deployment_progress, planned_interval

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PLAN = {"nb_frag": 77, "frag_size": 48, "padding": 0, "redundancy": 23}  # 100 fragments


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# An IoTSquare task as its simulator runs it: phases of 5 s, 100 fragments 2 s apart from T0 + 10 s to T0 + 210 s.
IOTSQUARE = {
    S.CREATED: (0, 5),
    S.SEND_FRAG_SESS_SETUP: (5, 10),
    S.ENQUEUE_FRAGMENT: (10, 210),
    S.SEND_FRAG_SESS_STATUS: (210, 215),
    S.SEND_FRAG_SESS_DEL: (215, 220),
    S.CLEANUP: (220, 225),
}


def iotsquare(state: S, now: float, settled: int = 0) -> dict:
    begun, ends = IOTSQUARE[state]
    reported = TaskProgress(task_started_at=T0, phase_started_at=at(begun), phase_ends_at=at(ends), fragments_total=100)
    return deployment_progress(
        state, PLAN, reported, devices=10, settled=settled, interval=27.9, now=at(now), changed_at=at(begun)
    )


def test_iotsquare_set_up_fragments_and_finishing_by_hand() -> None:
    # Created, half way: 10 × (0 + 0.5) / 2 = 2.5 %; left: 2.5 s of it, the 5 s set-up phase after it, 100 fragments
    # at the plan's 27.9 s (IoTSquare tells its pace only once it sends), and the phase's 5 s × 2 set-up phases as
    # the overhead expected after them: 2.5 + 5 + 2790 + 10.
    created = iotsquare(S.CREATED, 2.5)
    assert (created["phase"], created["progress"], created["fragments_sent"]) == ("setup", 2.5, 0)
    assert created["time_left_seconds"] == 2807.5 and created["fragment_interval_s"] == 27.9
    # Fragments at T0 + 60 s: floor(50 / 2) + 1 = 26 sent; 10 + 80 × 0.26 = 30.8 %; left: 150 s of fragments + the
    # 10 s the set-up took (T0 → T0 + 10 s); the interval is the phase's: 200 s / 100.
    sending = iotsquare(S.ENQUEUE_FRAGMENT, 60)
    assert (sending["phase"], sending["fragments_sent"], sending["progress"]) == ("fragments", 26, 30.8)
    assert (sending["time_left_seconds"], sending["fragment_interval_s"]) == (160.0, 2.0)
    assert sending["ends_at"] == at(220).isoformat()
    # Status round, 2 s in: 90 + 10 × (0 + 0.4) / 3 = 91.3 %; left: 3 s + two phases of 5 s.
    status = iotsquare(S.SEND_FRAG_SESS_STATUS, 212)
    assert (status["phase"], status["progress"], status["time_left_seconds"]) == ("finishing", 91.3, 13.0)
    assert status["fragments_sent"] == 100
    # Devices settled count when they are ahead of the phases: 6 of 10 settled → 90 + 10 × 0.6.
    assert iotsquare(S.SEND_FRAG_SESS_STATUS, 212, settled=6)["progress"] == 96.0
    # Clean-up, past its end (fuota has not polled Done yet): 90 + 10 × min(1, 0.99) = 99.9 %, nothing left.
    late = iotsquare(S.CLEANUP, 230)
    assert (late["progress"], late["time_left_seconds"]) == (99.9, 0.0)


def test_iotsquare_progress_never_goes_backwards_through_a_whole_task() -> None:
    shown = []
    for tenth in range(0, 2300):
        now = tenth / 10
        state = next((s for s, (b, e) in IOTSQUARE.items() if b <= now < e), S.CLEANUP)
        shown.append(iotsquare(state, now)["progress"])
    assert shown == sorted(shown) and shown[0] == 0.0 and shown[-1] == 99.9


def test_iotsquare_seen_late_leaving_its_fragments_does_not_go_backwards() -> None:
    # A busy fuota polls late: at T0 + 224 s it still holds EnqueueFragment (ended at 210), then sees
    # SendFragSessStatus begun at 210. The wait counts no progress of its own: the finishing is the task's to report.
    waited = iotsquare(S.ENQUEUE_FRAGMENT, 224)
    seen = iotsquare(S.SEND_FRAG_SESS_STATUS, 224.1)
    assert waited["progress"] == 90.0 and waited["phase"] == "finishing"
    assert seen["progress"] >= waited["progress"]


def milesight(state: S, now: float, settled: int = 0, phase_started: float = 90) -> dict:
    reported = TaskProgress(task_started_at=T0, phase_started_at=at(phase_started), fragment_interval_s=5.0)
    plan = {"nb_frag": 40, "frag_size": 48, "redundancy": 12}  # 52 fragments
    return deployment_progress(
        state, plan, reported, devices=10, settled=settled, interval=None, now=at(now), changed_at=at(now),
        finishing_by_time=True,
    )  # fmt: skip


def test_milesight_from_started_at_and_its_interval_by_hand() -> None:
    # Waiting (set-up), started at T0, no end time given: 10 × 1/2 = 5 %; left: the set-up taken as half of the plan's
    # 120 s from the start (20 s of it to go at T0 + 40 s), 52 × 5 s of fragments, 60 s after them: 20 + 260 + 60.
    waiting = milesight(S.SEND_FRAG_SESS_SETUP, 40, phase_started=0)
    assert (waiting["phase"], waiting["progress"], waiting["time_left_seconds"]) == ("setup", 5.0, 340.0)
    # Executing since T0 + 90 s, at T0 + 100 s: floor(10 / 5) + 1 = 3 sent; 10 + 80 × 3 / 52 = 14.6 %; left: the
    # fragments end at T0 + 350 s, then the 90 s the set-up took: 250 + 90.
    sending = milesight(S.ENQUEUE_FRAGMENT, 100)
    assert (sending["fragments_sent"], sending["fragments_total"], sending["progress"]) == (3, 52, 14.6)
    assert sending["time_left_seconds"] == 340.0
    # Still executing after the last fragment (status round, upgrade), at T0 + 395 s: half of the 90 s, or 2 of 10
    # devices settled, whichever is more: 90 + 10 × 0.5 = 95 %; 45 s left.
    finishing = milesight(S.ENQUEUE_FRAGMENT, 395, settled=2)
    assert (finishing["phase"], finishing["progress"], finishing["time_left_seconds"]) == ("finishing", 95.0, 45.0)
    assert finishing["fragments_sent"] == 52
    done = milesight(S.DONE, 500, settled=10)
    assert (done["phase"], done["progress"], done["time_left_seconds"], done["fragments_sent"]) == (
        "ended", 100.0, 0.0, 52
    )  # fmt: skip


def test_before_the_task_exists_the_plan_paces_it() -> None:
    waiting = deployment_progress(
        S.SCHEDULED, PLAN, TaskProgress(), devices=4, settled=0, interval=2.0, now=T0, changed_at=T0
    )
    # 100 fragments × 2 s + 60 s either side.
    assert (waiting["phase"], waiting["progress"], waiting["time_left_seconds"]) == ("waiting", 0.0, 320.0)
    unknown = deployment_progress(
        S.SCHEDULED, None, TaskProgress(), devices=4, settled=0, interval=None, now=T0, changed_at=T0
    )
    assert (unknown["fragments_total"], unknown["time_left_seconds"], unknown["ends_at"]) == (None, None, None)


def test_a_task_aborted_mid_fragments_counts_its_fragments_only_where_it_can() -> None:
    aborted = deployment_progress(
        S.ABORTED, PLAN, TaskProgress(fragments_total=100), devices=4, settled=4, interval=2.0, now=at(99),
        changed_at=at(50),
    )  # fmt: skip
    assert (aborted["phase"], aborted["progress"], aborted["fragments_sent"]) == ("ended", 100.0, None)
    assert aborted["ends_at"] == at(50).isoformat()


def test_a_campaign_weighs_its_deployments_by_devices_and_waits_for_the_longest() -> None:
    rows = [
        {"devices": 30, "phase": "fragments", "progress": 50.0, "time_left_seconds": 100.0, "fragments_sent": 40,
         "fragments_total": 80, "settled": 3},
        {"devices": 10, "phase": "setup", "progress": 10.0, "time_left_seconds": 400.0, "fragments_sent": 0,
         "fragments_total": 80, "settled": 0},
    ]  # fmt: skip
    running = campaign_progress(
        rows, ended=False, ended_at=None, start=None, updated=0, judged=40, now=T0
    )  # (30 × 50 + 10 × 10) / 40 = 40 %
    assert (running["progress"], running["time_left_seconds"], running["phase"]) == (40.0, 400.0, "setup")
    assert (running["fragments_sent"], running["fragments_total"], running["settled"]) == (40, 160, 3)
    assert running["ends_at"] == at(400).isoformat()
    later_start = campaign_progress(rows, ended=False, ended_at=None, start=at(60), updated=0, judged=40, now=T0)
    assert later_start["time_left_seconds"] == 460.0
    unknown = campaign_progress(
        [rows[0], {**rows[1], "time_left_seconds": None}], ended=False, ended_at=None, start=None, updated=0,
        judged=40, now=T0,
    )  # fmt: skip
    assert unknown["time_left_seconds"] is None and unknown["ends_at"] is None
    ended = campaign_progress(rows, ended=True, ended_at=at(900), start=None, updated=30, judged=40, now=at(999))
    assert (ended["progress"], ended["updated_share"], ended["time_left_seconds"]) == (100.0, 0.75, 0.0)
    assert (ended["phase"], ended["ends_at"]) == ("ended", at(900).isoformat())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1764590400000, datetime(2025, 12, 1, 12, 0, tzinfo=UTC)),
        ("1764590400000", datetime(2025, 12, 1, 12, 0, tzinfo=UTC)),
        (-1, None),  # IoTSquare's "no next step"
        (0, None),
        (10**20, None),
        (float("nan"), None),
        (True, None),
        ("soon", None),
        (None, None),
    ],
)
def test_epoch_milliseconds_that_cannot_be_read_as_none(value: object, expected: datetime | None) -> None:
    assert facts.epoch_ms(value) == expected


def test_times_counts_and_intervals_that_cannot_be_read_as_none() -> None:
    assert facts.timestamp("2025-04-15T00:50:00.000Z") == datetime(2025, 4, 15, 0, 50, tzinfo=UTC)
    assert facts.timestamp("2025-04-15T01:13:00+01:00") == datetime(2025, 4, 15, 0, 13, tzinfo=UTC)
    assert [facts.timestamp(v) for v in ("2023-02-02 01:18:10", "", "1999-01-01T00:00:00Z", 5)] == [None] * 4
    assert [facts.count(v) for v in (0, 12, "7", 2.0)] == [0, 12, 7, 2]
    assert [facts.count(v) for v in (-1, 2.5, "x", None, False, 10**9)] == [None] * 6
    assert [facts.interval_ms(v) for v in (5000, "1000", 17)] == [5.0, 1.0, 0.017]
    assert [facts.interval_ms(v) for v in (0, -5, 10**9, "fast", None)] == [None] * 5


def test_task_progress_goes_to_the_store_and_back() -> None:
    said = TaskProgress(task_started_at=T0, phase_ends_at=at(5), fragments_total=100, fragment_interval_s=2.5)
    stored = said.as_json()
    assert stored == {
        "task_started_at": T0.isoformat(), "phase_ends_at": at(5).isoformat(), "fragments_total": 100,
        "fragment_interval_s": 2.5,
    }  # fmt: skip
    assert TaskProgress.from_json(stored) == said
    assert TaskProgress.from_json({**stored, "from_a_newer_fuota": 1}) == said
    assert TaskProgress.from_json(None) == TaskProgress()


def test_the_plan_s_pacing_is_the_fallback_interval() -> None:
    values = {"name": "c", "backend": "ms", "kind": "milesight", "redundancy_percent": 30}
    milesight = CampaignSettings.model_validate(values | {"target": {"dr": 5, "fragment_interval": 5000}})
    assert planned_interval(milesight, PLAN) == 5.0  # the task's own interval, legal at DR5 in EU868
    assert planned_interval(milesight, None) is None and planned_interval(milesight, {"frag_size": "big"}) is None
    unknown = CampaignSettings.model_validate(values | {"kind": "lorawan-x"})
    assert planned_interval(unknown, PLAN) is None
