"""`fuota retry`: the devices a campaign family has not updated yet, planned as its next retry ROOT.retryN.

A family is a campaign and all its retries (fuota/views/family.py defines it, with each device's latest outcome).
A retry takes every device of the family that no member updated — a device updated in ANY member is never sent the
image again — optionally only those whose latest outcome is one of `only` (failed, unreachable, aborted, skipped;
the stored outcome string is compared, so an outcome newer than this code filters too). It keeps the settings of
the family's newest member (its window, threshold, back end and table), with another redundancy if asked, and
sends the image stored at launch (still checked against the file it came from). Nothing is retried while a member
is still Scheduled or Running. Nothing is stored here: launch the plan (fuota.service.campaigns.launch), or show
it (a dry run).

Where the back end keeps finished tasks and can run one again (a kind whose table has `reuse_tasks`: Milesight,
section 6.5), a retry deployment whose devices are exactly those of the newest member's task on the same target
reuses that task: the table's `reuse_tasks` names it per target, and the adapter's create runs it again if it is
still there and failed, else creates a new task as for any other deployment. Re-running keeps the gateway's task
count down (10310013) and is what the vendor offers for it; a retry of only some of a task's devices cannot be
expressed by 6.5, which re-runs a task's failed devices, so it gets a new task.

    retry(config, store, campaign_id, …)   the RetryPlan: the family, the devices chosen, the new campaign's plan
    parse_only(values)                      `--only` values (repeated and/or comma lists), checked
    choose(devices, only)                   the devices a retry sends to
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from fuota.backends.registry import kind_of
from fuota.backends.tasks import REUSE_TASKS
from fuota.campaign import NAME_MAX, Campaign, CampaignFile
from fuota.config import Config, describe
from fuota.core.model import Outcome
from fuota.core.settings import ConfigError
from fuota.service.campaigns import CampaignPlan, plan
from fuota.service.task_hygiene import REMOVAL
from fuota.store import CampaignRecord, Store
from fuota.views.family import Latest, family_members, latest_outcomes

__all__ = ["ONLY", "RetryPlan", "choose", "parse_only", "retry"]

# The latest outcomes `--only` may choose: every outcome but updated.
ONLY = (Outcome.FAILED.value, Outcome.UNREACHABLE.value, Outcome.ABORTED.value, Outcome.SKIPPED.value)
_MAX_RETRIES = 999


@dataclass(frozen=True)
class RetryPlan:
    """A retry as it would be launched: the family (root first), the devices chosen with their latest outcome, how
    many devices the family has updated already, the new campaign's name and plan (None when no device is chosen)
    and the outcomes `--only` asked for (empty: any). `refused` says why these devices cannot be retried this way:
    launching must then fail with it, a dry run shows it."""

    members: list[CampaignRecord]
    chosen: list[Latest]
    updated: int
    name: str
    planned: CampaignPlan | None
    only: frozenset[str] = frozenset()
    refused: str | None = None  # why the chosen devices cannot be sent a retry (then `planned` is None)

    @property
    def root(self) -> CampaignRecord:
        """The campaign the family began with."""
        return self.members[0]


def parse_only(values: Iterable[str]) -> frozenset[str]:
    """The outcomes named by `--only` (each value one outcome or a comma list); ConfigError naming a value that is
    not one of ONLY. Empty: every outcome."""
    chosen = {part.strip().lower() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(chosen - set(ONLY))
    if unknown:
        raise ConfigError(
            f"--only {', '.join(unknown)}: not an outcome a retry can choose; give one or more of {', '.join(ONLY)} "
            "(devices already updated are never retried)"
        )
    return frozenset(chosen)


def choose(devices: Iterable[Latest], only: frozenset[str] = frozenset()) -> list[Latest]:
    """The devices a retry sends to: those no member updated, whose latest outcome is in `only` when given."""
    return [d for d in devices if not d.updated and (not only or d.outcome in only)]


def retry(
    config: Config,
    store: Store,
    campaign_id: int,
    *,
    only: Iterable[str] = (),
    redundancy_percent: float | None = None,
) -> RetryPlan:
    """The next retry of the family of campaign `campaign_id` (the root or any member): the family's devices that
    no member updated, those whose latest outcome is in `only` if given, as campaign ROOT.retryN with the newest
    member's settings and `redundancy_percent` if given. ConfigError — nothing stored — when a member has not
    ended or an option is out of range; `refused` set (and no plan) when the family's target cannot address a
    subset of its devices."""
    wanted = parse_only(only)
    members = family_members(store.campaigns(), campaign_id)
    busy = [m for m in members if not m.state.ended]
    if busy:
        listed = ", ".join(f"{m.id} ({m.name}) is {m.state}" for m in busy)
        raise ConfigError(
            f"campaign {listed}: a family is retried once every member has ended; wait for it (`fuota watch "
            f"{busy[0].name}`) or stop it (`fuota abort {busy[0].name}`), then retry"
        )
    newest = members[-1]
    settings = newest.settings
    kind = kind_of(settings.kind)
    if redundancy_percent is not None:
        try:
            kind.check_redundancy(settings.backend, redundancy_percent)
        except ConfigError as exc:
            message = f"--redundancy-percent {redundancy_percent:g}: {exc}; give a value in that range"
            raise ConfigError(message) from None
    devices = latest_outcomes(store, members)
    chosen = choose(devices.values(), wanted)
    updated = sum(d.updated for d in devices.values())
    name = _next_name(store, members[0].name)
    refused = _whole_target(store, newest) if chosen else None
    if not chosen or refused:
        return RetryPlan(members, chosen, updated, name, None, wanted, refused)
    percent = settings.redundancy_percent if redundancy_percent is None else redundancy_percent
    planned = _plan(config, store, newest, name, tuple(d.dev_eui for d in chosen), percent)
    target = {key: value for key, value in planned.settings.target.items() if key != REUSE_TASKS}
    if REUSE_TASKS in kind.target_model.model_fields and (reuse := _reusable(store, newest, planned)):
        target[REUSE_TASKS] = reuse
    stored = planned.settings.model_copy(update={"retry_of": members[0].id, "target": target})
    return RetryPlan(members, chosen, updated, name, dataclasses.replace(planned, settings=stored), wanted)


def _whole_target(store: Store, newest: CampaignRecord) -> str | None:
    """Why a retry of `newest`'s family cannot be sent through its target, or None: an existing target (an
    IoTSquare group) is addressed as a whole, so the image would reach every member again, updated ones included."""
    kind = kind_of(newest.settings.kind)
    if not kind.brings_devices(kind.target_model.model_validate(newest.settings.target)):
        return None
    targets = ", ".join(sorted({d.target or "?" for d in store.deployments(newest.id)}))
    return (
        f"campaign {newest.name} was sent through the existing target {targets} of back end "
        f"{newest.settings.backend!r}, which addresses all its members at once: a retry through it would send the "
        "image again to the devices already updated. Write a campaign file with temporary targets (no mc_eui) "
        "listing the devices `fuota retry --dry-run` chooses"
    )


def _reusable(store: Store, newest: CampaignRecord, planned: CampaignPlan) -> dict[str, dict[str, object]]:
    """{target: the newest member's task there} for each planned deployment whose devices are exactly that task's
    (see the module docstring); tasks fuota deleted are left out."""
    wanted = {d.target: set(d.devices) for d in planned.deployments if d.target and not d.temporary}
    found: dict[str, dict[str, object]] = {}
    for record in store.deployments(newest.id):
        ref = record.backend_ref or {}
        if record.target not in wanted or "taskId" not in ref or ref.get(REMOVAL) in ("deleted", "gone"):
            continue
        if {d.dev_eui for d in store.devices(deployment_id=record.id)} == wanted[record.target]:
            found[record.target] = {"taskId": ref["taskId"], "name": ref.get("taskName") or record.task_name}
    return found


def _next_name(store: Store, root: str) -> str:
    taken = {r.name for r in store.campaigns()}
    for n in range(1, _MAX_RETRIES + 1):
        name = f"{root}.retry{n}"
        if name in taken:
            continue
        if len(name) > NAME_MAX:
            raise ConfigError(
                f"campaign {root}: its retry would be named {name!r}, {len(name)} characters, over the {NAME_MAX} a "
                "campaign name may have; write a campaign file with a shorter name that lists the devices to retry "
                "(`fuota status --json` gives each device's outcome) and launch it"
            )
        return name
    raise ConfigError(f"campaign {root} has {_MAX_RETRIES} retries already; launch a new campaign from its file")


def _plan(
    config: Config, store: Store, newest: CampaignRecord, name: str, devices: tuple[str, ...], percent: float
) -> CampaignPlan:
    settings = newest.settings
    fields = {
        "name": name,
        "firmware": settings.firmware_path or "(the image stored at launch)",
        "backend": settings.backend,
        "devices": list(devices),
        "redundancy_percent": percent,
        "window": settings.window,
        "success_threshold": settings.success_threshold,
        "expected_loss": settings.expected_loss,
        # The completed table it was launched with, less the tasks it reused (chosen afresh for this retry).
        settings.kind: {key: value for key, value in settings.target.items() if key != REUSE_TASKS},
    }
    try:
        file = CampaignFile.model_validate(fields)
    except ValidationError as exc:  # e.g. a root name so long that ROOT.retryN passes the 64 characters
        raise ConfigError(describe(exc, f"retry {name}")) from None
    source = Path(settings.firmware_path) if settings.firmware_path else None
    campaign = Campaign(file=file, firmware=store.firmware(newest.id), devices=devices, firmware_path=source)
    return plan(config, campaign)
