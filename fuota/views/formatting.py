"""How the read model's values read in words, the same in the text and HTML reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = [
    "credentials_words",
    "format_duration",
    "format_time",
    "fragments_words",
    "progress_words",
    "threshold_line",
]


def format_time(iso: str | None) -> str:
    """An ISO timestamp of the read model as `YYYY-MM-DD HH:MM:SS UTC`, or "-"."""
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
    """The success-threshold verdict of a campaign summary in words."""
    share = summary["updated_share"]
    verdict = "met" if summary["threshold_met"] else "not met"
    if summary["pending"] and not summary["threshold_met"]:
        verdict += f" yet ({summary['pending']} devices still pending)"
    stopped = summary["devices"] - summary["judged"]
    of = f" of {summary['judged']} devices ({stopped} aborted or skipped left out)" if stopped else ""
    return f"{share:.0%}{of} updated, success threshold {summary['success_threshold']:.0%}: {verdict}"


def progress_words(row: dict[str, Any]) -> str:
    """A campaign's or deployment's progress (fuota.views.progress) in words: under way, its percent and time left
    (`53.5 %, 5 min 20 s left`); ended, its share of devices updated (`66.7 % updated`), not its 100 %."""
    if row["phase"] == "ended":
        share = row.get("updated_share")  # a campaign's; a deployment's is worked out here the same way
        if share is None:
            judged = row["devices"] - row.get("aborted", 0) - row.get("skipped", 0)
            share = row["updated"] / judged if judged else 0.0
        return f"{100 * share:.1f} % updated"
    left = row["time_left_seconds"]
    return f"{row['progress']:g} %, {'time left unknown' if left is None else format_duration(left) + ' left'}"


def fragments_words(row: dict[str, Any]) -> str:
    """Fragments sent of total, e.g. `147/233`; "-" where either is not known."""
    sent, total = row["fragments_sent"], row["fragments_total"]
    return "-" if sent is None or total is None else f"{sent}/{total}"


def credentials_words(row: dict[str, Any]) -> str | None:
    """A deployment row's credentials_refused_since in words, or None when its credentials are not refused."""
    since = row.get("credentials_refused_since")
    if since is None:
        return None
    return (
        f"{row['task_name']}: credentials refused since {format_time(since)}: waiting for a valid token "
        "(rewrite token_file or token_env)"
    )
