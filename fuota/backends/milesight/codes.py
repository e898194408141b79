"""Milesight's code tables, one per section of its MQTT API document, and what they mean for fuota.

Each table is named after the section it copies so that a reader can check it line by line against
specs/milesight-mqtt-api.txt:

    appendix  Return Code List         RETURN_CODES (200, 2, 3, 5, 6, 9, 20–25)
    6.11      Error Code               FUOTA_ERROR_CODES (10310001–10310015)
              both                     TRANSIENT_CODES, NOT_FOUND_CODES, ADVICE, answer_error()
    6.2       task status              TASK_STATUS → TASK_STATES (fuota.core.model.DeploymentState), task_state()
    6.11      Multicast Session Status MULTICAST_SESSION_STATUS → MULTICAST_STAGES, MULTICAST_FAILURES
    6.11      Fragment Session Status  FRAGMENT_SESSION_STATUS → FRAGMENT_STAGES, FRAGMENT_FAILURES
    6.7       device status            DEVICE_STATUS; device_stage() reads all three device codes
    6.11      both FAILURES tables     give each failure code its reason and its fuota.core.reasons.Category;
                                       device status 4 without a session code is Category.UNKNOWN
    appendix  Default RX2/Ping Slot    RX2_DEFAULTS (frequency, data rate), RX2_FREQUENCY_RANGES
    3.3, 2.3  channelPlan (rfRegion)   CHANNEL_PLAN_SPELLINGS → the appendix's rows, channel_plan()
    6.1       Create FUOTA task        TASK_LIMITS (name, fragmentSize, fragmentInterval, fragmentRedundancy)

Mapping decisions:

- Task status 4 "upgrade failed" → Done, like 3: the gateway reports 4 as soon as one device of the task failed,
  yet the task ran to its end. Which devices failed, and why, is in their own codes, and the campaign's success
  threshold judges the share that updated; a deployment fails when its gateway cannot run it (no answer, or a
  refused task). 0 "pending" → Created (stored, not started), 1 "waiting" → SendFragSessSetup (started, setting
  sessions up), 2 "executing" → EnqueueFragment, 3 "upgrade success" → Done.
- The device `status` of 6.7 has no table in the spec ("Device status"). It is read with the task's status codes
  (0 pending … 4 upgrade failed): same name, same kind of object. Only 4 is a verdict (a failure); 3 is not
  enough for success (below).
- Fragment session 2 "ready" → RECEIVING, as for IoTSquare's FragSessionSetupAns (iotsquare/codes.py): the session
  is open and the device waits for fragments. 12 "complete" → STATUS_REPORTED: the device has reported its session,
  the upgrade is not confirmed yet; 13 "upgrade complete" → DONE. 13 is the only success code: 6.2's task status 3
  "upgrade success" is the task's, and 6.7 gives the device `status` no table, so neither is a device's verdict.
- Fragment session codes 5–8 are the four refusal bits of TS004's FragSessionSetupAns (wrong descriptor, FragIndex
  not supported, not enough memory, encoding unsupported); "Not supporting fragment session search" (6) is read as
  "FragSession index not supported".
- Multicast session codes 7 and 12 have the same wording in the spec ("Multicast ID does not match"); both are kept.
- `channelPlan` (3.3's device list, 2.3's profile list) is "Frequency channel plan", "CN470" in both samples; the
  profile's `rfRegion` writes the same plan "China470", and the appendix names its rows CN470, EU868, …, AS923-1.
  channel_plan() reads any of these spellings, and the Regional Parameters' band names (EU863-870, US902-928, …),
  in any case, with or without "-", "_" or spaces; bare "AS923" is AS923-1 (RP002's first AS923 group). A value
  it cannot place is None: the caller says so and falls back to a configured region, it never guesses.
- When the codes disagree, fragment 13 wins, then a fragment failure, then a multicast failure, then device status
  4: the session codes are the device's current state, and its firmware is what matters.
- Device status 3 never makes a device DONE by itself (issue 15): with a failure code the failure wins; with session
  codes still under way (multicast 1–5, fragment 1–3 or 12) the device stays at the stage those codes give; without
  any (both absent, unlisted, or 0 "not started", which contradicts "upgrade success") it is UNKNOWN. Either way,
  when the task ends without fragment 13, fuota.core.outcomes judges it as any device the back end gave no verdict
  on (failed, backend_silent).

    fragment 13         fragment failure   multicast failure   status   →  stage
    yes                 —                  any                 any         DONE
    no                  yes                any                 any         FAILED (the fragment code's reason)
    no                  no                 yes                 any         FAILED (the multicast code's reason)
    no                  no                 no                  4           FAILED (device status 4, unknown)
    no                  no                 no                  3           the session codes' stage; UNKNOWN if none
                                                                               (multicast 0 "not started" is none here)
    no                  no                 no                  other       the session codes' stage; UNKNOWN if none
"""

