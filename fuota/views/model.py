"""The one read model of campaigns: what every front end shows, each fact defined once and counted in SQL.

`fuota status`, `list`, `run`'s live view, `report`, `watch`, the dashboard and /metrics all read through
fuota.views, so they show the same numbers under the same names. Everything returned is JSON-ready — dicts,
lists, str, int, float, None — with times as ISO 8601 strings in UTC. Nothing here reads the clock: what depends
on the time (time left, the schedule keys) takes a `now`; the schedule keys default to the store's clock.

The facts, each defined here only:

    started        when the campaign first went Running: its first campaign-level "transition" event to Running
                   (Store.started_at); None until then
    ended          campaigns.ended_at
    counts         devices per Stage: every stage, zeros included
    outcomes       devices per Outcome (updated, failed, unreachable, aborted, skipped: fuota.core.outcomes says
                   which device gets which), zeros included; the same numbers are also the flat keys of those names
    pending        devices without an outcome yet, whatever their stage
    progress       with phase, fragments_sent, fragments_total, settled, time_left_seconds and ends_at: the
                   progress model, defined in fuota.views.progress (from what the back end last reported and `now`);
                   an ended campaign shows its updated_share, its progress being 100
    retries        of a deployment: its "retry" events (a transient back-end failure the runner retried); the
                   latest one's time and cause are its last_retry
    credentials_refused_since  of a deployment: since when its back end refuses fuota's credentials while the
                   runner waits for a good token (fuota.views.credentials); None when it does not
    judged         devices − aborted − skipped: the devices the campaign is judged on (fuota.core.outcomes.judged)
    updated_share  updated ÷ judged (0 when none is judged); threshold_met when it reaches success_threshold
    reasons        the devices that ended other than updated, grouped by category (fuota.views.reasons): category,
                   label, advice, devices, outcomes, failures; most devices first
    last activity  the later of the campaign row's last change and its latest event
    duration       from started (else created) to ended (else the last activity)

Functions that show progress take `now`; without it (None) they count as of the latest change the store holds for
the campaign, for a report of the stored state.

The shapes, with the same keys wherever they appear:

    tally          devices, counts, outcomes, updated, failed, unreachable, aborted, skipped, pending
    progress       phase, fragments_sent, fragments_total, settled, progress, time_left_seconds, ends_at, and
                   for a campaign judged and updated_share; for a deployment fragment_interval_s
    summary        id, name, state, created_at, updated_at (the campaign row's last change), started_at,
                   ended_at, last_activity_at, duration_seconds, firmware{size, sha256}, redundancy_percent,
                   the tally, the progress, success_threshold, threshold_met, the schedule keys
    schedule keys  start_at, window, window_open, next_opening_at, driven_by, undriven_seconds: defined in
                   fuota.views.schedule (when the campaign may start; whether a runner drives it)
    deployment     id, task_name, backend, target, state, backend_ref, the tally, the progress, retries,
                   last_retry{at, cause} (None without retries), credentials_refused_since, reasons
    campaign row   id, name, state, created_at, started_at, ended_at, backends, the tally, the progress, the
                   schedule keys
    reason group   category, label, advice, devices, outcomes, failures (fuota.views.reasons)
    family         a campaign with its retries and their total: see fuota.views.family
    device row     and event row: see fuota.views.rows
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fuota.core.model import Outcome, Stage
from fuota.core.outcomes import judged
from fuota.core.reasons import category_of
from fuota.core.reports import TaskProgress
from fuota.store import CampaignRecord, DeploymentRecord, EventKind, EventRecord, Store
from fuota.views.credentials import refused_since
from fuota.views.family import family_data
from fuota.views.progress import (
    campaign_progress,
    deployment_progress,
    finishing_by_time,
    observed_interval,
    planned_interval,
)
from fuota.views.reasons import reason_groups
from fuota.views.rows import anomalies, device_rows, iso
from fuota.views.schedule import schedule_keys

__all__ = [
    "Fleet",
    "campaign_list",
    "campaign_overview",
    "fleet_counts",
    "status_data",
]

# Devices counted as (stage, outcome or None, how many), as Store.device_counts groups them.
_Counted = tuple[str, str | None, int]


@dataclass(frozen=True, slots=True)
class Fleet:
    """What the store holds over every campaign, for /metrics."""

    campaigns: dict[str, int]  # per CampaignState, zeros included
    devices: dict[tuple[str, str | None], int]  # per (stage, outcome or None) present
    anomalies: int  # "anomaly" events
    retries: int  # "retry" events
    reasons: dict[tuple[str, str], int]  # devices not updated per (category, outcome) present


def campaign_overview(store: Store, campaign_id: int, now: datetime | None = None) -> dict[str, Any]:
    """The campaign's summary, deployment rows and failure reasons, as {"summary", "deployments", "reasons"}, its
    progress at `now`: a handful of grouped queries, whatever the number of devices. The schedule keys
    (fuota.views.schedule) are told at `now`, by default the store's clock. Raises LookupError if there is no such
    campaign."""
    record = store.campaign(campaign_id)
    if record is None:
        raise LookupError(f"campaign {campaign_id} does not exist; `fuota list` shows the campaigns")
    deployments = store.deployments(campaign_id)
    counted: dict[int, list[_Counted]] = {d.id: [] for d in deployments}
    for deployment_id, stage, outcome, n in store.device_counts(campaign_id):
        counted[deployment_id].append((stage, outcome, n))
    reasons: dict[int, list[tuple[str | None, str, int]]] = {d.id: [] for d in deployments}
    for deployment_id, category, outcome, n in store.category_counts(campaign_id):
        reasons[deployment_id].append((category, outcome, n))
    retries = store.retries(campaign_id)
    refused = refused_since(store, campaign_id)
    started = store.started_at(campaign_id).get(campaign_id)
    last_event = store.last_event_at(campaign_id)
    at = now or _latest(record, deployments, last_event)
    rows = [_deployment(d, counted[d.id], reasons[d.id], retries.get(d.id), refused.get(d.id)) for d in deployments]
    _add_progress(record, deployments, rows, at)
    everything = [row for rows in counted.values() for row in rows]
    return {
        "summary": _summary(record, everything, started, last_event, rows, at)
        | schedule_keys(record, deployments, store.now() if now is None else now),
        "deployments": rows,
        "reasons": reason_groups(row for rows in reasons.values() for row in rows),
    }


def status_data(store: Store, campaign_id: int, now: datetime | None = None) -> dict[str, Any]:
    """`fuota status --json`: the summary's keys at the top level, then reasons, deployments, the family total
    (fuota.views.family), anomalies (event rows) and devices — here the device rows, their number being the
    summary's `devices`. Raises LookupError if there is no such campaign."""
    overview = campaign_overview(store, campaign_id, now)
    return {
        **{key: value for key, value in overview["summary"].items() if key != "devices"},
        "reasons": overview["reasons"],
        "deployments": overview["deployments"],
        "family": family_data(store, campaign_id, overview["summary"]),
        "anomalies": anomalies(store, campaign_id),
        "devices": device_rows(store, campaign_id),
    }


