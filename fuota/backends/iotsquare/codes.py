"""IoTSquare's code tables, one per section of its OpenAPI document, and what they mean for fuota.

Each table is named after the section it copies so that a reader can check it line by line against
specs/iotsquare-openapi.md:

    section 10.1  response codes       SYSTEM_CODES … MULTICAST_FILE_TRANSFER_CODES, RESPONSE_CODES (all of them)
                                       TRANSIENT_CODES, AUTH_CODES, NOT_FOUND_CODES, ADVICE (what a person should do)
    section 7.2.2 mcdevice/create      BIND_REFUSALS: why one device was not added to a multicast group
    section 9.2   task states          TASK_STATES → fuota.core.model.DeploymentState
    section 9.4   device states        DEVICE_STATES → fuota.core.model.Stage, device_stage(), final_reason(),
                                       ENDED_IN and final_category() → fuota.core.reasons.Category
    section 7.2.2 refusals             every BIND_REFUSALS code is Category.BACKEND_REFUSED
    sections 6.1.4, 9.1  limits        MAX_EXT_GROUP_SIZE, REDUNDANCY_FRACTION
    section 10.1 readings              QUERY_ERROR tolerated QUERY_ERROR_RETRIES times in a row while polling;
                                       FUOTA_ALREADY_EXISTS read both ways (below)

Readings of codes the spec leaves open (section 10.1):

- 1003/1004 say "please log in again": tokens expire. An AuthError; once a task exists the runner waits for a
  good token instead of stopping (fuota.service.runner), failing only after give_up_after.
- 1008 "Query Error" is what a server answers when a look-up fails, a passing fault as often as a missing task:
  while polling, QUERY_ERROR_RETRIES in a row are retried (each a "retry" event), the next fails the deployment.
- 16001 "Fuota Deployment Already Exist" on fuota/create means a task of that name exists (it is then looked up by
  name and followed) or that the group is busy with another task (no task of ours is listed: fuota waits for the
  group, bounded by give_up_after).

Mapping decisions (section 9.4):

- "FragSessionSetupAns" → RECEIVING: the answer means the fragmentation session is open, and the device keeps this
  state for the whole EnqueueFragment phase (hours on Class C); "fragmentation_setup" would read as "stuck in
  set-up". FRAGMENTATION_SETUP is the moment between request and answer, which IoTSquare does not show per device
  (the device still says "MC Joined").
- "FragSessDelAns" → STATUS_REPORTED, not DONE: it only says the session was closed. Whether the image was rebuilt
  is in nbFragMissing of the status answer, and "Done" is IoTSquare's own verdict, which fuota waits for.
- nbFragMissing > 0 once the status answer is in is final (IoTSquare runs no repair round): FAILED with a reason.
  A non-empty error_message (a string or a number: the spec contradicts itself) is a failure too.
"""

from __future__ import annotations

from collections.abc import Mapping

from fuota.core.model import DeploymentState, Stage
from fuota.core.reasons import Category
from fuota.core.reports import DeviceVerdict

__all__ = [
    "ADVICE",
    "ALREADY_BOUND",
    "APPLICATION_CODES",
    "AUTH_CODES",
    "BIND_REFUSALS",
    "DEVICE_CODES",
    "DEVICE_NOT_EXIST",
    "DEVICE_STATES",
    "ENDED_IN",
    "FUOTA_ALREADY_EXISTS",
    "GATEWAY_CODES",
    "MAX_EXT_GROUP_SIZE",
    "MCDEVICE_BATCH_BIND_ERROR",
    "MCGROUP_ALREADY_EXISTS",
    "MCGROUP_BATCH_DELETE_ERROR",
    "MCGROUP_NAME_EXISTS",
    "MCGROUP_NOT_EXIST",
    "MULTICAST_FILE_TRANSFER_CODES",
    "MULTICAST_GROUP_CODES",
    "NOT_FOUND_CODES",
    "QUERY_ERROR",
    "QUERY_ERROR_RETRIES",
    "REDUNDANCY_FRACTION",
    "RESPONSE_CODES",
    "SYSTEM_CODES",
    "TASK_STATES",
    "TRANSIENT_CODES",
    "USER_CODES",
    "advice",
    "device_stage",
    "final_category",
    "final_reason",
    "refusal_reason",
    "task_state",
]