from __future__ import annotations

from collections.abc import Mapping

from fuota.backends.errors import BackendError, NotFoundError, RejectedError, TransientError
from fuota.core.model import DeploymentState, Stage
from fuota.core.reasons import Category
from fuota.core.reports import DeviceVerdict

__all__ = [
    "ADVICE",
    "ALREADY_EXISTS",
    "CHANNEL_PLAN_SPELLINGS",
    "DEFAULT_FRAGMENT_INTERVAL",
    "DEFAULT_FRAGMENT_SIZE",
    "DEFAULT_REGION",
    "DEVICE_STATUS",
    "FRAGMENT_FAILURES",
    "FRAGMENT_SESSION_STATUS",
    "FRAGMENT_STAGES",
    "FUOTA_ERROR_CODES",
    "MULTICAST_FAILURES",
    "MULTICAST_SESSION_STATUS",
    "MULTICAST_STAGES",
    "NOT_FOUND_CODES",
    "RETURN_CODES",
    "RX2_DEFAULTS",
    "RX2_FREQUENCY_RANGES",
    "SUCCESS",
    "TASK_LIMITS",
    "TASK_STATES",
    "TASK_STATUS",
    "TOO_MANY_TASKS",
    "TRANSIENT_CODES",
    "answer_error",
    "channel_plan",
    "device_stage",
    "task_state",
]

# --- appendix, Return Code List -------------------------------------------------------------------------------

RETURN_CODES: dict[int, str] = {
    200: "Success",
    2: "Unknown error",
    3: "Parameter exceptions",
    5: "Data not found",
    6: "Already exists",
    9: "Failed precondition",
    20: "Parse json failed",
    21: "Type or url not supported",
    22: "Method not supported",
    23: "Internal server error",
    24: "Request timeout",
    25: "Gateway EUI not matched",
}

# --- 6.11, Error Code -----------------------------------------------------------------------------------------

FUOTA_ERROR_CODES: dict[int, str] = {
    10310001: "Not able to delete devices since it belongs to a FUOTA task",
    10310002: "Not able to delete devices since they belong to FUOTA tasks",
    10310003: "Task name is blank or too long",
    10310004: "Task start time format invalid",
    10310005: "Miss fragment info",
    10310006: "Miss tmp_mc_info",
    10310007: "Miss firmware info",
    10310008: "Miss official firmware info",
    10310009: "Miss custom firmware info",
    10310010: "Fragment size invalid",
    10310011: "Fragment interval invalid",
    10310012: "Redundancy percent invalid",
    10310013: "Over the maximum task amount",
    10310014: "Not able to execute due to current task status",
    10310015: "Failed to get official firmware information from server",
}

SUCCESS = 200
ALREADY_EXISTS = 6
TOO_MANY_TASKS = 10310013  # "Over the maximum task amount": the gateway holds as many tasks as it can
NOT_FOUND_CODES = frozenset({5})
# The gateway's server failed or timed out, or its cloud was unreachable: asking again later may work.
TRANSIENT_CODES = frozenset({23, 24, 10310015})

ADVICE: dict[int, str] = {
    3: "check the request's parameters against the gateway's firmware version (FUOTA needs 60.0.0.45/56.0.0.6)",
    5: "the task or device is no longer on the gateway: it was deleted there",
    6: "an object of that name exists on the gateway: delete it there or choose another name",
    9: "the gateway's state does not allow this now: check the task on the gateway's web interface",
    21: "the gateway does not offer this API: update its firmware (FUOTA needs 60.0.0.45/56.0.0.6)",
    22: "the gateway does not offer this API: update its firmware (FUOTA needs 60.0.0.45/56.0.0.6)",
    25: "the answer came from another gateway: check the gateway EUI in the configuration",
    10310003: "task names are 1–127 characters",
    10310010: "fragment_size must be 1–250 and fit the data rate's payload minus 3 bytes",
    10310011: "fragment_interval must be 1000–10000 ms",
    10310012: "redundancy must be 0–100 %",
    10310013: "delete finished tasks on the gateway, then launch again",
    10310014: "the task is running or finished: wait for it to end, or delete it",
}


