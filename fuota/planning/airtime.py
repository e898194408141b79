"""LoRa time-on-air for planning FUOTA downlink schedules.

Implements the Semtech formula from the SX1276/77/78/79 datasheet (§4.1.1.7,
"Time on air") and application note AN1200.13 ("LoRa Modem Designer's Guide"):

    T_sym        = 2^SF / BW
    T_preamble   = (n_preamble + 4.25) * T_sym
    payloadSymbNb = 8 + max(ceil((8*PL - 4*SF + 28 + 16*CRC - 20*IH)
                                 / (4*(SF - 2*DE))) * (CR + 4), 0)
    T_packet     = T_preamble + payloadSymbNb * T_sym

where PL is the PHYPayload length in bytes, IH = 1 for implicit header,
DE = 1 when low-data-rate optimisation is on and CR is 1..4 for 4/5..4/8.

Defaults match a LoRaWAN downlink: coding rate 4/5, 8-symbol preamble,
explicit header and *no* payload CRC (LoRaWAN downlinks omit the PHY CRC).
"""

from __future__ import annotations

import math

__all__ = [
    "DATA_FRAGMENT_OVERHEAD_BYTES",
    "LORAWAN_MAC_OVERHEAD_BYTES",
    "fragment_phy_bytes",
    "symbol_time_ms",
    "time_on_air_ms",
]

#: MHDR (1) + FHDR without FOpts (DevAddr 4, FCtrl 1, FCnt 2) + FPort (1) + MIC (4).
LORAWAN_MAC_OVERHEAD_BYTES = 13
#: TS004 DataFragment: command id (1) + FragIndex/N field (2).
DATA_FRAGMENT_OVERHEAD_BYTES = 3

# The SX127x/SX126x families accept SF5..SF12 (SF5/SF6 on SX126x, SF6 on SX127x).
_MIN_SF, _MAX_SF = 5, 12
# A LoRa PHY frame carries at most 255 payload bytes (8-bit length field).
_MAX_PHY_PAYLOAD = 255


def symbol_time_ms(sf: int, bandwidth_hz: int) -> float:
    """Duration of one LoRa symbol in milliseconds (2^SF / BW)."""
    _check_sf_bw(sf, bandwidth_hz)
    return (1 << sf) / bandwidth_hz * 1000.0


def time_on_air_ms(
    phy_payload_bytes: int,
    sf: int,
    bandwidth_hz: int,
    *,
    coding_rate: int = 1,
    preamble: int = 8,
    explicit_header: bool = True,
    crc: bool = False,
    low_data_rate_optimize: bool | None = None,
) -> float:
    """Return the on-air duration in milliseconds of one LoRa frame.

    Args:
        phy_payload_bytes: LoRaWAN PHYPayload length (MHDR..MIC), 0..255.
        sf: spreading factor, 5..12.
        bandwidth_hz: channel bandwidth, e.g. 125_000, 250_000, 500_000.
        coding_rate: 1..4 meaning 4/5..4/8.
        preamble: programmed preamble length in symbols (LoRaWAN uses 8).
        explicit_header: True for explicit header mode (LoRaWAN always).
        crc: whether a PHY payload CRC is sent (LoRaWAN: uplinks only).
        low_data_rate_optimize: force LDRO on/off; ``None`` picks it the way
            LoRaWAN radios do: on for SF11/SF12 at 125 kHz (or narrower), where
            the symbol time exceeds 16 ms.

    Raises:
        ValueError: for out-of-range arguments.
    """
    _check_sf_bw(sf, bandwidth_hz)
    if not 0 <= phy_payload_bytes <= _MAX_PHY_PAYLOAD:
        raise ValueError(f"phy_payload_bytes must be 0..{_MAX_PHY_PAYLOAD}, got {phy_payload_bytes}")
    if not 1 <= coding_rate <= 4:
        raise ValueError(f"coding_rate must be 1..4 (4/5..4/8), got {coding_rate}")
    if preamble < 0:
        raise ValueError(f"preamble must be >= 0, got {preamble}")

    if low_data_rate_optimize is None:
        low_data_rate_optimize = sf >= 11 and bandwidth_hz <= 125_000
    de = 1 if low_data_rate_optimize else 0
    ih = 0 if explicit_header else 1
    crc_bit = 1 if crc else 0

    t_sym = symbol_time_ms(sf, bandwidth_hz)
    t_preamble = (preamble + 4.25) * t_sym
    numerator = 8 * phy_payload_bytes - 4 * sf + 28 + 16 * crc_bit - 20 * ih
    denominator = 4 * (sf - 2 * de)
    payload_symbols = 8 + max(math.ceil(numerator / denominator) * (coding_rate + 4), 0)
    return t_preamble + payload_symbols * t_sym


def fragment_phy_bytes(frag_size: int) -> int:
    """PHYPayload size of one TS004 DataFragment downlink carrying ``frag_size`` bytes.

    13 bytes of LoRaWAN framing (no FOpts) + 3 bytes of DataFragment header +
    the fragment itself.
    """
    if frag_size < 0:
        raise ValueError(f"frag_size must be >= 0, got {frag_size}")
    return LORAWAN_MAC_OVERHEAD_BYTES + DATA_FRAGMENT_OVERHEAD_BYTES + frag_size


def _check_sf_bw(sf: int, bandwidth_hz: int) -> None:
    if not _MIN_SF <= sf <= _MAX_SF:
        raise ValueError(f"sf must be {_MIN_SF}..{_MAX_SF}, got {sf}")
    if bandwidth_hz <= 0:
        raise ValueError(f"bandwidth_hz must be positive, got {bandwidth_hz}")
