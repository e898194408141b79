"""The Milesight adapter's check of a task's options (section 6.1's limits), without a gateway."""

from __future__ import annotations

import pytest

from fuota.backends.errors import RejectedError
from fuota.backends.milesight.adapter import check_task_options


def test_check_task_options_alone() -> None:
    check_task_options(fragment_size=48, fragment_interval=1000, fragment_redundancy=0, name="x", max_payload=51)
    check_task_options(fragment_size=250, fragment_interval=10000, fragment_redundancy=100, max_payload=253)
    with pytest.raises(RejectedError, match="choose at most 219"):
        check_task_options(fragment_size=220, fragment_interval=5000, max_payload=222)
    with pytest.raises(RejectedError, match="task name '' has 0 characters"):
        check_task_options(fragment_size=10, fragment_interval=5000, name="")
