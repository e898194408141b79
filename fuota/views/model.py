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
    progress       percent of the way the devices have gone through the stages (each stage's step in _STEP),
                   rounded to 0.1; 100 once the campaign (for a deployment: the deployment) ended; 0 for no device
    time left      at the pace so far: seconds since started × (100 − progress) / progress; None before the start,
                   before any progress and once progress is 100
    retries        of a deployment: its "retry" events (a transient back-end failure the runner retried); the
                   latest one's time and cause are its last_retry
    judged         devices − aborted − skipped: the devices the campaign is judged on (fuota.core.outcomes.judged)
    updated_share  updated ÷ judged (0 when none is judged); threshold_met when it reaches success_threshold
    reasons        the devices that ended other than updated, grouped by category (fuota.views.reasons): category,
                   label, advice, devices, outcomes, failures; most devices first
    last activity  the later of the campaign row's last change and its latest event
    duration       from started (else created) to ended (else the last activity)

The shapes, with the same keys wherever they appear:

    tally          devices, counts, outcomes, updated, failed, unreachable, aborted, skipped, pending, progress
    summary        id, name, state, created_at, updated_at (the campaign row's last change), started_at,
                   ended_at, last_activity_at, duration_seconds, firmware{size, sha256}, redundancy_percent,
                   the tally, judged, updated_share, success_threshold, threshold_met, the schedule keys
    schedule keys  start_at, window, window_open, next_opening_at, driven_by, undriven_seconds: defined in
                   fuota.views.schedule (when the campaign may start; whether a runner drives it)
    deployment     id, task_name, backend, target, state, backend_ref, the tally, retries, last_retry{at, cause}
                   (None without retries), reasons
    campaign row   id, name, state, created_at, started_at, ended_at, backends, the tally, the schedule keys
    reason group   category, label, advice, devices, outcomes, failures (fuota.views.reasons)
    family         a campaign with its retries and their total: see fuota.views.family
    device row     and event row: see fuota.views.rows
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fuota.core.model import Outcome, Stage
from fuota.core.outcomes import judged
from fuota.core.reasons import category_of
from fuota.store import CampaignRecord, DeploymentRecord, EventKind, EventRecord, Store
from fuota.views.family import family_data
from fuota.views.reasons import reason_groups
from fuota.views.rows import anomalies, device_rows, iso
from fuota.views.schedule import schedule_keys

__all__ = [
    "Fleet",
    "campaign_list",
    "campaign_overview",
    "fleet_counts",
    "status_data",
    "time_left",
]

# How far along a device is: its stage's step on the way to an outcome. A stage this table does not know (a newer
# engine's) counts as not started rather than failing every reader.
_STEP = {
    Stage.PENDING.value: 0,
    Stage.UNKNOWN.value: 0,
    Stage.MULTICAST_SETUP.value: 1,
    Stage.MULTICAST_READY.value: 2,
    Stage.FRAGMENTATION_SETUP.value: 3,
    Stage.RECEIVING.value: 4,
    Stage.STATUS_REPORTED.value: 5,
    Stage.DONE.value: 6,
    Stage.FAILED.value: 6,
}
_LAST_STEP = 6

# Devices counted as (stage, outcome or None, how many), as Store.device_counts groups them.
_Counted = tuple[str, str | None, int]


@dataclass(frozen=True, slots=True)
class Fleet:
    """What the store holds over every campaign, for /metrics."""

    campaigns: dict[str, int]  # per CampaignState, zeros included
    devices: dict[tuple[str, str | None], int]  # per (stage, outcome or None) present
    reasons: dict[tuple[str, str], int]  # devices not updated per (category, outcome) present
    anomalies: int  # "anomaly" events
    retries: int  # "retry" events


def campaign_overview(store: Store, campaign_id: int, now: datetime | None = None) -> dict[str, Any]:
    """The campaign's summary, deployment rows and failure reasons, as {"summary", "deployments", "reasons"}:
    a handful of grouped queries, whatever the number of devices. `now` (by default the store's clock) is when the
    schedule keys are told (fuota.views.schedule). Raises LookupError if there is no such campaign."""
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
    started = store.started_at(campaign_id).get(campaign_id)
    everything = [row for rows in counted.values() for row in rows]
    summary = _summary(record, everything, started, store.last_event_at(campaign_id))
    summary |= schedule_keys(record, deployments, store.now() if now is None else now)
    return {
        "summary": summary,
        "deployments": [_deployment(d, counted[d.id], reasons[d.id], retries.get(d.id)) for d in deployments],
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
    """Every campaign, newest first, as a campaign row: four queries whatever the number of campaigns. `now` (by
    default the store's clock) is when the schedule keys are told."""
    now = store.now() if now is None else now
    records = store.campaigns()
    started = store.started_at()
    owner: dict[int, int] = {}
    backends: dict[int, set[str]] = defaultdict(set)
    of: dict[int, list[DeploymentRecord]] = defaultdict(list)
    for d in store.deployments():
        owner[d.id] = d.campaign_id
        backends[d.campaign_id].add(d.backend)
        of[d.campaign_id].append(d)
    counted: dict[int, list[_Counted]] = defaultdict(list)
    for deployment_id, stage, outcome, n in store.device_counts():
        # A campaign stored between the two reads is not in `records` either.
        if deployment_id in owner:
            counted[owner[deployment_id]].append((stage, outcome, n))
    return [
        {
            "id": r.id,
            "name": r.name,
            "state": str(r.state),
            "created_at": iso(r.created_at),
            "started_at": iso(started.get(r.id)),
            "ended_at": iso(r.ended_at),
            "backends": sorted(backends[r.id]),
            **_tally(counted[r.id], r.state.ended),
            **schedule_keys(r, of[r.id], now),
        }
        for r in records
    ]


def time_left(summary: Mapping[str, Any], now: datetime) -> float | None:
    """Seconds the campaign of `summary` still needs at its pace so far (see the module docstring), at `now`."""
    progress = summary["progress"]
    if summary["started_at"] is None or not 0 < progress < 100:
        return None
    elapsed = max((now - datetime.fromisoformat(summary["started_at"])).total_seconds(), 0.0)
    return elapsed * (100 - progress) / progress


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
        reasons=dict(reasons),
        anomalies=events[EventKind.ANOMALY.value],
        retries=events[EventKind.RETRY.value],
    )


# --- the shapes ---------------------------------------------------------------------------------------------------


def _tally(counted: Iterable[_Counted], ended: bool) -> dict[str, Any]:
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
        "progress": _progress(counts, devices, ended),
    }


def _progress(counts: dict[str, int], devices: int, ended: bool) -> float:
    if ended:
        return 100.0
    if not devices:
        return 0.0
    steps = sum(_STEP.get(stage, 0) * n for stage, n in counts.items())
    return round(100 * steps / (_LAST_STEP * devices), 1)


def _summary(
    record: CampaignRecord, counted: list[_Counted], started: datetime | None, last_event: datetime | None
) -> dict[str, Any]:
    tally = _tally(counted, record.state.ended)
    last = max(record.updated_at, last_event or record.updated_at)
    threshold = record.settings.success_threshold
    judged_devices = judged(tally["devices"], tally["outcomes"])
    share = tally["updated"] / judged_devices if judged_devices else 0.0
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
        "judged": judged_devices,
        "updated_share": share,
        "success_threshold": threshold,
        "threshold_met": judged_devices > 0 and share >= threshold,
    }


def _deployment(
    record: DeploymentRecord,
    counted: list[_Counted],
    reasons: list[tuple[str | None, str, int]],
    retries: tuple[int, EventRecord] | None,
) -> dict[str, Any]:
    count, last = retries or (0, None)
    return {
        "id": record.id,
        "task_name": record.task_name,
        "backend": record.backend,
        "target": record.target,
        "state": str(record.state),
        "backend_ref": record.backend_ref,
        **_tally(counted, record.state.ended),
        "retries": count,
        "last_retry": None if last is None else {"at": iso(last.at), "cause": last.cause},
        "reasons": reason_groups(reasons),
    }
