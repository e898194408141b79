"""Lanes: how many campaign ticks may be under way on each back end at once, so that a slow one starves no other.

A tick of a campaign waiting on a slow or dead back end holds its thread for a call timeout plus the adapter's
retry budget (up to a minute). Were ticks admitted regardless of their back ends, campaigns on one trickling back
end would fill every thread and a healthy campaign on another back end would wait behind them. So every back end
has a lane of `width` slots: a campaign's tick is admitted only when every back end its deployments use has a free
slot, and takes one slot on each until it ends. A back end then never has more than `width` ticks under way, and a
campaign on other back ends is admitted at once whatever that one is doing. The daemon gives each admitted tick a
thread of its own, so threads are never what a tick waits for: lanes alone decide. Campaigns waiting for a slot are
admitted longest-waiting first (`by_waiting`), so the campaigns sharing a slow back end take turns.

A campaign whose deployments span a slow and a healthy back end waits for both lanes, and its tick lasts as long as
its slowest deployment: one campaign's deployments share its cadence. Within a tick, `interleave` orders the
deployments round-robin across back ends, so that one back end's many deployments do not take every step thread
before the others get one.

Pure: no I/O, no clock; the one lock makes `take` and `give_back` safe from the daemon's threads.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from itertools import chain, zip_longest
from typing import TypeVar

__all__ = ["DEFAULT_WIDTH", "Lanes", "admissible", "by_waiting", "interleave"]

DEFAULT_WIDTH = 2  # ticks under way per back end: enough to overlap two campaigns, few enough to bound a slow one

T = TypeVar("T")
_NONE = object()


def admissible(needs: Collection[str], busy: Mapping[str, int], width: int) -> bool:
    """Whether a tick using the back ends `needs` may start while `busy` ticks are under way on each back end:
    every one of them has fewer than `width`."""
    return all(busy.get(name, 0) < width for name in needs)


def by_waiting(due: Mapping[int, datetime | None]) -> list[int]:
    """The campaign ids of `due` (id → the instant its tick was due, None for never ticked yet), longest waiting
    first: never-ticked ones, then by due instant, ties by id."""
    return sorted(due, key=lambda cid: (due[cid] is not None, due[cid] or datetime.min, cid))


def interleave(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """`items` round-robin across their `key` (a back end's name): the first of each key, then the second of each…
    each key's items keep their order, keys come in order of first appearance."""
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    rounds = zip_longest(*groups.values(), fillvalue=_NONE)
    return [item for item in chain.from_iterable(rounds) if item is not _NONE]  # type: ignore[misc]


class Lanes:
    """The slots in use on each back end's lane, `width` per back end."""

    def __init__(self, width: int = DEFAULT_WIDTH) -> None:
        if width < 1:
            raise ValueError(f"a lane needs at least one slot, not {width}: give 1 or more ticks per back end")
        self.width = width
        self._busy: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, needs: Collection[str]) -> bool:
        """A slot on every lane of `needs` when each has one free (then True), else none (False)."""
        with self._lock:
            if not admissible(needs, self._busy, self.width):
                return False
            self._busy.update(set(needs))
            return True

    def give_back(self, needs: Collection[str]) -> None:
        """The slots `take` gave for `needs`, free again."""
        with self._lock:
            self._busy.subtract(set(needs))
            self._busy += Counter()  # drops the lanes back at zero

    def busy(self) -> dict[str, int]:
        """Ticks under way per back end (lanes in use only)."""
        with self._lock:
            return dict(self._busy)
