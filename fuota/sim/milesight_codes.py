"""Milesight's ns-api vocabulary for the simulator: one table per section of specs/milesight-mqtt-api.txt.

    Appendix "Return Code List"                 ReturnCode               {"code", "error"} of refusals (and 200)
    6.11 "Error Code"                           FuotaError               why a FUOTA request was refused
    6.11 "Multicast Session Status"             MulticastSessionStatus   a device's multicastSessionStatus (6.7)
    6.11 "Fragment Session Status"              FragmentSessionStatus    a device's fragmentSessionStatus (6.7)
    6.2 "status"                                TaskStatus               a task's status, and a device's (see below)
    6.6 response example                        MAX_PAYLOAD_SIZES        the payload size per data rate (no plan named)
    Appendix "Default RX2/Ping Slot Settings"   CHANNEL_PLAN_FREQUENCIES the downlink frequency range per plan
    LoRaWAN RP002-1.0.4, "Maximum Payload Size" PLAN_PAYLOAD_SIZES       6.6's answer per channel plan (see there)

Each table is an enum naming the codes; their descriptions are the adapter's tables of the same sections
(fuota.backends.milesight.codes), so that a code and its message are written once in the project.
6.7 calls a device's `status` "Device status" without listing values: the simulator reuses 6.2's task
statuses for it (0 pending … 3 upgrade success, 4 upgrade failed).

Also the error the handlers raise (`ApiError`), the parsing of query parameters and the validation of a new
task (6.1), so that every refusal takes its code and message from these tables.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import codec
from fuota.backends.milesight.codes import (
    FRAGMENT_SESSION_STATUS,
    FUOTA_ERROR_CODES,
    MULTICAST_SESSION_STATUS,
    RETURN_CODES,
    TASK_STATUS,
)

__all__ = [
    "CHANNEL_PLAN_FREQUENCIES",
    "MAX_PAYLOAD_SIZES",
    "ApiError",
    "FragmentSessionStatus",
    "FuotaError",
    "MulticastSessionStatus",
    "ReturnCode",
    "TaskRequest",
    "TaskStatus",
    "parse_task",
    "query_int",
    "window",
]


class _Described(enum.IntEnum):
    """An integer code whose description is the spec's, from the adapter's table of that section: one table per
    section for the whole project, so the simulator answers in the words the adapter reads."""

    @property
    def description(self) -> str:
        """The spec's wording of this code."""
        return _TEXTS[type(self).__name__][self]


class ReturnCode(_Described):
    """Appendix, Return Code List."""

    SUCCESS = 200
    UNKNOWN = 2
    PARAMETER = 3
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    FAILED_PRECONDITION = 9
    PARSE_JSON = 20
    URL_NOT_SUPPORTED = 21
    METHOD_NOT_SUPPORTED = 22
    INTERNAL = 23
    TIMEOUT = 24
    GATEWAY_NOT_MATCHED = 25


class FuotaError(_Described):
    """6.11 Return Code List, Error Code."""

    DEVICE_IN_TASK = 10310001
    DEVICES_IN_TASKS = 10310002
    NAME = 10310003
    START_TIME = 10310004
    NO_FRAGMENT_INFO = 10310005
    NO_TMP_MC_INFO = 10310006
    NO_FIRMWARE_INFO = 10310007
    NO_OFFICIAL_FIRMWARE_INFO = 10310008
    NO_CUSTOM_FIRMWARE_INFO = 10310009
    FRAGMENT_SIZE = 10310010
    FRAGMENT_INTERVAL = 10310011
    REDUNDANCY = 10310012
    TOO_MANY_TASKS = 10310013
    TASK_STATUS = 10310014
    OFFICIAL_FIRMWARE = 10310015


class MulticastSessionStatus(_Described):
    """6.11 Return Code List, Multicast Session Status."""

    NOT_STARTED = 0
    SETTING_UP = 1
    CONFIRMED = 2
    READY = 3
    PROCESSING = 4
    COMPLETE = 5
    SETUP_TIMEOUT = 6
    ID_MISMATCH = 7
    SESSION_TIMEOUT = 8
    ID_UNDEFINED = 9
    FREQUENCY_ERROR = 10
    DATARATE_ERROR = 11
    ID_MISMATCH_2 = 12
    UNKNOWN = 13


