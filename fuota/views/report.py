"""A campaign's report, read from the store alone: one JSON-ready object, rendered as text, JSON, CSV or HTML.

`report_data(store, campaign_id)` gathers everything a report shows; `render(data, fmt)` turns it into a
string. The data holds only JSON types (times as ISO 8601 strings in UTC), so every renderer — and any
external tool reading `--format json` — works from the same object:

    summary      id, name, state, times and duration, firmware, device counts, success threshold and verdict
    reasons      why devices did not end updated, grouped by reason text, most frequent first
    deployments  one line per deployment: task, back end, target, state and its device counts
    devices      one row per device: stage, outcome, reason, the back end's raw codes, time of last change
    timeline     devices per stage over time, replayed from the store's "device" events

The HTML rendering lives in fuota.views.html.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import datetime
from typing import Any

from fuota.core.model import Outcome, Stage
from fuota.store import CampaignRecord, DeviceRecord, EventKind, EventRecord, Store

__all__ = [
    "CSV_FIELDS",
    "FORMATS",
    "device_data",
    "format_duration",
    "format_time",
    "render",
    "report_data",
    "threshold_line",
]

FORMATS = ("text", "json", "csv", "html")
CSV_FIELDS = ("dev_eui", "deployment", "stage", "outcome", "reason", "last_change", "raw")
NO_REASON = "(no reason given)"


def device_data(device: DeviceRecord, deployment: str) -> dict[str, Any]:
    """One device as `fuota status --json` and the report show it: stage, outcome, reason, the back end's fields."""
    return {
        "dev_eui": device.dev_eui,
        "deployment": deployment,
        "stage": str(device.stage),
        "outcome": None if device.outcome is None else str(device.outcome),
        "reason": device.reason,
        "raw": device.raw,
    }


def report_data(store: Store, campaign_id: int) -> dict[str, Any]:
    """The campaign's report as one JSON-ready dict with the keys summary, reasons, deployments, devices and
    timeline (see the module docstring). Raises LookupError if the campaign does not exist."""
    campaign = store.campaign(campaign_id)
    if campaign is None:
        raise LookupError(f"campaign {campaign_id} does not exist; `fuota list` shows the campaigns")
    deployments = store.deployments(campaign.id)
    devices = store.devices(campaign_id=campaign.id)
    events = store.events(campaign.id)
    names = {d.id: d.task_name for d in deployments}
    per_deployment: dict[int, Counter[str]] = {d.id: Counter() for d in deployments}
    for device in devices:
        per_deployment[device.deployment_id][_outcome_key(device)] += 1
    return {
        "summary": _summary(campaign, devices, events),
        "reasons": _reasons(devices),
        "deployments": [
            {
                "id": d.id,
                "task_name": d.task_name,
                "backend": d.backend,
                "target": d.target,
                "state": str(d.state),
                "devices": per_deployment[d.id].total(),
                **{key: per_deployment[d.id][key] for key in _OUTCOME_KEYS},
            }
            for d in deployments
        ],
        "devices": [device_data(d, names[d.deployment_id]) | {"last_change": _iso(d.updated_at)} for d in devices],
        "timeline": _timeline(campaign, devices, events),
    }


def render(data: dict[str, Any], fmt: str) -> str:
    """`data` (from report_data) as text, json, csv or html. Raises ValueError for any other format."""
    if fmt == "text":
        return _text(data)
    if fmt == "json":
        return json.dumps(data, indent=2, default=str)
    if fmt == "csv":
        return _csv(data)
    if fmt == "html":
        # Imported here because reporting_html builds on this module's helpers.
        from fuota.views.html import render_html

        return render_html(data)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


