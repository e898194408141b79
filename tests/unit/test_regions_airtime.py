"""Tests for fuota.planning.airtime (LoRa time-on-air) and fuota.planning.regions (RP002 tables)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fuota.planning.airtime import fragment_phy_bytes, symbol_time_ms, time_on_air_ms
from fuota.planning.regions import REGIONS, DataRate, Region, region

# ---------------------------------------------------------------- air time


def test_sf12_125khz_64_bytes_published_figure() -> None:
    # Published reference: SF12/125 kHz, 64-byte PHYPayload, CR 4/5, preamble 8,
    # explicit header, no CRC, LDRO on -> 2793.5 ms.
    assert time_on_air_ms(64, 12, 125_000) == pytest.approx(2793.472)
    assert round(time_on_air_ms(64, 12, 125_000), 1) == 2793.5


def test_sf7_125khz_64_bytes_published_figure() -> None:
    # Published reference 118.0 ms; the formula gives 118.016 ms.
    assert time_on_air_ms(64, 7, 125_000) == pytest.approx(118.016)
    assert round(time_on_air_ms(64, 7, 125_000), 1) == 118.0


def test_sf9_125khz_64_bytes_by_hand() -> None:
    # T_sym = 512 / 125 kHz = 4.096 ms; preamble = 12.25 * 4.096 = 50.176 ms
    # numerator = 8*64 - 4*9 + 28 = 504; denominator = 4*9 = 36; ceil(14.0) = 14
    # payload symbols = 8 + 14*5 = 78 -> 78 * 4.096 = 319.488 ms
    # total = 50.176 + 319.488 = 369.664 ms
    assert time_on_air_ms(64, 9, 125_000) == pytest.approx(369.664)


def test_sf12_500khz_64_bytes_by_hand() -> None:
    # US915 DR8. T_sym = 4096 / 500 kHz = 8.192 ms (< 16 ms so LDRO stays off)
    # preamble = 12.25 * 8.192 = 100.352 ms
    # numerator = 512 - 48 + 28 = 492; denominator = 4*12 = 48; ceil(10.25) = 11
    # payload symbols = 8 + 11*5 = 63 -> 63 * 8.192 = 516.096 ms
    # total = 100.352 + 516.096 = 616.448 ms
    assert time_on_air_ms(64, 12, 500_000) == pytest.approx(616.448)


def test_sf8_500khz_64_bytes_by_hand() -> None:
    # US915 DR12. T_sym = 256 / 500 kHz = 0.512 ms; preamble = 12.25 * 0.512 = 6.272 ms
    # numerator = 512 - 32 + 28 = 508; denominator = 32; ceil(15.875) = 16
    # payload symbols = 8 + 16*5 = 88 -> 88 * 0.512 = 45.056 ms
    # total = 6.272 + 45.056 = 51.328 ms
    assert time_on_air_ms(64, 8, 500_000) == pytest.approx(51.328)


def test_ldro_auto_matches_explicit_setting() -> None:
    assert time_on_air_ms(64, 12, 125_000) == time_on_air_ms(64, 12, 125_000, low_data_rate_optimize=True)
    assert time_on_air_ms(64, 11, 125_000) == time_on_air_ms(64, 11, 125_000, low_data_rate_optimize=True)
    assert time_on_air_ms(64, 10, 125_000) == time_on_air_ms(64, 10, 125_000, low_data_rate_optimize=False)
    # Forcing LDRO off at SF12 packs more bits per symbol, so the frame is shorter.
    assert time_on_air_ms(64, 12, 125_000, low_data_rate_optimize=False) < time_on_air_ms(64, 12, 125_000)


def test_crc_coding_rate_and_header_options() -> None:
    base = time_on_air_ms(64, 9, 125_000)
    assert time_on_air_ms(64, 9, 125_000, crc=True) > base
    assert time_on_air_ms(64, 9, 125_000, coding_rate=4) > base
    # Implicit header saves 20 bits: at SF9/64 B that stays within the same block (both 14),
    # at SF7/64 B it drops one block (ceil(492/28) = 18 vs ceil(512/28) = 19).
    assert time_on_air_ms(64, 9, 125_000, explicit_header=False) == base
    assert time_on_air_ms(64, 7, 125_000, explicit_header=False) < time_on_air_ms(64, 7, 125_000)
    assert time_on_air_ms(64, 9, 125_000, preamble=16) == pytest.approx(base + 8 * symbol_time_ms(9, 125_000))


def test_symbol_time() -> None:
    assert symbol_time_ms(12, 125_000) == pytest.approx(32.768)
    assert symbol_time_ms(7, 125_000) == pytest.approx(1.024)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((64, 4, 125_000), {}),
        ((64, 13, 125_000), {}),
        ((64, 7, 0), {}),
        ((-1, 7, 125_000), {}),
        ((256, 7, 125_000), {}),
        ((64, 7, 125_000), {"coding_rate": 0}),
        ((64, 7, 125_000), {"coding_rate": 5}),
        ((64, 7, 125_000), {"preamble": -1}),
    ],
)
def test_time_on_air_rejects_bad_arguments(args: tuple[int, int, int], kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        time_on_air_ms(*args, **kwargs)


def test_fragment_phy_bytes() -> None:
    assert fragment_phy_bytes(0) == 16
    assert fragment_phy_bytes(48) == 64
    with pytest.raises(ValueError):
        fragment_phy_bytes(-1)


_SF = st.integers(min_value=7, max_value=12)
_BW = st.sampled_from([125_000, 250_000, 500_000])
_PL = st.integers(min_value=0, max_value=254)


@given(pl=_PL, sf=_SF, bw=_BW)
def test_air_time_non_decreasing_in_payload(pl: int, sf: int, bw: int) -> None:
    assert time_on_air_ms(pl + 1, sf, bw) >= time_on_air_ms(pl, sf, bw)


@given(pl=_PL, sf=_SF, bw=_BW)
def test_air_time_grows_over_a_symbol_boundary(pl: int, sf: int, bw: int) -> None:
    # 2*SF more bytes add 16*SF bits, more than one 4*(SF-2DE)-bit block, so the frame must get longer.
    assume(pl + 2 * sf <= 255)
    assert time_on_air_ms(pl + 2 * sf, sf, bw) > time_on_air_ms(pl, sf, bw)


@given(pl=_PL, sf=st.integers(min_value=7, max_value=11), bw=_BW)
def test_air_time_grows_with_sf(pl: int, sf: int, bw: int) -> None:
    assert time_on_air_ms(pl, sf + 1, bw) > time_on_air_ms(pl, sf, bw)


@given(pl=_PL, sf=_SF)
def test_air_time_shrinks_with_bandwidth(pl: int, sf: int) -> None:
    assert time_on_air_ms(pl, sf, 500_000) < time_on_air_ms(pl, sf, 250_000) < time_on_air_ms(pl, sf, 125_000)


# ---------------------------------------------------------------- regions

_EXPECTED_NAMES = {
    "EU868",
    "US915",
    "CN470",
    "AS923-1",
    "AS923-2",
    "AS923-3",
    "AS923-4",
    "AU915",
    "KR920",
    "IN865",
    "RU864",
}


def test_all_regions_present() -> None:
    assert set(REGIONS) == _EXPECTED_NAMES
    for name, reg in REGIONS.items():
        assert reg.name == name


@pytest.mark.parametrize("name", sorted(_EXPECTED_NAMES))
def test_region_table_sanity(name: str) -> None:
    reg = REGIONS[name]
    assert reg.rx2_dr in reg.data_rates
    assert reg.ping_slot_dr in reg.data_rates
    for dr in reg.data_rates.values():
        assert 0 < dr.max_payload <= 250
        assert 7 <= dr.sf <= 12
        assert dr.bandwidth_hz in (125_000, 250_000, 500_000)
    assert reg.duty_cycle is None or 0 < reg.duty_cycle <= 1


def test_spot_values_from_rp002() -> None:
    eu = region("EU868")
    assert eu.data_rates[0] == DataRate(12, 125_000, 51)
    assert eu.data_rates[3] == DataRate(9, 125_000, 115)
    assert eu.data_rates[6] == DataRate(7, 250_000, 242)
    assert eu.duty_cycle == 0.10
    us = region("US915")
    assert us.data_rates[8] == DataRate(12, 500_000, 53)
    assert us.data_rates[9] == DataRate(11, 500_000, 129)
    assert min(us.data_rates) == 8
    assert us.duty_cycle is None


# Region name as the Milesight appendix spells it -> (rx2 Hz, rx2 DR, ping Hz, ping DR).
_MILESIGHT_DEFAULTS = {
    "CN470": (505_300_000, 0, 508_300_000, 2),
    "EU868": (869_525_000, 0, 869_525_000, 3),
    "IN865": (866_550_000, 2, 866_550_000, 4),
    "RU864": (869_100_000, 0, 868_900_000, 3),
    "KR920": (921_900_000, 0, 923_100_000, 3),
    "US915": (923_300_000, 8, 923_300_000, 8),
    "AU915": (923_300_000, 8, 923_300_000, 8),
    "AS923-1": (923_200_000, 2, 923_400_000, 3),
    "AS923-2": (921_400_000, 2, 921_600_000, 2),
    "AS923-3": (916_600_000, 2, 916_800_000, 2),
    "AS923-4": (917_300_000, 2, 917_500_000, 2),
}


@pytest.mark.parametrize("name", sorted(_MILESIGHT_DEFAULTS))
def test_milesight_appendix_defaults(name: str) -> None:
    reg = region(name)
    got = (reg.rx2_frequency, reg.rx2_dr, reg.ping_slot_frequency, reg.ping_slot_dr)
    assert got == _MILESIGHT_DEFAULTS[name]


_SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "milesight-mqtt-api.txt"


def test_milesight_defaults_match_spec_text() -> None:
    # Re-derive the defaults from the spec text so a typo in the table above is caught too.
    text = _SPEC.read_text(encoding="utf-8", errors="replace")
    appendix = text[text.index("Default RX2/Ping Slot Settings") :]
    pattern = re.compile(
        r"^(\S+)\tDefault: ?(\d+) Range.*?\tDefault: ?(\d+) Range.*?\tDefault: ?(\d+) Range.*?\tDefault: ?(\d+) Range",
        re.MULTILINE,
    )
    found = {m[1]: tuple(int(x) for x in m.groups()[1:]) for m in pattern.finditer(appendix)}
    assert found == _MILESIGHT_DEFAULTS


@pytest.mark.parametrize("alias", ["eu868", "Eu868", " EU868 ", "as923_1", "As923-1"])
def test_region_lookup_is_case_insensitive(alias: str) -> None:
    assert isinstance(region(alias), Region)


def test_region_lookup_unknown_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown region") as excinfo:
        region("XX999")
    for name in _EXPECTED_NAMES:
        assert name in str(excinfo.value)


def test_region_is_immutable_and_hashable() -> None:
    eu = region("EU868")
    with pytest.raises(AttributeError):
        eu.rx2_dr = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        eu.data_rates[0] = DataRate(7, 125_000, 1)  # type: ignore[index]
    assert hash(eu) == hash(region("eu868"))
