"""What `fuota plan` forecasts for each deployment: air time, pacing, duration, and the share that will decode.

Pacing is what the back end sends (fuota.planning.pacing): Milesight's `fragmentInterval` at the campaign's data
rate, checked against the duty-cycle minimum; IoTSquare paces by itself, so its interval is estimated at the
duty-cycle minimum of the region's RX2 data rate. The share of devices that decode is a Monte Carlo on the real
TS004 matrix at the campaign's `expected_loss` (fuota.planning.needed: one exact elimination per trial serves the
share, the redundancy reaching `success_threshold` and the one reaching a `--target`), stated with its trials and
95 % interval.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from html import escape

import numpy as np

import codec
from fuota.planning.decoding import received_iid, share, smallest, sweep
from fuota.planning.needed import Progress, needed
from fuota.planning.pacing import SETUP_SECONDS, duty_cycle, pace

__all__ = ["SETUP_SECONDS", "forecast", "forget", "recommendation", "sweep_svg", "sweep_table", "trials_for"]

TRIALS = 2000
_FULL_TRIALS_UP_TO = 500  # nb_frag; beyond, the elimination grows ~ M³ and fewer trials keep plan quick
_MIN_TRIALS = 400


def trials_for(nb_frag: int) -> int:
    """Monte Carlo trials for an image of `nb_frag` fragments: 2000 (a 95 % interval within ±1 point at 90 %)
    up to 500 fragments, fewer beyond (at least 400, ±3 points), always reported with the interval they give."""
    if nb_frag <= _FULL_TRIALS_UP_TO:
        return TRIALS
    return max(_MIN_TRIALS, TRIALS * _FULL_TRIALS_UP_TO // nb_frag)


_CACHE: dict[tuple[int, int, float, int], np.ndarray] = {}
_CACHE_SIZE = 32


def _needs(nb_frag: int, ceiling: int, loss: float, seed: int = 0, progress: Progress | None = None) -> np.ndarray:
    """Each trial's needed redundancy, up to `ceiling`. Deployments of one campaign share their fragmentation, and
    the share, the threshold's and the target's redundancy read the same trials: each is computed once."""
    key = (nb_frag, ceiling, loss, seed)
    if key not in _CACHE:
        received = received_iid(trials_for(nb_frag), nb_frag + ceiling, loss, np.random.default_rng(seed))
        found = needed(nb_frag, ceiling, received, progress=progress)
        found.setflags(write=False)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = found
    return _CACHE[key]


def forget() -> None:
    """Empty the cache of trials (a benchmark's cold start)."""
    _CACHE.clear()


def _ceiling(nb_frag: int, redundancy: int) -> int:
    return max(redundancy, min(codec.MAX_COUNTER - nb_frag, max(4 * redundancy, nb_frag)))


def forecast(
    frag: codec.FragPlan,
    *,
    region: str,
    dr: int | None = None,
    interval_ms: float | None = None,
    max_interval_ms: float | None = None,
    expected_loss: float,
    success_threshold: float | None = None,
    start: datetime | None = None,
    progress: Progress | None = None,
) -> dict[str, object]:
    """The `plan` object of one deployment, as `fuota plan --json` prints it: its fragmentation, pacing (the
    interval sent, or `estimated`), its duty-cycle check, duration, finish time, and the share of devices decoding
    at `expected_loss` with, when that is below `success_threshold`, the redundancy that reaches it. Where the
    pacing cannot be known (a region or data rate fuota's tables lack), its fields are None and `pacing_unknown`
    says why; the decoding forecast does not depend on it. `progress` is told the share of the Monte Carlo done."""
    nb_frag, redundancy = frag.nb_frag, frag.redundancy
    needs = _needs(nb_frag, redundancy, expected_loss, progress=progress)
    found_share = share(needs, redundancy)
    found: dict[str, object] = {
        "nb_frag": nb_frag,
        "frag_size": frag.frag_size,
        "padding": frag.padding,
        "redundancy": redundancy,
        "airtime_ms": None,
        "min_interval_ms": None,
        "interval_ms": None,
        "estimated": interval_ms is None,
        "dr": dr,
        "send_duration_s": None,
        "expected_duration_s": None,
        "finish_at": None,
        "duty_cycle": None,
        "expected_loss": expected_loss,
        "trials": len(needs),
        "p_decode": round(found_share.p, 4),
        "p_decode_interval": [round(found_share.low, 4), round(found_share.high, 4)],
        "below_threshold": None,
    }
    if success_threshold is not None and found_share.p < success_threshold:
        found["below_threshold"] = recommendation(
            nb_frag, redundancy, None, success_threshold, expected_loss, progress=progress
        )
    try:
        speed = pace(frag.frag_size, region, dr, interval_ms)
    except (ValueError, KeyError) as exc:
        return found | {"pacing_unknown": f"{exc.args[0] if exc.args else exc}: duration not forecast"}
    fragments = nb_frag + redundancy
    send = fragments * speed.interval_ms / 1000
    begins = start or datetime.now(UTC)
    try:
        finish = (begins + timedelta(seconds=send + SETUP_SECONDS)).isoformat(timespec="seconds")
    except OverflowError:
        finish = None  # a start near the end of the calendar: the duration still stands
    return found | {
        "airtime_ms": round(speed.airtime_ms, 1),
        "min_interval_ms": round(speed.min_interval_ms, 1),
        "interval_ms": round(speed.interval_ms, 1),
        "dr": speed.dr,
        "send_duration_s": round(send, 1),
        "expected_duration_s": round(send + SETUP_SECONDS, 1),
        "finish_at": finish,
        "duty_cycle": duty_cycle(speed, fragments, max_interval_ms),
    }


def recommendation(
    nb_frag: int,
    redundancy: int,
    interval_ms: float | None,
    target: float,
    loss: float,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, object]:
    """The smallest redundancy reaching `target` at `loss` (as a count and as redundancy_percent), its share with
    the trials and interval, and the send time it adds at `interval_ms`. `progress` is told the share done."""
    ceiling = _ceiling(nb_frag, redundancy)
    needs = _needs(nb_frag, ceiling, loss, seed, progress)
    found = smallest(needs, target, ceiling)
    base = {"target": target, "loss": loss, "trials": len(needs)}
    if found is None:
        return base | {"redundancy": None, "why": f"not reached with up to {ceiling} coded fragments"}
    best, estimate = found
    return base | {
        "redundancy": best,
        "percent": round(100 * best / nb_frag, 1),
        "redundancy_percent": math.ceil(100 * best / nb_frag),
        "p_decode": round(estimate.p, 4),
        "p_decode_interval": [round(estimate.low, 4), round(estimate.high, 4)],
        "adds_s": None if interval_ms is None else round((best - redundancy) * interval_ms / 1000, 1),
    }


def sweep_table(nb_frag: int, redundancies: list[int], losses: list[float]) -> dict[str, object]:
    """Share decoding for every (redundancy, loss), as JSON-ready rows."""
    table = sweep(nb_frag, redundancies, losses, trials_for(nb_frag))
    return {
        "nb_frag": nb_frag,
        "losses": losses,
        "rows": [
            {"redundancy": r, "shares": [round(float(v), 4) for v in table[i]]} for i, r in enumerate(redundancies)
        ],
    }


def sweep_svg(data: dict) -> str:
    """The sweep as a line chart: one line per loss rate, share decoding against redundancy."""
    width, height, left, bottom = 640, 360, 56, 40
    rows = data["rows"]
    top_r = max(r["redundancy"] for r in rows) or 1
    colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]

    def x(r: float) -> float:
        return left + (width - left - 16) * r / top_r

    def y(p: float) -> float:
        return (height - bottom) - (height - bottom - 16) * p

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for p in (0, 0.25, 0.5, 0.75, 0.9, 0.99, 1):
        parts.append(f'<line x1="{left}" x2="{width - 16}" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(p) + 4:.1f}" text-anchor="end">{p:g}</text>')
    for j, loss in enumerate(data["losses"]):
        points = " ".join(f"{x(r['redundancy']):.1f},{y(r['shares'][j]):.1f}" for r in rows)
        colour = colours[j % len(colours)]
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{width - 150}" y="{24 + 14 * j}" fill="{colour}">loss {escape(f"{loss:g}")}</text>')
    for r in rows:
        parts.append(
            f'<text x="{x(r["redundancy"]):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{r['redundancy']}</text>"
        )
    parts.append(
        f'<text x="{width / 2}" y="{height - 6}" text-anchor="middle">coded fragments (redundancy), '
        f"M = {data['nb_frag']}; share of devices decoding</text></svg>"
    )
    return "".join(parts)