def format_time(iso: str | None) -> str:
    """An ISO timestamp from the report as `YYYY-MM-DD HH:MM:SS UTC`, or "-"."""
    if iso is None:
        return "-"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: float | None) -> str:
    """A duration as e.g. `1 h 02 min 03 s`, or "-"."""
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def threshold_line(summary: dict[str, Any]) -> str:
    """The success-threshold verdict in words, shared by the text and HTML reports."""
    share = summary["updated_share"]
    verdict = "met" if summary["threshold_met"] else "not met"
    if summary["pending"] and not summary["threshold_met"]:
        verdict += f" yet ({summary['pending']} devices still pending)"
    return f"{share:.0%} updated, success threshold {summary['success_threshold']:.0%}: {verdict}"


# --- gathering --------------------------------------------------------------------------------------------------

# "pending" covers every device without an outcome yet, whatever its stage.
_OUTCOME_KEYS = (Outcome.UPDATED.value, Outcome.FAILED.value, Outcome.UNREACHABLE.value, "pending")


def _outcome_key(device: DeviceRecord) -> str:
    return "pending" if device.outcome is None else device.outcome.value


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _summary(campaign: CampaignRecord, devices: list[DeviceRecord], events: list[EventRecord]) -> dict[str, Any]:
    counts = Counter(_outcome_key(d) for d in devices)
    total = len(devices)
    threshold = campaign.settings.success_threshold
    share = counts[Outcome.UPDATED.value] / total if total else 0.0
    # The campaign starts when it first leaves Scheduled; campaign transitions carry no deployment id.
    started = next(
        (
            e.at
            for e in events
            if e.kind is EventKind.TRANSITION and e.deployment_id is None and e.to_state == "Running"
        ),
        None,
    )
    # A campaign still running has lasted until its latest activity; the report never reads the clock.
    last = max([campaign.updated_at, *(e.at for e in events)])
    end = campaign.ended_at or last
    redundancy = campaign.settings.redundancy_percent
    return {
        "id": campaign.id,
        "name": campaign.name,
        "state": str(campaign.state),
        "created_at": _iso(campaign.created_at),
        "started_at": _iso(started),
        "ended_at": _iso(campaign.ended_at),
        "last_activity_at": _iso(last),
        "duration_seconds": (end - (started or campaign.created_at)).total_seconds(),
        "firmware": {"size": campaign.firmware_size, "sha256": campaign.firmware_sha256},
        "redundancy_percent": None if redundancy is None else float(redundancy),
        "devices": total,
        **{key: counts[key] for key in _OUTCOME_KEYS},
        "updated_share": share,
        "success_threshold": threshold,
        "threshold_met": total > 0 and share >= threshold,
    }


def _reasons(devices: list[DeviceRecord]) -> list[dict[str, Any]]:
    groups: dict[str, Counter[str]] = {}
    for d in devices:
        if d.outcome is not None and d.outcome is not Outcome.UPDATED:
            groups.setdefault(d.reason or NO_REASON, Counter())[d.outcome.value] += 1
    rows = [{"reason": r, "count": c.total(), "outcomes": dict(sorted(c.items()))} for r, c in groups.items()]
    return sorted(rows, key=lambda row: (-row["count"], row["reason"]))


