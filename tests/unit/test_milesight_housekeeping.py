"""fuota.backends.milesight.housekeeping: firmwareName within section 6.1's limits, a gateway's task list read, and
what 10310013 tells the operator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fuota.backends import answers
from fuota.backends.errors import MalformedAnswer
from fuota.backends.milesight.housekeeping import description, firmware_name, gateway_task, reused, too_many

GATEWAY = "24e124fffe0a0b0c"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/srv/fw/WT101.0000.0100.0101.bin", "WT101.0000.0100.0101.bin"),  # the spec's own sample, as it is
        ("C:/images/em300 v1.2 (rc).hex", "em300_v1.2__rc_.hex"),
        ("fw/ünïcode€.bin", "_n_code_.bin"),
        ("/x/" + "a" * 200 + ".bin", "a" * 123 + ".bin"),  # 127 characters, the extension kept
        (None, "spring-24e124fffe0a0b0c.bin"),
        ("/x/...", "spring-24e124fffe0a0b0c.bin"),  # nothing left of the name
    ],
)
def test_firmware_name_is_the_file_s_own_name_made_fit(path: str | None, expected: str) -> None:
    assert firmware_name(path, f"spring-{GATEWAY}") == expected
    assert len(expected) <= 127


def _entry(**fields: object) -> dict[str, object]:
    return {
        "id": 4,
        "name": f"spring-{GATEWAY}",
        "description": description(f"spring-{GATEWAY}"),
        "status": 4,
        "startedAt": "2025-04-15T01:13:00+01:00",
        "totalDevices": 2,
    } | fields


def test_a_task_entry_is_read_with_its_status_and_whether_fuota_made_it() -> None:
    task = gateway_task(_entry(), 0, GATEWAY.upper())
    assert (task.id, task.status, task.devices, task.finished, task.by_fuota) == (4, "upgrade failed", 2, True, True)
    assert task.started_at == datetime(2025, 4, 15, 0, 13, tzinfo=UTC)
    running = gateway_task(_entry(status="2", description="by hand", totalDevices=None, deveui=["a"]), 0, GATEWAY)
    assert (running.status, running.finished, running.by_fuota, running.devices) == ("executing", False, False, 1)
    assert gateway_task(_entry(status=9), 0, GATEWAY).status == "status 9"
    with pytest.raises(MalformedAnswer, match=r"tasks\[3\]\.id"), answers.shaped("test"):
        gateway_task(_entry(id="x"), 3, GATEWAY)


def test_too_many_says_what_the_gateway_holds_and_the_command_to_run() -> None:
    tasks = [gateway_task(_entry(id=i, status=s), 0, GATEWAY) for i, s in ((1, 3), (2, 2))]
    tasks.append(gateway_task(_entry(id=3, name="other", status=4), 0, GATEWAY))
    message = too_many("ms", GATEWAY, tasks)
    assert "10310013 Over the maximum task amount: it holds 3 tasks (2 finished)" in message
    assert f"1 of them are finished tasks fuota created (1 (spring-{GATEWAY}))" in message
    assert f"`fuota gateway tasks ms {GATEWAY.upper()} --delete-finished` deletes those" in message
    none = too_many("ms", GATEWAY, tasks[1:])
    assert "none of them is a finished task fuota created: delete tasks on the gateway's web interface" in none


def test_a_reused_task_is_read_from_the_options_for_its_gateway_only() -> None:
    options = {"reuse_tasks": {GATEWAY: {"taskId": 4, "name": "spring"}}}
    assert reused(options, GATEWAY.upper()) == (4, "spring")
    assert reused(options, "24e124fffe000000") is None
    assert reused({}, GATEWAY) is None
