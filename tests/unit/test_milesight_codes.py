"""Milesight's code tables (fuota.backends.milesight.codes): every return and FUOTA error code becomes a typed error
with the spec's meaning; task statuses and device session codes map onto states and stages."""

from __future__ import annotations

import pytest

from fuota.backends.errors import NotFoundError, RejectedError, TransientError
from fuota.backends.milesight import codes
from fuota.core.model import DeploymentState, Stage


@pytest.mark.parametrize("value", [*codes.RETURN_CODES, *codes.FUOTA_ERROR_CODES])
def test_every_code_becomes_a_typed_error_with_the_spec_meaning(value: int) -> None:
    error = codes.answer_error(value, "detail", "here")
    expected = TransientError if value in (23, 24, 10310015) else NotFoundError if value == 5 else RejectedError
    assert type(error) is expected and error.code == value
    meaning = codes.RETURN_CODES.get(value) or codes.FUOTA_ERROR_CODES[value]
    assert error.msg == meaning and str(error).startswith(f"here: {value} {meaning} (detail)")


TASK_STATUS_CASES = [(0, "Created"), (1, "SendFragSessSetup"), ("2", "EnqueueFragment"), (3, "Done"), (4, "Done")]


@pytest.mark.parametrize(("status", "state"), [*TASK_STATUS_CASES, (5, "Unknown"), (None, "Unknown")])
def test_task_status(status: object, state: str) -> None:
    assert codes.task_state(status) is DeploymentState(state)


MULTICAST_STAGES = ["pending", "multicast_setup", *["multicast_ready"] * 4, *["failed"] * 8]
FRAGMENT_STAGES = ["pending", "fragmentation_setup", "receiving", "receiving", *["failed"] * 8]
FRAGMENT_STAGES += ["status_reported", "done", "failed", "failed", "failed"]


@pytest.mark.parametrize("value", range(14))
def test_multicast_session_status(value: int) -> None:
    stage, reason, category = codes.device_stage(
        {"multicastSessionStatus": value, "fragmentSessionStatus": 0, "status": 1}
    )
    assert stage is Stage(MULTICAST_STAGES[value])
    assert (reason is not None) == (stage is Stage.FAILED) == (category is not None)
    if reason:
        assert reason.endswith(f"(multicast session status {value})")


@pytest.mark.parametrize("value", range(17))
def test_fragment_session_status(value: int) -> None:
    stage, reason, category = codes.device_stage(
        {"multicastSessionStatus": 4, "fragmentSessionStatus": value, "status": 2}
    )
    assert stage is Stage(FRAGMENT_STAGES[value] if value else "multicast_ready")
    assert (reason is not None) == (stage is Stage.FAILED) == (category is not None)


@pytest.mark.parametrize(
    ("raw", "stage", "words", "category"),
    [
        ({"multicastSessionStatus": 6}, Stage.FAILED, "the device did not answer the multicast set-up", "never_joined"),
        ({"fragmentSessionStatus": 7}, Stage.FAILED, "not enough memory for the fragmentation session", "low_memory"),
        ({"fragmentSessionStatus": 9}, Stage.FAILED, "too few fragments received", "too_few_fragments"),
        (
            {"fragmentSessionStatus": 4, "multicastSessionStatus": 8},
            Stage.FAILED,
            "fragment session set-up timeout",
            "setup_timeout",
        ),
        ({"status": 4, "multicastSessionStatus": 5}, Stage.FAILED, "device status 4", "unknown"),
        ({"status": 3, "multicastSessionStatus": 8}, Stage.FAILED, "did not answer the Class C", "never_joined"),
        ({"fragmentSessionStatus": "13"}, Stage.DONE, None, None),
        ({"multicastSessionStatus": 99}, Stage.UNKNOWN, None, None),
    ],
)
def test_device_codes_precedence(raw: dict[str, object], stage: Stage, words: str | None, category: str | None) -> None:
    found, reason, found_category = codes.device_stage(raw)
    assert found is stage and found_category == category
    assert reason is None if words is None else words in str(reason)


# Every failure code of 6.11 and the category it maps to: the README's table says the same.
MULTICAST_CATEGORIES = {6: "never_joined", 8: "never_joined", 13: "unknown"} | dict.fromkeys(
    (7, 9, 10, 11, 12), "multicast_error"
)
FRAGMENT_CATEGORIES = {4: "setup_timeout", 7: "low_memory", 9: "too_few_fragments", 15: "no_status_report"}
FRAGMENT_CATEGORIES |= dict.fromkeys((5, 6, 8), "session_refused") | dict.fromkeys((10, 14), "upgrade_failed")
FRAGMENT_CATEGORIES |= dict.fromkeys((11, 16), "unknown")


def test_every_failure_code_has_its_category() -> None:
    assert {code: str(category) for code, (_, category) in codes.MULTICAST_FAILURES.items()} == MULTICAST_CATEGORIES
    assert {code: str(category) for code, (_, category) in codes.FRAGMENT_FAILURES.items()} == FRAGMENT_CATEGORIES


# Device success (issue 15): fragmentSessionStatus 13 alone says "updated"; `status` 3 never does by itself. Every
# combination of the three codes' kinds: fragment 13 / a fragment failure / a fragment stage / none, a multicast
# failure / a multicast stage / none, and status 3 / 4 / under way / absent.
_FRAGMENT = {"13": 13, "failure": 9, "under way": 3, "complete": 12, "not started": 0, "absent": None}
_MULTICAST = {"failure": 6, "under way": 4, "not started": 0, "absent": None}
_STATUS = {"3": 3, "4": 4, "under way": 2, "absent": None}


def _expected(fragment: str, multicast: str, status: str) -> tuple[Stage, str | None]:
    if fragment == "13":
        return Stage.DONE, None
    if fragment == "failure":
        return Stage.FAILED, "too_few_fragments"
    if multicast == "failure":
        return Stage.FAILED, "never_joined"
    if status == "4":
        return Stage.FAILED, "unknown"
    if fragment == "under way":
        return Stage.RECEIVING, None
    if fragment == "complete":
        return Stage.STATUS_REPORTED, None
    if multicast == "under way":
        return Stage.MULTICAST_READY, None
    if multicast == "not started" and status != "3":
        return Stage.PENDING, None
    return Stage.UNKNOWN, None  # no session code at all, or "not started" beside "upgrade success"


@pytest.mark.parametrize("status", _STATUS)
@pytest.mark.parametrize("multicast", _MULTICAST)
@pytest.mark.parametrize("fragment", _FRAGMENT)
def test_a_device_is_done_only_with_fragment_session_status_13(fragment: str, multicast: str, status: str) -> None:
    raw = {
        key: value
        for key, value in (
            ("fragmentSessionStatus", _FRAGMENT[fragment]),
            ("multicastSessionStatus", _MULTICAST[multicast]),
            ("status", _STATUS[status]),
        )
        if value is not None
    }
    stage, reason, category = codes.device_stage(raw)
    assert (stage, None if category is None else str(category)) == _expected(fragment, multicast, status)
    assert (reason is not None) == (stage is Stage.FAILED)


def test_status_3_alone_is_not_success_and_the_failure_code_wins() -> None:
    assert codes.device_stage({"status": 3}).stage is Stage.UNKNOWN
    assert codes.device_stage({"status": "3", "fragmentSessionStatus": 0, "multicastSessionStatus": 0}).stage is (
        Stage.UNKNOWN
    )
    failed = codes.device_stage({"status": 3, "fragmentSessionStatus": 10, "multicastSessionStatus": 5})
    assert failed.stage is Stage.FAILED and "(fragment session status 10)" in str(failed.reason)
