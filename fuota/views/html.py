"""A campaign report as one self-contained HTML page: inline CSS and SVG charts drawn here, no script, no fetch.

The page opens offline and from an e-mail attachment. Its Content-Security-Policy forbids every fetch, so even a
value that slipped past escaping could not load anything; every value is escaped all the same.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import Any

from fuota.views.formatting import format_duration, format_time, progress_words, threshold_line
from fuota.views.schedule import schedule_rows

__all__ = ["render_html"]

# Finished stages at the bottom of the stack, so that the "done" band grows upwards as the campaign advances.
_STACK = ("done", "status_reported", "receiving", "fragmentation_setup", "multicast_ready", "multicast_setup")
_STACK += ("pending", "unknown", "failed")
_COLORS = {
    "pending": "#b8bec9",
    "multicast_setup": "#c6dbef",
    "multicast_ready": "#9ecae1",
    "fragmentation_setup": "#6baed6",
    "receiving": "#3182bd",
    "status_reported": "#08519c",
    "done": "#31a354",
    "failed": "#de2d26",
    "unknown": "#756bb1",
    "updated": "#31a354",
    "unreachable": "#fd8d3c",
    "aborted": "#9e9ac8",
    "skipped": "#d9d9d9",
}
_OTHER = "#888888"
_OUTCOMES = ("updated", "failed", "unreachable", "aborted", "skipped", "pending")
_NUMERIC = ' class="n"'
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232b; margin: 0 auto;
       max-width: 1100px; padding: 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
.verdict { font-weight: 600; } .met { color: #237a3b; } .unmet { color: #b3261e; }
.figures { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; padding: 0; list-style: none; }
.figures li { border: 1px solid #d8dde4; border-radius: 6px; padding: .4rem .8rem; min-width: 6rem; }
.figures b { display: block; font-size: 1.3rem; }
svg { max-width: 100%; height: auto; display: block; } svg text { font: 11px system-ui, sans-serif; fill: #333; }
.legend { display: flex; flex-wrap: wrap; gap: .9rem; margin: .3rem 0 0; padding: 0; list-style: none; }
.legend span { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: -1px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { background: #f3f5f7; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; } dt { color: #5b6470; }
.devices td:last-child { font: 12px ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
tr.failed td:nth-child(4) { color: #b3261e; } tr.unreachable td:nth-child(4) { color: #b35806; }
tr.aborted td:nth-child(4), tr.skipped td:nth-child(4) { color: #54278f; }
.reasons td:nth-child(2) code { color: #5b6470; }
footer { margin-top: 2rem; color: #5b6470; font-size: 12px; }
"""


def render_html(data: dict[str, Any]) -> str:
    """The report `data` (fuota.views.report.report_data) as a complete HTML document."""
    s = data["summary"]
    title = f"Campaign {s['id']} {s['name']}: {s['state']}"
    verdict = "met" if s["threshold_met"] else "unmet"
    figures = [("devices", s["devices"]), *((k, s[k]) for k in _OUTCOMES)]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        # An empty icon: otherwise a browser asks the server for /favicon.ico, which the policy would refuse.
        '<link rel="icon" href="data:,">',
        f"<title>fuota report — {escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="verdict {verdict}">{escape(threshold_line(s))}</p>',
        '<ul class="figures">',
        *(f"<li><b>{n}</b>{escape(label)}</li>" for label, n in figures),
        "</ul>",
        _family(data.get("family")),
        *(
            f'<p class="anomaly">{escape(a["deployment"] or "")}: {escape(a["cause"])}</p>'
            for a in data["version_anomalies"]
        ),
        "</header>",
        "<section><h2>Devices per stage over time</h2>",
        _stage_chart(data["timeline"]),
        "</section><section><h2>Progress per deployment</h2>",
        _deployment_chart(data["deployments"]),
        "</section><section><h2>Why devices were not updated</h2>",
        _reasons(data["reasons"]),
        "</section><section><h2>Summary</h2>",
        _summary(s),
        "</section><section><h2>Deployments</h2>",
        _deployments_table(data["deployments"]),
        f"</section><section><h2>Devices ({len(data['devices'])})</h2>",
        _devices_table(data["devices"]),
        "</section><footer>Generated by fuota from its campaign store. Times are UTC.</footer>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _family(family: dict[str, Any] | None) -> str:
    # Only a campaign with retries has a family worth a line; the report is a file, so members are named, not linked.
    if not family or not family["retries"]:
        return ""
    members = ", ".join(f"{m['id']} {escape(m['name'])} ({escape(m['state'])})" for m in family["members"])
    return (
        f'<p class="family">Family {escape(family["root"]["name"])}: <b>{escape(family["line"])}</b>'
        f"<br>campaigns: {members}</p>"
    )