def campaign_list(store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every campaign, newest first, as a campaign row with its progress at `now`: four queries whatever the
    number of campaigns. The schedule keys are told at `now`, by default the store's clock."""
    told = store.now() if now is None else now
    records = store.campaigns()
    started = store.started_at()
    owner: dict[int, int] = {}
    backends: dict[int, set[str]] = defaultdict(set)
    of_campaign: dict[int, list[DeploymentRecord]] = defaultdict(list)
    for d in store.deployments():
        owner[d.id] = d.campaign_id
        backends[d.campaign_id].add(d.backend)
        of_campaign[d.campaign_id].append(d)
    counted: dict[int, list[_Counted]] = defaultdict(list)
    by_deployment: dict[int, list[_Counted]] = defaultdict(list)
    for deployment_id, stage, outcome, n in store.device_counts():
        # A campaign stored between the two reads is not in `records` either.
        if deployment_id in owner:
            counted[owner[deployment_id]].append((stage, outcome, n))
            by_deployment[deployment_id].append((stage, outcome, n))
    found = []
    for r in records:
        deployments = of_campaign[r.id]
        at = now or _latest(r, deployments, None)
        rows = [{"id": d.id, **_tally(by_deployment[d.id])} for d in deployments]
        _add_progress(r, deployments, rows, at)
        tally = _tally(counted[r.id])
        found.append(
            {
                "id": r.id,
                "name": r.name,
                "state": str(r.state),
                "created_at": iso(r.created_at),
                "started_at": iso(started.get(r.id)),
                "ended_at": iso(r.ended_at),
                "backends": sorted(backends[r.id]),
                **tally,
                **_campaign_progress(r, tally, rows, at),
                **schedule_keys(r, deployments, told),
            }
        )
    return found


def fleet_counts(store: Store) -> Fleet:
    """Campaigns per state, devices per stage and outcome, devices not updated per category and outcome, anomaly
    and retry events, over the whole store."""
    devices: Counter[tuple[str, str | None]] = Counter()
    for _, stage, outcome, n in store.device_counts():
        devices[stage, outcome] += n
    reasons: Counter[tuple[str, str]] = Counter()
    for _, category, outcome, n in store.category_counts():
        reasons[category_of(category).value, outcome] += n
    events = store.event_counts()
    return Fleet(
        campaigns=store.campaign_state_counts(),
        devices=dict(devices),
        anomalies=events[EventKind.ANOMALY.value],
        retries=events[EventKind.RETRY.value],
        reasons=dict(reasons),
    )


# --- the shapes ---------------------------------------------------------------------------------------------------


def _tally(counted: Iterable[_Counted]) -> dict[str, Any]:
    counts = dict.fromkeys((s.value for s in Stage), 0)
    outcomes = dict.fromkeys((o.value for o in Outcome), 0)
    for stage, outcome, n in counted:
        counts[stage] = counts.get(stage, 0) + n
        if outcome is not None:
            outcomes[outcome] += n
    devices = sum(counts.values())
    return {
        "devices": devices,
        "counts": counts,
        "outcomes": outcomes,
        **outcomes,
        "pending": devices - sum(outcomes.values()),
    }


def _latest(record: CampaignRecord, deployments: list[DeploymentRecord], last_event: datetime | None) -> datetime:
    """The latest change the store holds for the campaign: the `now` of a report of the stored state."""
    return max([record.updated_at, *(d.updated_at for d in deployments), *([last_event] if last_event else [])])


def _add_progress(
    record: CampaignRecord, deployments: list[DeploymentRecord], rows: list[dict[str, Any]], now: datetime
) -> None:
    """Add the progress keys (fuota.views.progress) to each deployment row (in the order of `deployments`); a
    deployment whose back end tells no interval takes the one observed on a sibling, else the plan's."""
    facts = [TaskProgress.from_json(d.progress) for d in deployments]
    seen = [observed_interval(d.state, f, f.fragments_total) for d, f in zip(deployments, facts, strict=True)]
    fallback = next((i for i in seen if i), None)
    by_time = finishing_by_time(record.settings.kind)
    for d, f, row in zip(deployments, facts, rows, strict=True):
        interval = fallback
        if interval is None and not d.state.ended:
            interval = planned_interval(record.settings, d.plan)
        row.update(
            deployment_progress(
                d.state,
                d.plan,
                f,
                devices=row["devices"],
                settled=row["devices"] - row["pending"],
                interval=interval,
                now=now,
                changed_at=d.updated_at,
                finishing_by_time=by_time,
            )
        )


def _campaign_progress(
    record: CampaignRecord, tally: dict[str, Any], rows: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    return campaign_progress(
        rows,
        ended=record.state.ended,
        ended_at=record.ended_at,
        start=record.settings.start,
        updated=tally["updated"],
        judged=judged(tally["devices"], tally["outcomes"]),
        now=now,
    )


def _summary(
    record: CampaignRecord,
    counted: list[_Counted],
    started: datetime | None,
    last_event: datetime | None,
    rows: list[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    tally = _tally(counted)
    last = max(record.updated_at, last_event or record.updated_at)
    threshold = record.settings.success_threshold
    progress = _campaign_progress(record, tally, rows, now)
    return {
        "id": record.id,
        "name": record.name,
        "state": str(record.state),
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "started_at": iso(started),
        "ended_at": iso(record.ended_at),
        "last_activity_at": iso(last),
        "duration_seconds": ((record.ended_at or last) - (started or record.created_at)).total_seconds(),
        "firmware": {"size": record.firmware_size, "sha256": record.firmware_sha256},
        "redundancy_percent": record.settings.redundancy_percent,
        **tally,
        **progress,
        "judged": judged(tally["devices"], tally["outcomes"]),
        "success_threshold": threshold,
        "threshold_met": judged(tally["devices"], tally["outcomes"]) > 0 and progress["updated_share"] >= threshold,
    }


def _deployment(
    record: DeploymentRecord,
    counted: list[_Counted],
    reasons: list[tuple[str | None, str, int]],
    retries: tuple[int, EventRecord] | None,
    refused: datetime | None,
) -> dict[str, Any]:
    count, last = retries or (0, None)
    return {
        "id": record.id,
        "task_name": record.task_name,
        "backend": record.backend,
        "target": record.target,
        "state": str(record.state),
        "backend_ref": record.backend_ref,
        **_tally(counted),
        "retries": count,
        "last_retry": None if last is None else {"at": iso(last.at), "cause": last.cause},
        "credentials_refused_since": None if record.state.ended else iso(refused),
        "reasons": reason_groups(reasons),
    }
