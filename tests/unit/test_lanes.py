"""fuota.service.lanes (per-back-end admission of campaign ticks) and the process-wide stop of back-end work
(fuota.backends.deadline.stop), without any network."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from fuota.backends import deadline
from fuota.backends.errors import TransientError
from fuota.backends.retry import RetryPolicy
from fuota.service.lanes import Lanes, admissible, by_waiting, interleave


@pytest.fixture
def stopped() -> Iterator[None]:
    """The process-wide stop, undone afterwards so that no other test sees it."""
    deadline.stop()
    try:
        yield
    finally:
        deadline.carry_on()


def test_a_tick_is_admitted_only_when_every_back_end_it_uses_has_a_free_slot() -> None:
    busy = {"slow": 2, "healthy": 1}
    assert admissible({"healthy"}, busy, 2)
    assert not admissible({"slow"}, busy, 2)
    assert not admissible({"slow", "healthy"}, busy, 2)
    assert admissible({"other"}, busy, 1)
    assert admissible(set(), busy, 1)  # a campaign without deployments waits for no lane


def test_a_slow_back_end_fills_its_own_lane_and_no_other() -> None:
    lanes = Lanes(2)
    assert lanes.take({"slow"}) and lanes.take({"slow"})
    assert not lanes.take({"slow"}) and not lanes.take({"slow", "healthy"})
    assert lanes.busy() == {"slow": 2}  # the refused mixed tick took nothing
    assert lanes.take({"healthy"}) and lanes.take({"healthy"}) and not lanes.take({"healthy"})
    lanes.give_back({"slow"})
    assert lanes.take({"slow"})
    for _ in range(2):
        lanes.give_back({"slow"})
        lanes.give_back({"healthy"})
    assert lanes.busy() == {}


def test_a_lane_without_a_slot_is_refused_naming_the_value() -> None:
    with pytest.raises(ValueError, match="at least one slot, not 0"):
        Lanes(0)


def test_campaigns_waiting_longest_are_admitted_first() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    due = {5: now, 3: now - timedelta(seconds=9), 7: None, 4: now, 1: None}
    assert by_waiting(due) == [1, 7, 3, 4, 5]


def test_deployments_are_stepped_round_robin_across_back_ends() -> None:
    items = ["slow-1", "slow-2", "slow-3", "healthy-1", "other-1", "healthy-2"]
    assert interleave(items, lambda i: i.split("-")[0]) == [
        "slow-1",
        "healthy-1",
        "other-1",
        "slow-2",
        "healthy-2",
        "slow-3",
    ]
    assert interleave([], str) == []


def test_after_the_stop_no_new_call_gets_anywhere(stopped: None) -> None:
    assert deadline.stopping()
    with deadline.window(30), pytest.raises(deadline.Expired, match="fuota is stopping"):
        deadline.left(5)
    with pytest.raises(deadline.Expired, match="fuota is stopping"):
        deadline.left(5)  # a wait outside any window is a new call too


def test_a_call_under_way_at_the_stop_keeps_its_deadline() -> None:
    with deadline.window(30):
        deadline.stop()
        try:
            assert 4.9 < deadline.left(5) <= 5
            with deadline.window(60):  # a nested window belongs to the call under way
                assert 4.9 < deadline.left(5) <= 5
        finally:
            deadline.carry_on()


def test_after_the_stop_no_retry_starts(stopped: None) -> None:
    assert deadline.give_up_at() <= time.monotonic()
    with deadline.giving_up_in(100):
        assert deadline.give_up_at() <= time.monotonic()
    tries = 0
    with pytest.raises(TransientError):
        for attempt in RetryPolicy(attempts=5, timeout=60, wait_initial=5, wait_max=5).tries():
            with attempt:
                tries += 1
                raise TransientError("the back end is down")
    assert tries == 1


def test_carry_on_undoes_the_stop() -> None:
    deadline.stop()
    deadline.carry_on()
    assert not deadline.stopping() and deadline.give_up_at() == math.inf and deadline.left(3) == 3
