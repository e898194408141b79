"""What `fuota plan` forecasts for each deployment: air time, pacing, duration, and the share that will decode.

Air time comes from the LoRa formula for a DataFragment at the data rate the back end sends at (the region's RX2
data rate for IoTSquare's Class C multicast, the campaign's `dr` for Milesight); the fastest interval is the one
the sub-band's duty cycle allows. The share of devices that decode is a Monte Carlo on the real TS004 matrix at
the campaign's `expected_loss`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

import numpy as np

import codec
from fuota.planning.airtime import fragment_phy_bytes, time_on_air_ms
from fuota.planning.decoding import estimate, received_iid, recommend, sweep
from fuota.planning.regions import region

__all__ = ["SETUP_SECONDS", "Pace", "forecast", "recommendation", "sweep_svg", "sweep_table"]

SETUP_SECONDS = 120.0
"""An estimate of what a deployment spends besides sending fragments: session set-up, status round, clean-up."""
TRIALS = 2000


@dataclass(frozen=True)
class Pace:
    """How fast fragments go out: air time of one, the fastest interval allowed, the interval used."""

    airtime_ms: float
    min_interval_ms: float
    interval_ms: float


def pace(frag_size: int, region_name: str, dr: int | None = None, interval_ms: float | None = None) -> Pace:
    """The pacing of fragments of `frag_size` in a region, at data rate `dr` (None: the region's RX2 data rate),
    `interval_ms` apart (None: as fast as the duty cycle allows, and never faster than it allows). KeyError or
    ValueError when fuota's tables lack the region or the data rate."""
    found = region(region_name)
    rate = found.data_rates[found.rx2_dr if dr is None else dr]
    airtime = time_on_air_ms(fragment_phy_bytes(frag_size), rate.sf, rate.bandwidth_hz)
    fastest = airtime / found.duty_cycle if found.duty_cycle else airtime
    interval = fastest if interval_ms is None else interval_ms
    return Pace(airtime, fastest, max(interval, fastest))


def forecast(
    frag: codec.FragPlan,
    *,
    region: str,
    dr: int | None = None,
    interval_ms: float | None = None,
    expected_loss: float,
    start: datetime | None = None,
) -> dict[str, object]:
    """The `plan` object of one deployment, as `fuota plan --json` prints it: its fragmentation, pacing (see
    `pace`), duration and the share of devices decoding at `expected_loss`. Where the pacing cannot be known (a
    region or data rate fuota's tables lack), its fields are None and `pacing_unknown` says why; the decoding
    forecast does not depend on it."""
    nb_frag, redundancy = frag.nb_frag, frag.redundancy
    received = received_iid(TRIALS, nb_frag + redundancy, expected_loss, np.random.default_rng(0))
    share = estimate(nb_frag, redundancy, received)
    found: dict[str, object] = {
        "nb_frag": nb_frag,
        "frag_size": frag.frag_size,
        "padding": frag.padding,
        "redundancy": redundancy,
        "airtime_ms": None,
        "min_interval_ms": None,
        "interval_ms": None,
        "send_duration_s": None,
        "expected_duration_s": None,
        "finish_at": None,
        "expected_loss": expected_loss,
        "p_decode": round(share.p, 4),
        "p_decode_interval": [round(share.low, 4), round(share.high, 4)],
    }
    try:
        speed = pace(frag.frag_size, region, dr, interval_ms)
    except (ValueError, KeyError) as exc:
        return found | {"pacing_unknown": f"{exc.args[0] if exc.args else exc}: duration not forecast"}
    send = (nb_frag + redundancy) * speed.interval_ms / 1000
    begins = start or datetime.now(UTC)
    try:
        finish = (begins + timedelta(seconds=send + SETUP_SECONDS)).isoformat(timespec="seconds")
    except OverflowError:
        finish = None  # a start near the end of the calendar: the duration still stands
    return found | {
        "airtime_ms": round(speed.airtime_ms, 1),
        "min_interval_ms": round(speed.min_interval_ms, 1),
        "interval_ms": round(speed.interval_ms, 1),
        "send_duration_s": round(send, 1),
        "expected_duration_s": round(send + SETUP_SECONDS, 1),
        "finish_at": finish,
    }


def recommendation(
    nb_frag: int, redundancy: int, interval_ms: float | None, target: float, loss: float, seed: int = 0
) -> dict[str, object]:
    """The smallest redundancy reaching `target` at `loss`, its interval, and the send time it adds."""
    ceiling = min(16383 - nb_frag, max(4 * redundancy, nb_frag))
    received = received_iid(TRIALS, nb_frag + ceiling, loss, np.random.default_rng(seed))
    found = recommend(nb_frag, target, received, ceiling)
    if found is None:
        return {"target": target, "loss": loss, "redundancy": None, "why": f"not reached with up to {ceiling} coded"}
    best, share = found
    return {
        "target": target,
        "loss": loss,
        "redundancy": best,
        "percent": round(100 * best / nb_frag, 1),
        "p_decode": round(share.p, 4),
        "p_decode_interval": [round(share.low, 4), round(share.high, 4)],
        "adds_s": None if interval_ms is None else round((best - redundancy) * interval_ms / 1000, 1),
    }


def sweep_table(nb_frag: int, redundancies: list[int], losses: list[float]) -> dict[str, object]:
    """Share decoding for every (redundancy, loss), as JSON-ready rows."""
    table = sweep(nb_frag, redundancies, losses, TRIALS)
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
