"""Issue 15 item 8 (a): the specs' own sample answers read through the adapters, and the fixtures kept equal to the
specs.

Each adapter is driven as fuota drives it, the answers being the samples of tests/conformance/samples verbatim:
IoTSquare's through an httpx MockTransport under its real HTTP edge (envelope, pagination, typed errors),
Milesight's through NsApiClient's own `call`/`once`/`pages` with only the MQTT round trip replaced. Every sample
answer of an endpoint fuota uses is served at least once (checked at the end), and what it reads is pinned.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from fuota.backends.errors import MalformedAnswer
from fuota.backends.iotsquare.adapter import IoTSquareBackend
from fuota.backends.milesight import codes
from fuota.backends.milesight.adapter import MilesightBackend
from fuota.backends.milesight.mqtt import NsApiClient
from fuota.backends.retry import RetryPolicy
from fuota.core.model import DeploymentState, Stage
from fuota.core.reasons import Category
from fuota.core.reports import TargetReport, TaskRef, TaskSpec
from tests.conformance import extract
from tests.conformance.shapes import Sample, matching, samples

GATEWAY = "24e124fffef5a6a8"  # chapter 1's sample gateway


def test_the_fixtures_are_what_the_specs_hold() -> None:
    written = extract.extract()
    for name, text in written.items():
        committed = (extract.FIXTURES / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} differs from the specs: run make samples and commit it"


def test_every_endpoint_the_adapters_send_has_its_samples() -> None:
    for vendor, endpoints in extract.ENDPOINTS.items():
        assert extract.adapter_paths(vendor) <= {path for _, path in endpoints}
        for method, path in endpoints:
            assert matching(vendor, method, path, "response"), f"{vendor} {method} {path}: no sample answer"


def _answer(vendor: str, method: str, path: str, label: str = "") -> Sample:
    found = [s for s in matching(vendor, method, path, "response") if label in s.label]
    assert found, f"{vendor} {method} {path} {label!r}: no such sample"
    return found[0]


# --- IoTSquare -------------------------------------------------------------------------------------------------


class _IoTSquareSamples:
    """An httpx transport answering each /openapi/ request with a sample (a list's later pages: no item)."""

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}  # path → label of the answer to serve, where there are several
        self.excerpts: set[str] = set()  # paths whose sample lists fewer items than its amount: amount mended
        self.served: set[tuple[str | None, str | None, str]] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, query = request.url.path, dict(parse_qsl(request.url.query.decode()))
        sample = _answer("iotsquare", request.method, path, self.labels.get(path, ""))
        self.served.add((sample.method, sample.path, sample.label))
        body = dict(sample.json)
        if path in self.excerpts:
            body["amount"] = len(body["data"])
        if int(query.get("pageNo", 1)) > 1:
            body["data"] = []
        return httpx.Response(200, json=body)


@pytest.fixture
def iotsquare() -> Iterator[tuple[IoTSquareBackend, _IoTSquareSamples]]:
    backend = IoTSquareBackend("samples", "https://cloud.iotsquare.xyz", "token", retry_attempts=1)
    transport = _IoTSquareSamples()
    mock = httpx.MockTransport(transport)
    backend._http._client = httpx.Client(base_url="https://cloud.iotsquare.xyz", transport=mock)
    yield backend, transport
    backend.close()


