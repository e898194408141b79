"""LoRaWAN regional downlink parameters needed to plan a FUOTA session.

Sources:

* Data rates and maximum payload sizes: LoRaWAN Regional Parameters
  RP002-1.0.4. Each table below names the RP002 section it comes from
  ("<band> Data Rate and End-Device Output Power Encoding" for DR -> SF/BW,
  "<band> Maximum Payload Size" for N). ``max_payload`` is the N column
  (maximum FRMPayload, no repeater) and therefore already excludes the
  8-byte FHDR+FPort overhead that M includes.
* RX2 and ping-slot defaults: the Milesight gateway MQTT API spec, appendix
  "Default RX2/Ping Slot Settings" (../shared/specs/milesight-mqtt-api.txt).
  Those are what a Milesight gateway actually uses, so the orchestrator must
  agree with them even where they differ from RP002 (see CN470).

Only LoRa downlink data rates are listed: FSK (e.g. EU868 DR7) and LR-FHSS are
not LoRa rates with an SF/bandwidth, and US915/AU915 uplink-only rates
(DR0..DR6) can never carry a FUOTA fragment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["REGIONS", "DataRate", "Region", "region"]


@dataclass(frozen=True)
class DataRate:
    """One LoRa downlink data rate: spreading factor, bandwidth and max FRMPayload (N)."""

    sf: int
    bandwidth_hz: int
    max_payload: int


@dataclass(frozen=True)
class Region:
    """Downlink-relevant parameters of one LoRaWAN channel plan.

    ``duty_cycle`` is the fraction of time the gateway may transmit on the
    RX2 / multicast sub-band, or ``None`` when the region is regulated by
    dwell time or listen-before-talk rather than a duty-cycle cap.
    """

    name: str
    # Excluded from hashing: a mapping is unhashable, the name identifies the region anyway.
    data_rates: Mapping[int, DataRate] = field(hash=False)
    rx2_frequency: int
    rx2_dr: int
    ping_slot_frequency: int
    ping_slot_dr: int
    duty_cycle: float | None


def _rates(*rows: tuple[int, int, int, int]) -> Mapping[int, DataRate]:
    """Build a read-only DR table from ``(dr, sf, bandwidth_hz, n)`` rows."""
    return MappingProxyType({dr: DataRate(sf, bw, n) for dr, sf, bw, n in rows})


_K125, _K250, _K500 = 125_000, 250_000, 500_000

# RP002-1.0.4 §2.2.3 "EU863-870 Data Rate and End-Device Output Power Encoding" and
# §2.2.6 "EU863-870 Maximum Payload Size" (N column). DR7 (FSK) omitted.
# RU864 (§2.11.3 / §2.11.6) uses the identical DR and N tables.
_EU_LIKE = _rates(
    (0, 12, _K125, 51),
    (1, 11, _K125, 51),
    (2, 10, _K125, 51),
    (3, 9, _K125, 115),
    (4, 8, _K125, 242),
    (5, 7, _K125, 242),
    (6, 7, _K250, 242),
)

# RP002-1.0.4 §2.3.3 "US902-928 Data Rate and End-Device Output Power Encoding" and
# §2.3.6 "US902-928 Maximum Payload Size": downlink-only DR8..DR13 (500 kHz).
# AU915-928 (§2.6.3 / §2.6.6) has the same downlink DRs and N values.
_US_AU_DOWNLINK = _rates(
    (8, 12, _K500, 53),
    (9, 11, _K500, 129),
    (10, 10, _K500, 242),
    (11, 9, _K500, 242),
    (12, 8, _K500, 242),
    (13, 7, _K500, 242),
)

# RP002-1.0.4 §2.7.3 "CN470-510 Data Rate ..." and §2.7.6 "CN470-510 Maximum Payload Size".
# RP002 (since 1.0.1) leaves DR0 undefined (N = 0) and sets DR1..DR3 to 23/86/184.
# The Milesight gateway still defaults RX2 to DR0 (the pre-RP002 CN470 plan), so DR0
# is kept with N = 51 taken from LoRaWAN Regional Parameters v1.0.3rA §2.7.6. UNVERIFIED
# against RP002-1.0.4 itself - treat DR0 as "works with Milesight gateways only".
# DR7 (FSK) omitted.
_CN470 = _rates(
    (0, 12, _K125, 51),
    (1, 11, _K125, 23),
    (2, 10, _K125, 86),
    (3, 9, _K125, 184),
    (4, 8, _K125, 242),
    (5, 7, _K125, 242),
    (6, 7, _K500, 242),
)

# RP002-1.0.4 §2.8.3 "AS923 Data Rate ..." and §2.8.6 "AS923 Maximum Payload Size",
# DownlinkDwellTime = 0 column. With DownlinkDwellTime = 1 (400 ms dwell, e.g. Japan)
# DR0/DR1 are not allowed and N shrinks to 11/53/126 for DR2/DR3/DR4; callers in
# dwell-limited countries must not use this table as-is. DR7 (FSK) omitted.
_AS923 = _rates(
    (0, 12, _K125, 51),
    (1, 11, _K125, 51),
    (2, 10, _K125, 115),
    (3, 9, _K125, 115),
    (4, 8, _K125, 242),
    (5, 7, _K125, 242),
    (6, 7, _K250, 242),
)

# RP002-1.0.4 §2.9.3 "KR920-923 Data Rate ..." and §2.9.6 "KR920-923 Maximum Payload Size".
_KR920 = _rates(
    (0, 12, _K125, 51),
    (1, 11, _K125, 51),
    (2, 10, _K125, 51),
    (3, 9, _K125, 115),
    (4, 8, _K125, 242),
    (5, 7, _K125, 242),
)

# RP002-1.0.4 §2.10.3 "IN865-867 Data Rate ..." and §2.10.6 "IN865-867 Maximum Payload Size".
# DR6 is RFU and DR7 is FSK, both omitted.
_IN865 = _rates(
    (0, 12, _K125, 51),
    (1, 11, _K125, 51),
    (2, 10, _K125, 51),
    (3, 9, _K125, 115),
    (4, 8, _K125, 242),
    (5, 7, _K125, 242),
)

# Duty-cycle notes (the cap applies to the gateway's downlink sub-band):
# * EU868: RX2 869.525 MHz lies in the 869.40-869.65 MHz sub-band, 10 % (ETSI EN 300 220 /
#   ERC Rec 70-03).
# * RU864: 1 % is what RP002 / LoRaMac-node apply to the whole RU864 plan; the Russian
#   868.7-869.2 MHz allocation (RX2 869.1 MHz) may allow more. UNVERIFIED - conservative.
# * US915, AU915: FCC Part 15.247 / ACMA LIPD rules limit dwell time, not duty cycle.
# * AS923-x: dwell time (400 ms) and/or LBT depending on country (e.g. ARIB STD-T108).
# * KR920: LBT is mandatory; no duty-cycle cap.
# * IN865: no duty-cycle cap in the 865-867 MHz licence-exempt band.
# * CN470: no duty-cycle cap applied by RP002 / LoRaMac-node. UNVERIFIED against SRRC rules.
_DUTY_EU868 = 0.10
_DUTY_RU864 = 0.01

# RX2 / ping-slot frequencies (Hz) and DRs: Milesight "Default RX2/Ping Slot Settings".
REGIONS: Mapping[str, Region] = MappingProxyType(
    {
        r.name: r
        for r in (
            Region("EU868", _EU_LIKE, 869_525_000, 0, 869_525_000, 3, _DUTY_EU868),
            Region("US915", _US_AU_DOWNLINK, 923_300_000, 8, 923_300_000, 8, None),
            Region("CN470", _CN470, 505_300_000, 0, 508_300_000, 2, None),
            Region("AS923-1", _AS923, 923_200_000, 2, 923_400_000, 3, None),
            Region("AS923-2", _AS923, 921_400_000, 2, 921_600_000, 2, None),
            Region("AS923-3", _AS923, 916_600_000, 2, 916_800_000, 2, None),
            Region("AS923-4", _AS923, 917_300_000, 2, 917_500_000, 2, None),
            Region("AU915", _US_AU_DOWNLINK, 923_300_000, 8, 923_300_000, 8, None),
            Region("KR920", _KR920, 921_900_000, 0, 923_100_000, 3, None),
            Region("IN865", _IN865, 866_550_000, 2, 866_550_000, 4, None),
            Region("RU864", _EU_LIKE, 869_100_000, 0, 868_900_000, 3, _DUTY_RU864),
        )
    }
)


def region(name: str) -> Region:
    """Look up a region by name, case-insensitively ("eu868", "as923_1" also work).

    Raises:
        ValueError: if the name is unknown; the message lists the known names.
    """
    key = name.strip().upper().replace("_", "-")
    try:
        return REGIONS[key]
    except KeyError:
        known = ", ".join(REGIONS)
        raise ValueError(f"unknown region {name!r}; known regions: {known}") from None
