"""The IoTSquare adapter against a scripted stub over real loopback sockets (tests/iotsquare_stub.py)."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from fuota.backends.base import TargetReport, TaskRef, TaskSpec
from fuota.backends.errors import (
    AuthError,
    BackendError,
    MalformedAnswer,
    NotFoundError,
    RejectedError,
    TransientError,
)
from fuota.backends.iotsquare import codes
from fuota.backends.iotsquare.adapter import IoTSquareBackend, group_identity
from fuota.core.model import DeploymentState, Stage
from fuota.core.reports import TaskProgress
from tests.support.iotsquare_stub import IoTSquareStub, Reply, err, ok, paged

TOKEN = "tok-9f8e7d6c5b4a"
MC = "cc3e92cea33ac62a"
REF = TaskRef("camp-1", {"fdID": 16, "mcEUI": MC})
SPEC = TaskSpec(name="camp-1", target=MC, firmware=b"\x23\x33", redundancy_percent=30)

MCGROUP_CREATE = "/openapi/mcgroup/create"
MCGROUP_LIST = "/openapi/mcgroup/list"
MCGROUP_DELETE = "/openapi/mcgroup/delete"
MCDEVICE_LIST = "/openapi/mcdevice/list"
MCDEVICE_CREATE = "/openapi/mcdevice/create"
FUOTA_CREATE = "/openapi/fuota/create"
FUOTA_LIST = "/openapi/fuota/list"
FUOTA_STATUS = "/openapi/fuota/status"
FUOTA_DEVICES = "/openapi/fuota/device/list"
FUOTA_ABORT = "/openapi/fuota/abort"


def make(url: str, **knobs: object) -> IoTSquareBackend:
    """A backend with tiny retry waits, so that retries cost milliseconds."""
    settings: dict[str, object] = {"timeout": 1.0, "retry_attempts": 3, "retry_wait_initial": 0.005}
    settings |= {"retry_wait_max": 0.01} | knobs
    return IoTSquareBackend("iot-eu", url, TOKEN, **settings)  # type: ignore[arg-type]


def euis(count: int, base: int = 0x8CF9573000000000) -> list[str]:
    return [f"{base + i:016x}" for i in range(count)]


@pytest.fixture
def stub() -> Iterator[IoTSquareStub]:
    with IoTSquareStub() as server:
        yield server


@pytest.fixture
def backend(stub: IoTSquareStub) -> Iterator[IoTSquareBackend]:
    adapter = make(stub.url)
    yield adapter
    adapter.close()


# --- envelope, header, typed errors ---------------------------------------------------------------------------


def test_status_maps_state_keeps_raw_and_sends_token_in_configured_header(stub: IoTSquareStub) -> None:
    data = {"fdID": 16, "firmwareName": "camp-1", "nbFrag": 287, "redundancy": 86, "state": "EnqueueFragment"}
    stub.on(FUOTA_STATUS, ok(data))
    adapter = make(stub.url, token_header="X-Access-Token")
    status = adapter.status(REF)
    assert status.state is DeploymentState.ENQUEUE_FRAGMENT
    assert status.raw == data
    (request,) = stub.calls(FUOTA_STATUS)
    assert request.headers["x-access-token"] == TOKEN
    assert "authorization" not in request.headers
    assert request.query == {"mcEUI": MC, "fdID": "16"}


def test_status_reads_the_progress_facts_and_drops_impossible_ones(
    stub: IoTSquareStub, backend: IoTSquareBackend
) -> None:
    said = {"state": "EnqueueFragment", "createtime": 1764590400000, "updatetime": "1764590410000",
            "nextStepTime": 1764590610000, "nbFrag": 287, "redundancy": 86}  # fmt: skip
    stub.on(FUOTA_STATUS, ok(said), ok({**said, "createtime": -5, "updatetime": "soon", "nextStepTime": -1,
                                        "nbFrag": -3}))  # fmt: skip
    first = backend.status(REF).progress
    assert first == TaskProgress(
        task_started_at=datetime(2025, 12, 1, 12, 0, tzinfo=UTC),
        phase_started_at=datetime(2025, 12, 1, 12, 0, 10, tzinfo=UTC),
        phase_ends_at=datetime(2025, 12, 1, 12, 3, 30, tzinfo=UTC),
        fragments_total=287 + 86,
    )
    garbled = backend.status(REF)  # nonsense is "not said", and the state still counts
    assert garbled.progress == TaskProgress() and garbled.state is DeploymentState.ENQUEUE_FRAGMENT


def test_unknown_task_state_is_unknown(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    stub.on(FUOTA_STATUS, ok({"state": "Rebooting"}))
    assert backend.status(REF).state is DeploymentState.UNKNOWN


@pytest.mark.parametrize("code", [1003, 1004])
def test_auth_error_names_backend_and_never_the_token(
    stub: IoTSquareStub, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    stub.on(FUOTA_STATUS, err(code, codes.SYSTEM_CODES[code]))
    adapter = make(stub.url)
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as caught:
        adapter.status(REF)
    error = caught.value
    assert error.code == code and "iot-eu" in str(error) and "token" in str(error)
    seen = [str(error), repr(error), "".join(traceback.format_exception(error)), repr(adapter), caplog.text]
    assert not [text for text in seen if TOKEN in text]
    assert len(stub.calls(FUOTA_STATUS)) == 1  # not retried


@pytest.mark.parametrize(
    ("code", "kind"), [(1007, RejectedError), (14001, NotFoundError), (1010, RejectedError), (9999, RejectedError)]
)
def test_other_codes_raise_typed_errors_with_code_and_message(
    stub: IoTSquareStub, backend: IoTSquareBackend, code: int, kind: type[BackendError]
) -> None:
    stub.on(FUOTA_ABORT, err(code, "the server's words"))
    with pytest.raises(kind) as caught:
        backend.abort(REF)
    assert (caught.value.code, caught.value.msg) == (code, "the server's words")
    assert str(code) in str(caught.value) and "the server's words" in str(caught.value)
    assert stub.calls(FUOTA_ABORT)[0].body == {"mcEUI": MC, "fdID": 16}


def test_a_200_without_envelope_is_a_malformed_answer(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    stub.on(FUOTA_STATUS, Reply(b"<html>gateway</html>"))
    with pytest.raises(MalformedAnswer, match="envelope"):
        backend.status(REF)


def test_an_error_page_without_envelope_is_rejected(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    stub.on(FUOTA_STATUS, Reply(b"<html>not found</html>", status=404))
    with pytest.raises(RejectedError, match="check base_url"):
        backend.status(REF)


# --- retries --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [err(1001, "System Busy"), err(1009, "Network Busy"), Reply(err(0), status=503), Reply(drop=True)],
    ids=["1001", "1009", "http-503", "dropped"],
)
def test_transient_failures_are_retried_then_succeed(
    stub: IoTSquareStub, backend: IoTSquareBackend, failure: object
) -> None:
    stub.on(FUOTA_STATUS, failure, failure, ok({"state": "Done"}))  # type: ignore[arg-type]
    assert backend.status(REF).state is DeploymentState.DONE
    assert len(stub.calls(FUOTA_STATUS)) == 3


def test_transient_failure_raises_once_attempts_are_spent(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    stub.on(FUOTA_STATUS, err(1009, "Network Busy"))
    with pytest.raises(TransientError) as caught:
        backend.status(REF)
    assert caught.value.code == 1009 and len(stub.calls(FUOTA_STATUS)) == 3


def test_connection_refused_is_retried_until_the_server_is_up() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = IoTSquareStub(port)
    server.on(FUOTA_STATUS, ok({"state": "Created"}))
    adapter = make(server.url, retry_attempts=40, retry_wait_initial=0.01, retry_wait_max=0.02)
    starter = threading.Timer(0.1, server.start)
    starter.start()
    try:
        assert adapter.status(REF).state is DeploymentState.CREATED
    finally:
        starter.join()
        server.__exit__()
        adapter.close()


def test_connection_refused_for_good_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientError, match="ConnectError"):
        make(f"http://127.0.0.1:{port}").status(REF)


def test_timeout_is_enforced_and_transient(stub: IoTSquareStub) -> None:
    stub.on(FUOTA_STATUS, Reply(ok({"state": "Done"}), delay=0.6))
    adapter = make(stub.url, timeout=0.15, retry_attempts=2)
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"no answer within 0\.15 s"):
        adapter.status(REF)
    assert time.monotonic() - started < 0.6
    assert len(stub.calls(FUOTA_STATUS)) == 2


# --- targets --------------------------------------------------------------------------------------------------


def test_ready_pages_past_the_200_cap(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    members = [{"devEUI": eui.upper(), "devName": "n", "joined": i % 3 != 0} for i, eui in enumerate(euis(450))]
    stub.on(MCDEVICE_LIST, paged(members))
    ready = backend.ready(MC.upper())
    assert len(ready) == 450 and sum(ready.values()) == 300
    assert all(key == key.lower() for key in ready)
    requests = stub.calls(MCDEVICE_LIST)
    assert [r.query["pageNo"] for r in requests] == ["1", "2", "3", "4", "5"]
    assert {r.query["pageSize"] for r in requests} == {"100"} and requests[0].query["mcEUI"] == MC


def test_prepare_existing_target_reports_members_and_outsiders(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    members = euis(230)
    stub.on(MCDEVICE_LIST, paged([{"devEUI": eui, "joined": True} for eui in members]))
    report = backend.prepare(MC, (members[0].upper(), "00000000000000ff"), {})
    assert report.target == MC and not report.temporary and len(report.members) == 230
    assert list(report.refused) == ["00000000000000ff"] and "not a member" in report.refused["00000000000000ff"]
    assert not stub.calls(MCGROUP_CREATE)


def test_prepare_makes_one_group_of_at_most_253_with_the_extended_function(
    stub: IoTSquareStub, backend: IoTSquareBackend
) -> None:
    stub.on(MCGROUP_CREATE, ok())
    stub.on(MCDEVICE_CREATE, ok())
    options = {"name_prefix": "sensors-v2.3-1", "region": "eu868", "subnet": "ch_00-07", "enable_mc_remote": True}
    options |= {"group_id": 0, "gen_app_key": "504e83e6dd1a457af1bf93f99d362e89", "enableMCExt": True}
    options |= {"time_slot_length": 3, "mc_addr": None, "join_timeout": 600.0}
    with pytest.raises(RejectedError, match=r"254 devices do not fit one multicast group.*253"):
        backend.prepare(None, tuple(euis(254)), options)
    assert not stub.requests  # refused before anything is sent: the kind cuts deployments that fit
    report = backend.prepare(None, tuple(euis(253)), options)
    assert len(report.members) == 253 and report.temporary
    (first,) = [call.body for call in stub.calls(MCGROUP_CREATE)]
    assert first == {
        "class": "C",
        "region": "eu868",
        "subnet": "ch_00-07",
        "enableMCRemote": True,
        "groupID": 0,
        "enableMCExt": True,
        "timeSlotLength": 3,
        "genAppKey": "504e83e6dd1a457af1bf93f99d362e89",
        "mcEUI": report.target,
        "mcName": first["mcName"],
    }
    assert len(first["mcName"]) <= 20 and first["mcName"].replace("_", "").isalpha()
    assert (report.target, first["mcName"]) == group_identity("sensors-v2.3-1", 0)
    assert [len(r.body["devEUIs"]) for r in stub.calls(MCDEVICE_CREATE)] == [100, 100, 53]


def test_prepare_14008_gives_each_refused_device_its_reason(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    devices = euis(5)
    refusals = [
        {"code": 4001, "msg": "Device Not Exist", "devEUI": devices[1].upper()},
        {"code": 14010, "msg": "MCDevice Already Bind Current Group", "devEUI": devices[2]},
        {"code": 14011, "msg": "MCDevice Already Bind Other Group", "devEUI": devices[3]},
        {"code": 14099, "msg": "Something New", "devEUI": devices[4]},
    ]
    stub.on(MCGROUP_CREATE, ok())
    stub.on(MCDEVICE_CREATE, err(14008, "MCDevice Batch Bind Error", refusals))
    report = backend.prepare(None, tuple(devices), {"name_prefix": "camp-1", "mcAddr": "45c325ce"})
    assert report.members == (devices[0], devices[2])
    assert report.refused == {
        devices[1]: "device not registered on IoTSquare: add it to an application first",
        devices[3]: "already bound to another multicast group: remove it from that group first",
        devices[4]: "refused by IoTSquare (14099 Something New)",
    }


def test_prepare_repeated_after_a_crash_reuses_the_group(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    mc_eui, mc_name = group_identity("camp-1", 0)
    stub.on(MCGROUP_CREATE, err(14002, "MCGroup Already Exist"))
    others = [{"mcEUI": f"{i:016x}", "mcName": f"g_{i}"} for i in range(150)]
    stub.on(MCGROUP_LIST, paged([*others, {"mcEUI": mc_eui.upper(), "mcName": mc_name}]))
    stub.on(MCDEVICE_CREATE, err(14010, "MCDevice Already Bind Current Group"))
    report = backend.prepare(None, tuple(euis(3)), {"name_prefix": "camp-1", "enableMCRemote": True})
    assert report.target == mc_eui and report.members == tuple(euis(3)) and not report.refused


def test_prepare_refuses_a_group_that_is_not_ours(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    stub.on(MCGROUP_CREATE, err(14005, "MCGroup Name Already Exist"))
    stub.on(MCGROUP_LIST, paged([{"mcEUI": group_identity("camp-1", 0)[0], "mcName": "someone_else"}]))
    with pytest.raises(RejectedError, match="name_prefix") as caught:
        backend.prepare(None, tuple(euis(3)), {"name_prefix": "camp-1"})
    assert caught.value.code == 14005 and not stub.calls(MCDEVICE_CREATE)


def test_prepare_manual_keys_serve_one_group_only(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    options = {"name_prefix": "camp-1", "enable_mc_remote": False, "mc_addr": "45c325ce", "enableMCExt": True}
    with pytest.raises(RejectedError, match="do not fit one multicast group"):
        backend.prepare(None, tuple(euis(300)), options)
    assert not stub.requests


def test_cleanup_deletes_temporary_groups_and_accepts_gone_ones(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    gone = [{"code": 14001, "msg": "MCGroup Not Exist", "mcEUI": MC}]
    stub.on(MCGROUP_DELETE, ok(), err(14007, "MCGroup Batch Delete Error", gone), err(14001, "MCGroup Not Exist"))
    for _ in range(3):
        backend.cleanup(TargetReport(MC, (), temporary=True))
    backend.cleanup(TargetReport(MC, (), temporary=False))
    assert [r.body for r in stub.calls(MCGROUP_DELETE)] == [{"mcEUIs": [MC]}] * 3


# --- tasks ----------------------------------------------------------------------------------------------------


def _tasks(*named: tuple[int, str]) -> list[dict[str, object]]:
    return [{"fdID": fd_id, "firmwareName": name, "state": "Created"} for fd_id, name in named]


def test_find_looks_through_every_page(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    stub.on(FUOTA_LIST, paged(_tasks(*((i, f"other-{i}") for i in range(250)), (900, "camp-1"))))
    assert backend.find(SPEC) == TaskRef("camp-1", {"fdID": 900, "mcEUI": MC})
    assert backend.find(TaskSpec("absent", MC, b"x", 30)) is None


def test_create_sends_the_task_and_finds_its_fdID_through_the_list(
    stub: IoTSquareStub, backend: IoTSquareBackend
) -> None:
    stub.on(FUOTA_LIST, ok([], 0), ok(_tasks((16, "camp-1")), 1))
    stub.on(FUOTA_CREATE, ok())
    assert backend.create(SPEC) == TaskRef("camp-1", {"fdID": 16, "mcEUI": MC})
    (request,) = stub.calls(FUOTA_CREATE)
    assert request.body == {"mcEUI": MC, "firmwareName": "camp-1", "redundancyPercent": 0.3, "payload": "IzM="}
    assert base64.b64decode(request.body["payload"]) == SPEC.firmware


def test_create_reconciles_16001_with_the_existing_task(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    stub.on(FUOTA_LIST, ok([], 0), ok(_tasks((3, "old"), (17, "camp-1")), 2))
    stub.on(FUOTA_CREATE, err(16001, "Fuota Deployment Already Exist"))
    assert backend.create(SPEC).ids == {"fdID": 17, "mcEUI": MC}


def test_create_16001_for_another_task_waits_for_the_busy_group(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    stub.on(FUOTA_LIST, ok(_tasks((3, "someone-else")), 1))
    stub.on(FUOTA_CREATE, err(16001, "Fuota Deployment Already Exist"))
    with pytest.raises(TransientError, match=f"group {MC} is busy with another task, waiting") as caught:
        backend.create(SPEC)
    assert caught.value.code == 16001 and len(stub.calls(FUOTA_CREATE)) == 1  # said at once, not retried here


def test_create_after_a_lost_answer_looks_up_instead_of_creating_twice(
    stub: IoTSquareStub, backend: IoTSquareBackend
) -> None:
    stub.on(FUOTA_LIST, ok([], 0), ok(_tasks((16, "camp-1")), 1))
    stub.on(FUOTA_CREATE, Reply(err(0), status=502))  # the server created it, the proxy lost the answer
    assert backend.create(SPEC).ids["fdID"] == 16
    assert len(stub.calls(FUOTA_CREATE)) == 1


def test_create_retries_after_a_busy_answer_when_the_task_is_absent(
    stub: IoTSquareStub, backend: IoTSquareBackend
) -> None:
    stub.on(FUOTA_LIST, ok([], 0), ok([], 0), ok(_tasks((16, "camp-1")), 1))
    stub.on(FUOTA_CREATE, err(1001, "System Busy"), ok())
    assert backend.create(SPEC).ids["fdID"] == 16
    assert len(stub.calls(FUOTA_CREATE)) == 2 and len(stub.calls(FUOTA_LIST)) == 3


@pytest.mark.parametrize("redundancy", [5, 150, float("nan")])
def test_create_validates_redundancy_before_sending(
    stub: IoTSquareStub, backend: IoTSquareBackend, redundancy: float
) -> None:
    with pytest.raises(RejectedError, match=f"redundancy_percent = {redundancy:g} is out of range: 10–100"):
        backend.create(TaskSpec("camp-1", MC, b"x", redundancy))
    assert not stub.requests


# --- devices --------------------------------------------------------------------------------------------------


def test_devices_every_page_lenient_fields_and_reasons(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    rows = [
        {"devEUI": eui.upper(), "fdID": 16, "nbFragReceived": 0, "nbFragMissing": 0, "state": "MC Joined"}
        | {"error_message": ""}
        for eui in euis(205)
    ]
    rows[0] |= {"state": "FragSessStatusAns", "nbFragReceived": "380", "nbFragMissing": 0}
    rows[1] |= {"state": "FragSessStatusAns", "nbFragReceived": 270, "nbFragMissing": "17"}
    rows[2] |= {"state": "FragSessionSetupAns", "error_message": 7}
    rows[3] |= {"state": "Done", "nbFragReceived": "373"}
    stub.on(FUOTA_DEVICES, paged(rows))
    reports = backend.devices(REF)
    assert len(reports) == 205 and len(stub.calls(FUOTA_DEVICES)) == 3
    first, missing, erred, done, joined = reports[:5]
    assert first.dev_eui == euis(1)[0] and first.raw == rows[0]
    assert (first.stage, first.reason) == (Stage.STATUS_REPORTED, None)
    # The reported stage is kept; the reason says what went wrong, the outcome comes when the task ends.
    assert missing.stage is Stage.STATUS_REPORTED and "17 fragments missing (270 received)" in (missing.reason or "")
    assert erred.stage is Stage.RECEIVING and "7" in (erred.reason or "")
    assert (done.stage, done.reason) == (Stage.DONE, None)
    assert (joined.stage, joined.reason) == (Stage.MULTICAST_READY, None)


def test_malformed_device_row_is_a_backend_error(stub: IoTSquareStub, backend: IoTSquareBackend) -> None:
    stub.on(FUOTA_DEVICES, ok([{"state": "Done"}], 1))
    with pytest.raises(BackendError, match="unexpected answer"):
        backend.devices(REF)


def test_stub_caps_all_at_200_as_the_spec_says(stub: IoTSquareStub) -> None:
    """What the pagination tests rely on: 0/0 does not return everything."""
    stub.on(MCDEVICE_LIST, paged([{"devEUI": eui} for eui in euis(250)]))
    answer = httpx.get(f"{stub.url}{MCDEVICE_LIST}", params={"pageNo": 0, "pageSize": 0}).json()
    assert (answer["amount"], len(answer["data"])) == (250, 200)