class FragmentSessionStatus(_Described):
    """6.11 Return Code List, Fragment Session Status."""

    NOT_STARTED = 0
    SETTING_UP = 1
    READY = 2
    PROCESSING = 3
    SETUP_TIMEOUT = 4
    DESCRIPTOR_MISMATCH = 5
    NO_SESSION_SEARCH = 6
    LOW_MEMORY = 7
    NO_CODING_MODE = 8
    LACK_OF_FRAGMENTS = 9
    UPGRADE_FAILED = 10
    SESSION_ERROR = 11
    SESSION_COMPLETE = 12
    UPGRADE_COMPLETE = 13
    UPGRADE_TIMEOUT = 14
    STATUS_TIMEOUT = 15
    UNKNOWN = 16


class TaskStatus(_Described):
    """6.2 Get FUOTA Task List, `status` of a task."""

    PENDING = 0
    WAITING = 1
    EXECUTING = 2
    SUCCESS = 3
    FAILED = 4


_TEXTS: dict[str, Mapping[int, str]] = {
    "ReturnCode": RETURN_CODES,
    "FuotaError": FUOTA_ERROR_CODES,
    "MulticastSessionStatus": MULTICAST_SESSION_STATUS,
    "FragmentSessionStatus": FRAGMENT_SESSION_STATUS,
    "TaskStatus": TASK_STATUS,
}


MAX_PAYLOAD_SIZES: Mapping[int, int] = {0: 46, 1: 46, 2: 46, 3: 110, 4: 237, 5: 237}
"""6.6's response example: maxPayloadSize per data rate. The spec names no channel plan for it; it is EU868's N
(RP002-1.0.4 §2.2.6: 51/51/51/115/242/242) less 5 bytes at every data rate, so the simulator answers it for EU868."""

_MARGIN = 5  # what 6.6's sample keeps below RP002's N at every EU868 data rate: applied to every plan alike

PLAN_PAYLOAD_SIZES: Mapping[str, Mapping[int, int]] = {
    plan: {dr: n - _MARGIN for dr, n in sizes.items()}
    for plan, sizes in {
        "EU868": {0: 51, 1: 51, 2: 51, 3: 115, 4: 242, 5: 242},  # as 6.6's sample: DR0–5
        "RU864": {0: 51, 1: 51, 2: 51, 3: 115, 4: 242, 5: 242, 6: 242},  # §2.11.6
        "IN865": {0: 51, 1: 51, 2: 51, 3: 115, 4: 242, 5: 242},  # §2.10.6
        "KR920": {0: 51, 1: 51, 2: 51, 3: 115, 4: 242, 5: 242},  # §2.9.6
        # §2.7.6 leaves DR0 undefined; the gateway's RX2 default is DR0 (the appendix), so DR0 keeps the
        # pre-RP002 plan's 51 bytes (Regional Parameters v1.0.3rA §2.7.6)
        "CN470": {0: 51, 1: 23, 2: 86, 3: 184, 4: 242, 5: 242, 6: 242},
        # §2.3.6 / §2.6.6: the downlink data rates DR8–13 (DR0–4 are uplink only)
        "US915": {8: 53, 9: 129, 10: 242, 11: 242, 12: 242, 13: 242},
        "AU915": {8: 53, 9: 129, 10: 242, 11: 242, 12: 242, 13: 242},
        # §2.8.6, DownlinkDwellTime 0
        **{f"AS923-{n}": {0: 51, 1: 51, 2: 115, 3: 115, 4: 242, 5: 242, 6: 242} for n in range(1, 5)},
    }.items()
}
"""What a gateway on each channel plan answers to /api/fuota/task/payloadsize (6.6), per data rate: LoRaWAN Regional
Parameters RP002-1.0.4's maximum payload N of the plan's downlink data rates, less the 5 bytes 6.6's sample keeps
below EU868's (the spec gives no other plan's sizes)."""

