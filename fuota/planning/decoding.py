"""How much redundancy a fleet needs: Monte Carlo over loss patterns, decided with the real TS004 matrix.

Each trial is one device: which of the M+R fragments it receives, under independent loss or a bursty
Gilbert–Elliott channel. `codec.decodable` says, for thousands of trials at once, whether the device can rebuild
the image — with the exact parity matrix the back end sends, not an approximation. The same loss patterns serve
every redundancy R (the first M+R fragments of a pattern drawn for the largest R), so success can only grow with R:
one elimination (fuota.planning.needed) gives each trial the redundancy it needs, and every share, sweep and
smallest sufficient R is read from those numbers, each share with its 95 % Wilson interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fuota.planning.needed import needed

__all__ = [
    "Estimate",
    "Gilbert",
    "estimate",
    "received_gilbert",
    "received_iid",
    "recommend",
    "share",
    "smallest",
    "sweep",
]

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Gilbert:
    """A Gilbert–Elliott channel: a good and a bad state, each with its loss, and the chances of switching."""

    p_good_to_bad: float = 0.05
    p_bad_to_good: float = 0.3
    loss_good: float = 0.02
    loss_bad: float = 0.6

    @property
    def mean_loss(self) -> float:
        """The long-run share of fragments lost."""
        bad = self.p_good_to_bad / (self.p_good_to_bad + self.p_bad_to_good)
        return bad * self.loss_bad + (1 - bad) * self.loss_good


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo share of devices that decode, with its 95 % Wilson interval."""

    p: float
    low: float
    high: float
    trials: int


def _wilson(successes: int, trials: int) -> Estimate:
    p = successes / trials
    denominator = 1 + _Z95**2 / trials
    centre = (p + _Z95**2 / (2 * trials)) / denominator
    half = _Z95 * math.sqrt(p * (1 - p) / trials + _Z95**2 / (4 * trials**2)) / denominator
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), trials)


def received_iid(trials: int, total: int, loss: float, rng: np.random.Generator) -> np.ndarray:
    """(trials, total) bool: each fragment lost independently with probability `loss`."""
    return rng.random((trials, total)) >= loss


def received_gilbert(trials: int, total: int, channel: Gilbert, rng: np.random.Generator) -> np.ndarray:
    """(trials, total) bool under a Gilbert–Elliott channel, each trial starting in its stationary state.

    The state sequence is drawn as alternating runs of geometric length, for every trial at once, so that no
    Python loop runs per fragment.
    """
    mean_run = 1 / max(min(channel.p_good_to_bad, channel.p_bad_to_good), 1e-9)
    runs = max(4, int(2 * total / mean_run) + 8)
    while True:
        good = rng.geometric(channel.p_good_to_bad, (trials, runs))
        bad = rng.geometric(channel.p_bad_to_good, (trials, runs))
        start_bad = rng.random(trials) < channel.p_good_to_bad / (channel.p_good_to_bad + channel.p_bad_to_good)
        # Runs alternate from the starting state: bad, good, bad… or good, bad, good…
        first, second = np.where(start_bad[:, None], bad, good), np.where(start_bad[:, None], good, bad)
        lengths = np.stack([first, second], axis=2).reshape(trials, 2 * runs)
        if (lengths.sum(axis=1) >= total).all():
            break
        runs *= 2
    ends = np.cumsum(lengths, axis=1)
    # The run that holds position t is the number of run ends at or before t; runs of the starting state have even
    # indexes. Offsetting
    # each row by more than its span makes one sorted array of all rows, so one searchsorted serves them all.
    span = int(ends[:, -1].max()) + 1 if trials else 1
    offsets = np.arange(trials, dtype=np.int64)[:, None] * span
    flat = (ends + offsets).ravel()
    found = np.searchsorted(flat, (np.arange(total) + offsets).ravel(), side="right").reshape(trials, total)
    run_index = found - np.arange(trials)[:, None] * lengths.shape[1]
    bad_state = ((run_index % 2) == 1) ^ start_bad[:, None]
    loss = np.where(bad_state, channel.loss_bad, channel.loss_good)
    return rng.random((trials, total)) >= loss


def share(needs: np.ndarray, redundancy: int) -> Estimate:
    """The share of trials decoding with `redundancy` coded fragments, from their `needed` redundancies."""
    return _wilson(int((needs <= redundancy).sum()), len(needs))


def estimate(nb_frag: int, redundancy: int, received: np.ndarray, version: int = 1) -> Estimate:
    """The share of trials that decode with `redundancy` coded fragments (the first nb_frag+R columns used)."""
    return share(needed(nb_frag, redundancy, received, version), redundancy)


def smallest(needs: np.ndarray, target: float, max_redundancy: int) -> tuple[int, Estimate] | None:
    """The smallest R ≤ max_redundancy whose share of trials decoding reaches `target`, and that share; None if
    none. `needs` are the trials' needed redundancies (fuota.planning.needed, computed up to max_redundancy)."""
    if len(needs) == 0:
        return None
    k = max(1, math.ceil(target * len(needs) - 1e-9))  # trials that must decode
    best = int(np.sort(needs)[k - 1])
    if best > max_redundancy:
        return None
    return best, share(needs, best)


def recommend(
    nb_frag: int, target: float, received: np.ndarray, max_redundancy: int, version: int = 1
) -> tuple[int, Estimate] | None:
    """The smallest R ≤ max_redundancy whose estimated share reaches `target`, and that estimate; None if none."""
    return smallest(needed(nb_frag, max_redundancy, received, version), target, max_redundancy)


def sweep(nb_frag: int, redundancies: list[int], losses: list[float], trials: int, seed: int = 0) -> np.ndarray:
    """Share decoding for each (redundancy, loss): an array of shape (len(redundancies), len(losses))."""
    rng = np.random.default_rng(seed)
    table = np.zeros((len(redundancies), len(losses)))
    top = max(redundancies)
    for j, loss in enumerate(losses):
        needs = needed(nb_frag, top, received_iid(trials, nb_frag + top, loss, rng))
        for i, redundancy in enumerate(redundancies):
            table[i, j] = share(needs, redundancy).p
    return table
