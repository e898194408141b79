"""fuota.planning.pacing and the forecast: the interval sent is the one forecast, the duty cycle is checked against
it, and the fixes it suggests are legal; the IoTSquare simulator paces as the plan estimates."""

from __future__ import annotations

import pytest

import codec
from fuota.planning.forecast import forecast, trials_for
from fuota.planning.pacing import duty_cycle, min_interval_ms, pace
from fuota.sim.iotsquare_tasks import Timing

SAMPLE = codec.plan(13737, 48, percent=30, rounding=codec.Rounding.IOTSQUARE)  # section 9.3: 287 + 86


def test_the_interval_sent_is_the_interval_forecast_even_below_the_duty_cycle() -> None:
    speed = pace(48, "EU868", 0, 5000)
    assert speed.interval_ms == 5000 and speed.min_interval_ms == pytest.approx(27934.7, abs=0.1)
    assert speed.breaches and not speed.estimated
    found = forecast(SAMPLE, region="EU868", dr=0, interval_ms=5000, max_interval_ms=10000, expected_loss=0.1)
    assert found["interval_ms"] == 5000 and found["send_duration_s"] == 373 * 5
    assert found["duty_cycle"]["send_duration_s"] == pytest.approx(373 * 27.9347, abs=0.1)
    assert found["estimated"] is False and found["duty_cycle"]["ok"] is False


def test_a_back_end_that_paces_itself_is_estimated_at_the_duty_cycle_minimum() -> None:
    found = forecast(SAMPLE, region="eu868", expected_loss=0.1)
    assert found["estimated"] is True and found["interval_ms"] == found["min_interval_ms"] == 27934.7
    assert found["duty_cycle"]["ok"] is True and found["dr"] == 0
    assert found["trials"] == 2000 and found["below_threshold"] is None


def test_every_fix_suggested_makes_the_interval_legal() -> None:
    speed = pace(48, "EU868", 0, 5000)
    fixes = duty_cycle(speed, 373, max_interval_ms=10000)["fixes"]
    assert "fragment_interval" not in fixes  # 27.9 s is beyond the gateway's 10 s
    assert min_interval_ms(48, "EU868", fixes["dr"]) <= 5000 < min_interval_ms(48, "EU868", fixes["dr"] - 1)
    fixes = duty_cycle(pace(48, "EU868", 4, 1500), 100, max_interval_ms=10000)["fixes"]
    assert min_interval_ms(48, "EU868", 4) <= fixes["fragment_interval"] <= 10000 and fixes["dr"] == 5
    size = fixes["fragment_size"]
    assert min_interval_ms(size, "EU868", 4) <= 1500 < min_interval_ms(size + 1, "EU868", 4)


def test_a_region_without_duty_cycle_never_breaches() -> None:
    speed = pace(48, "US915", None, 1000)
    assert speed.min_interval_ms == speed.airtime_ms and duty_cycle(speed, 100)["ok"] is True


def test_below_the_success_threshold_the_forecast_names_the_redundancy_that_reaches_it() -> None:
    found = forecast(SAMPLE, region="EU868", expected_loss=0.25, success_threshold=0.9)
    below = found["below_threshold"]
    assert found["p_decode"] < 0.9 <= below["p_decode"] and below["redundancy"] > SAMPLE.redundancy
    assert below["redundancy_percent"] * SAMPLE.nb_frag // 100 >= below["redundancy"]


def test_large_images_use_fewer_trials_and_say_so() -> None:
    assert trials_for(287) == 2000 and trials_for(2084) < 2000 and trials_for(16000) == 400


def test_the_iotsquare_simulator_paces_as_the_plan_estimates() -> None:
    timing = Timing(phase=5)
    assert timing.interval(48, "eu868") == pytest.approx(27.9347, abs=1e-3)
    assert Timing(phase=5, fragment_interval=2).interval(48, "eu868") == 2
    assert timing.interval(48, "nowhere") == 2.0  # a region fuota's tables lack: a fixed pace


def test_a_region_without_a_duty_cycle_is_limited_by_air_time_and_said_so():
    warning = duty_cycle(pace(200, "CN470", 0, 1000), 100, 10_000)["warning"]
    assert "one fragment's air time on CN470" in warning and "duty cycle" not in warning