# --- section 10.1 Response Code, grouped as the spec groups them ----------------------------------------------

SYSTEM_CODES: dict[int, str] = {
    0: "ok",
    1001: "System Busy",
    1003: "No Token, Please log in again",
    1004: "Invalid Token, Please log in again",
    1006: "Empty Param",
    1007: "Param Error",
    1008: "Query Error",
    1009: "Network Busy",
    1010: "Permission Denied",
    1011: "Region Subnet Not Exist",
    1012: "Region Subnet Already Exist",
    1013: "Extend Proto Not Exist",
    1014: "Extend Proto Already Exist",
    1015: "Platform Conf Not Exist",
    1016: "Extend Proto Already Associate App",
    1017: "Region Subnet Not Support",
    1018: "Region Subnet Already Sync",
}
USER_CODES: dict[int, str] = {
    2001: "Invalid Account",
    2002: "Account Not Exist",
    2003: "Account Already Exist",
    2004: "Account or Passwd Error",
}
APPLICATION_CODES: dict[int, str] = {
    3001: "Application Not Exist",
    3002: "Application Already Exist",
    3003: "Application Batch Delete Error",
}
DEVICE_CODES: dict[int, str] = {
    4001: "Device Not Exist",
    4002: "Device Already Exist",
    4003: "Device Update Error",
    4004: "Device Duplicate DevAddr And NwkSKey",
    4005: "Device Count Exceeds Limit",
    4006: "Device Batch Delete Error",
}
GATEWAY_CODES: dict[int, str] = {
    5001: "Gateway Not Exist",
    5002: "Gateway Already Exist",
    5003: "GatewayID Already Exist",
    5004: "GatewayName Already Exist",
    5005: "Gateway Count Exceeds Limit",
    5006: "Gateway Batch Delete Error",
}
MULTICAST_GROUP_CODES: dict[int, str] = {
    14001: "MCGroup Not Exist",
    14002: "MCGroup Already Exist",
    14003: "MCGroup Duplicate DevAddr And NwkSKey",
    14004: "MCGroup Device Count Exceeds Limit",
    14005: "MCGroup Name Already Exist",
    14006: "MCGroup GenAppKey Error",
    14007: "MCGroup Batch Delete Error",
    14008: "MCDevice Batch Bind Error",
    14009: "MCDevice Batch Unbind Error",
    14010: "MCDevice Already Bind Current Group",
    14011: "MCDevice Already Bind Other Group",
    14012: "MCDevice Incompatible With Group",
    14013: "MCDevice Not Exist",
    14014: "MCGroup Not Enable MCRemote",
    14015: "MCGateway Batch Bind Error",
    14016: "MCGateway Batch Unbind Error",
    14017: "MCGateway Already Bind Current Group",
    14018: "MCGateway Incompatible With Group",
    14019: "MCGateway Not Exist",
    14020: "MCDownlink Already Exist",
    14021: "MCDownlink Not Exist",
    14022: "MCGroup Create Error",
    14023: "MCGroup invalid create",
}
MULTICAST_FILE_TRANSFER_CODES: dict[int, str] = {
    16001: "Fuota Deployment Already Exist",
}
RESPONSE_CODES: dict[int, str] = (
    SYSTEM_CODES
    | USER_CODES
    | APPLICATION_CODES
    | DEVICE_CODES
    | GATEWAY_CODES
    | MULTICAST_GROUP_CODES
    | MULTICAST_FILE_TRANSFER_CODES
)

TRANSIENT_CODES = frozenset({1001, 1009})  # System Busy, Network Busy: ask again later
AUTH_CODES = frozenset({1003, 1004})
NOT_FOUND_CODES = frozenset({3001, 4001, 5001, 14001, 14013, 14019, 14021})

# --- sections 6.1.4 and 9.1: limits --------------------------------------------------------------------------

MAX_EXT_GROUP_SIZE = 253  # 6.1.4: the extended function caps a multicast group at 253 devices
REDUNDANCY_FRACTION = (0.1, 1.0)  # 9.1: fuota/create's redundancyPercent, a fraction of nbFrag

