"""A gateway's channel plan (Milesight 3.3 `channelPlan`) read into the appendix's rows, and each gateway's task radio
settings resolved against it (fuota.backends.milesight.radio), and paced per gateway by the kind."""

from __future__ import annotations

import pytest

from fuota.backends.errors import RejectedError
from fuota.backends.milesight import codes
from fuota.backends.milesight.kind import MilesightKind, MilesightTarget
from fuota.backends.milesight.radio import Radio, resolve, stored

GW = "24e124fffef5a6a8"


@pytest.mark.parametrize(
    ("spelling", "row"),
    [
        ("CN470", "CN470"),  # 3.3's and 2.3's sample
        ("China470", "CN470"),  # 2.3's rfRegion sample
        ("cn470", "CN470"),
        ("CN470-510", "CN470"),
        ("EU868", "EU868"),
        ("eu_868", "EU868"),
        ("EU863-870", "EU868"),
        ("US915", "US915"),
        ("US902-928", "US915"),
        ("AS923-2", "AS923-2"),
        ("as923_2", "AS923-2"),
        ("AS923", "AS923-1"),
        (" KR920 ", "KR920"),
    ],
)
def test_channel_plan_spellings_map_to_the_appendix_rows(spelling: str, row: str) -> None:
    assert codes.channel_plan(spelling) == row


@pytest.mark.parametrize("value", [None, "", "  ", "XX915", 470, "EU"])
def test_a_channel_plan_fuota_cannot_place_is_none(value: object) -> None:
    assert codes.channel_plan(value) is None


def test_every_row_of_the_appendix_is_reachable_by_its_own_name() -> None:
    assert {codes.channel_plan(row) for row in codes.RX2_DEFAULTS} == set(codes.RX2_DEFAULTS)
    assert set(codes.RX2_DEFAULTS) == set(codes.RX2_FREQUENCY_RANGES)


def test_unset_settings_take_the_gateway_s_plan_rx2_row() -> None:
    assert resolve(GW, "CN470", None, None, None) == Radio(GW, "CN470", "CN470", 0, 505_300_000)
    assert resolve(GW, "US915", None, None, None) == Radio(GW, "US915", "US915", 8, 923_300_000)
    found = resolve(GW, "cn470", "CN470", 3, 470_400_000)  # the same plan, pinned values inside its range
    assert (found.region, found.dr, found.frequency, found.from_gateway) == ("CN470", 3, 470_400_000, True)
    assert "channelPlan 'cn470' → region CN470, dr 3, frequency 470400000 Hz" in found.note()


def test_a_region_or_frequency_off_the_gateway_s_plan_is_refused_naming_all() -> None:
    with pytest.raises(RejectedError) as region:
        resolve(GW, "CN470", "eu868", None, None)
    text = str(region.value)
    assert "gateway 24E124FFFEF5A6A8 reports channelPlan 'CN470'" in text and "region = 'eu868'" in text
    assert "drop [milesight] region" in text and "region = 'CN470'" in text
    with pytest.raises(RejectedError) as frequency:
        resolve(GW, "CN470", None, None, 869_525_000)
    text = str(frequency.value)
    assert "channelPlan 'CN470'" in text and "frequency = 869525000 Hz" in text
    assert "set one inside 470400000–509700000 Hz" in text and "(505300000 Hz)" in text


def test_a_gateway_without_a_known_plan_falls_back_and_says_so() -> None:
    default = resolve(GW, None, None, None, None)
    assert (default.region, default.dr, default.frequency) == ("EU868", 0, 869_525_000)
    assert not default.from_gateway and "reports no channelPlan: region EU868" in default.note()
    odd = resolve(GW, "Mars433", "KR920", None, None)
    assert odd.region == "KR920" and "channelPlan 'Mars433', no plan of the appendix" in odd.note()
    with pytest.raises(RejectedError, match=r"no channelPlan known for gateway 24E124FFFEF5A6A8.*923300000 Hz"):
        resolve(GW, None, None, None, 923_300_000)
    with pytest.raises(RejectedError, match="region 'XX915' is not a channel plan of the spec"):
        resolve(GW, "CN470", "XX915", None, None)
    with pytest.raises(RejectedError, match="dr = 'fast' is not a whole number"):
        resolve(GW, "CN470", None, "fast", None)


def test_stored_settings_are_the_planned_ones_or_those_of_an_older_campaign() -> None:
    planned = {"gateway_radio": {GW: resolve(GW, "US915", None, None, None).as_dict()}, "region": None}
    assert stored(GW, planned) == Radio(GW, "US915", "US915", 8, 923_300_000)
    older = {"region": "EU868", "dr": 0, "frequency": 869_525_000}  # planned before channel plans were read
    assert stored(GW, older) == Radio(GW, None, "EU868", 0, 869_525_000)


def test_the_kind_paces_each_gateway_with_its_own_plan() -> None:
    other = "24e124fffef5a6a9"
    radios = {GW: resolve(GW, "CN470", None, None, None), other: resolve(other, "US915", None, None, None)}
    table = MilesightTarget(fragment_interval=3000, gateway_radio={g: r.as_dict() for g, r in radios.items()})
    pacing = MilesightKind().pacing(table.model_dump(mode="json"))
    assert (pacing.at(GW).region, pacing.at(GW).dr, pacing.at(GW).interval_ms) == ("CN470", 0, 3000.0)
    assert (pacing.at(other).region, pacing.at(other).dr) == ("US915", 8)
    assert pacing.at("unknown") is pacing and pacing.region == "CN470"
