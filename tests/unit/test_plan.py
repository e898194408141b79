"""codec.plan: nb_frag, padding and redundancy, both roundings, and the limits."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codec import FragPlan, PlanError, Rounding, plan, redundancy_for


def test_iotsquare_sample_section_9_3_rounds_down() -> None:
    p = plan(13737, 48, percent=30, rounding=Rounding.IOTSQUARE)
    assert (p.nb_frag, p.padding, p.redundancy, p.frag_size) == (287, 39, 86, 48)
    assert p.size == 13737 and p.total == 373


def test_chirpstack_rounds_up() -> None:
    assert plan(13737, 48, percent=30).redundancy == 87


def test_percent_is_exact_decimal_not_binary_float() -> None:
    # The binary float nearest to 0.7 is a hair below it, so floor(1000 · 0.7 / 100) would give 6, not 7.
    assert Fraction(0.7) * 1000 / 100 < 7
    assert redundancy_for(1000, 0.7, Rounding.IOTSQUARE) == 7
    assert redundancy_for(287, 30.0, Rounding.IOTSQUARE) == 86
    assert redundancy_for(10, "30") == 3
    assert redundancy_for(10, Fraction(61, 2)) == 4
    assert redundancy_for(10, 30.5, Rounding.IOTSQUARE) == 3


def test_explicit_redundancy_and_version() -> None:
    p = plan(100, 48, redundancy=5, version=2)
    assert (p.nb_frag, p.padding, p.redundancy, p.version) == (3, 44, 5, 2)


@given(size=st.integers(1, 300_000), frag_size=st.integers(1, 255), percent=st.integers(0, 100))
def test_plan_invariants(size: int, frag_size: int, percent: int) -> None:
    nb_frag = -(-size // frag_size)
    up = nb_frag * percent / 100
    try:
        p = plan(size, frag_size, percent=percent)
    except PlanError as exc:
        assert nb_frag + -(-nb_frag * percent // 100) > 16383
        assert "16383" in str(exc)
        return
    assert p.nb_frag == nb_frag and 0 <= p.padding < frag_size and p.size == size
    assert p.redundancy == -(-nb_frag * percent // 100) and p.redundancy >= up
    assert plan(size, frag_size, percent=percent, rounding=Rounding.IOTSQUARE).redundancy == nb_frag * percent // 100


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(size=0, frag_size=48, redundancy=1), ["size", "0", "> 0"]),
        (dict(size=100, frag_size=0, redundancy=1), ["frag_size", "0", "1..255"]),
        (dict(size=100, frag_size=256, redundancy=1), ["frag_size", "256", "1..255"]),
        (dict(size=100, frag_size=48, redundancy=-1), ["redundancy", "-1", "≥ 0"]),
        (dict(size=100, frag_size=48, percent=-5), ["percent", "-5"]),
        (dict(size=100, frag_size=48, percent="lots"), ["percent", "lots"]),
        (dict(size=1 << 20, frag_size=48, percent=30), ["nb_frag", "21846", "16383"]),
        (dict(size=16000, frag_size=1, redundancy=384), ["nb_frag + redundancy", "16384", "16383"]),
        (dict(size=100, frag_size=48, redundancy=1, version=3), ["version", "3"]),
        (dict(size=100, frag_size=48), ["redundancy", "percent"]),
        (dict(size=100, frag_size=48, redundancy=1, percent=2), ["redundancy", "percent"]),
    ],
)
def test_limits_name_field_value_and_range(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(PlanError) as info:
        plan(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_direct_construction_is_validated() -> None:
    with pytest.raises(PlanError, match="padding = 48"):
        FragPlan(nb_frag=3, padding=48, redundancy=0, frag_size=48)
    assert FragPlan(16383, 0, 0, 1).total == 16383
