"""fuota.planning.needed: each trial's needed redundancy agrees, trial by trial, with codec.decodable at every R."""

from __future__ import annotations

import numpy as np
import pytest

import codec
from fuota.planning.decoding import Gilbert, received_gilbert, received_iid, recommend, smallest
from fuota.planning.needed import needed


@pytest.mark.parametrize(
    ("nb_frag", "ceiling", "loss", "version"),
    [(1, 3, 0.5, 1), (20, 12, 0.3, 1), (64, 40, 0.2, 2), (287, 120, 0.25, 1), (100, 60, 0.02, 1)],
)
def test_needed_is_exactly_where_decodable_turns_true(nb_frag: int, ceiling: int, loss: float, version: int) -> None:
    received = received_iid(600, nb_frag + ceiling, loss, np.random.default_rng(nb_frag))
    needs = needed(nb_frag, ceiling, received, version)
    assert needs.min() >= 0 and needs.max() <= ceiling + 1
    for redundancy in range(ceiling + 1):
        ok = codec.decodable(nb_frag, redundancy, received[:, : nb_frag + redundancy], version)
        assert ((needs <= redundancy) == ok).all(), redundancy


def test_bursty_losses_beyond_the_first_pass_are_eliminated_again() -> None:
    # Long bursts make patterns that lack rank within lost + margin rows but reach it later: the second pass.
    channel = Gilbert(p_good_to_bad=0.02, p_bad_to_good=0.05, loss_good=0.0, loss_bad=0.95)
    received = received_gilbert(800, 150 + 150, channel, np.random.default_rng(3))
    needs = needed(150, 150, received)
    for redundancy in (0, 10, 40, 75, 110, 150):
        ok = codec.decodable(150, redundancy, received[:, : 150 + redundancy])
        assert ((needs <= redundancy) == ok).all(), redundancy


def test_the_smallest_redundancy_is_a_quantile_of_the_needs() -> None:
    needs = np.array([0, 3, 3, 5, 9, 12, 12, 12, 20, 31])
    assert smallest(needs, 0.5, 40) == (9, smallest(needs, 0.5, 40)[1])
    assert smallest(needs, 0.9, 40)[0] == 20 and smallest(needs, 1.0, 40)[0] == 31
    assert smallest(needs, 1.0, 30) is None
    found = smallest(needs, 0.8, 40)
    assert found is not None and found[0] == 12 and found[1].p == 0.8


def test_progress_is_told_the_share_done_up_to_one() -> None:
    seen: list[float] = []
    received = received_iid(1000, 287 + 200, 0.25, np.random.default_rng(9))
    needed(287, 200, received, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 4


def test_recommend_matches_a_bisection_over_decodable() -> None:
    received = received_iid(1500, 287 + 150, 0.1, np.random.default_rng(11))
    best, share = recommend(287, 0.99, received, 150)
    shares = {r: codec.decodable(287, r, received[:, : 287 + r]).mean() for r in (best - 1, best)}
    assert shares[best] >= 0.99 > shares[best - 1] and share.p == shares[best]
