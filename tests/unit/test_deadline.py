"""fuota.backends.deadline and the retry loop's budget (fuota.backends.retry), without any network."""

from __future__ import annotations

import math
import time

import pytest

from fuota.backends import deadline
from fuota.backends.errors import RejectedError, TransientError
from fuota.backends.retry import RetryPolicy


def test_without_a_window_each_wait_keeps_its_own_timeout() -> None:
    assert deadline.left(7.5) == 7.5
    assert deadline.give_up_at() == math.inf


def test_an_inner_window_never_pushes_an_outer_deadline_back() -> None:
    with deadline.window(0.5) as outer:
        with deadline.window(60) as inner:
            assert inner == outer and deadline.left(10) <= 0.5
        with deadline.window(0.1) as nearer:
            assert nearer < outer and deadline.left(10) <= 0.1
        assert 0.1 < deadline.left(10) <= 0.5
    assert deadline.left(10) == 10


def test_a_passed_deadline_refuses_every_wait() -> None:
    with deadline.window(0), pytest.raises(deadline.Expired, match="deadline of this back-end call has passed"):
        deadline.left(5)


def _fail_until_given_up(policy: RetryPolicy) -> tuple[TransientError, int, float]:
    """Run the policy's loop over a block that always fails; the error it ends with, the tries, the seconds."""
    tries = 0
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        for attempt in policy.tries():
            with attempt:
                tries += 1
                raise TransientError("busy")
    return caught.value, tries, time.monotonic() - started


def test_retries_end_at_their_budget_from_the_first_failure_and_say_how_long_it_lasted() -> None:
    error, tries, took = _fail_until_given_up(RetryPolicy(attempts=1000, timeout=0.3, wait_initial=0.02, wait_max=0.05))
    assert tries > 2
    # The last wait is shortened to end at the budget: the loop neither stops short of it nor runs a wait past it.
    assert 0.3 <= error.silent_for < 0.3 + 0.05
    assert took < 3  # generous: only shows that the loop ended (stamina's own timeout is off)


def test_the_runner_s_give_up_instant_ends_the_retries_sooner() -> None:
    with deadline.giving_up_in(0.2):
        error, _, _ = _fail_until_given_up(RetryPolicy(attempts=1000, timeout=60, wait_initial=0.02, wait_max=0.05))
    assert 0.2 - 0.05 <= error.silent_for < 0.2 + 0.05


def test_attempts_still_bound_the_loop() -> None:
    _, tries, _ = _fail_until_given_up(RetryPolicy(attempts=3, timeout=60, wait_initial=0.01, wait_max=0.01))
    assert tries == 3


def test_a_permanent_refusal_is_not_retried() -> None:
    tries = 0
    with pytest.raises(RejectedError):
        for attempt in RetryPolicy(attempts=5, wait_initial=0.01).tries():
            with attempt:
                tries += 1
                raise RejectedError("no")
    assert tries == 1
