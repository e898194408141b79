"""Strict number fields (fuota.core.numbers): no text or boolean where a number is expected, durations bounded and
finite; environment overrides of number fields read as numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from fuota.backends.iotsquare.kind import IoTSquareConfig
from fuota.backends.milesight.kind import MilesightConfig, MilesightTarget
from fuota.config import ConfigError, load_config
from fuota.core.numbers import MIN_SECONDS, number_fields
from tests.support.config_files import backend, write_config


def test_number_fields_come_from_the_models() -> None:
    assert {"timeout", "poll_interval", "give_up_after", "max_concurrent"} <= number_fields(IoTSquareConfig)
    assert "base_url" not in number_fields(IoTSquareConfig) and "insecure" not in number_fields(IoTSquareConfig)
    assert {"timeout", "poll_interval"} <= number_fields(MilesightConfig)
    assert {"fragment_size", "fragment_interval", "dr", "frequency"} <= number_fields(MilesightTarget)


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (MilesightTarget, "fragment_size", "50"),
        (MilesightTarget, "fragment_interval", True),
        (MilesightTarget, "dr", 2.0),
        (MilesightTarget, "frequency", "869525000"),
    ],
)
def test_milesight_numbers_are_strict(model: type[BaseModel], field: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        model.model_validate({field: value})
    assert field in str(raised.value)


GOOD = {"kind": "iotsquare", "base_url": "http://127.0.0.1:9", "token": "t"}


@pytest.mark.parametrize(
    ("field", "value"), [("timeout", 0.0), ("poll_interval", 1e-300), ("give_up_after", MIN_SECONDS / 2)]
)
def test_durations_under_the_minimum_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=f"{field}[\\s\\S]*greater than or equal to {MIN_SECONDS}"):
        IoTSquareConfig.model_validate({**GOOD, field: value})
    assert getattr(IoTSquareConfig.model_validate({**GOOD, field: MIN_SECONDS}), field) == MIN_SECONDS


def test_environment_overrides_of_numbers_are_read_as_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, backend("iot", **GOOD))
    monkeypatch.setenv("FUOTA_BACKEND_IOT_TIMEOUT", "5")
    monkeypatch.setenv("FUOTA_BACKEND_IOT_POLL_INTERVAL", "0.5")
    monkeypatch.setenv("FUOTA_BACKEND_IOT_MAX_CONCURRENT", "3")
    monkeypatch.setenv("FUOTA_BACKEND_IOT_TOKEN", "12345")  # a token of digits stays text
    config = load_config(path).backends["iot"]
    assert (config.timeout, config.poll_interval, config.max_concurrent) == (5.0, 0.5, 3)
    assert isinstance(config, IoTSquareConfig) and config.secret("iot") == "12345"
    monkeypatch.setenv("FUOTA_BACKEND_IOT_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="timeout = 'soon'"):
        load_config(path)
    monkeypatch.setenv("FUOTA_BACKEND_IOT_TIMEOUT", "true")
    with pytest.raises(ConfigError, match="timeout = 'true'"):
        load_config(path)
