"""fuota.planning.decoding: the Monte Carlo agrees with what is known exactly, and its recommendation is stable."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fuota.planning.decoding import Gilbert, estimate, received_gilbert, received_iid, recommend, sweep


@pytest.mark.parametrize(("m", "loss"), [(20, 0.05), (64, 0.02), (287, 0.005)])
def test_without_redundancy_the_share_is_the_chance_to_lose_nothing(m: int, loss: float) -> None:
    received = received_iid(20_000, m, loss, np.random.default_rng(m))
    found = estimate(m, 0, received)
    exact = (1 - loss) ** m
    assert found.low <= exact <= found.high


def test_losing_only_coded_fragments_never_matters() -> None:
    rng = np.random.default_rng(1)
    received = received_iid(2000, 287 + 86, 0.5, rng)
    received[:, :287] = True
    assert estimate(287, 86, received).p == 1.0


def test_more_redundancy_never_hurts() -> None:
    received = received_iid(2000, 287 + 100, 0.1, np.random.default_rng(2))
    shares = [estimate(287, r, received).p for r in range(0, 101, 10)]
    assert shares == sorted(shares)


def test_recommendation_is_stable_across_seeds() -> None:
    picks = []
    for seed in range(4):
        received = received_iid(3000, 287 + 150, 0.1, np.random.default_rng(seed))
        redundancy, found = recommend(287, 0.99, received, 150)
        assert found.p >= 0.99
        picks.append((redundancy, found))
    redundancies = [r for r, _ in picks]
    assert max(redundancies) - min(redundancies) <= 4
    # Judged on fresh patterns, each pick's share stays within one interval width of its own estimate.
    other = received_iid(10_000, 287 + 150, 0.1, np.random.default_rng(99))
    for redundancy, own in picks:
        assert abs(estimate(287, redundancy, other).p - own.p) <= own.high - own.low


def test_no_redundancy_is_enough_for_an_impossible_target() -> None:
    received = received_iid(500, 20 + 5, 0.5, np.random.default_rng(3))
    assert recommend(20, 0.999, received, 5) is None


def test_gilbert_channel_loses_what_it_should_and_in_bursts() -> None:
    channel = Gilbert(p_good_to_bad=0.05, p_bad_to_good=0.25, loss_good=0.01, loss_bad=0.7)
    received = received_gilbert(4000, 400, channel, np.random.default_rng(4))
    lost = ~received
    assert abs(lost.mean() - channel.mean_loss) < 0.01
    # Bursty: a loss is followed by another loss far more often than the mean loss rate.
    follow = (lost[:, 1:] & lost[:, :-1]).sum() / lost[:, :-1].sum()
    assert follow > 2 * channel.mean_loss


def test_sweep_shape_and_monotony() -> None:
    table = sweep(287, [0, 20, 40, 60, 86], [0.05, 0.1, 0.2], trials=500, seed=5)
    assert table.shape == (5, 3)
    assert (np.diff(table, axis=0) >= 0).all() and (np.diff(table, axis=1) <= 0.05).all()


def test_sweep_of_the_issue_size_runs() -> None:
    # 10 redundancies × 5 loss rates × 2000 trials for M = 287 (its timing is for the benchmark, not a test).
    began = time.perf_counter()
    table = sweep(287, list(range(0, 100, 10)), [0.02, 0.05, 0.1, 0.15, 0.2], trials=2000)
    assert table.shape == (10, 5) and time.perf_counter() - began < 120