def _timeline(campaign: CampaignRecord, devices: list[DeviceRecord], events: list[EventRecord]) -> dict[str, Any]:
    """Replay the device events into devices per stage: one point at the campaign's creation, one per distinct
    event time, and one at its end."""
    moves: list[tuple[datetime, tuple[int | None, str], str]] = []
    first: dict[tuple[int | None, str], str | None] = {}
    for e in events:
        if e.kind is EventKind.DEVICE and e.dev_eui is not None and e.to_state is not None:
            key = (e.deployment_id, e.dev_eui)
            first.setdefault(key, e.from_state)
            moves.append((e.at, key, e.to_state))
    last = {key: (at, stage) for at, key, stage in moves}
    # create_campaign stores every device pending, so a stored device starts there unless its first event
    # says otherwise; a device known only from events (added by a back end) counts from that event on.
    where = {key: stage for key, stage in first.items() if stage is not None}
    for d in devices:
        key = (d.deployment_id, d.dev_eui)
        where.setdefault(key, Stage.PENDING.value)
        replayed_at, replayed = last.get(key, (d.updated_at, where[key]))
        if replayed != d.stage.value:
            # The events missed a change: show it when the row last changed, so that the timeline ends where
            # the devices are.
            moves.append((max(d.updated_at, replayed_at), key, d.stage.value))
    moves.sort(key=lambda move: move[0])  # stable: events keep the store's order within one time
    points: list[tuple[datetime, Counter[str]]] = [(campaign.created_at, Counter(where.values()))]
    for at, key, stage in moves:
        where[key] = stage
        # Events of one engine step share a time: one point with the state after all of them.
        if points[-1][0] == at:
            points.pop()
        points.append((at, Counter(where.values())))
    if campaign.ended_at is not None and campaign.ended_at > points[-1][0]:
        points.append((campaign.ended_at, points[-1][1]))
    seen = {stage for _, counts in points for stage in counts}
    # Stage order first; strings outside Stage (a newer engine's) after it, so no device is dropped.
    stages = [s.value for s in Stage if s.value in seen] + sorted(seen - {s.value for s in Stage})
    return {
        "stages": stages,
        "points": [{"at": _iso(at), "counts": {s: counts[s] for s in stages}} for at, counts in points],
    }


# --- text and CSV -------------------------------------------------------------------------------------------------


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        indent
        + "  ".join(
            cell.rjust(w) if cell.isdigit() else cell.ljust(w) for cell, w in zip(row, widths, strict=True)
        ).rstrip()
        for row in (header, *rows)
    ]


def _one_line(text: str | None) -> str:
    # A reason with line breaks would tear the table apart.
    return " ".join(text.split()) if text else "-"


def _text(data: dict[str, Any]) -> str:
    s = data["summary"]
    firmware = s["firmware"]
    lines = [
        f"Campaign {s['id']} {s['name']}: {s['state']}",
        f"  created   {format_time(s['created_at'])}",
        f"  started   {format_time(s['started_at'])}",
        f"  ended     {format_time(s['ended_at'])}",
        f"  duration  {format_duration(s['duration_seconds'])}",
        f"  firmware  {firmware['size']} B, sha256 {firmware['sha256']}",
        "",
        f"Devices: {s['devices']} — {s['updated']} updated, {s['failed']} failed, "
        f"{s['unreachable']} unreachable, {s['pending']} pending",
        threshold_line(s),
    ]
    if data["reasons"]:
        lines += ["", "Why devices were not updated:"]
        lines += [f"  {r['count']:>6}  {_one_line(r['reason'])}" for r in data["reasons"]]
    lines += ["", "Deployments:"]
    header = ("task", "backend", "target", "state", "devices", "updated", "failed", "unreachable", "pending")
    rows = [
        (d["task_name"], d["backend"], d["target"] or "-", d["state"], *(str(d[k]) for k in header[4:]))
        for d in data["deployments"]
    ]
    lines += _table(header, rows)
    not_updated = [d for d in data["devices"] if d["outcome"] != Outcome.UPDATED.value]
    lines += ["", f"Devices not updated: {len(not_updated)}"]
    if not_updated:
        header = ("dev_eui", "deployment", "outcome", "stage", "last change", "reason")
        rows = [
            (
                d["dev_eui"],
                d["deployment"],
                d["outcome"] or "pending",
                d["stage"],
                format_time(d["last_change"]),
                _one_line(d["reason"]),
            )
            for d in not_updated
        ]
        lines += _table(header, rows)
    return "\n".join(lines) + "\n"


def _csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for d in data["devices"]:
        raw = json.dumps(d["raw"], separators=(",", ":"), sort_keys=True, default=str)
        writer.writerow({**{k: d[k] for k in CSV_FIELDS if k != "raw"}, "raw": raw})
    return out.getvalue()