def answer_error(code: int, error: str, where: str) -> BackendError:
    """The typed error for a failure `code` (appendix or 6.11), carrying the code and the spec's meaning."""
    meaning = RETURN_CODES.get(code) or FUOTA_ERROR_CODES.get(code) or "not a code of the spec"
    text = f"{where}: {code} {meaning}" + (f" ({error})" if error else "")
    if code in TRANSIENT_CODES:
        return TransientError(f"{text}: try again later", code=code, msg=meaning)
    kind = NotFoundError if code in NOT_FOUND_CODES else RejectedError
    advice = ADVICE.get(code)
    return kind(f"{text}: {advice}" if advice else text, code=code, msg=meaning)


# --- 6.2, task status -----------------------------------------------------------------------------------------

TASK_STATUS: dict[int, str] = {
    0: "pending",
    1: "waiting",
    2: "executing",
    3: "upgrade success",
    4: "upgrade failed",
}

TASK_STATES: dict[int, DeploymentState] = {
    0: DeploymentState.CREATED,
    1: DeploymentState.SEND_FRAG_SESS_SETUP,
    2: DeploymentState.ENQUEUE_FRAGMENT,
    3: DeploymentState.DONE,
    4: DeploymentState.DONE,
}


def _code(value: object) -> int | None:
    """A status code, sent as a number or a numeric string; None when absent or not a number."""
    try:
        return int(str(value))
    except ValueError:
        return None


def task_state(status: object) -> DeploymentState:
    """A task's `status` (6.2) as a DeploymentState; a code the spec does not list is UNKNOWN."""
    code = _code(status)
    return TASK_STATES.get(code, DeploymentState.UNKNOWN) if code is not None else DeploymentState.UNKNOWN


# --- 6.11, Multicast Session Status ---------------------------------------------------------------------------

MULTICAST_SESSION_STATUS: dict[int, str] = {
    0: "Multicast session has not started yet",
    1: "Trying to set up temp. Multicast group",
    2: "Temp. Multicast group is confirmed",
    3: "Multicast session is ready",
    4: "Multicast session is processing",
    5: "Multicast session completes",
    6: "Multicast group set up timeout: the device does not respond to the setting command from gateway",
    7: "Multicast ID does not match",
    8: "Multicast session request timeout: the device does not respond to the gateway",
    9: "Multicast ID is not defined",
    10: "Frequency error: The device does not support this frequency",
    11: "Datarate error: The device does not support this datarate",
    12: "Multicast ID does not match",
    13: "Unknown error",
}

MULTICAST_STAGES: dict[int, Stage] = {
    0: Stage.PENDING,
    1: Stage.MULTICAST_SETUP,
    2: Stage.MULTICAST_READY,
    3: Stage.MULTICAST_READY,
    4: Stage.MULTICAST_READY,
    5: Stage.MULTICAST_READY,
}

_ID_MISMATCH = (
    "the multicast ID in the device's answer does not match the group the gateway set up: the device may hold "
    "another multicast group in that slot; delete the task and launch again, or reset the device's multicast set-up"
)
MULTICAST_FAILURES: dict[int, tuple[str, Category]] = {
    6: (
        "the device did not answer the multicast set-up (McGroupSetupReq): check that it is joined, in reach of the "
        "gateway and supports remote multicast set-up (TS005)",
        Category.NEVER_JOINED,
    ),
    7: (_ID_MISMATCH, Category.MULTICAST_ERROR),
    8: (
        "the device did not answer the Class C session request (McClassCSessionReq): check that it can switch to "
        "Class C and is in reach of the gateway",
        Category.NEVER_JOINED,
    ),
    9: (
        "the device reports the multicast ID as not defined: it lost the multicast set-up; launch again",
        Category.MULTICAST_ERROR,
    ),
    10: (
        "the device does not support the task's multicast frequency: set [milesight] frequency to one of its band",
        Category.MULTICAST_ERROR,
    ),
    11: (
        "the device does not support the task's multicast data rate: set [milesight] dr to one it supports",
        Category.MULTICAST_ERROR,
    ),
    12: (_ID_MISMATCH, Category.MULTICAST_ERROR),
    13: ("unknown multicast session error: check the task's log on the gateway's web interface", Category.UNKNOWN),
}

