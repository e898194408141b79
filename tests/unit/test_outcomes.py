"""Which device gets which outcome and category (fuota.core.outcomes' rules, in order), and what counts toward the
campaign's success share; the category table of fuota.core.reasons."""

from __future__ import annotations

import pytest

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Stage
from fuota.core.outcomes import VERSION_ANOMALY, campaign_outcome, judged, outcome_of, version_anomaly
from fuota.core.reasons import CATEGORIES, Category, category_of, describe

EUI = "70b3d5e75e000001"
ABORTED, DONE, FAILED = DeploymentState.ABORTED, DeploymentState.DONE, DeploymentState.FAILED
LOW = DeviceProgress(EUI, Stage.FAILED, {}, reason="not enough memory (7)", category=Category.LOW_MEMORY)
REFUSED = DeviceProgress(EUI, Stage.FAILED, {}, Outcome.FAILED, "not known", category=Category.BACKEND_REFUSED)


def _at(stage: Stage, **fields: object) -> DeviceProgress:
    return DeviceProgress(EUI, stage, {}, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("device", "ending", "task_created", "outcome", "category"),
    [
        # 1. an outcome given at preparation is kept, whatever happens next
        (REFUSED, ABORTED, False, Outcome.FAILED, Category.BACKEND_REFUSED),
        # 2. done stays updated, even when the campaign is aborted afterwards
        (_at(Stage.DONE), ABORTED, True, Outcome.UPDATED, None),
        (_at(Stage.DONE), FAILED, True, Outcome.UPDATED, None),
        # 3. aborted before the task existed: nothing was sent
        (_at(Stage.PENDING), ABORTED, False, Outcome.SKIPPED, Category.ABORTED),
        (_at(Stage.MULTICAST_READY), ABORTED, False, Outcome.SKIPPED, Category.ABORTED),
        # 4. a failure the back end reported is real, even in an aborted or failed deployment
        (LOW, ABORTED, True, Outcome.FAILED, Category.LOW_MEMORY),
        (LOW, FAILED, True, Outcome.FAILED, Category.LOW_MEMORY),
        (LOW, DONE, True, Outcome.FAILED, Category.LOW_MEMORY),
        (
            _at(Stage.FAILED, reason="gone", category=Category.NEVER_JOINED),
            DONE,
            True,
            Outcome.UNREACHABLE,
            Category.NEVER_JOINED,
        ),
        (_at(Stage.RECEIVING, reason="a reason from before categories"), DONE, True, Outcome.FAILED, Category.UNKNOWN),
        # 5. the operator stopped it before it finished
        (_at(Stage.RECEIVING), ABORTED, True, Outcome.ABORTED, Category.ABORTED),
        (_at(Stage.PENDING), ABORTED, True, Outcome.ABORTED, Category.ABORTED),
        # 6. its deployment failed
        (_at(Stage.RECEIVING), FAILED, True, Outcome.FAILED, Category.DEPLOYMENT_FAILED),
        (_at(Stage.PENDING), FAILED, False, Outcome.FAILED, Category.DEPLOYMENT_FAILED),
        # 7. the task ended before it joined
        (_at(Stage.PENDING), DONE, True, Outcome.UNREACHABLE, Category.NEVER_JOINED),
        (_at(Stage.MULTICAST_SETUP), DONE, True, Outcome.UNREACHABLE, Category.NEVER_JOINED),
        # 8. the task ended without a verdict on it
        (_at(Stage.RECEIVING), DONE, True, Outcome.FAILED, Category.BACKEND_SILENT),
        (_at(Stage.STATUS_REPORTED), DONE, True, Outcome.FAILED, Category.BACKEND_SILENT),
    ],
)
def test_outcome_rules(
    device: DeviceProgress, ending: DeploymentState, task_created: bool, outcome: Outcome, category: Category | None
) -> None:
    ended = outcome_of(device, ending, "HTTP 401", task_created=task_created)
    assert (ended.outcome, ended.category, ended.stage) == (outcome, category, device.stage)
    assert (ended.reason is None) == (outcome is Outcome.UPDATED)


