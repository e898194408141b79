"""The Milesight adapter: the Backend protocol over the gateways' ns-api (specs/milesight-mqtt-api.txt).

One MQTT broker connection (fuota.backends.milesight.mqtt) serves every gateway; a deployment's target is a gateway
EUI, since a gateway's embedded network server only knows its own devices (DESIGN.md §2).

    locate, prepare  /api/urdevices of each gateway (3.3)   radio         its channelPlan (3.3): RX2 defaults
                                                            task_options  (appendix, radio.py), payload size (6.6)
    find, status     /api/fuota/task?search (6.2)           create        POST /api/fuota/task (6.1), looked up
    devices          /api/fuota/devices?taskId (6.7)                      first; or re-run a task retry reuses (6.5)
    abort, delete    /api/fuota/task/delete (6.4): no abort retry         /api/fuota/task/retry (6.5)
    gateway_tasks    /api/fuota/task, all pages (6.2)       delete_tasks  /api/fuota/task/delete (6.4)
    ready, cleanup   nothing: the task sets multicast up

As a fuota.backends.tasks.TaskKeeper it lets fuota delete a deployment's finished task once its results are stored
(unless `keep_tasks`), and list and clean up a gateway's tasks; fuota.backends.milesight.housekeeping holds the rules.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fuota.backends import answers, facts
from fuota.backends.base import DeviceReport, TargetReport, TaskRef, TaskSpec, TaskStatus
from fuota.backends.errors import NotFoundError, RejectedError
from fuota.backends.milesight import codes, housekeeping
from fuota.backends.milesight.mqtt import NsApiClient
from fuota.backends.milesight.radio import Radio, resolve, stored
from fuota.backends.tasks import GatewayTask
from fuota.core.model import normalize_eui
from fuota.core.reports import TaskProgress

__all__ = ["FRAGMENT_HEADER", "MilesightBackend", "check_task_options"]

FRAGMENT_HEADER = 3  # a DataFragment's CID and 2-byte index go in the same payload as the fragment

_URDEVICES = "/api/urdevices"
_TASK, _TASK_RETRY = housekeeping.TASK, housekeeping.TASK_RETRY
_PAYLOAD_SIZE = "/api/fuota/task/payloadsize"
_DEVICES = "/api/fuota/devices"


def _limit(field: str, value: int, low: int, high: int, unit: str = "") -> None:
    if not low <= value <= high:  # the ranges of section 6.1 (codes.TASK_LIMITS), or of a region's frequencies
        raise RejectedError(f"{field} = {value}{unit} is out of range: {low}–{high}{unit} (Milesight section 6.1)")


def check_task_options(
    *,
    fragment_size: int,
    fragment_interval: int,
    fragment_redundancy: int | None = None,
    name: str | None = None,
    max_payload: int | None = None,
    payload_of: str = "the data rate's",
) -> None:
    """Raise RejectedError naming the first field outside section 6.1's limits (or the data rate's payload size,
    `max_payload`, whose owner `payload_of` names, e.g. "gateway 24E1…'s DR0 (CN470)")."""
    shortest, longest = codes.TASK_LIMITS["name"]
    if name is not None and not shortest <= len(name) <= longest:
        shown = name if len(name) <= 40 else f"{name[:40]}…"
        raise RejectedError(
            f"task name {shown!r} has {len(name)} characters: {shortest}–{longest} allowed (section 6.1)"
        )
    _limit("fragment_size", fragment_size, *codes.TASK_LIMITS["fragmentSize"], " bytes")
    _limit("fragment_interval", fragment_interval, *codes.TASK_LIMITS["fragmentInterval"], " ms")
    if fragment_redundancy is not None:
        _limit("fragment_redundancy", fragment_redundancy, *codes.TASK_LIMITS["fragmentRedundancy"], " %")
    if max_payload is not None and fragment_size > max_payload - FRAGMENT_HEADER:
        raise RejectedError(
            f"fragment_size = {fragment_size} bytes does not fit {payload_of} payload of {max_payload} bytes "
            f"less {FRAGMENT_HEADER} bytes of fragment header: choose at most {max_payload - FRAGMENT_HEADER}, or "
            "a faster data rate (dr)"
        )


@dataclass(frozen=True, slots=True)
class _Settings:
    """The task's radio and fragmentation settings, from a deployment's options (MilesightTarget's fields of
    kind.py: gateway_radio or region, dr, frequency; fragment_size, fragment_interval; also started_at, description,
    firmware_name)."""

    radio: Radio
    fragment_size: int
    fragment_interval: int


def _option(options: dict[str, object], key: str, default: object = None) -> object:
    value = options.get(key)
    return default if value is None else value


def _int(options: dict[str, object], key: str, default: int) -> int:
    value = _option(options, key, default)
    try:
        return int(str(value))
    except ValueError:
        raise RejectedError(f"{key} = {value!r} is not a whole number") from None


def _settings(radio: Radio, options: dict[str, object]) -> _Settings:
    return _Settings(
        radio,
        _int(options, "fragment_size", codes.DEFAULT_FRAGMENT_SIZE),
        _int(options, "fragment_interval", codes.DEFAULT_FRAGMENT_INTERVAL),
    )


def _started_at(options: dict[str, object]) -> str:
    """startedAt as the spec's samples write it (RFC 3339, UTC, milliseconds): from options, else now."""
    value = options.get("started_at")
    if value is None:
        when = datetime.now(UTC)
    else:
        try:
            when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            raise RejectedError(f"started_at = {value!r} is not an RFC 3339 time") from None
        if when.tzinfo is None:
            raise RejectedError(f"started_at = {value!r} has no time zone: write e.g. 2026-11-24T02:00:00Z")
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _progress(entry: dict[str, Any]) -> TaskProgress:
    """The progress facts of a task's entry (section 6.2), each None where absent or impossible."""
    fragment_info = entry.get("fragmentInfo")
    interval = fragment_info.get("fragmentInterval") if isinstance(fragment_info, dict) else None
    return TaskProgress(
        task_started_at=facts.timestamp(entry.get("startedAt")),
        phase_started_at=facts.timestamp(entry.get("updatedAt")),
        fragment_interval_s=facts.interval_ms(interval),
        devices_done=facts.count(entry.get("doneDevices")),
        devices_total=facts.count(entry.get("totalDevices")),
    )


