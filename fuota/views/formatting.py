"""How the read model's values read in words, the same in the text and HTML reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["format_duration", "format_time", "threshold_line"]


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
