"""IoTSquare's vocabulary for the simulator: task states (spec 9.2), device states (9.4), and the response codes.

Also the error the simulator's handlers raise (`ApiError`) and the parsing of request fields, so that every
refusal is answered with a code and message taken from the one table of section 10.1 (fuota.backends.iotsquare.codes).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

# One table of section 10.1 for the whole project: the simulator answers with the codes the adapter reads.
from fuota.backends.iotsquare.codes import RESPONSE_CODES

__all__ = ["RESPONSE_CODES", "ApiError", "DeviceState", "Reply", "TaskState", "eui", "hex_field", "integer", "page"]


class TaskState(enum.StrEnum):
    """A file-transfer task's state (FuotaDeploymentSummary.state, section 9.2)."""

    CREATED = "Created"
    SEND_FRAG_SESS_SETUP = "SendFragSessSetup"
    ENQUEUE_FRAGMENT = "EnqueueFragment"
    SEND_FRAG_SESS_STATUS = "SendFragSessStatus"
    SEND_FRAG_SESS_DEL = "SendFragSessDel"
    CLEANUP = "Cleanup"
    DONE = "Done"
    UNKNOWN = "Unknown"


class DeviceState(enum.StrEnum):
    """A device's state in a file-transfer task (FuotaDeploymentDevice.state, section 9.4)."""

    MC_NOT_JOINED = "MC Not Joined"
    MC_JOINED = "MC Joined"
    FRAG_SESSION_SETUP_ANS = "FragSessionSetupAns"
    FRAG_SESS_STATUS_ANS = "FragSessStatusAns"
    FRAG_SESS_DEL_ANS = "FragSessDelAns"
    DONE = "Done"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful answer: `data` and, for lists, `amount` (the total before paging); None leaves a key out."""

    data: object = None
    amount: int | None = None


class ApiError(Exception):
    """A refusal answered as the envelope {code, msg[, data]}; `detail` says why, for people reading logs."""

    def __init__(self, code: int, detail: str = "", data: object = None) -> None:
        super().__init__(f"{code} {RESPONSE_CODES[code]}" + (f": {detail}" if detail else ""))
        self.code = code
        self.data = data


_HEX = re.compile(r"[0-9a-fA-F]*")
PAGE_ALL_LIMIT = 200  # pageNo=0 & pageSize=0 means "all", capped by the server: clients must page


def hex_field(body: dict[str, object], name: str, digits: int) -> str:
    """The hex string `name` of `digits` digits, lower-cased; 1006 when absent, 1007 when malformed."""
    value = body.get(name)
    if value is None or value == "":
        raise ApiError(1006, f"{name} is required")
    if not isinstance(value, str) or len(value) != digits or not _HEX.fullmatch(value):
        raise ApiError(1007, f"{name} must be {digits} hex digits, not {value!r}")
    return value.lower()


def eui(body: dict[str, object], name: str) -> str:
    """An EUI-64 field: 16 hex digits in either case (the spec's samples mix them), returned lower-case."""
    return hex_field(body, name, 16)


def integer(body: dict[str, object], name: str, default: int | None = None) -> int:
    """An integer field, from JSON or from a query string; 1006 when absent without default, 1007 when not one."""
    value = body.get(name)
    if value is None or value == "":
        if default is None:
            raise ApiError(1006, f"{name} is required")
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    raise ApiError(1007, f"{name} must be an integer, not {value!r}")


def page(body: dict[str, object]) -> slice:
    """The slice of a list that pageNo/pageSize ask for: pages from 1, 10 per page; 0/0 = all, at most 200."""
    number, size = integer(body, "pageNo", 1), integer(body, "pageSize", 10)
    if number == 0 and size == 0:
        return slice(0, PAGE_ALL_LIMIT)
    if number < 1 or size < 1:
        raise ApiError(1007, f"pageNo must be ≥ 1 and pageSize ≥ 1 (or both 0), not {number}/{size}")
    return slice((number - 1) * size, number * size)
