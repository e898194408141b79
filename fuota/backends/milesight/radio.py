"""Each gateway's radio settings: a campaign's region, dr and frequency read against the gateway's own channel plan.

A Milesight gateway says which channel plan it runs in `channelPlan` (section 3.3, "Frequency channel plan"); a
task's `tmpMcInfo` dr and frequency are "depend on channel plan, see the appendix" (6.1). So each gateway gets its
own settings (`resolve`), whatever the others run:

    campaign's region   gateway's channelPlan     region used
    not set             a row of the appendix     the gateway's plan
    the same plan       a row of the appendix     that plan
    another plan        a row of the appendix     refused: RejectedError naming the gateway, its plan, the value
    set or not          absent, empty, unknown    the campaign's region, else codes.DEFAULT_REGION; `note` says so

    frequency           not set: the region's RX2 frequency; set: within the region's RX2 range, else refused
    dr                  not set: the region's RX2 data rate (the gateway's payload size then checks it, 6.6)

Nothing here asks the gateway or reads the clock: the adapter asks, and keeps what it resolved per gateway in the
campaign's completed table (`gateway_radio`), so that the task sent is the one planned and forecast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fuota.backends.errors import RejectedError
from fuota.backends.milesight import codes

__all__ = ["Radio", "resolve", "stored"]


@dataclass(frozen=True, slots=True)
class Radio:
    """What a gateway's task is sent with: its region (a row of the appendix), data rate and frequency (Hz), and
    the `channelPlan` the gateway answered, verbatim (None: it reported none)."""

    gateway: str
    channel_plan: str | None
    region: str
    dr: int
    frequency: int

    @property
    def from_gateway(self) -> bool:
        """Whether the region is the gateway's own plan (else a fallback: the campaign's region or the default)."""
        return codes.channel_plan(self.channel_plan) == self.region

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, as kept in the completed table's `gateway_radio`."""
        return {"channel_plan": self.channel_plan, "region": self.region, "dr": self.dr, "frequency": self.frequency}

    def note(self) -> str:
        """One line for `fuota plan`'s checks: where the region comes from, and what the task is sent with."""
        sent = f"region {self.region}, dr {self.dr}, frequency {self.frequency} Hz"
        gateway = self.gateway.upper()
        if self.from_gateway:
            return f"gateway {gateway}: channelPlan {self.channel_plan!r} → {sent}"
        reported = (
            "no channelPlan"
            if self.channel_plan is None
            else f"channelPlan {self.channel_plan!r}, no plan of the appendix"
        )
        return (
            f"gateway {gateway} reports {reported}: {sent} assumed; check that this is the gateway's plan, or set "
            "[milesight] region to it"
        )


def _region(value: object) -> str | None:
    if value is None:
        return None
    region = codes.channel_plan(value)
    if region is None:
        raise RejectedError(
            f"region {value!r} is not a channel plan of the spec: one of {', '.join(codes.RX2_DEFAULTS)}"
        )
    return region


def _whole(key: str, value: object) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise RejectedError(f"{key} = {value!r} is not a whole number") from None


def resolve(gateway: str, answered: str | None, region: object, dr: object, frequency: object) -> Radio:
    """The settings of `gateway`'s task, from the channelPlan it `answered` and the campaign's `region`, `dr` and
    `frequency` (None: not set); RejectedError naming the gateway, its plan and the value that does not fit it."""
    wanted, own = _region(region), codes.channel_plan(answered)
    shown = f"gateway {gateway.upper()} reports channelPlan {answered!r}"
    if own is not None and wanted is not None and wanted != own:
        raise RejectedError(
            f"{shown}: region = {region!r} does not fit it; drop [milesight] region to use the gateway's own plan, "
            f"or set region = {own!r}"
        )
    chosen = own or wanted or codes.DEFAULT_REGION
    rx2_frequency, rx2_dr = codes.RX2_DEFAULTS[chosen]
    low, high = codes.RX2_FREQUENCY_RANGES[chosen]
    hz = _whole("frequency", frequency)
    if hz is not None and not low <= hz <= high:
        why = shown if own is not None else f"region {chosen} (no channelPlan known for gateway {gateway.upper()})"
        raise RejectedError(
            f"{why}: frequency = {hz} Hz is outside {chosen}'s range {low}–{high} Hz; drop [milesight] frequency "
            f"to use the plan's RX2 frequency ({rx2_frequency} Hz), or set one inside {low}–{high} Hz"
        )
    chosen_dr = _whole("dr", dr)
    return Radio(
        gateway, answered, chosen, rx2_dr if chosen_dr is None else chosen_dr, rx2_frequency if hz is None else hz
    )


def stored(gateway: str, options: Mapping[str, object]) -> Radio:
    """The settings planning kept for `gateway` in the completed table's `gateway_radio`; for a campaign planned
    before gateways' plans were read (no entry), those its region, dr and frequency give, as then."""
    kept = options.get("gateway_radio")
    entry = kept.get(gateway) if isinstance(kept, Mapping) else None
    if not isinstance(entry, Mapping):
        return resolve(gateway, None, options.get("region"), options.get("dr"), options.get("frequency"))
    plan = entry.get("channel_plan")
    return resolve(
        gateway, None if plan is None else str(plan), entry.get("region"), entry.get("dr"), entry.get("frequency")
    )
