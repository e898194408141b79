"""Hypothesis against the Milesight adapter's reading of ns-api answers, through a real mosquitto and a scripted
gateway (tests/milesight_responder.py).

Whatever a gateway answers, every call returns a well-formed result or raises a BackendError; an answer without a
failure code whose fields break the spec (specs/milesight-mqtt-api.txt) raises MalformedAnswer. Never KeyError,
TypeError, AttributeError, OverflowError or anything else from deep inside the adapter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fuota.backends.base import TargetReport, TaskRef, TaskSpec, TaskStatus
from fuota.backends.errors import BackendError, MalformedAnswer
from fuota.backends.milesight.adapter import MilesightBackend
from fuota.backends.tasks import GatewayTask
from fuota.core.model import DeploymentState
from tests.support.broker import Broker
from tests.support.fuzzing import are_device_reports, json_values
from tests.support.milesight_responder import Responder

# Fewer examples than the other fuzz files: each request crosses mosquitto twice, ~45-90 ms on loopback (Nagle's
# algorithm against delayed ACKs), and the file should stay under 30 s.
FUZZ = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
GW = "24e124fffef5a6a8"
DEV = "24e1247151234568"
REF = TaskRef("camp-1-gw", {"taskId": 184, "gatewayEUI": GW})
SPEC = TaskSpec("camp-1-gw", GW, b"\x01\x02firmware", 30, (DEV,), {"fragment_size": 48})
TASK, TASK_DELETE, TASK_RETRY = "/api/fuota/task", "/api/fuota/task/delete", "/api/fuota/task/retry"
PAYLOAD_SIZE, DEVICES, URDEVICES = "/api/fuota/task/payloadsize", "/api/fuota/devices", "/api/urdevices"
SIZES = {"maxPayloadSizeMap": [{"dr": dr, "maxPayloadSize": size} for dr, size in enumerate([51, 51, 51, 115, 222])]}
NO_TASKS = {"total": 0, "tasks": []}
FAILED_TASK = {"total": 1, "tasks": [{"id": 184, "name": "camp-1-gw", "status": 4}]}


# --- what each call reads, and what a well-formed result of it is ---------------------------------------------------


def _devices(result: object) -> bool:
    return are_device_reports(result)


def _found(result: object) -> bool:
    return result is None or (isinstance(result, TaskRef) and isinstance(result.ids["taskId"], int))


def _status(result: object) -> bool:
    return isinstance(result, TaskStatus) and isinstance(result.state, DeploymentState) and isinstance(result.raw, dict)


Call = Callable[[MilesightBackend], object]
# (method, path) fuzzed: (good answers of the other requests the call makes, the call, what a well-formed result is)
SCENARIOS: dict[tuple[str, str], tuple[dict[tuple[str, str], Any], Call, Callable[[object], bool]]] = {
    ("GET", URDEVICES): (
        {},
        lambda b: (b.locate([GW], [DEV]), b.prepare(GW, (DEV,), {}), b.channel_plan(GW)),
        lambda r: r[0].get(DEV) in (None, GW) and isinstance(r[1], TargetReport) and isinstance(r[2], str | None),
    ),
    ("GET", PAYLOAD_SIZE): (
        {("GET", URDEVICES): {"devTotalCount": 0, "deviceResult": [], "channelPlan": "EU868"}},
        lambda b: b.task_options(GW, {"fragment_size": 48}),
        lambda r: isinstance(r, dict),
    ),
    ("GET", TASK): (
        {},
        lambda b: (b.find(SPEC), b.status(REF), b.gateway_tasks(GW)),
        lambda r: _found(r[0]) and _status(r[1]) and all(isinstance(t, GatewayTask) for t in r[2]),
    ),
    ("GET", DEVICES): ({}, lambda b: b.devices(REF), _devices),
    ("POST", TASK): ({("GET", TASK): NO_TASKS, ("GET", PAYLOAD_SIZE): SIZES}, lambda b: b.create(SPEC), _found),
    ("POST", TASK_DELETE): (
        {},
        lambda b: (b.abort(REF), b.delete(REF)),
        lambda r: r[0] is None and r[1] in (True, False),
    ),
    ("POST", TASK_RETRY): ({("GET", TASK): FAILED_TASK}, lambda b: b.retry(REF), lambda r: r is None),
}

# Spec-shaped answers, one per request (sections 3.3, 6.1, 6.2, 6.6, 6.7).
SHAPED: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", URDEVICES): {
        "devTotalCount": 1,
        "deviceResult": [{"devEUI": DEV.upper(), "name": "sensor"}],
        "channelPlan": "CN470",
    },
    ("GET", PAYLOAD_SIZE): {"maxPayloadSizeMap": [{"dr": 0, "maxPayloadSize": 51}]},
    ("GET", TASK): {"total": 1, "tasks": [{"id": 184, "name": "camp-1-gw", "status": 2, "doneDevices": 0}]},
    ("GET", DEVICES): {
        "total": 1,
        "devices": [
            {"devEui": DEV.upper(), "status": 2, "multicastSessionStatus": 3, "fragmentSessionStatus": 3}
            | {"firmwareVersion": "v1.4", "taskId": 184}
        ],
    },
    ("POST", TASK): {"id": 184},
}


# --- one broker, one gateway and one adapter for the whole file ----------------------------------------------------


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    server = Broker(tmp_path_factory.mktemp("broker")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(broker: Broker) -> Iterator[Responder]:
    with Responder(broker, GW) as responder:
        yield responder


@pytest.fixture(scope="module")
def backend(broker: Broker) -> Iterator[MilesightBackend]:
    adapter = MilesightBackend("ms-eu", broker.url, timeout=5.0, retry_attempts=1)
    yield adapter
    adapter.close()


def answered(gateway: Responder, backend: MilesightBackend, request: tuple[str, str], body: object) -> object:
    """The call making `request`, the gateway answering it `body`: its result, or the BackendError it raised."""
    others, call, well_formed = SCENARIOS[request]
    gateway.handlers.clear()
    for (method, path), good in {("GET", PAYLOAD_SIZE): SIZES, **others}.items():
        gateway.on(method, path, lambda _r, good=good: good)
    gateway.on(*request, lambda _r: body)
    try:
        result = call(backend)
    except BackendError as exc:
        return exc
    assert well_formed(result), result
    return result


def assert_malformed_if_refused(result: object) -> None:
    """A refusal of an answer without a failure code is MalformedAnswer, unless it is the call's own logic: a
    task not on the gateway (NotFoundError), a data rate the gateway does not offer or whose payload is too small
    for the fragments (RejectedError)."""
    if isinstance(result, BackendError) and not isinstance(result, MalformedAnswer):
        assert any(logic in str(result) for logic in ("is not on gateway", "is not offered", "does not fit")), result


# --- properties --------------------------------------------------------------------------------------------------


@FUZZ
@given(request=st.sampled_from(sorted(SCENARIOS)), body=json_values.filter(lambda v: v is not None))
@example(request=("GET", DEVICES), body={"devices": [["devEui"]]})  # was AttributeError: list has no get
@example(request=("GET", TASK), body={"tasks": [["id"]]})  # was AttributeError in find
@example(request=("POST", TASK), body={"code": 10310013, "error": "full"})  # the gateway's task cap
def test_any_answer_is_read_or_a_backend_error(
    gateway: Responder, backend: MilesightBackend, request: tuple[str, str], body: object
) -> None:
    result = answered(gateway, backend, request, body)
    if not (isinstance(body, dict) and body.get("code") not in (None, "", 200, "200")):
        assert_malformed_if_refused(result)


def _one_field_wrong(draw: st.DrawFn) -> tuple[tuple[str, str], dict[str, Any]]:
    request = draw(st.sampled_from(sorted(SHAPED)))
    body = json.loads(json.dumps(SHAPED[request]))
    lists = [value for value in body.values() if isinstance(value, list)]
    target = lists[0][0] if lists and draw(st.booleans()) else body
    target[draw(st.sampled_from(sorted(target)))] = draw(json_values)
    return request, body


@FUZZ
@given(case=st.composite(_one_field_wrong)())
@example(case=(("GET", PAYLOAD_SIZE), {"maxPayloadSizeMap": [{"dr": math.inf, "maxPayloadSize": 51}]}))  # Overflow
@example(case=(("GET", TASK), {"total": 1, "tasks": [{"id": -math.inf, "name": "camp-1-gw"}]}))  # OverflowError
@example(case=(("GET", DEVICES), {"total": 1, "devices": [{"devEui": 1234}]}))  # was taken as device "1234"
@example(case=(("GET", DEVICES), {"total": 1, "devices": [{"devEui": DEV, "status": 3, "firmwareVersion": ""}]}))
def test_spec_shaped_answers_with_one_field_wrong(
    gateway: Responder, backend: MilesightBackend, case: tuple[tuple[str, str], dict[str, Any]]
) -> None:
    request, body = case
    assert_malformed_if_refused(answered(gateway, backend, request, body))