def test_the_details_say_what_happened() -> None:
    assert (
        outcome_of(_at(Stage.RECEIVING), ABORTED).reason == "campaign aborted while the device was at stage receiving"
    )
    assert "nothing was sent" in str(outcome_of(_at(Stage.PENDING), ABORTED, task_created=False).reason)
    assert outcome_of(_at(Stage.RECEIVING), FAILED, "HTTP 401").reason == "deployment failed: HTTP 401"
    assert outcome_of(LOW, ABORTED).reason == LOW.reason


def test_a_device_on_another_version_failed_as_wrong_version() -> None:
    device = _at(Stage.DONE, firmware_version="v1")
    ended = outcome_of(device, DONE, expected_version="v2")
    assert (ended.outcome, ended.category) == (Outcome.FAILED, Category.WRONG_VERSION) and "'v1'" in str(ended.reason)
    assert outcome_of(_at(Stage.DONE, firmware_version="v2"), DONE, expected_version="v2").outcome is Outcome.UPDATED


def test_the_success_share_leaves_aborted_and_skipped_out() -> None:
    outcomes = {"updated": 9, "failed": 1, "unreachable": 0, "aborted": 0, "skipped": 5}
    assert judged(15, outcomes) == 10
    assert campaign_outcome([DONE, DONE], outcomes, 0.9) == (CampaignState.DONE, "9 of 10 devices updated")
    verdict = campaign_outcome([DONE], {"updated": 8, "failed": 1, "unreachable": 1}, 0.9)
    assert verdict is not None and verdict[0] is CampaignState.FAILED and "8 of 10" in verdict[1]
    assert campaign_outcome([DONE, ABORTED], outcomes, 0.9) == (CampaignState.ABORTED, "a deployment was aborted")
    assert campaign_outcome([FAILED, DONE], outcomes, 0.1) == (CampaignState.FAILED, "a deployment failed")
    assert campaign_outcome([DONE, DeploymentState.ENQUEUE_FRAGMENT], outcomes, 0.9) is None


def test_every_category_has_a_label_and_advice_and_reads_back() -> None:
    assert set(CATEGORIES) == set(Category)
    required = {"never_joined", "setup_timeout", "low_memory", "too_few_fragments", "wrong_version"}
    required |= {"backend_refused", "aborted", "deployment_failed", "backend_silent", "unknown"}
    assert required <= {c.value for c in Category}
    for category, info in CATEGORIES.items():
        assert info.label and info.advice and describe(category.value)["label"] == info.label
    assert category_of("a_newer_fuotas_code") is Category.UNKNOWN and category_of(None) is Category.UNKNOWN
    assert {o.value for o in Outcome if o.judged} == {"updated", "failed", "unreachable"}


def _v(stage: Stage, initial: str | None, latest: str | None) -> DeviceProgress:
    return DeviceProgress(EUI, stage, {}, firmware_version=latest, initial_version=initial)


@pytest.mark.parametrize(
    ("devices", "expected", "anomaly"),
    [
        ([_v(Stage.DONE, "v1", "v1")], None, None),  # no expected_version: nothing to check
        ([_v(Stage.DONE, "v1", "v2")], "v2", None),  # changed to it: met
        ([_v(Stage.DONE, "v2", "v2")], "v2", None),  # reports it from the start: met all the same
        ([_v(Stage.FAILED, "v1", "v1")], "v2", None),  # no device done: the version judges none
        ([_v(Stage.DONE, "v1", "v3"), _v(Stage.DONE, "v1", "v1")], "v2", None),  # one changed: the field is usable
        ([_v(Stage.DONE, None, None), _v(Stage.FAILED, None, None)], "v2", "all empty"),
        ([_v(Stage.DONE, "v1", "v1"), _v(Stage.RECEIVING, "v1", "v1")], "v2", "'v1' on 2 devices"),
        ([_v(Stage.DONE, None, "v1")], "v2", "changed during the task ('v1' on 1 device)"),  # stored before 0007
    ],
)
def test_versions_judge_unless_empty_or_never_changing(
    devices: list[DeviceProgress], expected: str | None, anomaly: str | None
) -> None:
    found = version_anomaly(devices, expected)
    assert (found is None) == (anomaly is None)
    if found is not None:
        assert found.startswith(f"{VERSION_ANOMALY}: ") and str(anomaly) in found
        assert f"does not check expected_version {expected!r}" in found
