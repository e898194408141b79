"""Campaign files: what to send to which devices, validated before anything is stored (DESIGN.md §4).

A campaign file is TOML::

    name = "sensors-v2.3"
    firmware = "firmware.bin"          # relative to the campaign file
    backend = "iot"                    # a [backends.NAME] of the configuration
    devices = ["8cf9573000000067", …]  # or devices_file = "devices.csv" (a dev_eui column)
    redundancy_percent = 30            # coded fragments, % of the uncoded ones
    start = "2026-11-24T02:00:00Z"     # optional; default: at once
    success_threshold = 0.9            # share of devices that must be updated

    [iotsquare]                        # the table of the back end's kind: its model is the kind's target_model
    mc_eui = "cc3e92cea33ac62a"        # an existing multicast group, or the parameters of temporary groups:
    region = "eu868"
    ...

The tables a campaign file may hold are those of the registered back-end kinds (fuota.backends.registry).
"""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from fuota.backends.registry import KINDS
from fuota.config import describe, read_toml
from fuota.core.model import EUI_PATTERN, normalize_eui
from fuota.core.numbers import number
from fuota.core.settings import DEFAULT_EXPECTED_LOSS, DEFAULT_SUCCESS_THRESHOLD, ConfigError, Window, aware_utc
from fuota.input_files import FIRMWARE_CAP, csv_error, csv_rows, read_capped

__all__ = ["NAME_MAX", "Campaign", "CampaignFile", "load_campaign", "table_of"]

NAME_MAX = 64  # characters in a campaign's name, a retry's ROOT.retryN included


class _CampaignFields(BaseModel):
    """The campaign file's own fields; CampaignFile adds one optional table per back-end kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    firmware: Path
    backend: str
    devices: list[str] | None = None
    devices_file: Path | None = None
    redundancy_percent: Annotated[float, number(ge=0, le=100)]
    start: datetime | None = None
    window: Window | None = None
    success_threshold: Annotated[float, number(ge=0, le=1)] = DEFAULT_SUCCESS_THRESHOLD
    expected_loss: Annotated[float, number(ge=0, lt=1)] = DEFAULT_EXPECTED_LOSS  # share of fragments a device misses

    @field_validator("devices")
    @classmethod
    def _euis(cls, devices: list[str] | None) -> list[str] | None:
        return None if devices is None else [_eui(d, f"devices[{i}]") for i, d in enumerate(devices)]

    @field_validator("firmware", "devices_file")
    @classmethod
    def _file_name(cls, path: Path | None) -> Path | None:
        # The OS would refuse it with a bare "embedded null byte" that names no field.
        if path is not None and "\x00" in str(path):
            raise ValueError("a file name cannot hold a NUL character (\\u0000)")
        return path

    @field_validator("start")
    @classmethod
    def _aware(cls, start: datetime | None) -> datetime | None:
        return aware_utc(start)


CampaignFile = create_model(
    "CampaignFile",
    __base__=_CampaignFields,
    __doc__="The campaign file as written, before the files it names are read.",
    **{name: (kind.target_model | None, None) for name, kind in KINDS.items()},
)


def table_of(file: BaseModel, kind: str) -> BaseModel | None:
    """The campaign file's table of back-end kind `kind` (its [iotsquare], [milesight]…), if it has one."""
    return getattr(file, kind, None)


class Campaign(BaseModel):
    """A validated campaign: the firmware read, the device list resolved and checked."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    file: _CampaignFields  # a CampaignFile
    firmware: bytes
    devices: tuple[str, ...]
    firmware_path: Path | None = None  # where the image was read, checked again before each task is created

    @property
    def name(self) -> str:
        """The campaign's unique name."""
        return self.file.name

    @property
    def sha256(self) -> str:
        """The firmware image's sha256."""
        return hashlib.sha256(self.firmware).hexdigest()


def _eui(value: object, where: str) -> str:
    if not isinstance(value, str) or not EUI_PATTERN.match(value.strip()):
        raise ValueError(f"{where} = {value!r} is not an EUI-64 (16 hexadecimal digits)")
    return normalize_eui(value)


def _read_devices_file(path: Path) -> list[str]:
    reader = csv_rows(path, "devices_file")
    try:
        if reader.fieldnames is None or "dev_eui" not in reader.fieldnames:
            raise ConfigError(f"devices_file {path}: no dev_eui column (columns: {reader.fieldnames})")
        return [_eui(row["dev_eui"], f"devices_file {path} line {reader.line_num}") for row in reader]
    except csv.Error as exc:
        raise csv_error(exc, path, "devices_file", reader.line_num + 1) from None  # the line being parsed
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def load_campaign(path: Path) -> Campaign:
    """Read and validate a campaign file and what it names; ConfigError says what is wrong and where."""
    data = read_toml(path, "campaign file")
    try:
        spec = CampaignFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, str(path))) from None
    base = path.parent
    firmware_path = spec.firmware if spec.firmware.is_absolute() else base / spec.firmware
    try:
        firmware = read_capped(firmware_path, "firmware", FIRMWARE_CAP, repr(str(spec.firmware)))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not firmware:
        raise ConfigError(f"{path}: firmware = {str(spec.firmware)!r} is empty; point it at the image to send")
    brought = any(kind.brings_devices(table_of(spec, name)) for name, kind in KINDS.items())
    if spec.devices is None and spec.devices_file is None and not brought:
        raise ConfigError(f'{path}: give devices = [...] or devices_file = "….csv" (or [iotsquare] mc_eui)')
    devices = list(spec.devices or [])
    if spec.devices_file is not None:
        devices_path = spec.devices_file if spec.devices_file.is_absolute() else base / spec.devices_file
        devices += _read_devices_file(devices_path)
    if not devices and not brought:
        raise ConfigError(
            f"{path}: no device to update: the campaign lists none (devices = [] or a devices_file with only its "
            "header); list the devices' EUIs"
        )
    seen: set[str] = set()
    for eui in devices:
        if eui in seen:
            raise ConfigError(f"{path}: devices: {eui!r} is listed twice; list each device once")
        seen.add(eui)
    return Campaign(file=spec, firmware=firmware, devices=tuple(devices), firmware_path=firmware_path.resolve())