def test_iotsquare_samples_read_through_the_adapter(iotsquare: tuple[IoTSquareBackend, _IoTSquareSamples]) -> None:
    backend, transport = iotsquare
    # 3.2.5: a device the server describes is registered.
    assert backend.registered(("90B96DADCE96A06A",)) == {"90b96dadce96a06a": True}
    # 6.2.1: the group list, read for an authenticated check and to recognise our own group.
    backend.reachable()
    assert backend._is_ours("778327e60a028072", "mc_nodes_00")
    assert not backend._is_ours("778327e60a028072", "mc_nodes_01")
    # 7.2.1: the sample is an excerpt (amount 50, three items): as a whole answer it is a truncated list, refused;
    # with the amount it shows, the members of an existing group, each joined.
    with pytest.raises(MalformedAnswer, match="announces 50"):
        backend.ready("778327e60a028072")
    transport.excerpts.add("/openapi/mcdevice/list")
    assert backend.ready("778327e60a028072") == dict.fromkeys(
        ("476a2da3004b0039", "472b253300190039", "47ab2da30027002e"), True
    )
    # 6.2.2 and 7.2.2: a temporary group; the partial bind's refusals are the devices' reasons, 14010 is no refusal.
    transport.labels["/openapi/mcdevice/create"] = "Binding error"
    devices = ("b0cf5e634ec6d815", "55e1032590dc5682", "472b253300190039", "476a2da3004b0039")
    report = backend.prepare(None, devices, {"name_prefix": "conformance"})
    assert set(report.refused) == {"55e1032590dc5682", "476a2da3004b0039"}
    assert "472b253300190039" in report.members
    transport.labels["/openapi/mcdevice/create"] = "Binding success"
    assert backend.prepare(None, devices, {"name_prefix": "conformance"}).refused == {}
    # 6.2.3: deleting a group already gone (14007 listing only 14001) is done; so is a plain success.
    transport.labels["/openapi/mcgroup/delete"] = "Delete error"
    backend.cleanup(TargetReport("32590dc55e105682", (), temporary=True))
    transport.labels["/openapi/mcgroup/delete"] = "Successfully"
    backend.cleanup(TargetReport("32590dc55e105682", (), temporary=True))
    # 9.2 (and 9.1's answer, never reached: the task is found first): find by firmwareName.
    spec = TaskSpec("test_1", "cc3e92cea33ac62a", b"\x23\x33", 30.0)
    assert backend.find(spec) == TaskRef("test_1", {"fdID": 14, "mcEUI": "cc3e92cea33ac62a"})
    assert backend.create(TaskSpec("test_2", "cc3e92cea33ac62a", b"#3", 30.0)).ids["fdID"] == 16
    envelope = backend._http.once("POST", "/openapi/fuota/create", body={})
    assert (envelope.code, envelope.msg) == (0, "ok")
    ref = TaskRef("test_1", {"fdID": 16, "mcEUI": "cc3e92cea33ac62a"})
    # 9.3: the state and the progress facts; nbFrag 287 + redundancy 86 fragments.
    status = backend.status(ref)
    assert status.state is DeploymentState.ENQUEUE_FRAGMENT
    assert status.progress.fragments_total == 287 + 86
    assert status.progress.task_started_at == datetime.fromtimestamp(1608886853.707, UTC)
    assert status.progress.phase_ends_at == datetime.fromtimestamp(1608889984.433, UTC)
    # 9.4: nbFragReceived sent as a number and error_message as "" (typed string and int) both read.
    (device,) = backend.devices(ref)
    assert (device.dev_eui, device.stage, device.reason) == ("8cf9573000000067", Stage.MULTICAST_SETUP, None)
    # 9.5
    backend.abort(ref)
    wanted = {(s.method, s.path, s.label) for s in samples("iotsquare") if s.direction == "response"}
    assert transport.served == wanted


# --- Milesight -------------------------------------------------------------------------------------------------


class _SampleGateway(NsApiClient):
    """NsApiClient with the MQTT round trip replaced by the spec's sample answers (a list's later pages: none)."""

    def __init__(self) -> None:  # no broker: nothing of the connection is set up
        self.name, self.timeout = "samples", 1.0
        self._retry = RetryPolicy(1, 1.0, 0.01, 0.01)
        self.sent: list[tuple[str, str, object]] = []
        self.served: set[tuple[str | None, str | None]] = set()

    def request(
        self, method: str, url: str, gateway_eui: str, body: object = None, *, idempotent: bool = True
    ) -> dict[str, Any]:
        parts = urlsplit(url)
        sample = _answer("milesight", method, parts.path)
        self.sent.append((method, url, body))
        self.served.add((sample.method, sample.path))
        answer = dict(sample.json)
        if int(dict(parse_qsl(parts.query)).get("offset", 0)) > 0:
            answer["body"] = {key: [] if isinstance(value, list) else value for key, value in answer["body"].items()}
        return answer

    def close(self) -> None:
        pass