# --- 6.11, Fragment Session Status ----------------------------------------------------------------------------

FRAGMENT_SESSION_STATUS: dict[int, str] = {
    0: "Fragment has not started yet",
    1: "Trying to set up fragment session",
    2: "Fragment session is ready",
    3: "Fragment session is processing",
    4: "Fragment session set up timeout: the device does not respond to the setting command from gateway",
    5: "Fragment descriptor mismatch",
    6: "Not supporting fragment session search",
    7: "Low device memory",
    8: "The device does not support fragment coding mode",
    9: "Lack of fragments",
    10: "Upgrade failed",
    11: "Fragment session error",
    12: "Fragment session complete",
    13: "Upgrade complete",
    14: "Upgrade timeout",
    15: "Status report timeout: the device does not report status within the timeout",
    16: "Unknown error",
}

FRAGMENT_STAGES: dict[int, Stage] = {
    1: Stage.FRAGMENTATION_SETUP,
    2: Stage.RECEIVING,
    3: Stage.RECEIVING,
    12: Stage.STATUS_REPORTED,
    13: Stage.DONE,
}

FRAGMENT_FAILURES: dict[int, tuple[str, Category]] = {
    4: (
        "fragment session set-up timeout: the device did not answer FragSessionSetupReq (does its firmware support "
        "fragmentation, TS004, and does the gateway reach it?)",
        Category.SETUP_TIMEOUT,
    ),
    5: (
        "the device refused the fragment session's descriptor: check that the firmware file is meant for this model",
        Category.SESSION_REFUSED,
    ),
    6: (
        "the device does not support the fragment session index the gateway chose: check its TS004 version",
        Category.SESSION_REFUSED,
    ),
    7: (
        "not enough memory for the fragmentation session: the image plus redundancy is larger than the device can "
        "store; use a smaller image or free the device's storage",
        Category.LOW_MEMORY,
    ),
    8: (
        "the device does not support the fragment coding mode: check its TS004 (fragmentation) version",
        Category.SESSION_REFUSED,
    ),
    9: (
        "too few fragments received to rebuild the image: raise the redundancy, or move the task to a gateway "
        "nearer the device",
        Category.TOO_FEW_FRAGMENTS,
    ),
    10: (
        "the device received the image but the upgrade failed: check that the firmware is meant for this model "
        "and hardware version",
        Category.UPGRADE_FAILED,
    ),
    11: (
        "fragment session error: check the task's log on the gateway's web interface, then retry the task",
        Category.UNKNOWN,
    ),
    14: (
        "upgrade timeout: the device did not confirm the upgrade in time; check whether it rebooted on the new "
        "firmware",
        Category.UPGRADE_FAILED,
    ),
    15: (
        "status report timeout: the device did not report its fragment session status in time; it may have lost "
        "the session or be out of reach",
        Category.NO_STATUS_REPORT,
    ),
    16: ("unknown fragment session error: check the task's log on the gateway's web interface", Category.UNKNOWN),
}

# --- 6.7, device status (no table in the spec: read as 6.2's task status, see the module docstring) --------------

DEVICE_STATUS: dict[int, str] = TASK_STATUS
_DEVICE_SUCCESS, _DEVICE_FAILED = 3, 4
_UPGRADE_COMPLETE = 13  # Fragment Session Status: the only code that says a device is updated


def device_stage(raw: Mapping[str, object]) -> DeviceVerdict:
    """One device of a task (6.7) as its Stage, and the reason and its category when what it reports is a
    failure: DONE only for fragmentSessionStatus 13, never for `status` 3 alone (table in the module docstring)."""
    multicast = _code(raw.get("multicastSessionStatus"))
    fragment = _code(raw.get("fragmentSessionStatus"))
    status = _code(raw.get("status"))
    if fragment == _UPGRADE_COMPLETE:
        return DeviceVerdict(Stage.DONE, None, None)
    if fragment in FRAGMENT_FAILURES:
        reason, category = FRAGMENT_FAILURES[fragment]
        return DeviceVerdict(Stage.FAILED, f"{reason} (fragment session status {fragment})", category)
    if multicast in MULTICAST_FAILURES:
        reason, category = MULTICAST_FAILURES[multicast]
        return DeviceVerdict(Stage.FAILED, f"{reason} (multicast session status {multicast})", category)
    if status == _DEVICE_FAILED:
        reason = (
            "the gateway reports the upgrade failed (device status 4) without a session error code: check the "
            "task's log on the gateway's web interface"
        )
        return DeviceVerdict(Stage.FAILED, reason, Category.UNKNOWN)
    if fragment in FRAGMENT_STAGES:
        return DeviceVerdict(FRAGMENT_STAGES[fragment], None, None)
    if multicast in MULTICAST_STAGES and not (multicast == 0 and status == _DEVICE_SUCCESS):
        return DeviceVerdict(MULTICAST_STAGES[multicast], None, None)
    # No session code, or "not started" beside status 3 "upgrade success": the codes contradict each other.
    return DeviceVerdict(Stage.UNKNOWN, None, None)