# The codes the adapter reconciles instead of raising.
DEVICE_NOT_EXIST = 4001
MCGROUP_NOT_EXIST = 14001
MCGROUP_ALREADY_EXISTS = 14002
MCGROUP_NAME_EXISTS = 14005
MCGROUP_BATCH_DELETE_ERROR = 14007
MCDEVICE_BATCH_BIND_ERROR = 14008
ALREADY_BOUND = 14010
FUOTA_ALREADY_EXISTS = 16001
QUERY_ERROR = 1008
QUERY_ERROR_RETRIES = 3  # 1008 answers in a row tolerated while polling a task; the next one fails it

ADVICE: dict[int, str] = {
    1006: "a required field is empty: check the back end's options (region, subnet, keys) in the configuration",
    1007: "a field is malformed: check EUIs (16 hex digits), keys (32 hex digits) and ranges in the configuration",
    1010: "the token's account may not manage this resource: use the account that owns it",
    1011: "IoTSquare does not know this region/subnet: check the region and subnet options",
    1017: "IoTSquare does not support this region/subnet: check the region and subnet options",
    3001: "the application does not exist on IoTSquare: create it or fix the configuration",
    4001: "the device is not registered on IoTSquare: add it to an application first",
    14001: "the multicast group does not exist: check the target mcEUI",
    14003: "another group already uses this mcAddr + mcNwkSKey: choose other manual multicast keys",
    14004: "the group is full (253 devices with the extended function): use smaller groups",
    14005: "a multicast group with this name exists: choose another name_prefix",
    14006: "genAppKey must be 32 hex digits",
    14014: "the group does not have multicast auto-configuration (enableMCRemote) enabled",
    1008: "the server could not look the task up: check on IoTSquare that the task still exists",
    16001: "the multicast group already has a FUOTA task: wait for it to end or abort it",
}


def advice(code: int) -> str:
    """What a person should do about `code`; a pointer to the spec's table when there is nothing specific."""
    return ADVICE.get(code, "see IoTSquare's response codes (OpenAPI section 10.1)")


# --- section 7.2.2 mcdevice/create: per-device refusals inside a 14008 answer ---------------------------------

BIND_REFUSALS: dict[int, str] = {
    1007: "IoTSquare refused the DevEUI as malformed: 16 hex digits expected",
    4001: "device not registered on IoTSquare: add it to an application first",
    14004: "the multicast group is full (253 devices with the extended function): use smaller groups",
    14011: "already bound to another multicast group: remove it from that group first",
    14012: "incompatible with the multicast group: region, subnet and class (C) must match the group's",
    14013: "IoTSquare does not know it as a multicast-capable device: check the DevEUI and its application",
}


def refusal_reason(code: int, msg: str | None) -> str:
    """Why IoTSquare did not add one device to a multicast group, as a person can act on it."""
    return BIND_REFUSALS.get(code, f"refused by IoTSquare ({code} {msg or RESPONSE_CODES.get(code, '')})".strip())


# --- section 9.2 File transfer task list: task states ----------------------------------------------------------

TASK_STATES: dict[str, DeploymentState] = {
    "Created": DeploymentState.CREATED,
    "SendFragSessSetup": DeploymentState.SEND_FRAG_SESS_SETUP,
    "EnqueueFragment": DeploymentState.ENQUEUE_FRAGMENT,
    "SendFragSessStatus": DeploymentState.SEND_FRAG_SESS_STATUS,
    "SendFragSessDel": DeploymentState.SEND_FRAG_SESS_DEL,
    "Cleanup": DeploymentState.CLEANUP,
    "Done": DeploymentState.DONE,
    "Unknown": DeploymentState.UNKNOWN,
}


def task_state(state: object) -> DeploymentState:
    """A task's state; anything the table does not know is UNKNOWN, as IoTSquare itself says."""
    return TASK_STATES.get(str(state), DeploymentState.UNKNOWN)


# --- section 9.4 File transfer task device list: device states -------------------------------------------------