# --- charts ----------------------------------------------------------------------------------------------------


def _legend(keys: list[str]) -> str:
    items = (f'<li><span style="background:{_COLORS.get(k, _OTHER)}"></span>{escape(k)}</li>' for k in keys)
    return f'<ul class="legend">{"".join(items)}</ul>'


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def _stage_chart(timeline: dict[str, Any]) -> str:
    points = timeline["points"]
    stages = [s for s in _STACK if s in timeline["stages"]]
    stages += [s for s in timeline["stages"] if s not in stages]
    if not stages:
        return "<p>No devices.</p>"
    times = [datetime.fromisoformat(p["at"]).timestamp() for p in points]
    span = times[-1] - times[0]
    # The last state gets a sliver of width of its own, or it would have none.
    pad = span * 0.03 or 1.0
    width, height, left, right, top, bottom = 760, 280, 48, 16, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    ymax = max(1, *(sum(p["counts"].values()) for p in points))

    def x(t: float) -> float:
        return left + (t - times[0]) / (span + pad) * plot_w

    def y(n: float) -> float:
        return top + plot_h - n / ymax * plot_h

    xs = [x(t) for t in times] + [left + plot_w]
    body: list[str] = []
    base = [0] * len(points)
    for stage in stages:
        upper = [b + p["counts"][stage] for b, p in zip(base, points, strict=True)]
        edge = [(xs[i + j], y(upper[i])) for i in range(len(points)) for j in (0, 1)]
        edge += [(xs[i + j], y(base[i])) for i in reversed(range(len(points))) for j in (1, 0)]
        coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in edge)
        color = _COLORS.get(stage, _OTHER)
        body.append(f'<polygon points="{coords}" fill="{color}"><title>{escape(stage)}</title></polygon>')
        base = upper
    for n in sorted({0, ymax // 2, ymax}):
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(n):.1f}" y2="{y(n):.1f}" stroke="#0002"/>')
        body.append(f'<text x="{left - 6}" y="{y(n) + 4:.1f}" text-anchor="end">{n}</text>')
    fmt = "%m-%d %H:%M" if span > 86400 else "%H:%M:%S" if span < 600 else "%H:%M"
    for i in range(5):
        t = times[0] + span * i / 4
        when = datetime.fromtimestamp(t, datetime.fromisoformat(points[0]["at"]).tzinfo).strftime(fmt)
        body.append(f'<text x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="middle">{when}</text>')
        if span == 0:
            break
    body.append(f'<text x="{left}" y="{height - 4}">UTC, from campaign creation</text>')
    return _svg(width, height, "devices per stage over time", body) + _legend(stages)


def _deployment_chart(deployments: list[dict[str, Any]]) -> str:
    if not deployments:
        return "<p>No deployments.</p>"
    width, label_w, count_w, row = 760, 190, 110, 28
    bar_w = width - label_w - count_w
    body: list[str] = []
    for i, d in enumerate(deployments):
        top = i * row + 4
        name = d["task_name"] if len(d["task_name"]) <= 28 else d["task_name"][:27] + "…"
        body.append(f'<text x="0" y="{top + 14}"><title>{escape(d["task_name"])}</title>{escape(name)}</text>')
        offset = 0.0
        for key in _OUTCOMES:
            share = d[key] / d["devices"] if d["devices"] else 0
            if share:
                body.append(
                    f'<rect x="{label_w + offset * bar_w:.1f}" y="{top}" width="{share * bar_w:.1f}" height="18" '
                    f'fill="{_COLORS.get(key, _OTHER)}"><title>{escape(key)}: {d[key]}</title></rect>'
                )
            offset += share
        label = f"{d['updated']}/{d['devices']} updated"
        body.append(f'<text x="{label_w + bar_w + 8}" y="{top + 14}">{escape(label)}</text>')
    return _svg(width, len(deployments) * row + 4, "progress per deployment", body) + _legend(list(_OUTCOMES))


def _reasons(reasons: list[dict[str, Any]]) -> str:
    # One bar per category (there are few: fuota.core.reasons), stacked by outcome.
    if not reasons:
        return "<p>Every device that ended was updated.</p>"
    width, row, count_w = 760, 38, 60
    top_count = reasons[0]["devices"]
    body: list[str] = []
    for i, r in enumerate(reasons):
        top = i * row
        title = f"{r['label']} ({r['category']})"
        body.append(f'<text x="0" y="{top + 12}"><title>{escape(r["advice"])}</title>{escape(title)}</text>')
        offset = 0.0
        for outcome, n in r["outcomes"].items():
            bar = n / top_count * (width - count_w)
            color = _COLORS.get(outcome, _OTHER)
            body.append(
                f'<rect x="{offset:.1f}" y="{top + 17}" width="{max(bar, 2.0):.1f}" height="14" fill="{color}">'
                f"<title>{escape(outcome)}: {n}</title></rect>"
            )
            offset += bar
        body.append(f'<text x="{max(offset, 2.0) + 6:.1f}" y="{top + 28}">{r["devices"]}</text>')
    chart = _svg(width, len(reasons) * row, "failure reasons by category", body)
    rows = [(r["devices"], f"{r['label']} ({r['category']})", _outcomes(r), r["advice"]) for r in reasons]
    legend = _legend(sorted({o for r in reasons for o in r["outcomes"]}))
    header = ("devices", "reason", "outcomes", "what to do")
    return chart + legend + _table(header, rows, numeric=(0,), css_class="reasons")


def _outcomes(group: dict[str, Any]) -> str:
    return ", ".join(f"{outcome} {n}" for outcome, n in group["outcomes"].items())


# --- tables ------------------------------------------------------------------------------------------------------


def _table(
    header: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    numeric: range | tuple[int, ...] = (),
    row_classes: list[str] | None = None,
    css_class: str = "",
) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    lines = [f'<table class="{escape(css_class)}"><thead><tr>{head}</tr></thead><tbody>']
    for i, cells in enumerate(rows):
        tds = "".join(f"<td{_NUMERIC if j in numeric else ''}>{escape(str(c))}</td>" for j, c in enumerate(cells))
        css = f' class="{escape(row_classes[i])}"' if row_classes else ""
        lines.append(f"<tr{css}>{tds}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _summary(s: dict[str, Any]) -> str:
    redundancy = s["redundancy_percent"]
    items = [
        ("campaign", f"{s['id']} {s['name']}"),
        ("state", s["state"]),
        ("created", format_time(s["created_at"])),
        ("started", format_time(s["started_at"])),
        ("ended", format_time(s["ended_at"])),
        ("last activity", format_time(s["last_activity_at"])),
        ("duration", format_duration(s["duration_seconds"])),
        ("progress", progress_words(s)),
        ("firmware", f"{s['firmware']['size']} B, sha256 {s['firmware']['sha256']}"),
        ("redundancy", "-" if redundancy is None else f"{redundancy:g} %"),
        ("success threshold", threshold_line(s)),
        *schedule_rows(s),
    ]
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items) + "</dl>"


def _deployments_table(deployments: list[dict[str, Any]]) -> str:
    header = ("task", "backend", "target", "state", "devices", *_OUTCOMES, "retries")
    rows = [
        (d["task_name"], d["backend"], d["target"] or "-", d["state"], *(d[k] for k in header[4:])) for d in deployments
    ]
    return _table(header, rows, numeric=range(4, len(header)))


def _failed_first(device: dict[str, Any]) -> int:
    """Where a device row goes in the report's table: failed first, then any other outcome short of updated, then
    those still under way, the updated last — the ones to act on come first."""
    outcome = device["outcome"]
    return 0 if outcome == "failed" else 3 if outcome == "updated" else 2 if outcome is None else 1


def _devices_table(devices: list[dict[str, Any]]) -> str:
    header = ("dev_eui", "deployment", "stage", "outcome", "category", "reason", "last change", "raw")
    devices = sorted(devices, key=_failed_first)  # stable: the read model's order within each group
    rows = [
        (
            d["dev_eui"],
            d["deployment"],
            d["stage"],
            d["outcome"] or "pending",
            d["category"] or "",
            d["reason"] or "",
            format_time(d["last_change"]),
            json.dumps(d["raw"], separators=(",", ":"), sort_keys=True, default=str),
        )
        for d in devices
    ]
    return _table(header, rows, row_classes=[d["outcome"] or "pending" for d in devices], css_class="devices")
