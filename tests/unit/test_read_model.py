"""The read model (fuota.views.model and rows) on a SQLite file: each fact as its module docstring defines it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Stage
from fuota.core.reasons import CATEGORIES, Category
from fuota.store import EventKind, NewDeployment, NewEvent, Store
from fuota.views.model import campaign_list, campaign_overview, fleet_counts, status_data
from fuota.views.rows import DeviceFilter, FilterError, devices_page
from tests.support.sample_campaign import GONE, MISSING, build, euis
from tests.support.store_helpers import T0, Clock, campaign_settings


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock()
    with Store(f"sqlite:///{tmp_path / 'fuota.db'}", clock=clock) as s:
        yield s, clock


def test_counts_hold_every_stage_and_outcome_zeros_included(store: tuple[Store, Clock]) -> None:
    s, _ = store
    fresh = [NewDeployment("iotsquare", None, "fresh", True, euis("north", 4))]
    summary = campaign_overview(s, s.create_campaign(campaign_settings("fresh"), b"\x01", fresh).id)["summary"]
    assert summary["counts"] == {**{stage.value: 0 for stage in Stage}, "pending": 4}
    assert summary["outcomes"] == {"updated": 0, "failed": 0, "unreachable": 0, "aborted": 0, "skipped": 0}
    assert (summary["devices"], summary["pending"], summary["progress"]) == (4, 4, 0.0)
    assert (summary["started_at"], summary["duration_seconds"], summary["threshold_met"]) == (None, 0, False)
    assert summary["success_threshold"] == 0.9 and summary["redundancy_percent"] == 30  # as the settings say


def test_progress_follows_what_the_back_ends_reported(store: tuple[Store, Clock]) -> None:
    s, clock = store
    expected = build(s, clock, finished=False)
    # At T0 + 300 s, by hand: north (IoTSquare, EnqueueFragment T0 + 40 → 440 s, 100 fragments: 4 s apart) has sent
    # floor(260 / 4) + 1 = 66, so 10 + 80 × 0.66 = 62.8 %; its finishing is expected to last as its set-up did
    # (40 − 20 s), so 140 + 20 = 160 s are left. South (Milesight, set-up, started T0 + 30 s, 5 s apart, 52
    # fragments): 10 × 1/2 = 5 %, its set-up taken as 60 s (half the plan's 120 s) from its start, long past: 0 +
    # 52 × 5 + 60 = 320 s. East is done. The campaign: (12 × 62.8 + 10 × 5 + 8 × 100) / 30 = 53.5 %, 320 s left.
    overview = campaign_overview(s, 1, T0 + timedelta(seconds=300))
    shown = {
        d["task_name"]: (d["progress"], d["fragments_sent"], d["time_left_seconds"]) for d in overview["deployments"]
    }
    assert shown == {"north": (62.8, 66, 160.0), "south": (5.0, 0, 320.0), "east": (100.0, 81, 0.0)}
    summary = overview["summary"]
    assert (summary["progress"], summary["time_left_seconds"], summary["phase"]) == (53.5, 320.0, "setup")
    assert (summary["fragments_sent"], summary["fragments_total"], summary["settled"]) == (147, 233, 9)
    assert summary["ends_at"] == (T0 + timedelta(seconds=620)).isoformat()
    # Without a `now`, the progress is read as of the latest change the store holds: T0 + 300 s here too.
    assert campaign_overview(s, 1)["summary"]["progress"] == 53.5
    # Read a day later (as the read paths' test does), with the wall clock's now: the sample's own numbers.
    later = campaign_overview(s, 1, T0 + timedelta(days=1))
    assert later["summary"]["progress"] == expected.progress == 64.7
    assert {d["task_name"]: d["progress"] for d in later["deployments"]} == {"north": 90.8, "south": 5.0, "east": 100.0}


def test_progress_is_100_for_a_finished_campaign(store: tuple[Store, Clock]) -> None:
    s, clock = store
    build(s, clock, finished=True)
    overview = campaign_overview(s, 1)
    assert overview["summary"]["progress"] == 100.0
    assert {d["progress"] for d in overview["deployments"]} == {100.0}
    assert (overview["summary"]["state"], overview["summary"]["pending"]) == ("Failed", 0)
    # What an ended campaign shows instead of its 100 %: 20 of its 30 devices updated.
    assert overview["summary"]["updated_share"] == pytest.approx(20 / 30)
    assert (overview["summary"]["time_left_seconds"], overview["summary"]["phase"]) == (0.0, "ended")


def test_started_is_the_campaign_going_running_not_a_deployment_moving(store: tuple[Store, Clock]) -> None:
    s, clock = store
    build(s, clock, finished=True)  # deployments moved at T0 + 5 s, the campaign went Running at T0 + 10 s
    summary = campaign_overview(s, 1)["summary"]
    assert summary["started_at"] == (T0 + timedelta(seconds=10)).isoformat()
    assert summary["ended_at"] == (T0 + timedelta(seconds=900)).isoformat()
    assert summary["duration_seconds"] == 890


def _group(category: str, outcomes: dict[str, int], failures: int) -> dict[str, object]:
    info = CATEGORIES[Category(category)]
    devices = sum(outcomes.values())
    return {"category": category, "label": info.label, "advice": info.advice, "devices": devices,
            "outcomes": outcomes, "failures": failures}  # fmt: skip


def test_reasons_are_grouped_by_category_with_their_devices_and_outcomes(store: tuple[Store, Clock]) -> None:
    s, clock = store
    build(s, clock, finished=True)
    overview = campaign_overview(s, 1)
    assert overview["reasons"] == [
        _group("deployment_failed", {"failed": 6}, 6),
        _group("too_few_fragments", {"failed": 3}, 3),
        _group("never_joined", {"unreachable": 1}, 1),
    ]
    north = next(d for d in overview["deployments"] if d["task_name"] == "north")
    assert north["reasons"] == [
        _group("too_few_fragments", {"failed": 2}, 2),
        _group("never_joined", {"unreachable": 1}, 1),
    ]
    # The detail, with its numbers, stays per device.
    rows = status_data(s, 1)["devices"]
    assert {(d["category"], d["reason"]) for d in rows if d["outcome"] == "failed"} == {
        ("too_few_fragments", MISSING),
        ("deployment_failed", GONE),
    }


def test_aborted_and_skipped_devices_are_stops_not_failures(store: tuple[Store, Clock]) -> None:
    s, _ = store
    new = [
        NewDeployment("iotsquare", None, "ran", True, euis("north", 4)),
        NewDeployment("iotsquare", None, "idle", True, euis("south", 3)),
    ]
    campaign = s.create_campaign(campaign_settings("stopped", success_threshold=0.5), b"\x01", new)
    ran, idle = (d.id for d in s.deployments(campaign.id))
    north, south = euis("north", 4), euis("south", 3)
    stopped = [
        DeviceProgress(north[0], Stage.DONE, {}, Outcome.UPDATED),
        DeviceProgress(north[1], Stage.FAILED, {}, Outcome.FAILED, "low memory (7)", category=Category.LOW_MEMORY),
        DeviceProgress(
            north[2], Stage.RECEIVING, {}, Outcome.ABORTED, "aborted at receiving", category=Category.ABORTED
        ),
        DeviceProgress(
            north[3], Stage.RECEIVING, {}, Outcome.ABORTED, "aborted at receiving", category=Category.ABORTED
        ),
    ]
    s.apply(ran, state=DeploymentState.ABORTED, devices=stopped)
    skipped = [
        DeviceProgress(e, Stage.PENDING, {}, Outcome.SKIPPED, "nothing sent", category=Category.ABORTED) for e in south
    ]
    s.apply(idle, state=DeploymentState.ABORTED, devices=skipped)
    s.set_campaign_state(campaign.id, CampaignState.ABORTED, "operator")
    summary = campaign_overview(s, campaign.id)["summary"]
    assert summary["outcomes"] == {"updated": 1, "failed": 1, "unreachable": 0, "aborted": 2, "skipped": 3}
    assert (summary["aborted"], summary["skipped"], summary["failed"], summary["pending"]) == (2, 3, 1, 0)
    # Judged on the devices that ran to an end: 1 updated of 2, the threshold of 0.5 is met.
    assert (summary["judged"], summary["updated_share"], summary["threshold_met"]) == (2, 0.5, True)
    assert campaign_overview(s, campaign.id)["reasons"] == [
        _group("aborted", {"aborted": 2, "skipped": 3}, 0),
        _group("low_memory", {"failed": 1}, 1),
    ]
    fleet = fleet_counts(s)
    assert fleet.reasons == {("aborted", "aborted"): 2, ("aborted", "skipped"): 3, ("low_memory", "failed"): 1}
    assert sum(n for (_, outcome), n in fleet.devices.items() if outcome == "failed") == 1


def test_retries_are_the_retry_events_with_the_last_ones_time_and_cause(store: tuple[Store, Clock]) -> None:
    s, clock = store
    build(s, clock, finished=False)
    s.record_event(1, NewEvent(EventKind.ERROR, "not a retry"), deployment_id=3)
    rows = {d["task_name"]: d for d in campaign_overview(s, 1)["deployments"]}
    assert [rows[t]["retries"] for t in ("north", "south", "east")] == [3, 1, 0]
    assert rows["north"]["last_retry"] == {
        "at": (T0 + timedelta(seconds=200)).isoformat(),
        "cause": "north PollTask: no answer within 0.5 s (try 3)",
    }
    assert rows["east"]["last_retry"] is None
    assert fleet_counts(s).retries == 4 and fleet_counts(s).anomalies == 1  # south's retry is an anomaly too


def test_the_campaign_list_and_the_fleet_count_every_campaign(store: tuple[Store, Clock]) -> None:
    s, clock = store
    build(s, clock, finished=True)
    later = [NewDeployment("milesight", "gw", "later", False, euis("east", 2))]
    s.create_campaign(campaign_settings("later"), b"\x02", later)
    rows = campaign_list(s)
    assert [(r["name"], r["state"], r["devices"], r["pending"], r["progress"]) for r in rows] == [
        ("later", "Scheduled", 2, 2, 0.0),
        ("paths", "Failed", 30, 0, 100.0),
    ]
    assert rows[1]["backends"] == ["iotsquare", "milesight"] and rows[1]["outcomes"]["updated"] == 20
    assert rows[1]["updated_share"] == pytest.approx(20 / 30) and rows[0]["updated_share"] == 0
    fleet = fleet_counts(s)
    assert fleet.campaigns == {state.value: 0 for state in CampaignState} | {"Scheduled": 1, "Failed": 1}
    assert sum(fleet.devices.values()) == 32 and fleet.devices["pending", None] == 2


def test_status_holds_the_summary_and_the_device_rows(store: tuple[Store, Clock]) -> None:
    s, clock = store
    build(s, clock, finished=False)
    status = status_data(s, 1)
    summary = campaign_overview(s, 1)["summary"]
    assert {k: v for k, v in status.items() if k in summary and k != "devices"} == {
        k: v for k, v in summary.items() if k != "devices"
    }
    assert len(status["devices"]) == summary["devices"] == 30
    assert set(status["devices"][0]) == {
        "dev_eui", "deployment_id", "deployment", "stage", "outcome", "category", "reason", "last_change", "raw"
    }  # fmt: skip
    assert [a["deployment"] for a in status["anomalies"]] == ["south"]
    with pytest.raises(LookupError, match="campaign 99"):
        status_data(s, 99)


def test_the_device_table_refuses_a_deployment_of_another_campaign(store: tuple[Store, Clock]) -> None:
    s, clock = store
    build(s, clock, finished=False)
    lone = [NewDeployment("iotsquare", None, "o", True, ["00" * 8])]
    other = s.create_campaign(campaign_settings("other"), b"\x03", lone)
    with pytest.raises(FilterError, match="deployment = 1 is not a deployment of this campaign"):
        devices_page(s, other, DeviceFilter(deployment=1))
    page = devices_page(s, s.campaign(1), DeviceFilter.parse({"outcome": "none", "stage": "receiving"}))
    assert page["total"] == 4 and {d["deployment"] for d in page["devices"]} == {"north"}