CHANNEL_PLAN_FREQUENCIES: Mapping[str, tuple[int, int]] = {
    "CN470": (470400000, 509700000),
    "EU868": (863000000, 870000000),
    "IN865": (863000000, 870000000),
    "RU864": (864000000, 870000000),
    "KR920": (920900000, 923300000),
    "US915": (923300000, 927500000),
    "AU915": (923300000, 927500000),
    "AS923-1": (915000000, 928000000),
    "AS923-2": (915000000, 928000000),
    "AS923-3": (915000000, 928000000),
    "AS923-4": (915000000, 928000000),
}
"""Appendix, Default RX2/Ping Slot Settings: the RX2 frequency range in Hz per channel plan."""


class ApiError(Exception):
    """A refusal, answered as the body {"code", "error"}; `detail` says why, for people reading logs."""

    def __init__(self, code: ReturnCode | FuotaError, detail: str = "") -> None:
        super().__init__(f"{code.description}: {detail}" if detail else code.description)
        self.code = code

    def body(self) -> dict[str, object]:
        """The answer's body."""
        return {"code": int(self.code), "error": str(self)}


def query_int(query: Mapping[str, str], name: str, default: int | None = None) -> int:
    """A non-negative integer query parameter; 3 (parameter exceptions) when absent without default or malformed."""
    raw = query.get(name, "").strip()
    if not raw:
        if default is None:
            raise ApiError(ReturnCode.PARAMETER, f"{name} is required")
        return default
    if not re.fullmatch(r"[0-9]+", raw):
        raise ApiError(ReturnCode.PARAMETER, f"{name} must be an integer ≥ 0, not {raw!r}")
    return int(raw)


def window(query: Mapping[str, str]) -> slice:
    """The page that limit/offset ask for; both default as in 3.3 (limit 9999, offset 0)."""
    offset, limit = query_int(query, "offset", 0), query_int(query, "limit", 9999)
    return slice(offset, offset + limit)


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """A valid `fuotaTask` of 6.1: what the gateway keeps of it."""

    name: str
    description: str
    started_at_ms: int  # epoch milliseconds
    deveui: list[str]  # lower case, in the request's order, without repeats
    firmware_name: str
    image: bytes
    plan: codec.FragPlan
    fragment_interval_ms: int
    fragment_redundancy: int  # percent
    dr: int
    frequency: int


