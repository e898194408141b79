"""How fast fragments go out, and whether that keeps to the region's duty cycle.

    pace(frag_size, region, dr, interval_ms)   air time of one fragment, the duty-cycle minimum, the interval used
    duty_cycle(pace, …)                        the campaign's interval against that minimum, with the fixes

The interval used is what the back end is told to send at (Milesight's `fragmentInterval`), never silently
stretched: a gateway may hold fragments back to respect the duty cycle or may not, so where the interval is
shorter than the minimum both durations are shown and the campaign is flagged. A back end that paces by itself
(IoTSquare says neither its data rate nor its interval) gets the duty-cycle minimum at the region's RX2 data rate,
marked estimated. The simulators pace with the same function, so that a rehearsal confirms the forecast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fuota.planning.airtime import DATA_FRAGMENT_OVERHEAD_BYTES, fragment_phy_bytes, time_on_air_ms
from fuota.planning.regions import Region, region

__all__ = ["SETUP_SECONDS", "Pace", "duty_cycle", "min_interval_ms", "pace"]

SETUP_SECONDS = 120.0
"""An estimate of what a deployment spends besides sending fragments: session set-up, status round, clean-up."""


@dataclass(frozen=True)
class Pace:
    """How fast fragments go out: air time of one, the fastest interval the duty cycle allows, the interval used,
    and whether that interval is fuota's estimate (the back end paces by itself) rather than what it sends."""

    region: str
    dr: int
    frag_size: int
    airtime_ms: float
    min_interval_ms: float
    interval_ms: float
    estimated: bool

    @property
    def breaches(self) -> bool:
        """Whether fragments sent at `interval_ms` would exceed the duty cycle."""
        return self.interval_ms < self.min_interval_ms - 1e-6


def _airtime(found: Region, dr: int, frag_size: int) -> float:
    rate = found.data_rates[dr]
    return time_on_air_ms(fragment_phy_bytes(frag_size), rate.sf, rate.bandwidth_hz)


def min_interval_ms(frag_size: int, region_name: str, dr: int | None = None) -> float:
    """The shortest gap between two fragments the region's duty cycle allows at data rate `dr` (None: RX2's);
    the air time itself where no duty cycle applies. KeyError or ValueError for what fuota's tables lack."""
    found = region(region_name)
    airtime = _airtime(found, found.rx2_dr if dr is None else dr, frag_size)
    return airtime / found.duty_cycle if found.duty_cycle else airtime


def pace(frag_size: int, region_name: str, dr: int | None = None, interval_ms: float | None = None) -> Pace:
    """The pacing of fragments of `frag_size` in a region at data rate `dr` (None: the region's RX2 data rate),
    `interval_ms` apart as sent (None: the back end paces by itself, estimated at the duty-cycle minimum).
    KeyError or ValueError when fuota's tables lack the region or the data rate."""
    found = region(region_name)
    rate = found.rx2_dr if dr is None else dr
    airtime = _airtime(found, rate, frag_size)
    fastest = airtime / found.duty_cycle if found.duty_cycle else airtime
    used = fastest if interval_ms is None else float(interval_ms)
    return Pace(found.name, rate, frag_size, airtime, fastest, used, interval_ms is None)


def duty_cycle(speed: Pace, fragments: int, max_interval_ms: float | None = None) -> dict[str, Any]:
    """The campaign's interval against the duty cycle, JSON-ready: `ok`, the send time at the duty-cycle minimum,
    and where it breaches, the fixes — the longest legal interval the back end accepts, the most robust faster
    data rate, the largest fragment size at this data rate — and a sentence saying so."""
    at_minimum = round(fragments * speed.min_interval_ms / 1000, 1)
    if not speed.breaches:
        return {"ok": True, "send_duration_s": at_minimum, "fixes": {}, "warning": None}
    found = region(speed.region)
    fixes: dict[str, int] = {}
    if max_interval_ms is None or speed.min_interval_ms <= max_interval_ms:
        fixes["fragment_interval"] = math.ceil(speed.min_interval_ms)
    for dr in sorted(d for d in found.data_rates if d > speed.dr):
        fits = speed.frag_size <= found.data_rates[dr].max_payload - DATA_FRAGMENT_OVERHEAD_BYTES
        if fits and _legal(found, dr, speed.frag_size, speed.interval_ms):
            fixes["dr"] = dr
            break
    legal = [s for s in range(1, speed.frag_size) if _legal(found, speed.dr, s, speed.interval_ms)]
    if legal:
        fixes["fragment_size"] = legal[-1]
    if found.duty_cycle:
        limit, breach = f"{found.name}'s {100 * found.duty_cycle:g} % duty cycle allows", "breach the duty cycle"
    else:  # no duty cycle there: the only floor is one fragment's air time
        limit, breach = f"one fragment's air time on {found.name}", "send fragments faster than the radio can"
    ways = {
        "fragment_interval": "fragment_interval = {} ms",
        "dr": "dr = {} (a faster data rate)",
        "fragment_size": "fragment_size = {} B or less",
    }
    advice = " or ".join(ways[key].format(value) for key, value in fixes.items()) or "a faster data rate"
    as_sent = round(fragments * speed.interval_ms / 1000, 1)
    warning = (
        f"fragment_interval = {speed.interval_ms:g} ms is shorter than {limit} "
        f"at DR{speed.dr} for {speed.frag_size} B fragments ({speed.min_interval_ms:.0f} ms): the campaign may "
        f"{breach}; sending takes {as_sent:g} s at the interval sent, or {at_minimum:g} s if the "
        f"gateway holds fragments back to keep to it; set {advice}"
    )
    return {"ok": False, "send_duration_s": at_minimum, "fixes": fixes, "warning": warning}


def _legal(found: Region, dr: int, frag_size: int, interval_ms: float) -> bool:
    airtime = _airtime(found, dr, frag_size)
    return (airtime / found.duty_cycle if found.duty_cycle else airtime) <= interval_ms + 1e-6