DEVICE_STATES: dict[str, Stage] = {
    "MC Not Joined": Stage.MULTICAST_SETUP,
    "MC Joined": Stage.MULTICAST_READY,
    "FragSessionSetupAns": Stage.RECEIVING,
    "FragSessStatusAns": Stage.STATUS_REPORTED,
    "FragSessDelAns": Stage.STATUS_REPORTED,
    "Done": Stage.DONE,
    "Unknown": Stage.UNKNOWN,
}

# The device has answered FragSessionStatusReq: its nbFragMissing is what it really lacks.
_AFTER_STATUS = frozenset({"FragSessStatusAns", "FragSessDelAns", "Done"})

# The last state of a device whose task ended without it reaching "Done": why, and the category of that reason
# (fuota.core.reasons). A state not listed here is Category.UNKNOWN; nbFragMissing > 0 is TOO_FEW_FRAGMENTS.
ENDED_IN: dict[str, tuple[str, Category]] = {
    "MC Not Joined": (
        "never joined the multicast group: check that the device is Class C and received the multicast set-up",
        Category.NEVER_JOINED,
    ),
    "MC Joined": (
        "fragment session set-up timeout: the device did not answer FragSessionSetupReq (does its firmware support "
        "fragmentation, does the gateway reach it?)",
        Category.SETUP_TIMEOUT,
    ),
    "FragSessionSetupAns": (
        "never answered the fragment session status request: it lost the session or the gateway no longer reaches it",
        Category.NO_STATUS_REPORT,
    ),
    "FragSessStatusAns": (
        "received the whole image but did not answer the session delete: check whether it applied the firmware",
        Category.UPGRADE_FAILED,
    ),
    "FragSessDelAns": (
        "closed the session but IoTSquare did not mark it Done: check its firmware version",
        Category.UPGRADE_FAILED,
    ),
}


def _count(raw: Mapping[str, object], field: str) -> int:
    """A counter that the spec types as int or string and sends as either (section 9.4); empty means 0.
    ValueError naming the field when it is neither."""
    value = raw.get(field)
    if value in (None, ""):
        return 0
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{field} = {value!r} is not a count") from None


def _error_text(value: object) -> str | None:
    """error_message, typed int but sent as a string (section 9.4); "" and 0 mean no error."""
    return None if value in (None, "", 0, "0") else str(value)


def _missing_reason(raw: Mapping[str, object]) -> str | None:
    missing = _count(raw, "nbFragMissing")
    if str(raw.get("state")) not in _AFTER_STATUS or missing <= 0:
        return None
    received = _count(raw, "nbFragReceived")
    return (
        f"could not rebuild the image: {missing} fragments missing ({received} received): raise the redundancy "
        "or improve the radio coverage"
    )


def device_stage(raw: Mapping[str, object]) -> DeviceVerdict:
    """One FuotaDeploymentDevice (section 9.4) as its Stage, and the reason and its category when what it reports
    is a failure.

    The stage stays the one the back end reports, so that a device's last stage is kept; the outcome is the
    engine's to decide once the task ended.
    """
    stage = DEVICE_STATES.get(str(raw.get("state")), Stage.UNKNOWN)
    if (reason := _missing_reason(raw)) is not None:
        return DeviceVerdict(stage, reason, Category.TOO_FEW_FRAGMENTS)
    if stage is not Stage.DONE and _error_text(raw.get("error_message")) is not None:
        return DeviceVerdict(stage, final_reason(raw), final_category(raw))
    return DeviceVerdict(stage, None, None)


def final_reason(raw: Mapping[str, object]) -> str:
    """Why a device whose task ended did not reach "Done", from its last FuotaDeploymentDevice (section 9.4)."""
    state = str(raw.get("state"))
    reason = (
        _missing_reason(raw)
        or ENDED_IN.get(
            state, (f"IoTSquare reports the device state as {state!r}: check the device on IoTSquare", Category.UNKNOWN)
        )[0]
    )
    if (error := _error_text(raw.get("error_message"))) is not None:
        reason += f" (IoTSquare error_message: {error})"
    return reason


def final_category(raw: Mapping[str, object]) -> Category:
    """The category of final_reason(raw)."""
    if _missing_reason(raw) is not None:
        return Category.TOO_FEW_FRAGMENTS
    return ENDED_IN.get(str(raw.get("state")), ("", Category.UNKNOWN))[1]