def parse_task(body: Mapping[str, object], known: Collection[str], payload_sizes: Mapping[int, int]) -> TaskRequest:
    """Validate POST /api/fuota/task's body against 6.1's ranges; raise ApiError with 6.11's code for each field.

    `known` are the gateway's device EUIs (lower case), `payload_sizes` its maxPayloadSize per data rate: a
    fragment and its 3-byte DataFragment header must fit in one downlink of the task's data rate.
    """
    task = body.get("fuotaTask")
    if not isinstance(task, dict):
        raise ApiError(ReturnCode.PARAMETER, "fuotaTask must be an object")
    name = task.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 127:
        raise ApiError(FuotaError.NAME, f"name {name!r}: 1..127 characters, not blank")
    started_at_ms = _epoch_ms(task.get("startedAt"))
    deveui = _deveui(task.get("deveui"), known)
    firmware_name, image = _firmware(task)
    fragment, mc = task.get("fragmentInfo"), task.get("tmpMcInfo")
    if not isinstance(fragment, dict):
        raise ApiError(FuotaError.NO_FRAGMENT_INFO, "fragmentInfo must be an object")
    if not isinstance(mc, dict):
        raise ApiError(FuotaError.NO_TMP_MC_INFO, "tmpMcInfo must be an object")
    size = _bounded(fragment, "fragmentSize", 1, 250, FuotaError.FRAGMENT_SIZE)
    interval = _bounded(fragment, "fragmentInterval", 1000, 10000, FuotaError.FRAGMENT_INTERVAL)
    redundancy = _bounded(fragment, "fragmentRedundancy", 0, 100, FuotaError.REDUNDANCY)
    dr = _bounded(mc, "dr", 0, 15, ReturnCode.PARAMETER)
    frequency = _bounded(mc, "frequency", 1, 2**32 - 1, ReturnCode.PARAMETER)
    if dr not in payload_sizes:
        raise ApiError(ReturnCode.PARAMETER, f"dr {dr}: the gateway knows data rates {sorted(payload_sizes)}")
    if size > payload_sizes[dr] - 3:
        raise ApiError(FuotaError.FRAGMENT_SIZE, f"fragmentSize {size} > DR{dr}'s {payload_sizes[dr]} − 3 bytes")
    nb_frag = -(-len(image) // size)
    if nb_frag > codec.MAX_COUNTER:
        raise ApiError(FuotaError.FRAGMENT_SIZE, f"{nb_frag} fragments > {codec.MAX_COUNTER}: use larger fragments")
    try:  # R = ceil(nb_frag · percent / 100), as ChirpStack's FUOTA flow: the spec does not say how it rounds
        plan = codec.plan(len(image), size, percent=redundancy)
    except codec.PlanError as exc:  # only nb_frag + redundancy beyond the 14-bit counter is left to fail
        raise ApiError(FuotaError.REDUNDANCY, str(exc)) from None
    description = task.get("description")
    return TaskRequest(
        name, description if isinstance(description, str) else "", started_at_ms, deveui, firmware_name, image,
        plan, interval, redundancy, dr, frequency,
    )  # fmt: skip


def _epoch_ms(value: object) -> int:
    try:
        moment = dt.datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ApiError(FuotaError.START_TIME, f"startedAt {value!r}: ISO 8601, e.g. 2025-04-15T00:50:00.000Z") from None
    if moment.tzinfo is None:  # the spec's samples all carry an offset; read a bare time as UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return round(moment.timestamp() * 1000)


def _deveui(value: object, known: Collection[str]) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(eui, str) for eui in value):
        raise ApiError(ReturnCode.PARAMETER, "deveui must be a non-empty list of device EUIs")
    euis = list(dict.fromkeys(eui.lower() for eui in value))
    unknown = [eui for eui in euis if eui not in known]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ApiError(ReturnCode.NOT_FOUND, f"{len(unknown)} device(s) unknown to this gateway: {shown}")
    return euis


def _firmware(task: Mapping[str, object]) -> tuple[str, bytes]:
    if task.get("isOfficialFirmware") is True:
        if not isinstance(task.get("officialFirmwareInfo"), dict):
            raise ApiError(FuotaError.NO_OFFICIAL_FIRMWARE_INFO, "isOfficialFirmware needs officialFirmwareInfo")
        # The simulated gateway has no way to Milesight's cloud, as a gateway without Internet access.
        raise ApiError(FuotaError.OFFICIAL_FIRMWARE, "the simulator cannot download official firmware")
    info = task.get("firmwareInfo")
    if not isinstance(info, dict):
        raise ApiError(FuotaError.NO_FIRMWARE_INFO, "firmwareInfo must be an object")
    name, content = info.get("firmwareName"), info.get("fileContent")
    if not isinstance(name, str) or not name.strip() or not isinstance(content, str) or not content:
        raise ApiError(FuotaError.NO_CUSTOM_FIRMWARE_INFO, "firmwareInfo needs firmwareName and fileContent")
    try:
        image = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(FuotaError.NO_CUSTOM_FIRMWARE_INFO, "fileContent must be base64") from None
    if not image:
        raise ApiError(FuotaError.NO_CUSTOM_FIRMWARE_INFO, "fileContent decodes to no byte")
    return name, image


def _bounded(fields: Mapping[str, object], name: str, low: int, high: int, code: ReturnCode | FuotaError) -> int:
    value = fields.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(code, f"{name} {value!r}: an integer in {low}..{high}")
    return value