# --- appendix, Default RX2/Ping Slot Settings -------------------------------------------------------------------

RX2_DEFAULTS: dict[str, tuple[int, int]] = {  # channel plan → (RX2 frequency in Hz, RX2 data rate)
    "CN470": (505_300_000, 0),
    "EU868": (869_525_000, 0),
    "IN865": (866_550_000, 2),
    "RU864": (869_100_000, 0),
    "KR920": (921_900_000, 0),
    "US915": (923_300_000, 8),
    "AU915": (923_300_000, 8),
    "AS923-1": (923_200_000, 2),
    "AS923-2": (921_400_000, 2),
    "AS923-3": (916_600_000, 2),
    "AS923-4": (917_300_000, 2),
}

# The AS923 ranges read "915000000~92 8000000" in the spec (a line break inside the number): 928000000.
RX2_FREQUENCY_RANGES: dict[str, tuple[int, int]] = {
    "CN470": (470_400_000, 509_700_000),
    "EU868": (863_000_000, 870_000_000),
    "IN865": (863_000_000, 870_000_000),
    "RU864": (864_000_000, 870_000_000),
    "KR920": (920_900_000, 923_300_000),
    "US915": (923_300_000, 927_500_000),
    "AU915": (923_300_000, 927_500_000),
    "AS923-1": (915_000_000, 928_000_000),
    "AS923-2": (915_000_000, 928_000_000),
    "AS923-3": (915_000_000, 928_000_000),
    "AS923-4": (915_000_000, 928_000_000),
}

# --- 3.3 and 2.3, channelPlan (and rfRegion): the spellings of the appendix's rows ----------------------------

# Keys are folded (upper case, no "-", "_" or space): see _fold. The appendix's own names fold to themselves.
CHANNEL_PLAN_SPELLINGS: dict[str, str] = {
    **{plan.replace("-", ""): plan for plan in RX2_DEFAULTS},
    "CHINA470": "CN470",  # 2.3's rfRegion sample
    "CN470510": "CN470",
    "EU863870": "EU868",
    "IN865867": "IN865",
    "RU864870": "RU864",
    "KR920923": "KR920",
    "US902928": "US915",
    "AU915928": "AU915",
    "AS923": "AS923-1",
}


def _fold(value: str) -> str:
    return "".join(value.split()).replace("-", "").replace("_", "").upper()


def channel_plan(value: object) -> str | None:
    """The appendix row (a key of RX2_DEFAULTS) that a gateway's `channelPlan`, or a campaign's `region`, names;
    None when absent, empty or not a plan of the appendix."""
    return CHANNEL_PLAN_SPELLINGS.get(_fold(value)) if isinstance(value, str) and value.strip() else None


# --- 6.1, Create FUOTA task: the ranges of its fields ------------------------------------------------------------

TASK_LIMITS: dict[str, tuple[int, int]] = {
    "name": (1, 127),  # characters
    "fragmentSize": (1, 250),  # bytes
    "fragmentInterval": (1000, 10000),  # milliseconds
    "fragmentRedundancy": (0, 100),  # percent
}

# fuota's defaults within those ranges. 43 bytes fits the slowest data rates: section 6.6's sample (which names no
# channel plan) gives 46 bytes at DR0–2, and a DataFragment costs 3. The region is the gateway's channelPlan (3.3);
# DEFAULT_REGION is only the fallback for a gateway that reports none the appendix knows, and is said so.
DEFAULT_FRAGMENT_SIZE = 43
DEFAULT_FRAGMENT_INTERVAL = 5000  # milliseconds
DEFAULT_REGION = "EU868"