@pytest.fixture
def milesight() -> tuple[MilesightBackend, _SampleGateway]:
    backend = MilesightBackend.__new__(MilesightBackend)
    backend.name = "samples"
    backend._api = gateway = _SampleGateway()
    return backend, gateway


def test_milesight_samples_read_through_the_adapter(milesight: tuple[MilesightBackend, _SampleGateway]) -> None:
    backend, gateway = milesight
    # 3.3: the gateway knows its device, whatever case, and the count written as a string "1".
    assert backend.locate([GATEWAY], ["24E124136A456465", "0000000000000001"]) == {
        "24e124136a456465": GATEWAY,
        "0000000000000001": None,
    }
    # 6.6: the payload size per data rate, once the sample's list is mended (see the fixture's repairs).
    assert [backend.payload_size(GATEWAY, dr) for dr in range(6)] == [46, 46, 46, 110, 237, 237]
    # 6.2: the task found by name; its status 0 (pending), its times (+01:00) and its counts.
    spec = TaskSpec("test", GATEWAY, b"\x01" * 100, 30.0, ("24e1247151234568",), {"fragment_size": 40})
    ref = backend.find(spec)
    assert ref == TaskRef("test", {"taskId": 184, "gatewayEUI": GATEWAY})
    status = backend.status(ref)
    assert status.state is DeploymentState.CREATED
    assert status.progress.task_started_at == datetime(2025, 4, 15, 0, 13, tzinfo=UTC)
    assert (status.progress.devices_done, status.progress.devices_total) == (0, 2)
    assert status.progress.fragment_interval_s == 5.0
    # 6.1: a task of another name is created; the answer's body {"id": 1} is its id.
    created = backend.create(TaskSpec("Test", GATEWAY, b"\x01" * 100, 30.0, ("24e1247151234568",), spec.options))
    assert created.ids == {"taskId": 1, "gatewayEUI": GATEWAY}
    method, _, body = gateway.sent[-1]
    assert method == "POST"
    assert isinstance(body, dict)
    assert base64.b64decode(body["fuotaTask"]["firmwareInfo"]["fileContent"]) == b"\x01" * 100
    # 6.7: both devices, codes 0/0/0: pending (multicast not started yet); firmwareVersion "" reads as not reported.
    devices = backend.devices(ref)
    assert [d.dev_eui for d in devices] == ["24e1247151234568", "24e1247151234569"]
    assert {(d.stage, d.reason, d.firmware_version) for d in devices} == {(Stage.PENDING, None, None)}
    # 6.4 and 6.5: {"code": 200, "error": ""} is success.
    backend.abort(ref)
    assert gateway.once("POST", "/api/fuota/task/retry", GATEWAY, {"ids": [184]}) == {"code": 200, "error": ""}
    wanted = {(s.method, s.path) for s in samples("milesight") if s.direction == "response" and s.path}
    assert gateway.served == wanted


def test_milesight_failure_codes_of_a_sample_device_read() -> None:
    """6.7's sample device with 6.11's codes in place of its zeros: each failure reads with its reason."""
    device = dict(_answer("milesight", "GET", "/api/fuota/devices").json["body"]["devices"][0])
    assert codes.device_stage(device | {"fragmentSessionStatus": 13}).stage is Stage.DONE
    verdict = codes.device_stage(device | {"multicastSessionStatus": 6})
    assert (verdict.stage, verdict.category) == (Stage.FAILED, Category.NEVER_JOINED)
