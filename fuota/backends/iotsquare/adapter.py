"""The IoTSquare adapter: the Backend protocol over IoTSquare's OpenAPI (specs/iotsquare-openapi.md).

    prepare  an existing group's members (7.2.1), or temporary groups (6.2.2) that the devices join (7.2.2)
    reachable, registered  `fuota plan`'s read-only checks: an authenticated read, device/status (3.2.5)
    ready    each member's `joined` (7.2.1)
    find     the task named spec.name on the group (9.2)
    create   fuota/create (9.1), then its fdID through fuota/list (9.2): the answer carries none; 16001 is a task
             of that name (followed) or a group busy with another task (TransientError: the runner waits)
    status   fuota/status (9.3)                  devices  fuota/device/list, every page (9.4); both tolerate
             codes.QUERY_ERROR_RETRIES 1008 answers in a row (fuota.backends.iotsquare.polling)
    abort    fuota/abort (9.5)                   cleanup  mcgroup/delete of temporary groups (6.2.3)

Every call can be repeated after a crash: temporary groups get an mcEUI and mcName derived from
options["name_prefix"], and what a repeat meets is reconciled, not raised — 14002/14005 on a group we would
create (reused when it is ours), 14010 on a device already in the group, 16001 on a task we created, 14001 on a
group being deleted. Errors are those of fuota.backends.errors (the tree is drawn there); the HTTP edge, its
translation of foreign exceptions and its retries are in fuota.backends.iotsquare.http.
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import string
from collections.abc import Callable

from fuota.backends import answers, facts
from fuota.backends.base import DeviceReport, TargetReport, TaskRef, TaskSpec, TaskStatus
from fuota.backends.errors import RejectedError, TransientError
from fuota.backends.iotsquare import codes
from fuota.backends.iotsquare.http import IoTSquareHTTP
from fuota.backends.iotsquare.polling import QueryErrors
from fuota.core.model import normalize_eui
from fuota.core.reports import TaskProgress

__all__ = ["GROUP_FIELDS", "IoTSquareBackend", "group_identity"]

BIND_BATCH = 100  # devices per mcdevice/create request

# Section 6.2.2: the mcgroup/create fields taken from `options` (mcEUI and mcName are derived), each under its
# spec name or its snake_case alias, as campaign files ([iotsquare] of fuota.campaign) spell them.
GROUP_FIELDS: dict[str, str] = {
    "autoSubnet": "auto_subnet",
    "region": "region",
    "subnet": "subnet",
    "class": "class",
    "enableMCRemote": "enable_mc_remote",
    "groupID": "group_id",
    "enableMCExt": "enable_mc_ext",
    "timeSlotLength": "time_slot_length",
    "genAppKey": "gen_app_key",
    "mcAddr": "mc_addr",
    "mcAppSKey": "mc_app_s_key",
    "mcNwkSKey": "mc_nwk_s_key",
    "enableMQTT": "enable_mqtt",
    "pushURL": "push_url",
    "headers": "headers",
}

_DEVICE_STATUS = "/openapi/device/status"
_MCGROUP_CREATE = "/openapi/mcgroup/create"
_MCGROUP_DELETE = "/openapi/mcgroup/delete"
_MCGROUP_LIST = "/openapi/mcgroup/list"
_MCDEVICE_LIST = "/openapi/mcdevice/list"
_MCDEVICE_CREATE = "/openapi/mcdevice/create"
_FUOTA_CREATE = "/openapi/fuota/create"
_FUOTA_LIST = "/openapi/fuota/list"
_FUOTA_STATUS = "/openapi/fuota/status"
_FUOTA_DEVICES = "/openapi/fuota/device/list"
_FUOTA_ABORT = "/openapi/fuota/abort"


def group_identity(prefix: str, index: int) -> tuple[str, str]:
    """The mcEUI and mcName of temporary group `index`, from the prefix alone so that a retry finds the same group.

    mcName may hold letters and underscores only, at most 20 (section 6.2.2): a readable stem of the prefix and
    eight letters of the same digest as the mcEUI, so that two campaigns' groups never share a name.
    """
    digest = hashlib.sha256(f"fuota/{prefix}/{index}".encode()).digest()
    tag = "".join(string.ascii_lowercase[byte % 26] for byte in digest[8:16])
    stem = re.sub(r"[^A-Za-z]+", "_", prefix).strip("_")[:11] or "fuota"
    return digest[:8].hex(), f"{stem}_{tag}"


def _option(options: dict[str, object], field: str) -> object:
    """The group field `field` of `options`, under its spec name or its alias; None when absent."""
    value = options.get(field)
    return options.get(GROUP_FIELDS[field]) if value is None else value


def _progress(raw: dict[str, object]) -> TaskProgress:
    """The progress facts of a fuota/status answer (section 9.3), each None where absent or impossible."""
    nb_frag, redundancy = facts.count(raw.get("nbFrag")), facts.count(raw.get("redundancy"))
    return TaskProgress(
        task_started_at=facts.epoch_ms(raw.get("createtime")),
        phase_started_at=facts.epoch_ms(raw.get("updatetime")),
        phase_ends_at=facts.epoch_ms(raw.get("nextStepTime")),  # −1 (no next step) reads as None
        fragments_total=None if nb_frag is None or redundancy is None else nb_frag + redundancy,
    )


def _as_bool(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "1")


class IoTSquareBackend:
    """One IoTSquare server, as a fuota Backend.

    `base_url` is the server's origin (e.g. https://cloud.iotsquare.xyz; the /openapi/… paths are appended), the
    token is sent in `token_header`. Every request times out after `timeout` seconds; transient failures are
    retried up to `retry_attempts` times within `retry_timeout` seconds, waiting from `retry_wait_initial` up to
    `retry_wait_max` seconds (doubling, jittered).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        token: str | Callable[[], str],
        token_header: str = "Authorization",
        timeout: float = 10.0,
        retry_attempts: int = 5,
        retry_timeout: float = 60.0,
        retry_wait_initial: float = 0.5,
        retry_wait_max: float = 10.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.name = name
        self._http = IoTSquareHTTP(
            name,
            base_url,
            token,
            token_header=token_header,
            timeout=timeout,
            retry_attempts=retry_attempts,
            retry_timeout=retry_timeout,
            retry_wait_initial=retry_wait_initial,
            retry_wait_max=retry_wait_max,
            verify=verify,
        )
        self._query_errors = QueryErrors()

    def __repr__(self) -> str:
        return f"IoTSquareBackend({self._http!r})"

    # --- targets: multicast groups and their members ------------------------------------------------------------

    def prepare(self, target: str | None, devices: tuple[str, ...], options: dict[str, object]) -> TargetReport:
        """An existing group's members (`target` = its mcEUI), or one temporary group holding `devices`.

        A temporary group takes the section 6.2.2 fields of `options` (GROUP_FIELDS: spec names or their snake_case
        aliases; class C by default) and needs options["name_prefix"]; with enableMCExt it holds at most 253 devices
        (the kind cuts a campaign into deployments that fit). A device IoTSquare refuses is in
        TargetReport.refused with the reason its code gives; the others go on. Devices of an existing group that are
        not its members are refused too.
        """
        wanted = sorted({normalize_eui(device) for device in devices})
        if target:
            return self._existing(normalize_eui(target), wanted)
        if not wanted:
            raise RejectedError(f"back end {self.name!r}: no device to put in a multicast group")
        prefix = options.get("name_prefix")
        if not prefix:
            raise ValueError(f"back end {self.name!r}: prepare() without a target needs options['name_prefix']")
        if _option(options, "enableMCExt") and len(wanted) > codes.MAX_EXT_GROUP_SIZE:
            raise RejectedError(
                f"back end {self.name!r}: {len(wanted)} devices do not fit one multicast group, which holds at most "
                f"{codes.MAX_EXT_GROUP_SIZE} with the extended function (section 6.1.4): split them into deployments"
            )
        return self._temporary(str(prefix), 0, wanted, options)

    def ready(self, target: str) -> dict[str, bool]:
        """{DevEUI: joined} for every member of the group (all pages of mcdevice/list)."""
        items = self._http.pages(_MCDEVICE_LIST, {"mcEUI": normalize_eui(target)})
        with self._http.answer_shape(_MCDEVICE_LIST):
            members = enumerate(answers.items(items, "data"))
            return {answers.eui(item, "devEUI", f"data[{i}]"): _as_bool(item.get("joined")) for i, item in members}

    def cleanup(self, target: TargetReport) -> None:
        """Delete a temporary group (its devices are unbound with it); an already deleted one counts as done."""
        if not target.temporary:
            return
        envelope = self._http.call(
            "POST",
            _MCGROUP_DELETE,
            body={"mcEUIs": [target.target]},
            accept=frozenset({codes.MCGROUP_NOT_EXIST, codes.MCGROUP_BATCH_DELETE_ERROR}),
        )
        if envelope.code != codes.MCGROUP_BATCH_DELETE_ERROR:
            return
        with self._http.answer_shape(_MCGROUP_DELETE):
            rows = enumerate(answers.items(envelope.data, "data"))
            failures = [(answers.whole(row["code"], f"data[{i}].code"), str(row.get("msg"))) for i, row in rows]
        failures = [(code, msg) for code, msg in failures if code != codes.MCGROUP_NOT_EXIST]
        if failures:
            code, msg = failures[0]
            raise RejectedError(
                f"back end {self.name!r}: could not delete multicast group {target.target}: {code} {msg}: "
                f"{codes.advice(code)}",
                code=code,
                msg=msg,
            )

    def _existing(self, target: str, wanted: list[str]) -> TargetReport:
        members = tuple(self.ready(target))
        refused = {
            device: f"not a member of multicast group {target}: add it to the group or choose another target"
            for device in sorted(set(wanted) - set(members))
        }
        return TargetReport(target, members, refused, temporary=False)

    def _temporary(self, prefix: str, index: int, devices: list[str], options: dict[str, object]) -> TargetReport:
        mc_eui, mc_name = group_identity(prefix, index)
        body = {"class": "C"} | {key: value for key in GROUP_FIELDS if (value := _option(options, key)) is not None}
        body |= {"mcEUI": mc_eui, "mcName": mc_name}
        exists = frozenset({codes.MCGROUP_ALREADY_EXISTS, codes.MCGROUP_NAME_EXISTS})
        envelope = self._http.call("POST", _MCGROUP_CREATE, body=body, accept=exists)
        if envelope.code and not self._is_ours(mc_eui, mc_name):
            raise RejectedError(
                f"back end {self.name!r}: multicast group {mc_name} ({mc_eui}) exists and is not fuota's: "
                f"{envelope.code} {envelope.msg}: choose another name_prefix",
                code=envelope.code,
                msg=envelope.msg,
            )
        refused = self._bind(mc_eui, devices)
        members = tuple(device for device in devices if device not in refused)
        return TargetReport(mc_eui, members, refused, temporary=True)

    def _is_ours(self, mc_eui: str, mc_name: str) -> bool:
        """Whether the group that a create found existing is the one an earlier attempt of ours made."""
        groups = self._http.pages(_MCGROUP_LIST, {})
        with self._http.answer_shape(_MCGROUP_LIST):
            return any(
                answers.eui(g, "mcEUI", f"data[{i}]") == mc_eui and g.get("mcName") == mc_name
                for i, g in enumerate(answers.items(groups, "data"))
            )

    def _bind(self, mc_eui: str, devices: list[str]) -> dict[str, str]:
        """Add the devices to the group; {DevEUI: reason} for those IoTSquare refused."""
        refused: dict[str, str] = {}
        accept = frozenset({codes.MCDEVICE_BATCH_BIND_ERROR, codes.ALREADY_BOUND})
        for start in range(0, len(devices), BIND_BATCH):
            batch = devices[start : start + BIND_BATCH]
            envelope = self._http.call(
                "POST", _MCDEVICE_CREATE, body={"mcEUI": mc_eui, "devEUIs": batch}, accept=accept
            )
            if envelope.code != codes.MCDEVICE_BATCH_BIND_ERROR:
                continue  # 0, or 14010 for a whole batch already in the group: a repeat after a crash
            with self._http.answer_shape(_MCDEVICE_CREATE):
                for index, item in enumerate(answers.items(envelope.data, "data")):
                    if (code := answers.whole(item["code"], f"data[{index}].code")) != codes.ALREADY_BOUND:
                        device = answers.eui(item, "devEUI", f"data[{index}]")
                        refused[device] = codes.refusal_reason(code, item.get("msg"))
        return refused

    # --- read-only checks for `fuota plan` -------------------------------------------------------------------------

    def reachable(self) -> None:
        """One authenticated read (the first multicast group): AuthError on a refused token, TransientError when
        the server cannot be reached (after the configured retries)."""
        self._http.call("GET", _MCGROUP_LIST, params={"pageNo": 1, "pageSize": 1})

    def registered(self, devices: tuple[str, ...], workers: int = 8) -> dict[str, bool]:
        """{DevEUI: registered} through device/status (3.2.5), `workers` requests in flight: 4001 means not."""
        from concurrent.futures import ThreadPoolExecutor

        def one(device: str) -> bool:
            found = self._http.call(
                "GET", _DEVICE_STATUS, params={"devEUI": device}, accept=frozenset({codes.DEVICE_NOT_EXIST})
            )
            return found.code != codes.DEVICE_NOT_EXIST

        wanted = [normalize_eui(device) for device in devices]
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted)))) as pool:
            return dict(zip(wanted, pool.map(one, wanted), strict=True))

    # --- tasks ----------------------------------------------------------------------------------------------------

    def find(self, spec: TaskSpec) -> TaskRef | None:
        """The task on spec.target whose firmwareName is spec.name (all pages of fuota/list), if any."""
        mc_eui = normalize_eui(spec.target)
        items = self._http.pages(_FUOTA_LIST, {"mcEUI": mc_eui})
        with self._http.answer_shape(_FUOTA_LIST):
            ids = [
                answers.whole(item["fdID"], f"data[{i}].fdID")
                for i, item in enumerate(answers.items(items, "data"))
                if item.get("firmwareName") == spec.name
            ]
        # Names are unique per deployment; should IoTSquare still list two, the newest is the live one.
        return TaskRef(spec.name, {"fdID": max(ids), "mcEUI": mc_eui}) if ids else None

    def create(self, spec: TaskSpec) -> TaskRef:
        """Create the task (section 9.1) and find its fdID through fuota/list; a task of that name is reused.

        A create is never blindly repeated: every attempt, the first included, looks the task up by name first,
        since a create whose answer was lost may have succeeded.
        """
        redundancy = spec.redundancy_percent / 100  # section 9.1 wants a fraction of nbFrag
        low, high = codes.REDUNDANCY_FRACTION
        if not low <= redundancy <= high:
            raise RejectedError(
                f"back end {self.name!r}: redundancy_percent = {spec.redundancy_percent:g} is out of range: "
                f"{100 * low:g}–{100 * high:g} (IoTSquare's redundancyPercent {low:g}–{high:g}, section 9.1)"
            )
        mc_eui = normalize_eui(spec.target)
        body = {
            "mcEUI": mc_eui,
            "firmwareName": spec.name,
            "redundancyPercent": redundancy,
            "payload": base64.b64encode(spec.firmware).decode("ascii"),
        }
        accept = frozenset({codes.FUOTA_ALREADY_EXISTS})
        for attempt in self._http.retrying():
            with attempt:
                if (ref := self.find(spec)) is not None:
                    return ref
                envelope = self._http.once("POST", _FUOTA_CREATE, body=body, accept=accept)
        # 16001, read both ways: a task of this name exists (a create whose answer was lost) and is followed, or
        # the group is busy with another task, which the runner waits out (retry events) within give_up_after.
        if (ref := self.find(spec)) is not None:
            return ref
        if envelope.code == codes.FUOTA_ALREADY_EXISTS:
            raise TransientError(
                f"back end {self.name!r}: multicast group {mc_eui} is busy with another task, waiting "
                f"({envelope.code} {envelope.msg}: no task named {spec.name!r} is listed on it; abort the other task "
                "on IoTSquare to go on sooner)",
                code=envelope.code,
                msg=envelope.msg,
            )
        raise TransientError(
            f"back end {self.name!r}: fuota/create accepted {spec.name!r} but fuota/list does not show it yet: "
            "look it up again with find()"
        )

    def status(self, ref: TaskRef) -> TaskStatus:
        """The task's state (section 9.3) mapped to a DeploymentState; `raw` is IoTSquare's data object; `progress`
        its times (createtime, updatetime: when the state began, nextStepTime: when it ends) and its fragments
        (nbFrag + redundancy)."""
        with self._query_errors.tolerated(ref.ids.get("fdID"), _FUOTA_STATUS):
            envelope = self._http.call("GET", _FUOTA_STATUS, params=self._ids(ref))
        with self._http.answer_shape(_FUOTA_STATUS):
            raw = dict(answers.obj(envelope.data, "data"))
            if not isinstance(raw.get("state"), str):
                # Without it the task would read as Unknown: a garbled answer must not move the deployment.
                raise TypeError(f"state = {raw.get('state')!r}, not a task state's name")
        return TaskStatus(codes.task_state(raw.get("state")), raw, _progress(raw))

    def devices(self, ref: TaskRef) -> list[DeviceReport]:
        """Every device of the task (all pages of fuota/device/list), its Stage mapped and its fields verbatim."""
        with self._query_errors.tolerated(ref.ids.get("fdID"), _FUOTA_DEVICES):
            items = self._http.pages(_FUOTA_DEVICES, self._ids(ref))
        reports = []
        with self._http.answer_shape(_FUOTA_DEVICES):
            for index, item in enumerate(answers.items(items, "data")):
                stage, reason, category = codes.device_stage(item)
                eui = answers.eui(item, "devEUI", f"data[{index}]")
                reports.append(DeviceReport(eui, stage, dict(item), reason, category=category))
        return reports

    def abort(self, ref: TaskRef) -> None:
        """Stop the task (section 9.5); devices keep what they have."""
        self._http.call("POST", _FUOTA_ABORT, body=self._ids(ref))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    @staticmethod
    def _ids(ref: TaskRef) -> dict[str, object]:
        return {"mcEUI": normalize_eui(str(ref.ids["mcEUI"])), "fdID": int(str(ref.ids["fdID"]))}
