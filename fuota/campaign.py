"""Campaign files: what to send to which devices, validated before anything is stored (DESIGN.md §4).

A campaign file is TOML::

    name = "sensors-v2.3"
    firmware = "firmware.bin"          # relative to the campaign file
    backend = "iot"                    # a [backends.NAME] of the configuration
    devices = ["8cf9573000000067", …]  # or devices_file = "devices.csv" (a dev_eui column)
    redundancy_percent = 30            # coded fragments, % of the uncoded ones
    start = "2026-11-24T02:00:00Z"     # optional; default: at once
    success_threshold = 0.9            # share of devices that must be updated

    [iotsquare]
    mc_eui = "cc3e92cea33ac62a"        # an existing multicast group, or the parameters of temporary groups:
    region = "eu868"
    subnet = "ch_00-07"
    ...
"""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fuota.config import ConfigError, describe, read_toml
from fuota.core.model import EUI_PATTERN, normalize_eui

__all__ = ["Campaign", "CampaignFile", "IoTSquareTarget", "MilesightTarget", "Window", "load_campaign"]

MAX_GROUP = 253  # IoTSquare section 6.1.4: the extended function limits a group to 253 devices


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Window(BaseModel):
    """`window`: when deployments may start — days of the week and hours, in a named time zone.

    A window whose end is before its start runs overnight (22:00–04:00 on "mon" covers Monday 22:00 to Tuesday
    04:00). A campaign whose window is closed waits for the next opening.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Day] = list(_DAYS)
    start: time = time(0, 0)
    end: time = time(0, 0)  # equal to start: the whole day
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone = {name!r} is not a time zone name such as Europe/Paris") from exc
        return name

    def open_at(self, now: datetime) -> bool:
        """Whether `now` (aware) falls inside the window."""
        local = now.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        today = _DAYS[local.weekday()]
        if self.start == self.end:
            return today in self.days
        if self.start < self.end:
            return today in self.days and self.start <= clock < self.end
        yesterday = _DAYS[(local - timedelta(days=1)).weekday()]
        return (today in self.days and clock >= self.start) or (yesterday in self.days and clock < self.end)


class IoTSquareTarget(BaseModel):
    """`[iotsquare]`: an existing multicast group, or the parameters of the temporary groups fuota creates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mc_eui: Annotated[str, Field(pattern=EUI_PATTERN.pattern)] | None = None
    region: str = "eu868"
    subnet: str = "ch_00-07"
    enable_mc_remote: bool = True
    group_id: Annotated[int, Field(ge=0, le=3)] = 0
    gen_app_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    enable_mc_ext: bool = True
    time_slot_length: Annotated[int, Field(ge=0, le=15)] = 3
    mc_addr: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{8}$")] | None = None
    mc_app_s_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    mc_nwk_s_key: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{32}$")] | None = None
    frag_size: Annotated[int, Field(ge=1, le=255)] = 48
    join_timeout: Annotated[float, Field(gt=0, le=7 * 86400)] = 600.0

    @model_validator(mode="after")
    def _group_parameters(self) -> IoTSquareTarget:
        if self.mc_eui is None:
            if self.enable_mc_remote and self.gen_app_key is None:
                raise ValueError("temporary groups with enable_mc_remote need gen_app_key (32 hex digits)")
            if not self.enable_mc_remote and None in (self.mc_addr, self.mc_app_s_key, self.mc_nwk_s_key):
                raise ValueError("manually configured groups need mc_addr, mc_app_s_key and mc_nwk_s_key")
        return self

    @property
    def group_size(self) -> int:
        """The most devices one temporary group may hold."""
        return MAX_GROUP if self.enable_mc_ext else 100_000


class MilesightTarget(BaseModel):
    """`[milesight]`: the gateways to use and the task's fragmentation settings (spec section 6.1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gateways: list[str] | None = None  # default: the back end's configured gateways, asked who knows each device
    # 43 fits every EU868 data rate: section 6.6's sample gives 46 bytes at DR0–2, and a DataFragment costs 3.
    fragment_size: Annotated[int, Field(ge=1, le=250)] = 43
    fragment_interval: Annotated[int, Field(ge=1000, le=10000)] = 5000  # milliseconds
    region: str = "EU868"
    dr: Annotated[int, Field(ge=0, le=15)] | None = None  # default: the region's RX2 data rate
    frequency: Annotated[int, Field(gt=0)] | None = None  # Hz; default: the region's RX2 frequency
    expected_version: str | None = None

    @field_validator("gateways")
    @classmethod
    def _gateway_euis(cls, gateways: list[str] | None) -> list[str] | None:
        return None if gateways is None else [_eui(g, f"gateways[{i}]") for i, g in enumerate(gateways)]


class CampaignFile(BaseModel):
    """The campaign file as written, before the files it names are read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    firmware: Path
    backend: str
    devices: list[str] | None = None
    devices_file: Path | None = None
    redundancy_percent: Annotated[float, Field(ge=0, le=100)]
    start: datetime | None = None
    window: Window | None = None
    success_threshold: Annotated[float, Field(ge=0, le=1)] = 0.9
    expected_loss: Annotated[float, Field(ge=0, lt=1)] = 0.1  # share of fragments a device misses, for `plan`
    iotsquare: IoTSquareTarget | None = None
    milesight: MilesightTarget | None = None

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
        if start is None:
            return None
        if start.tzinfo is None:
            raise ValueError("give a time zone, e.g. 2026-11-24T02:00:00Z (RFC 3339)")
        try:
            return start.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range once converted to UTC (years 1–9999)") from None


class Campaign(BaseModel):
    """A validated campaign: the firmware read, the device list resolved and checked."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    file: CampaignFile
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
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or "dev_eui" not in reader.fieldnames:
                raise ConfigError(f"devices_file {path}: no dev_eui column (columns: {reader.fieldnames})")
            return [_eui(row["dev_eui"], f"devices_file {path} line {n + 2}") for n, row in enumerate(reader)]
    except OSError as exc:
        raise ConfigError(f"devices_file = {str(path)!r} cannot be read: {exc.strerror}") from exc
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
        firmware = firmware_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: firmware = {str(spec.firmware)!r} cannot be read: {exc.strerror}") from exc
    if not firmware:
        raise ConfigError(f"{path}: firmware = {str(spec.firmware)!r} is empty; point it at the image to send")
    has_group = spec.iotsquare is not None and spec.iotsquare.mc_eui is not None
    if spec.devices is None and spec.devices_file is None and not has_group:
        raise ConfigError(f'{path}: give devices = [...] or devices_file = "….csv" (or [iotsquare] mc_eui)')
    devices = list(spec.devices or [])
    if spec.devices_file is not None:
        devices_path = spec.devices_file if spec.devices_file.is_absolute() else base / spec.devices_file
        devices += _read_devices_file(devices_path)
    seen: set[str] = set()
    for eui in devices:
        if eui in seen:
            raise ConfigError(f"{path}: devices: {eui!r} is listed twice; list each device once")
        seen.add(eui)
    return Campaign(file=spec, firmware=firmware, devices=tuple(devices), firmware_path=firmware_path.resolve())
