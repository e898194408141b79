"""Hypothesis against the IoTSquare adapter's reading of answers, over real loopback sockets (tests/iotsquare_stub.py).

Whatever a server answers, every call returns a well-formed result or raises a BackendError; an answer with code 0
whose data breaks the spec (specs/iotsquare-openapi.md) raises MalformedAnswer. Never KeyError, TypeError,
AttributeError, OverflowError or anything else from deep inside the adapter.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fuota.backends.base import TargetReport, TaskRef, TaskSpec, TaskStatus
from fuota.backends.errors import BackendError, MalformedAnswer
from fuota.backends.iotsquare import codes
from fuota.backends.iotsquare.adapter import IoTSquareBackend
from fuota.backends.iotsquare.http import Envelope, _envelope
from fuota.core.model import DeploymentState
from tests.support.fuzzing import are_device_reports, is_eui, json_values
from tests.support.iotsquare_stub import IoTSquareStub, Reply, ok

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MC = "cc3e92cea33ac62a"
DEV = "8cf9573000000001"
REF = TaskRef("camp-1", {"fdID": 16, "mcEUI": MC})
SPEC = TaskSpec(name="camp-1", target=MC, firmware=b"\x23\x33", redundancy_percent=30)
OPTIONS = {"name_prefix": "camp-1", "enableMCRemote": True, "genAppKey": "504e83e6dd1a457af1bf93f99d362e89"}


# --- what each call reads, and what a well-formed result of it is ---------------------------------------------------


def _status(result: object, sent: object) -> bool:
    """raw is the data object sent, as it was."""
    data = sent.get("data") if isinstance(sent, dict) else None
    return isinstance(result, TaskStatus) and isinstance(result.state, DeploymentState) and _same(result.raw, data)


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN compares equal as text


def _devices(result: object, _sent: object = None) -> bool:
    return are_device_reports(result)


def _found(result: object, _sent: object = None) -> bool:
    return result is None or (
        isinstance(result, TaskRef) and isinstance(result.ids["fdID"], int) and result.ids["mcEUI"] == MC
    )


def _ready(result: object, _sent: object = None) -> bool:
    return isinstance(result, dict) and all(is_eui(k) and isinstance(v, bool) for k, v in result.items())


def _prepared(result: object, _sent: object = None) -> bool:
    return (
        isinstance(result, TargetReport)
        and all(is_eui(d) for d in result.members)
        and all(is_eui(d) and isinstance(why, str) for d, why in result.refused.items())
    )


def _none(result: object, _sent: object = None) -> bool:
    return result is None


Scenario = tuple[dict[str, Any], Callable[[IoTSquareBackend], object], Callable[[object, object], bool]]
# path fuzzed: (good answers of the other paths the call needs, the call, whether a result of it is well formed
# given the JSON sent)
SCENARIOS: dict[str, Scenario] = {
    "/openapi/fuota/status": ({}, lambda b: b.status(REF), _status),
    "/openapi/fuota/device/list": ({}, lambda b: b.devices(REF), _devices),
    "/openapi/fuota/list": ({}, lambda b: b.find(SPEC), _found),
    "/openapi/mcdevice/list": ({}, lambda b: b.ready(MC), _ready),
    "/openapi/mcgroup/delete": ({}, lambda b: b.cleanup(TargetReport(MC, (DEV,), temporary=True)), _none),
    "/openapi/fuota/abort": ({}, lambda b: b.abort(REF), _none),
    "/openapi/mcdevice/create": (
        {"/openapi/mcgroup/create": ok()},
        lambda b: b.prepare(None, (DEV,), OPTIONS),
        _prepared,
    ),
    "/openapi/mcgroup/list": (
        {"/openapi/mcgroup/create": {"code": 14002, "msg": "MCGroup Already Exist"}, "/openapi/mcdevice/create": ok()},
        lambda b: b.prepare(None, (DEV,), OPTIONS),
        _prepared,
    ),
    "/openapi/fuota/create": ({"/openapi/fuota/list": ok([], 0)}, lambda b: b.create(SPEC), _found),
}

# Spec-shaped answers with code 0, one per path (sections 6.2.1, 6.2.3, 7.2.1, 7.2.2, 9.2, 9.3, 9.4).
DEVICE_ROW = {"devEUI": DEV.upper(), "fdID": 16, "nbFragReceived": "380", "nbFragMissing": 0, "state": "Done"}
SHAPED: dict[str, dict[str, Any]] = {
    "/openapi/fuota/status": ok({"fdID": 16, "firmwareName": "camp-1", "nbFrag": 287, "state": "EnqueueFragment"}),
    "/openapi/fuota/device/list": ok([DEVICE_ROW | {"error_message": ""}], 1),
    "/openapi/fuota/list": ok([{"fdID": 16, "firmwareName": "camp-1", "state": "Created"}], 1),
    "/openapi/mcdevice/list": ok([{"devEUI": DEV, "joined": True}], 1),
    "/openapi/mcgroup/delete": {"code": 14007, "msg": "MCGroup Batch Delete Error", "data": [{"code": 14001}]},
    "/openapi/mcdevice/create": {
        "code": 14008,
        "msg": "MCDevice Batch Bind Error",
        "data": [{"code": 4001, "msg": "Device Not Exist", "devEUI": DEV}],
    },
    "/openapi/mcgroup/list": ok([{"mcEUI": MC, "mcName": "g_1"}], 1),
}


# --- the stub and the adapter, once for the whole file -----------------------------------------------------------


@pytest.fixture(scope="module")
def stub() -> Iterator[IoTSquareStub]:
    with IoTSquareStub() as server:
        yield server


@pytest.fixture(scope="module")
def backend(stub: IoTSquareStub) -> Iterator[IoTSquareBackend]:
    adapter = IoTSquareBackend("iot-eu", stub.url, "tok-9f8e7d6c", timeout=5, retry_attempts=1)
    yield adapter
    adapter.close()


def answered(stub: IoTSquareStub, backend: IoTSquareBackend, path: str, answer: dict[str, Any] | Reply) -> object:
    """The call that reads `path`, with `answer` there: its result, or the BackendError it raised."""
    others, call, well_formed = SCENARIOS[path]
    for other, good in others.items():
        stub.on(other, good)
    stub.on(path, answer)
    try:
        result = call(backend)
    except BackendError as exc:
        return exc
    sent = answer
    if isinstance(answer, Reply):
        try:
            sent = json.loads(answer.body)
        except ValueError:
            sent = None
    assert well_formed(result, sent), result
    return result


def _body(value: object) -> bytes:
    return json.dumps(value).encode()  # NaN and Infinity as Python writes them, which httpx reads back


# --- properties --------------------------------------------------------------------------------------------------


@FUZZ
@given(path=st.sampled_from(sorted(SCENARIOS)), body=json_values, status=st.sampled_from([200, 201, 400, 401, 404]))
@example(path="/openapi/fuota/status", body={"code": math.inf}, status=200)  # was OverflowError
@example(path="/openapi/fuota/list", body={"code": 0, "amount": -math.inf, "data": []}, status=200)  # OverflowError
def test_any_json_answer_is_read_or_a_backend_error(
    stub: IoTSquareStub, backend: IoTSquareBackend, path: str, body: object, status: int
) -> None:
    answered(stub, backend, path, Reply(_body(body), status=status))


@FUZZ
@given(
    path=st.sampled_from(sorted(SCENARIOS)),
    code=st.sampled_from(sorted(codes.RESPONSE_CODES)),
    data=st.none() | json_values,
)
@example(path="/openapi/fuota/status", code=codes.QUERY_ERROR, data=None)  # tolerated a few times, then rejected
@example(path="/openapi/fuota/create", code=codes.FUOTA_ALREADY_EXISTS, data=None)  # a busy group: waited for
@example(path="/openapi/fuota/device/list", code=1003, data=None)  # an expired token
def test_any_code_of_the_spec_is_read_or_a_backend_error(
    stub: IoTSquareStub, backend: IoTSquareBackend, path: str, code: int, data: object
) -> None:
    envelope = {"code": code, "msg": codes.RESPONSE_CODES[code]} | ({} if data is None else {"data": data})
    answered(stub, backend, path, Reply(_body(envelope)))


@FUZZ
@given(path=st.sampled_from(sorted(SCENARIOS)), body=st.binary(max_size=64))
def test_any_bytes_are_read_or_a_backend_error(
    stub: IoTSquareStub, backend: IoTSquareBackend, path: str, body: bytes
) -> None:
    answered(stub, backend, path, Reply(body))


@FUZZ
@given(path=st.sampled_from(sorted(SCENARIOS)), data=json_values)
@example(path="/openapi/fuota/status", data=[["state", "Done"]])  # a list of pairs was taken for the data object
@example(path="/openapi/fuota/device/list", data=[["devEUI"]])  # was AttributeError: list has no get
@example(path="/openapi/mcdevice/list", data=[{"devEUI": 5}])  # was AttributeError: int has no strip
def test_any_data_of_a_code_0_answer_is_read_or_malformed(
    stub: IoTSquareStub, backend: IoTSquareBackend, path: str, data: object
) -> None:
    assert_malformed_if_refused(path, answered(stub, backend, path, {"code": 0, "msg": "ok", "data": data}))


def assert_malformed_if_refused(path: str, result: object) -> None:
    """A refusal of an answer whose code is fine is MalformedAnswer, unless it is the call's own logic: a group that
    exists and is not ours (the 14002 scripted), a create that fuota/list does not show yet."""
    if isinstance(result, BackendError) and not isinstance(result, MalformedAnswer):
        assert result.code is not None or path == "/openapi/fuota/create", result


def _one_field_wrong(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    path = draw(st.sampled_from(sorted(SHAPED)))
    envelope = json.loads(json.dumps(SHAPED[path]))
    data = envelope.get("data")
    target = data[0] if isinstance(data, list) else data
    field = draw(st.sampled_from(sorted(target)))
    target[field] = draw(json_values)
    return path, envelope


@FUZZ
@given(case=st.composite(_one_field_wrong)())
@example(case=("/openapi/fuota/device/list", ok([DEVICE_ROW | {"nbFragMissing": math.inf}], 1)))  # OverflowError
@example(case=("/openapi/fuota/device/list", ok([DEVICE_ROW | {"devEUI": ["x"]}], 1)))  # was AttributeError
@example(case=("/openapi/fuota/list", ok([{"fdID": math.inf, "firmwareName": "camp-1"}], 1)))  # OverflowError
@example(case=("/openapi/mcdevice/create", SHAPED["/openapi/mcdevice/create"] | {"data": [{"code": math.inf}]}))
def test_spec_shaped_answers_with_one_field_wrong(
    stub: IoTSquareStub, backend: IoTSquareBackend, case: tuple[str, dict[str, Any]]
) -> None:
    path, envelope = case
    assert_malformed_if_refused(path, answered(stub, backend, path, envelope))


# --- the envelope alone, without a socket ----------------------------------------------------------------------


envelopes = st.dictionaries(st.sampled_from(["code", "msg", "data", "amount"]), json_values)


@settings(max_examples=500, deadline=None)
@given(content=(json_values | envelopes).map(_body) | st.binary(max_size=64))
@example(content=_body({"code": math.inf}))  # was OverflowError, which once() does not translate
@example(content=_body({"code": 0, "amount": math.nan}))  # was ValueError without the field's name
@example(content=b"[" * 100_000)  # was RecursionError
def test_the_envelope_is_read_or_refused_with_value_or_type_error(content: bytes) -> None:
    try:
        envelope = _envelope(httpx.Response(200, content=content))
    except (ValueError, TypeError):  # what once() turns into MalformedAnswer, AuthError or RejectedError
        return
    assert isinstance(envelope, Envelope)
    assert isinstance(envelope.code, int) and isinstance(envelope.msg, str)
    assert envelope.amount is None or isinstance(envelope.amount, int)
