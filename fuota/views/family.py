"""Campaign families: a campaign and all its retries, and the family total every front end shows.

`fuota retry NAME` launches the devices its family has not updated yet as a new campaign ROOT.retryN; this module
defines, once, which campaigns form a family and what the family has achieved, for `fuota retry` (which devices
to send to) and for every reader (status, report, the dashboard).

    root            the campaign a family began with: one launched from a campaign file
    member          the root and each retry of it: a campaign whose settings' retry_of is the root's id. A retry
                    stored before retry_of existed belongs by its name alone: ROOT.retryN — the suffix possibly
                    repeated (first.retry1.retry1, as an older fuota named a retry of a retry) — when a campaign
                    named ROOT exists
    retries         members − 1
    devices         the distinct devices of all members
    updated         the devices updated in ANY member: the family never sends them the image again
    latest outcome  of a device: its outcome as stored (the string, so that an outcome newer than this code counts
                    too) in the newest member (highest id) that gave it one; a member that holds the device without
                    an outcome yet (under way, or ended before judging it) does not hide an earlier one; None when
                    no member gave one
    outcomes        devices per outcome, where an updated device counts as updated and any other by its latest
                    outcome; zeros included for fuota's own outcomes
    pending         devices without any outcome yet
    judged          devices less those whose latest outcome is aborted or skipped; updated_share is updated ÷ judged,
                    as a campaign's own share (fuota.core.outcomes)

The shape — `family` in `status --json`, in the report and on the dashboard's campaign page:

    family          root{id, name}, members[{id, name, state}] (root first, then by id), devices, updated,
                    retries, outcomes, pending, judged, updated_share, line ("97 of 100 updated after 2 retries")
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fuota.core.model import Outcome
from fuota.core.outcomes import judged
from fuota.store import CampaignRecord, Store

__all__ = ["LEGACY_RETRY_NAME", "Latest", "family_data", "family_line", "family_members", "latest_outcomes"]

# ROOT.retryN, the suffix possibly repeated: how a retry was named before its settings said whose retry it is.
LEGACY_RETRY_NAME = re.compile(r"^(?P<root>.+?)(?:\.retry[0-9]+)+$")


@dataclass(frozen=True, slots=True)
class Latest:
    """One device of a family: its latest outcome (a stored string, None before any), the member that gave it,
    and whether any member updated it."""

    dev_eui: str
    outcome: str | None
    campaign_id: int | None
    updated: bool


def _root_id(record: CampaignRecord, by_name: Mapping[str, CampaignRecord]) -> int:
    if record.settings.retry_of is not None:
        return record.settings.retry_of
    legacy = LEGACY_RETRY_NAME.match(record.name)
    root = by_name.get(legacy["root"]) if legacy else None
    if root is None:
        return record.id
    return root.id if root.settings.retry_of is None else root.settings.retry_of


def family_members(records: Sequence[CampaignRecord], campaign_id: int) -> list[CampaignRecord]:
    """The family of campaign `campaign_id` among `records` (every stored campaign): its root first, then the
    retries by id. LookupError when `campaign_id` is not among them."""
    by_name = {r.name: r for r in records}
    mine = next((r for r in records if r.id == campaign_id), None)
    if mine is None:
        raise LookupError(f"campaign {campaign_id} does not exist; `fuota list` shows the campaigns")
    root = _root_id(mine, by_name)
    members = sorted((r for r in records if _root_id(r, by_name) == root), key=lambda r: r.id)
    members.sort(key=lambda r: r.id != root)  # stable: the root first, the retries still by id
    return members


def latest_outcomes(store: Store, members: Sequence[CampaignRecord]) -> dict[str, Latest]:
    """Every device of the family `members`, by EUI, with its latest outcome (see the module docstring)."""
    updated: set[str] = set()
    latest: dict[str, tuple[str | None, int | None]] = {}
    for campaign_id, dev_eui, outcome in store.device_outcomes([m.id for m in members]):  # by campaign id
        if outcome == Outcome.UPDATED.value:
            updated.add(dev_eui)
        if outcome is not None or dev_eui not in latest:
            latest[dev_eui] = (outcome, campaign_id if outcome is not None else None)
    return {eui: Latest(eui, outcome, cid, eui in updated) for eui, (outcome, cid) in latest.items()}


def family_data(store: Store, campaign_id: int, summary: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The family total of campaign `campaign_id` (the shape in the module docstring). A campaign without retries
    is its own family of one: with its `summary` (fuota.views.model) given, its numbers are taken from there and no
    device is read. LookupError when there is no such campaign."""
    members = family_members(store.campaigns(), campaign_id)
    outcomes: Counter[str] = Counter(dict.fromkeys((o.value for o in Outcome), 0))
    if len(members) == 1 and summary is not None:
        outcomes.update(summary["outcomes"])
        devices, pending = summary["devices"], summary["pending"]
    else:
        devices_of = latest_outcomes(store, members)
        devices = len(devices_of)
        for device in devices_of.values():
            if device.updated:
                outcomes[Outcome.UPDATED.value] += 1
            elif device.outcome is not None:
                outcomes[device.outcome] += 1
        pending = devices - outcomes.total()
    root = members[0]
    data: dict[str, Any] = {
        "root": {"id": root.id, "name": root.name},
        "members": [{"id": m.id, "name": m.name, "state": str(m.state)} for m in members],
        "devices": devices,
        "updated": outcomes[Outcome.UPDATED.value],
        "retries": len(members) - 1,
        "outcomes": dict(outcomes),
        "pending": pending,
        "judged": judged(devices, outcomes),
        "updated_share": _share(outcomes[Outcome.UPDATED.value], judged(devices, outcomes)),
    }
    data["line"] = family_line(data)
    return data


def _share(updated: int, judged_devices: int) -> float:
    return updated / judged_devices if judged_devices else 0.0


def family_line(family: Mapping[str, Any]) -> str:
    """The family total in words: "97 of 100 updated after 2 retries" ("… with no retry yet")."""
    retries = family["retries"]
    after = "with no retry yet" if not retries else f"after {retries} retr{'y' if retries == 1 else 'ies'}"
    return f"{family['updated']} of {family['devices']} updated {after}"