def _firmware_version(item: dict[str, Any]) -> str | None:
    """The device's `firmwareVersion` (6.7), None when absent or empty (the spec's sample sends "")."""
    value = item.get("firmwareVersion")
    return str(value) if value not in (None, "") else None


class MilesightBackend:
    """Milesight gateways behind one MQTT broker, as a fuota Backend; a target is a gateway EUI.

    The broker parameters are those of NsApiClient (tls_ca, tls_cert, tls_key: PEM files). Every request times out
    after `timeout` seconds; transient failures are retried up to `retry_attempts` times within `retry_timeout`
    seconds, waiting from `retry_wait_initial` up to `retry_wait_max` seconds (doubling, jittered). `keep_tasks`
    keeps a deployment's finished task on its gateway instead of deleting it once its results are stored.
    """

    def __init__(
        self,
        name: str,
        broker_url: str,
        request_topic: str = "milesight/ns-api/request",
        response_topic: str = "milesight/ns-api/response",
        client_id: str = "fuota",
        username: str | None = None,
        password: str | None = None,
        tls_ca: str | Path | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        tls_insecure: bool = False,
        timeout: float = 10.0,
        qos: int = 1,
        retry_attempts: int = 5,
        retry_timeout: float = 60.0,
        retry_wait_initial: float = 0.5,
        retry_wait_max: float = 10.0,
        keep_tasks: bool = False,
    ) -> None:
        self.name = name
        self.keep_tasks = keep_tasks
        self._api = NsApiClient(
            broker_url,
            request_topic,
            response_topic,
            name=name,
            client_id=client_id,
            username=username,
            password=password,
            ca_file=None if tls_ca is None else str(tls_ca),
            cert_file=None if tls_cert is None else str(tls_cert),
            key_file=None if tls_key is None else str(tls_key),
            insecure=tls_insecure,
            timeout=timeout,
            qos=qos,
            retry_attempts=retry_attempts,
            retry_timeout=retry_timeout,
            retry_wait_initial=retry_wait_initial,
            retry_wait_max=retry_wait_max,
        )

    def __repr__(self) -> str:
        return f"MilesightBackend(name={self.name!r}, {self._api!r})"

    # --- targets: gateways and the devices they know ----------------------------------------------------------

    def locate(self, gateways: list[str], devices: list[str]) -> dict[str, str | None]:
        """{DevEUI: the first of `gateways` whose network server knows it, or None}; asks until all are placed."""
        found: dict[str, str | None] = dict.fromkeys((normalize_eui(device) for device in devices), None)
        for gateway in gateways:
            if all(found.values()):
                break
            known = self._known(normalize_eui(gateway))
            for device, placed in found.items():
                if placed is None and device in known:
                    found[device] = normalize_eui(gateway)
        return found

    def prepare(self, target: str | None, devices: tuple[str, ...], options: dict[str, object]) -> TargetReport:
        """The gateway `target`'s report: the devices it knows are members, the others refused with the reason."""
        if not target:
            raise ValueError(f"back end {self.name!r}: a Milesight deployment's target is a gateway EUI")
        gateway = normalize_eui(target)
        known = self._known(gateway)
        wanted = list(dict.fromkeys(normalize_eui(device) for device in devices))
        refused = {
            device: f"not known to gateway {gateway.upper()}: add it to the gateway's network server first"
            for device in wanted
            if device not in known
        }
        return TargetReport(gateway, tuple(d for d in wanted if d not in refused), refused, temporary=False)

    def ready(self, target: str) -> dict[str, bool]:
        """Nothing to wait for: the task itself sets the multicast session up. The empty answer lets the engine go
        on at once (all of nothing is ready) without calling a device multicast-ready before the gateway has set it
        up; each device's progress then comes from its session codes."""
        return {}

    def cleanup(self, target: TargetReport) -> None:
        """Nothing to remove: Milesight deployments use the gateway as it is."""

    def _known(self, gateway: str) -> set[str]:
        items = self._api.pages(gateway, _URDEVICES, {}, "deviceResult", "devTotalCount")
        with self._api.answer_shape(gateway, _URDEVICES):
            return {normalize_eui(str(item["devEUI"])) for item in items}

    def channel_plan(self, gateway: str) -> str | None:
        """The `channelPlan` gateway reports with its device list (3.3), verbatim; None when absent or empty. One
        device asked for: the plan is a field of the answer, not of a device."""
        gateway = normalize_eui(gateway)
        body = self._api.call("GET", f"{_URDEVICES}?{urlencode({'limit': 1, 'offset': 0})}", gateway)
        value = body.get("channelPlan")
        return None if value is None or str(value).strip() == "" else str(value)

    # --- task settings ------------------------------------------------------------------------------------------

    def payload_size(self, gateway: str, dr: int, plan: str | None = None) -> int:
        """The largest payload the gateway sends at data rate `dr` (section 6.6); `plan` (its channel plan) labels
        the refusal of a data rate it does not offer."""
        gateway = normalize_eui(gateway)
        body = self._api.call("GET", _PAYLOAD_SIZE, gateway)
        with self._api.answer_shape(gateway, _PAYLOAD_SIZE):
            sizes: dict[int, int] = {}
            for i, entry in enumerate(answers.items(body["maxPayloadSizeMap"], "maxPayloadSizeMap")):
                size = answers.whole(entry["maxPayloadSize"], f"maxPayloadSizeMap[{i}].maxPayloadSize")
                sizes[answers.whole(entry["dr"], f"maxPayloadSizeMap[{i}].dr")] = size
        if dr not in sizes:
            offered = ", ".join(map(str, sorted(sizes)))
            on = f" (channel plan {plan})" if plan else ""
            raise RejectedError(
                f"dr = {dr} is not offered by gateway {gateway.upper()}: it offers {offered}{on}; set [milesight] dr "
                "to one of them, or drop it to use the plan's RX2 data rate"
            )
        return sizes[dr]

    def radio(self, gateway: str, options: dict[str, object]) -> Radio:
        """`gateway`'s task settings (radio.py): its channelPlan asked, the campaign's region, dr and frequency
        checked against it, defaults from its RX2 row; then section 6.1's limits and the data rate's payload size.
        RejectedError names the gateway, its plan and the value that does not fit."""
        gateway = normalize_eui(gateway)
        limits = {
            "fragment_size": _int(options, "fragment_size", codes.DEFAULT_FRAGMENT_SIZE),
            "fragment_interval": _int(options, "fragment_interval", codes.DEFAULT_FRAGMENT_INTERVAL),
        }
        resolve(gateway, None, options.get("region"), options.get("dr"), None)  # the campaign's own spelling first
        check_task_options(**limits)
        found = resolve(
            gateway, self.channel_plan(gateway), options.get("region"), options.get("dr"), options.get("frequency")
        )
        self._fits(_settings(found, options))
        return found

    def task_options(self, gateway: str, options: dict[str, object]) -> dict[str, object]:
        """`options` with region, dr and frequency filled in for `gateway` (radio()): its channel plan's RX2
        defaults where not set, checked against its plan, section 6.1's limits and its payload size."""
        found = self.radio(gateway, options)
        return {**options, "region": found.region, "dr": found.dr, "frequency": found.frequency}

    def _fits(self, settings: _Settings) -> None:
        """RejectedError when the fragment (and its header) does not fit the gateway's payload at the data rate."""
        found = settings.radio
        plan = found.region if found.from_gateway else f"{found.region}, assumed"
        check_task_options(
            fragment_size=settings.fragment_size,
            fragment_interval=settings.fragment_interval,
            max_payload=self.payload_size(found.gateway, found.dr, plan),
            payload_of=f"gateway {found.gateway.upper()}'s DR{found.dr} ({plan})",
        )

    def _checked(self, gateway: str, options: dict[str, object], **more: Any) -> _Settings:
        """The settings planning kept for `gateway` (radio.stored), checked first without asking anything, then
        against the data rate's payload size."""
        settings = _settings(stored(gateway, options), options)
        check_task_options(fragment_size=settings.fragment_size, fragment_interval=settings.fragment_interval, **more)
        self._fits(settings)
        return settings

    # --- tasks ----------------------------------------------------------------------------------------------------

    def find(self, spec: TaskSpec) -> TaskRef | None:
        """The task on gateway spec.target named spec.name (all pages of the task list), if any."""
        gateway = normalize_eui(spec.target)
        tasks = self._api.pages(gateway, _TASK, {"search": spec.name}, "tasks", "total")
        with self._api.answer_shape(gateway, _TASK):
            rows = enumerate(answers.items(tasks, "tasks"))
            ids = [answers.whole(task["id"], f"tasks[{i}].id") for i, task in rows if task.get("name") == spec.name]
        # Names are unique per deployment; should the gateway still list two, the newest is the live one.
        return TaskRef(spec.name, {"taskId": max(ids), "gatewayEUI": gateway}) if ids else None

    def create(self, spec: TaskSpec) -> TaskRef:
        """Create the task (section 6.1) unless one of that name exists; the name must be unique per deployment.

        Every attempt, the first included, looks the task up by name before sending the create, and the create
        itself is never re-sent by the transport: an attempt whose answer was lost may have succeeded. Where the
        options name a failed task of this gateway to reuse (`fuota retry`) and it still holds exactly these
        devices, that task is run again (section 6.5) and followed instead. On 10310013 (the gateway holds as many
        tasks as it can) the RejectedError says how many it holds and how to remove the finished ones.
        """
        gateway = normalize_eui(spec.target)
        redundancy = round(spec.redundancy_percent)
        settings = self._checked(gateway, spec.options, name=spec.name, fragment_redundancy=redundancy)
        if (reused := housekeeping.rerun(self._api, gateway, spec)) is not None:
            return reused
        task = {
            "name": spec.name,
            "startedAt": _started_at(spec.options),
            "description": str(_option(spec.options, "description", housekeeping.description(spec.name))),
            "deveui": [normalize_eui(device) for device in spec.devices],
            "firmwareInfo": {
                "firmwareName": housekeeping.firmware_name(spec.options.get("firmware_name"), spec.name),
                "fileContent": base64.b64encode(spec.firmware).decode("ascii"),
            },
            "isOfficialFirmware": False,
            "fragmentInfo": {
                "fragmentSize": settings.fragment_size,
                "fragmentInterval": settings.fragment_interval,
                "fragmentRedundancy": redundancy,
            },
            "tmpMcInfo": {"groupType": 0, "dr": settings.radio.dr, "frequency": settings.radio.frequency},
        }
        accept = frozenset({codes.ALREADY_EXISTS})
        for attempt in self._api.retrying():
            with attempt:
                if (ref := self.find(spec)) is not None:
                    return ref
                try:
                    body = self._api.once("POST", _TASK, gateway, {"fuotaTask": task}, idempotent=False, accept=accept)
                except RejectedError as exc:
                    if exc.code != codes.TOO_MANY_TASKS:
                        raise
                    tasks = housekeeping.listed(self._api, gateway)
                    raise RejectedError(
                        housekeeping.too_many(self.name, gateway, tasks), code=exc.code, msg=exc.msg
                    ) from exc
        if body.get("code") is not None and int(str(body["code"])) == codes.ALREADY_EXISTS:
            if (ref := self.find(spec)) is not None:
                return ref
            raise RejectedError(
                f"back end {self.name!r}: gateway {gateway.upper()} answers 6 Already exists for task {spec.name!r} "
                "but lists no task of that name: check the tasks on the gateway's web interface",
                code=codes.ALREADY_EXISTS,
                msg=codes.RETURN_CODES[codes.ALREADY_EXISTS],
            )
        with self._api.answer_shape(gateway, _TASK):
            return TaskRef(spec.name, {"taskId": int(str(body["id"])), "gatewayEUI": gateway})

    def status(self, ref: TaskRef) -> TaskStatus:
        """The task's state from its entry in the task list (section 6.2); `raw` is that entry verbatim; `progress`
        its times (startedAt; updatedAt: its latest change of status), fragmentInterval and devices done of total."""
        gateway, task_id = self._ids(ref)
        entry = housekeeping.entry(self._api, gateway, task_id, str(ref.ids.get("taskName") or ref.name))
        if entry is None:
            raise NotFoundError(
                f"back end {self.name!r}: task {task_id} ({ref.name}) is not on gateway {gateway.upper()}: it was "
                "deleted there"
            )
        return TaskStatus(codes.task_state(entry.get("status")), dict(entry), _progress(entry))

    def devices(self, ref: TaskRef) -> list[DeviceReport]:
        """Every device of the task (all pages, section 6.7): Stage and reason from its codes, the firmware version it
        reports (`firmwareVersion`, when not empty), its fields verbatim."""
        gateway, task_id = self._ids(ref)
        items = self._api.pages(gateway, _DEVICES, {"taskId": task_id}, "devices", "total")
        reports = []
        with self._api.answer_shape(gateway, _DEVICES):
            for index, item in enumerate(answers.items(items, "devices")):
                stage, reason, category = codes.device_stage(item)
                dev_eui = answers.eui(item, "devEui", f"devices[{index}]")
                reports.append(DeviceReport(dev_eui, stage, dict(item), reason, _firmware_version(item), category))
        return reports

    def abort(self, ref: TaskRef) -> None:
        """Delete the task (section 6.4; there is no abort): take the last device report first, it goes with it.
        A task already gone counts as deleted."""
        gateway, task_id = self._ids(ref)
        housekeeping.delete(self._api, gateway, [task_id])

    def delete(self, ref: TaskRef) -> bool:
        """Delete the deployment's task (section 6.4); False when the gateway no longer had it."""
        gateway, task_id = self._ids(ref)
        return housekeeping.delete(self._api, gateway, [task_id])

    def gateway_tasks(self, gateway: str) -> list[GatewayTask]:
        """Every task `gateway` holds (all pages of section 6.2), as the gateway lists them (newest first)."""
        return housekeeping.listed(self._api, normalize_eui(gateway))

    def delete_tasks(self, gateway: str, ids: list[int]) -> None:
        """Delete the tasks `ids` of `gateway` (section 6.4) in one request; those already gone are fine."""
        if ids:
            housekeeping.delete(self._api, normalize_eui(gateway), list(ids))

    def retry(self, ref: TaskRef) -> None:
        """Run a failed task again (section 6.5). Only a task in status 4 (upgrade failed) is retried: a running or
        successful one is left alone, which also makes an attempt repeated after a lost answer harmless."""
        gateway, task_id = self._ids(ref)
        for attempt in self._api.retrying():
            with attempt:
                if str(self.status(ref).raw.get("status")) == "4":  # "upgrade failed" (6.2)
                    self._api.once("POST", _TASK_RETRY, gateway, {"ids": [task_id]}, idempotent=False)

    def close(self) -> None:
        """Disconnect from the broker."""
        self._api.close()

    @staticmethod
    def _ids(ref: TaskRef) -> tuple[str, int]:
        return normalize_eui(str(ref.ids["gatewayEUI"])), int(str(ref.ids["taskId"]))
