"""fuota.backends.deadline and the retry loop's budget (fuota.backends.retry), without any network."""

from __future__ import annotations

import math
import time

import pytest

from fuota.backends import deadline
from fuota.backends.errors import RejectedError, TransientError
from fuota.backends.retry import RetryPolicy


def test_without_a_window_each_wait_keeps_its_own_timeout() -> None:
    assert deadline.deadline() == math.inf
    assert deadline.left(7.5) == 7.5


def test_an_inner_window_never_pushes_an_outer_deadline_back() -> None:
    with deadline.window(0.5) as outer:
        with deadline.window(60) as inner:
            assert inner == outer and deadline.left(10) <= 0.5
        with deadline.window(0.1) as nearer:
            assert nearer < outer and deadline.deadline() == nearer
        assert deadline.deadline() == outer
    assert deadline.deadline() == math.inf


def test_a_passed_deadline_refuses_every_wait() -> None:
    with deadline.window(0), pytest.raises(deadline.Expired, match="deadline of this back-end call has passed"):
        deadline.left(5)


def test_retries_end_at_their_budget_from_the_first_failure_and_say_how_long_it_lasted() -> None:
    policy = RetryPolicy(attempts=1000, timeout=0.3, wait_initial=0.02, wait_max=0.05)
    ends: list[float] = []
    with pytest.raises(TransientError) as caught:
        for attempt in policy.tries():
            with attempt:
                ends.append(deadline.deadline())
                raise TransientError("busy")
    first, *retried = ends
    assert first == math.inf  # the budget starts at the first failure: the first attempt has only its own timeout
    # Each retry is held to the one budget (the same instant, but for float rounding).
    assert retried and max(retried) - min(retried) < 1e-3 and max(retried) < time.monotonic() + 0.3
    assert 0.3 - 0.05 - 0.02 <= caught.value.silent_for <= 0.3  # no try starts that could not end by the budget


def test_an_outer_deadline_ends_the_retries_sooner() -> None:
    policy = RetryPolicy(attempts=1000, timeout=60, wait_initial=0.02, wait_max=0.05)
    with deadline.window(0.2), pytest.raises(TransientError) as caught:
        for attempt in policy.tries():
            with attempt:
                raise TransientError("busy")
    assert caught.value.silent_for <= 0.2


def test_a_permanent_refusal_is_not_retried() -> None:
    tries = 0
    with pytest.raises(RejectedError):
        for attempt in RetryPolicy(attempts=5, wait_initial=0.01).tries():
            with attempt:
                tries += 1
                raise RejectedError("no")
    assert tries == 1
