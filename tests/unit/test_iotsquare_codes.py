"""IoTSquare's code tables (fuota.backends.iotsquare.codes) against the spec's sections, and the reasons a person
reads for a device's last state."""

from __future__ import annotations

import pytest

from fuota.backends.iotsquare import codes
from fuota.core.model import DeploymentState


def test_tables_cover_the_spec_sections() -> None:
    assert len(codes.RESPONSE_CODES) == 17 + 4 + 3 + 6 + 6 + 23 + 1
    assert codes.RESPONSE_CODES.keys() >= codes.TRANSIENT_CODES | codes.AUTH_CODES | codes.NOT_FOUND_CODES
    assert set(codes.TASK_STATES.values()) <= set(DeploymentState)
    assert list(codes.DEVICE_STATES) == [
        "MC Not Joined", "MC Joined", "FragSessionSetupAns", "FragSessStatusAns", "FragSessDelAns", "Done", "Unknown"
    ]  # fmt: skip
    assert set(codes.BIND_REFUSALS) <= codes.RESPONSE_CODES.keys()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"state": "MC Not Joined"}, "never joined the multicast group: check that the device is Class C"),
        ({"state": "MC Joined"}, "fragment session set-up timeout"),
        ({"state": "FragSessStatusAns", "nbFragMissing": 4, "nbFragReceived": "9"}, "4 fragments missing"),
        ({"state": "Unknown", "error_message": "timeout"}, "IoTSquare error_message: timeout"),
    ],
)
def test_final_reason(raw: dict[str, object], expected: str) -> None:
    assert expected in codes.final_reason(raw)


@pytest.mark.parametrize(
    ("raw", "category"),
    [
        ({"state": "MC Not Joined"}, "never_joined"),
        ({"state": "MC Joined"}, "setup_timeout"),
        ({"state": "FragSessionSetupAns"}, "no_status_report"),
        ({"state": "FragSessStatusAns"}, "upgrade_failed"),
        ({"state": "FragSessDelAns"}, "upgrade_failed"),
        ({"state": "FragSessStatusAns", "nbFragMissing": 4, "nbFragReceived": "9"}, "too_few_fragments"),
        ({"state": "Unknown", "error_message": "timeout"}, "unknown"),
    ],
)
def test_final_category(raw: dict[str, object], category: str) -> None:
    assert codes.final_category(raw) == category


@pytest.mark.parametrize(
    ("raw", "category"),
    [
        ({"state": "FragSessStatusAns", "nbFragMissing": "544", "nbFragReceived": 2070}, "too_few_fragments"),
        ({"state": "MC Joined", "error_message": "no answer"}, "setup_timeout"),
        ({"state": "FragSessionSetupAns", "error_message": ""}, None),
        ({"state": "Done", "error_message": "ignored once done"}, None),
    ],
)
def test_a_device_reporting_a_failure_carries_its_category(raw: dict[str, object], category: str | None) -> None:
    _, reason, found = codes.device_stage(raw)
    assert found == category and (reason is None) == (category is None)
