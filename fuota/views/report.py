"""A campaign's report, read from the store alone: one JSON-ready object, rendered as text, JSON, CSV or HTML.

`report_data(store, campaign_id)` gathers everything a report shows from the read model (fuota.views.model,
where each fact and key is defined); `render(data, fmt)` turns it into a string. The data holds only JSON types
(times as ISO 8601 strings in UTC), so every renderer — and any external tool reading `--format json` — works
from the same object:

    summary      the campaign summary: id, name, state, times and duration, firmware, device counts, progress,
                 success threshold and verdict, schedule (start, window, next opening) and whether it is driven
    reasons      why devices did not end updated, grouped by category (fuota.views.reasons): label, advice,
                 devices, outcomes; most devices first
    deployments  the deployment rows: task, back end, target, state, device counts, progress, retries, reasons
    devices      the device rows: stage, outcome, category, reason (the per-device detail), the back end's raw
                 codes, time of last change
    timeline     devices per stage over time, replayed from the store's "device" events (fuota.views.timeline)
    family       the campaign with its retries and their total, "97 of 100 updated after 2 retries"
                 (fuota.views.family)
    version_anomalies  the "anomaly" event rows saying a deployment's reported firmware versions could not judge
                 its devices against expected_version (fuota.core.outcomes.version_anomaly): one line each

The formats: text, json, csv (one row per device, its category beside the detail), reasons-csv (one row per
category: category, label, devices, one column per outcome, advice) and html (fuota.views.html).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from fuota.core.model import Outcome
from fuota.core.outcomes import VERSION_ANOMALY
from fuota.store import Store
from fuota.views.family import family_data
from fuota.views.formatting import format_duration, format_time, progress_words, threshold_line
from fuota.views.html import render_html
from fuota.views.model import campaign_overview
from fuota.views.reasons import reason_line
from fuota.views.rows import anomalies, device_rows
from fuota.views.schedule import schedule_rows
from fuota.views.timeline import timeline

__all__ = ["CSV_FIELDS", "FORMATS", "REASON_FIELDS", "render", "report_data"]

FORMATS = ("text", "json", "csv", "reasons-csv", "html")
CSV_FIELDS = ("dev_eui", "deployment", "stage", "outcome", "category", "reason", "last_change", "raw")
REASON_FIELDS = ("category", "label", "devices", *(o.value for o in Outcome if o is not Outcome.UPDATED), "advice")


def report_data(store: Store, campaign_id: int, now: datetime | None = None) -> dict[str, Any]:
    """The campaign's report as one JSON-ready dict with the keys summary, reasons, deployments, devices,
    timeline, family and version_anomalies (see the module docstring), its progress at `now` (None: as of the
    store's latest change). Raises LookupError if the campaign does not exist."""
    overview = campaign_overview(store, campaign_id, now)
    return {
        "summary": overview["summary"],
        "family": family_data(store, campaign_id, overview["summary"]),
        "reasons": overview["reasons"],
        "deployments": overview["deployments"],
        "devices": device_rows(store, campaign_id),
        "timeline": timeline(store, campaign_id),
        "version_anomalies": [a for a in anomalies(store, campaign_id) if a["cause"].startswith(VERSION_ANOMALY)],
    }


def render(data: dict[str, Any], fmt: str) -> str:
    """`data` (from report_data) as text, json, csv or html. Raises ValueError for any other format."""
    if fmt == "text":
        return _text(data)
    if fmt == "json":
        return json.dumps(data, indent=2, default=str)
    if fmt == "csv":
        return _csv(data)
    if fmt == "reasons-csv":
        return _reasons_csv(data)
    if fmt == "html":
        return render_html(data)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


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
        f"  progress  {progress_words(s)}",
        f"  firmware  {firmware['size']} B, sha256 {firmware['sha256']}",
        *(f"  {label:<9} {text}" for label, text in schedule_rows(s)),
        "",
        f"Devices: {s['devices']} — {s['updated']} updated, {s['failed']} failed, "
        f"{s['unreachable']} unreachable, {s['aborted']} aborted, {s['skipped']} skipped, {s['pending']} pending",
        threshold_line(s),
        *(f"  {a['deployment']}: {a['cause']}" for a in data["version_anomalies"]),
    ]
    if data.get("family") and data["family"]["retries"]:
        lines += ["", *_family(data["family"])]
    if data["reasons"]:
        lines += ["", "Why devices were not updated (by category; each device's detail below):"]
        for r in data["reasons"]:
            lines += [f"  {r['devices']:>6}  {reason_line(r)}"]
    lines += ["", "Deployments:"]
    header = ("task", "backend", "target", "state", "devices", "updated", "failed", "unreachable", "aborted")
    header += ("skipped", "pending", "retries")
    rows = [
        (d["task_name"], d["backend"], d["target"] or "-", d["state"], *(str(d[k]) for k in header[4:]))
        for d in data["deployments"]
    ]
    lines += _table(header, rows)
    not_updated = [d for d in data["devices"] if d["outcome"] != Outcome.UPDATED.value]
    lines += ["", f"Devices not updated: {len(not_updated)}"]
    if not_updated:
        header = ("dev_eui", "deployment", "outcome", "category", "stage", "last change", "reason")
        rows = [
            (
                d["dev_eui"],
                d["deployment"],
                d["outcome"] or "pending",
                d["category"] or "-",
                d["stage"],
                format_time(d["last_change"]),
                _one_line(d["reason"]),
            )
            for d in not_updated
        ]
        lines += _table(header, rows)
    return "\n".join(lines) + "\n"


def _family(family: dict[str, Any]) -> list[str]:
    members = ", ".join(f"{m['id']} {m['name']} ({m['state']})" for m in family["members"])
    return [f"Family {family['root']['name']}: {family['line']}", f"  campaigns  {members}"]


def _csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for d in data["devices"]:
        raw = json.dumps(d["raw"], separators=(",", ":"), sort_keys=True, default=str)
        writer.writerow({**{k: d[k] for k in CSV_FIELDS if k != "raw"}, "raw": raw})
    return out.getvalue()


def _reasons_csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REASON_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in data["reasons"]:
        writer.writerow(
            {k: r[k] for k in ("category", "label", "devices", "advice")}
            | {o: r["outcomes"].get(o, 0) for o in REASON_FIELDS[3:-1]}
        )
    return out.getvalue()
