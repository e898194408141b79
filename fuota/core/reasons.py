"""Why a device did not end updated, as a stable category: one table of codes, each with a label and advice.

A device that did not end updated carries two things: its `category` (a code of CATEGORIES, stable across
versions: scripts, alerts and the read model group by it) and its `reason` (the detail for this one device, with its
numbers: "544 fragments missing (2070 received)…"). Reports, `status`, the dashboard and /metrics group by category
and count; the detail stays per device.

Who assigns which category:

    the back ends' code tables   fuota/backends/iotsquare/codes.py, fuota/backends/milesight/codes.py map each
                                 device code to a category (the README's table lists them)
    fuota itself                 fuota.core.outcomes: never_joined (the task ended before the device joined),
                                 aborted, wrong_version (the device reports another firmware), deployment_failed,
                                 backend_silent (the task ended without a verdict on the device)
    a refusal at preparation     backend_refused, unless the adapter names a finer category

`category_of` reads a stored category back, so that a value this version does not know (a newer fuota's) counts as
unknown instead of failing every reader.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CATEGORIES", "Category", "CategoryInfo", "category_of", "describe"]


class Category(enum.StrEnum):
    """The stable code of a reason for not ending updated."""

    NEVER_JOINED = "never_joined"
    BACKEND_REFUSED = "backend_refused"
    MULTICAST_ERROR = "multicast_error"
    SETUP_TIMEOUT = "setup_timeout"
    SESSION_REFUSED = "session_refused"
    LOW_MEMORY = "low_memory"
    TOO_FEW_FRAGMENTS = "too_few_fragments"
    NO_STATUS_REPORT = "no_status_report"
    UPGRADE_FAILED = "upgrade_failed"
    WRONG_VERSION = "wrong_version"
    DEPLOYMENT_FAILED = "deployment_failed"
    BACKEND_SILENT = "backend_silent"
    ABORTED = "aborted"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    """What a category means to a person: a short label and what to do about it."""

    label: str
    advice: str


# In the order a device goes through a campaign, so that reports list causes in a readable order on ties.
CATEGORIES: dict[Category, CategoryInfo] = {
    Category.BACKEND_REFUSED: CategoryInfo(
        "refused by the back end before the campaign started",
        "the detail names the back end's reason: register the device, fix its group or gateway, then retry",
    ),
    Category.NEVER_JOINED: CategoryInfo(
        "never joined the multicast session",
        "check that the device is Class C, joined to the network and in reach of a gateway, then retry",
    ),
    Category.MULTICAST_ERROR: CategoryInfo(
        "the device refused the multicast set-up",
        "the detail says which setting (frequency, data rate, a stale multicast group): fix it, then retry",
    ),
    Category.SETUP_TIMEOUT: CategoryInfo(
        "fragment session set-up timeout",
        "check that the device's firmware supports fragmentation (TS004) and that the gateway reaches it",
    ),
    Category.SESSION_REFUSED: CategoryInfo(
        "the device refused the fragment session",
        "check that the image is meant for this model and that the device's TS004 version supports the session",
    ),
    Category.LOW_MEMORY: CategoryInfo(
        "not enough memory for the image",
        "use a smaller image or less redundancy, or free the device's storage",
    ),
    Category.TOO_FEW_FRAGMENTS: CategoryInfo(
        "too few fragments received to rebuild the image",
        "raise redundancy_percent (`fuota plan --target` suggests one) or improve the radio coverage, then retry",
    ),
    Category.NO_STATUS_REPORT: CategoryInfo(
        "no fragment session status report",
        "the device lost the session or went out of reach: check it, then retry",
    ),
    Category.UPGRADE_FAILED: CategoryInfo(
        "received the image but did not confirm the upgrade",
        "check that the image is meant for this model and hardware, and whether the device rebooted on it",
    ),
    Category.WRONG_VERSION: CategoryInfo(
        "reports another firmware version than the one sent",
        "the device did not apply the image: check that it is meant for this model, then retry",
    ),
    Category.DEPLOYMENT_FAILED: CategoryInfo(
        "its deployment failed",
        "the detail gives the back end's error: fix its cause (token, target, back end), then retry",
    ),
    Category.BACKEND_SILENT: CategoryInfo(
        "the task ended without a verdict on the device",
        "check the device on the back end; retry it if it is not on the new firmware",
    ),
    Category.ABORTED: CategoryInfo(
        "stopped by the operator",
        "nothing to repair: retry when ready (`fuota retry NAME`)",
    ),
    Category.UNKNOWN: CategoryInfo(
        "an error the back end does not explain",
        "check the task's log on the back end (the detail quotes its code), then retry",
    ),
}


def category_of(value: str | None) -> Category:
    """A stored or reported category; None or a code this version does not know is UNKNOWN."""
    try:
        return Category(value) if value is not None else Category.UNKNOWN
    except ValueError:
        return Category.UNKNOWN


def describe(value: str | None) -> dict[str, str]:
    """{"category", "label", "advice"} of a stored category, JSON-ready."""
    category = category_of(value)
    info = CATEGORIES[category]
    return {"category": category.value, "label": info.label, "advice": info.advice}
