"""Why devices did not end updated, grouped by category: the `reasons` of the read model (fuota.views.model).

One entry per category (fuota.core.reasons) among the devices that ended other than updated:

    reason group   category (its stable code), label, advice, devices (how many), outcomes (how many of each:
                   failed, unreachable, aborted, skipped), failures (failed + unreachable: the real failures)

Most devices first; on a tie, in the order of fuota.core.reasons.CATEGORIES (the order a device goes through a
campaign). The per-device detail, with its numbers, stays in each device row's `reason`. A device without a
category (which only a hand-made row can be) counts as unknown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from fuota.core.model import Outcome
from fuota.core.reasons import CATEGORIES, category_of, describe

__all__ = ["reason_groups", "reason_line"]

_ORDER = {category.value: i for i, category in enumerate(CATEGORIES)}
_FAILURES = (Outcome.FAILED.value, Outcome.UNREACHABLE.value)


def reason_groups(counted: Iterable[tuple[str | None, str, int]]) -> list[dict[str, Any]]:
    """(category, outcome, devices) rows, as Store.category_counts groups them, as reason groups."""
    groups: dict[str, Counter[str]] = {}
    for category, outcome, n in counted:
        groups.setdefault(category_of(category).value, Counter())[outcome] += n
    found = [
        {
            **describe(category),
            "devices": c.total(),
            "outcomes": dict(sorted(c.items())),
            "failures": sum(c[o] for o in _FAILURES),
        }
        for category, c in groups.items()
    ]
    return sorted(found, key=lambda row: (-row["devices"], _ORDER[row["category"]]))


def reason_line(group: dict[str, Any]) -> str:
    """One reason group as a line of text: "label (category): outcomes — advice"."""
    outcomes = ", ".join(f"{n} {outcome}" for outcome, n in group["outcomes"].items())
    return f"{group['label']} ({group['category']}): {outcomes} — {group['advice']}"
