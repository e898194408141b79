"""The Milesight adapter and its MQTT transport through a real mosquitto, against scripted gateways
(tests/support/milesight_responder.py). The code tables and option checks, without a broker, are in tests/unit."""

from __future__ import annotations

import base64
import getpass
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fuota.backends import deadline
from fuota.backends.base import TargetReport, TaskRef, TaskSpec
from fuota.backends.errors import AuthError, BackendError, NotFoundError, RejectedError, TransientError
from fuota.backends.milesight.adapter import MilesightBackend
from fuota.backends.milesight.mqtt import NsApiClient
from fuota.core.model import DeploymentState, Stage
from fuota.core.reports import TaskProgress
from tests.support.broker import Broker
from tests.support.milesight_responder import Request, Responder, code, paged
from tests.support.waiting import wait_for

GW = "24e124fffef5a6a8"
GW_B = "24e124fffef5b000"
TASK, TASK_DELETE, TASK_RETRY = "/api/fuota/task", "/api/fuota/task/delete", "/api/fuota/task/retry"
PAYLOAD_SIZE, DEVICES, URDEVICES = "/api/fuota/task/payloadsize", "/api/fuota/devices", "/api/urdevices"
REF = TaskRef("camp-1-gw", {"taskId": 184, "gatewayEUI": GW})
SIZES = {"maxPayloadSizeMap": [{"dr": dr, "maxPayloadSize": size} for dr, size in enumerate([51, 51, 51, 115, 222])]}
USER, PASSWORD = "fuota-user-7c1", "s3cr3t-pw-91"


def euis(count: int, base: int = 0x24E1247151230000) -> list[str]:
    return [f"{base + i:016x}" for i in range(count)]


def make(broker: Broker, **knobs: Any) -> MilesightBackend:
    """A backend with short timeouts and tiny retry waits (also paho's reconnection cap)."""
    settings = {"timeout": 1.0, "retry_attempts": 3, "retry_wait_initial": 0.01, "retry_wait_max": 0.05} | knobs
    return MilesightBackend("ms-eu", broker.url, **settings)


@pytest.fixture
def gateway(mqtt_broker: Broker) -> Iterator[Responder]:
    with Responder(mqtt_broker, GW) as responder:
        yield responder


@pytest.fixture
def backend(mqtt_broker: Broker) -> Iterator[MilesightBackend]:
    adapter = make(mqtt_broker)
    yield adapter
    adapter.close()


@pytest.fixture
def locked_port(tmp_path: Path) -> Iterator[int]:
    """A mosquitto that refuses every client: no anonymous access and no password file."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "locked.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\nuser {getpass.getuser()}\n")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen([mosquitto, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port), 5, f"mosquitto listening on port {port}", every=0.01)
        yield port
    finally:
        process.terminate()
        process.wait(5)


def client(broker: Broker, **knobs: Any) -> NsApiClient:
    return NsApiClient(broker.url, "milesight/ns-api/request", "milesight/ns-api/response", **knobs)


def spec(**options: Any) -> TaskSpec:
    devices = ("24E1247151234568", "24e1247151234569")
    return TaskSpec("camp-1-gw", GW, b"\x01\x02firmware", 30, devices, {"fragment_size": 48, **options})


def tasks(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"total": len(entries), "tasks": list(entries)}


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- the transport --------------------------------------------------------------------------------------------


def test_many_requests_in_flight_from_threads_get_their_own_answers(mqtt_broker: Broker) -> None:
    def echo(request: Request) -> dict[str, Any]:
        time.sleep((int(request.query["n"]) * 7 % 10) / 200)  # answers come back out of order
        return {"echo": request.query["n"]}

    api = client(mqtt_broker, timeout=5)
    # The other gateway sees every request on the shared topic and answers each with 25, as a real one does.
    with (
        Responder(mqtt_broker, GW).on("GET", "/echo", echo),
        Responder(mqtt_broker, GW_B, answer_all=True),
        ThreadPoolExecutor(8) as pool,
    ):
        answers = list(pool.map(lambda n: api.request("GET", f"/echo?n={n}", GW), range(40)))
    api.close()
    assert [a["body"] for a in answers] == [{"echo": str(n)} for n in range(40)]
    assert {a["gatewayEUI"] for a in answers} == {GW.upper()}


def test_answers_of_other_gateways_are_ignored(mqtt_broker: Broker, gateway: Responder) -> None:
    api = client(mqtt_broker, timeout=0.5)
    with Responder(mqtt_broker, GW_B, answer_all=True) as other:
        with pytest.raises(TransientError, match=f"gateway {GW.upper()}, POST /x: no answer within 0.5 s"):
            api.request("POST", "/x", GW)  # only the other gateway answers, with 25
        gateway.on("POST", "/x", lambda r: {"code": 200, "error": ""})
        assert api.request("POST", "/x", GW, {"ids": [1]})["body"] == {"code": 200, "error": ""}
    api.close()
    assert [(r.gateway, r.body) for r in gateway.calls()] == [(GW.upper(), {}), (GW.upper(), {"ids": [1]})]
    assert other.calls() == []


def test_timeout_names_gateway_and_url(mqtt_broker: Broker, gateway: Responder) -> None:
    api = client(mqtt_broker, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"gateway 24E124FFFEF5A6A8, GET /api/fuota/task\?limit=1: no answer"):
        api.request("GET", "/api/fuota/task?limit=1", GW)
    assert 0.3 <= time.monotonic() - started < 1.5
    api.close()


def test_broker_down_longer_than_timeout_is_transient(mqtt_broker: Broker) -> None:
    mqtt_broker.stop()
    api = client(mqtt_broker, timeout=0.4)
    with pytest.raises(TransientError, match=f"broker mqtt://127.0.0.1:{mqtt_broker.port} not reachable"):
        api.request("GET", "/api/urdevices", GW)
    api.close()


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker that keeps its sessions across a restart."""
    broker = Broker(tmp_path, persistent=True).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.mark.parametrize("qos", [0, 1])
def test_broker_restart_idempotent_requests_are_sent_again(persistent_broker: Broker, qos: int) -> None:
    # The gateway's session and subscription outlive the restart (a persistent broker and session): the copies sent
    # again then reach it whether it or fuota reconnects first. With its session lost in the restart, a copy sent
    # before the gateway subscribed again would be lost, as on a real broker, and the test would fail at random.
    with Responder(persistent_broker, GW, persistent=True) as gateway:

        def second_time(request: Request) -> dict[str, Any] | None:  # the first copy of each is lost with the broker
            return tasks() if [r.id for r in gateway.calls()].count(request.id) > 1 else None

        gateway.on("GET", TASK, second_time)
        api = client(persistent_broker, timeout=8, qos=qos)
        with ThreadPoolExecutor(5) as pool:
            answers = [pool.submit(api.request, "GET", f"{TASK}?n={n}", GW) for n in range(5)]
            wait_for(lambda: len(gateway.calls()) == 5, 5, "the gateway receiving the 5 requests", every=0.01)
            persistent_broker.restart(0.3)
            assert [answer.result(timeout=8)["body"] for answer in answers] == [tasks()] * 5
        api.close()
    assert len({r.id for r in gateway.calls()}) == 5


def test_broker_restart_create_is_not_sent_again(mqtt_broker: Broker, gateway: Responder) -> None:
    gateway.on("POST", TASK, lambda r: None).on("GET", TASK, lambda r: tasks())
    api = client(mqtt_broker, timeout=8)
    with ThreadPoolExecutor(1) as pool:
        create = pool.submit(api.request, "POST", TASK, GW, {"fuotaTask": {}}, idempotent=False)
        wait_for(lambda: gateway.calls(), 5, "the gateway receiving the create", every=0.01)
        started = time.monotonic()
        mqtt_broker.restart(0.3)
        with pytest.raises(TransientError, match="look it up before sending it again"):
            create.result(timeout=8)
        assert time.monotonic() - started < 5  # at once, not after the timeout
    # A request published before the gateway subscribes again is lost, as on a real broker: wait for it.
    wait_for(lambda: gateway.subscriptions >= 2, 10, "the gateway subscribing again after the restart", every=0.01)
    assert api.request("GET", TASK, GW)["body"] == tasks()  # reconnected; nothing was replayed meanwhile
    api.close()
    assert len(gateway.calls("POST", TASK)) == 1


def test_tls_with_the_ca(mqtt_tls_broker: Broker) -> None:
    assert mqtt_tls_broker.tls is not None
    with Responder(mqtt_tls_broker, GW).on("GET", URDEVICES, paged([{"devEUI": "24E1247151234568"}], "deviceResult")):
        adapter = make(mqtt_tls_broker, tls_ca=mqtt_tls_broker.tls.ca)
        assert adapter.locate([GW], ["24e1247151234568"]) == {"24e1247151234568": GW}
        adapter.close()
    untrusted = NsApiClient(mqtt_tls_broker.url, "req", "resp", timeout=0.4)  # the system's CAs do not know it
    with pytest.raises(TransientError, match="not reachable"):
        untrusted.request("GET", URDEVICES, GW)
    untrusted.close()


def test_credentials_never_in_output(
    mqtt_broker: Broker, gateway: Responder, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = make(mqtt_broker, username=USER, password=PASSWORD, timeout=0.3, retry_attempts=1)
    with pytest.raises(TransientError) as caught:
        adapter.status(REF)
    mqtt_broker.restart(0.1)
    with pytest.raises(TransientError) as again:
        adapter.abort(REF)
    texts = [repr(adapter), str(caught.value), str(again.value), caplog.text, *capsys.readouterr()]
    adapter.close()
    assert caplog.text and all(USER not in text and PASSWORD not in text for text in texts)
    with pytest.raises(ValueError, match="must not hold credentials") as bad:
        NsApiClient(f"mqtt://{USER}:{PASSWORD}@127.0.0.1:1883", "req", "resp")
    assert PASSWORD not in str(bad.value)


def test_refused_credentials_are_an_auth_error_at_once(locked_port: int) -> None:
    api = NsApiClient(f"mqtt://127.0.0.1:{locked_port}", "req", "resp", username=USER, password=PASSWORD, timeout=5)
    started = time.monotonic()
    with pytest.raises(AuthError, match=r"refused the connection \(Not authorized\): check the username") as caught:
        api.request("GET", URDEVICES, GW)
    assert time.monotonic() - started < 3
    assert USER not in str(caught.value) and PASSWORD not in str(caught.value)
    api.close()


# --- targets --------------------------------------------------------------------------------------------------


def test_locate_and_prepare_by_the_gateways_device_lists(mqtt_broker: Broker, backend: MilesightBackend) -> None:
    known_a, known_b = euis(150), euis(3, 0x24E1247151240000)
    with Responder(mqtt_broker, GW) as a, Responder(mqtt_broker, GW_B) as b:
        a.on("GET", URDEVICES, paged([{"devEUI": d.upper()} for d in known_a], "deviceResult", "devTotalCount"))
        b.on("GET", URDEVICES, paged([{"devEUI": d} for d in known_b], "deviceResult", "devTotalCount"))
        unknown = "24e12471512fffff"
        located = backend.locate([GW, GW_B.upper()], [known_a[120].upper(), known_b[0], unknown])
        assert located == {known_a[120]: GW, known_b[0]: GW_B, unknown: None}
        assert [r.query["offset"] for r in a.calls()] == ["0", "100"]  # every page
        assert backend.locate([GW, GW_B], [known_a[0]]) == {known_a[0]: GW}
        assert len(b.calls()) == 1  # not asked once every device was placed
        report = backend.prepare(GW.upper(), (known_a[1], unknown, known_a[1]), {})
    assert report == TargetReport(
        GW,
        (known_a[1],),
        {unknown: f"not known to gateway {GW.upper()}: add it to the gateway's network server first"},
        temporary=False,
    )
    assert backend.ready(GW) == {}


# --- create, with its checks ----------------------------------------------------------------------------------


def test_create_sends_the_spec_fields_after_looking_up(gateway: Responder, backend: MilesightBackend) -> None:
    gateway.on("GET", PAYLOAD_SIZE, lambda r: SIZES).on("GET", TASK, lambda r: tasks())
    gateway.on("POST", TASK, lambda r: {"id": 185})
    ref = backend.create(spec(started_at="2026-11-24T03:00:00+01:00", firmware_name="WT101.bin"))
    assert ref == TaskRef("camp-1-gw", {"taskId": 185, "gatewayEUI": GW})
    assert [(r.method, r.path) for r in gateway.calls()] == [("GET", PAYLOAD_SIZE), ("GET", TASK), ("POST", TASK)]
    assert gateway.calls("GET", TASK)[0].query == {"search": "camp-1-gw", "limit": "100", "offset": "0"}
    assert gateway.calls("POST", TASK)[0].body == {
        "fuotaTask": {
            "name": "camp-1-gw",
            "startedAt": "2026-11-24T02:00:00.000Z",
            "description": "fuota deployment camp-1-gw",
            "deveui": ["24e1247151234568", "24e1247151234569"],
            "firmwareInfo": {
                "firmwareName": "WT101.bin",
                "fileContent": base64.b64encode(b"\x01\x02firmware").decode(),
            },
            "isOfficialFirmware": False,
            "fragmentInfo": {"fragmentSize": 48, "fragmentInterval": 5000, "fragmentRedundancy": 30},
            "tmpMcInfo": {"groupType": 0, "dr": 0, "frequency": 869525000},  # EU868's RX2 defaults
        }
    }


def test_create_whose_answer_was_lost_is_found_not_sent_again(gateway: Responder, mqtt_broker: Broker) -> None:
    created: list[dict[str, Any]] = []
    gateway.on("GET", PAYLOAD_SIZE, lambda r: SIZES).on("GET", TASK, lambda r: tasks(*created))
    gateway.on("POST", TASK, lambda r: created.append({"id": 186, "name": r.body["fuotaTask"]["name"]}))
    adapter = make(mqtt_broker, timeout=0.4)
    assert adapter.create(spec()) == TaskRef("camp-1-gw", {"taskId": 186, "gatewayEUI": GW})
    adapter.close()
    assert [r.method for r in gateway.calls(path=TASK)] == ["GET", "POST", "GET"]


def test_create_already_exists_is_reconciled_by_name(gateway: Responder, backend: MilesightBackend) -> None:
    listed = iter([tasks(), tasks({"id": 7, "name": "camp-1-gw-old"}, {"id": 9, "name": "camp-1-gw"})])
    gateway.on("GET", PAYLOAD_SIZE, lambda r: SIZES).on("GET", TASK, lambda r: next(listed))
    gateway.on("POST", TASK, code(6, "task name exists"))
    assert backend.create(spec()).ids == {"taskId": 9, "gatewayEUI": GW}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"options": {"fragment_size": 251}}, "fragment_size = 251 bytes is out of range: 1–250"),
        ({"options": {"fragment_interval": 999}}, "fragment_interval = 999 ms is out of range: 1000–10000"),
        ({"redundancy_percent": 101}, "fragment_redundancy = 101 % is out of range: 0–100"),
        ({"name": "n" * 128}, "has 128 characters: 1–127 allowed"),
        ({"options": {"region": "XX915"}}, "region 'XX915' is not a channel plan"),
        ({"options": {"frequency": 915_000_000}}, "frequency = 915000000 Hz"),
    ],
)
def test_options_out_of_range_raise_before_anything_is_sent(
    gateway: Responder, backend: MilesightBackend, changes: dict[str, Any], field: str
) -> None:
    base = spec()
    values = {"name": base.name, "redundancy_percent": base.redundancy_percent, "options": base.options} | changes
    bad = TaskSpec(values["name"], GW, base.firmware, values["redundancy_percent"], base.devices, values["options"])
    with pytest.raises(RejectedError, match=field):
        backend.create(bad)
    assert gateway.calls() == []


def test_fragment_size_above_payload_minus_header_is_refused_before_create(
    gateway: Responder, backend: MilesightBackend
) -> None:
    gateway.on("GET", PAYLOAD_SIZE, lambda r: SIZES)
    with pytest.raises(RejectedError, match=r"fragment_size = 49 bytes does not fit .* payload of 51 bytes"):
        backend.create(spec(fragment_size=49))
    gateway.on("GET", URDEVICES, lambda r: {"devTotalCount": "0", "deviceResult": [], "channelPlan": "CN470"})
    with pytest.raises(
        RejectedError,
        match=r"dr = 5 is not offered by gateway 24E124FFFEF5A6A8: it offers 0, 1.*\(channel plan CN470\)",
    ):
        backend.task_options(GW, {"fragment_size": 40, "dr": 5})
    assert [r.path for r in gateway.calls()] == [PAYLOAD_SIZE, URDEVICES, PAYLOAD_SIZE]
    assert gateway.calls("GET", URDEVICES)[0].query == {"limit": "1", "offset": "0"}  # the plan, not the devices
    with pytest.raises(
        RejectedError,
        match=r"fragment_size = 49 bytes does not fit gateway 24E124FFFEF5A6A8's DR0 \(CN470\) payload of 51",
    ):
        backend.task_options(GW, {"fragment_size": 49})
    options = backend.task_options(GW, {"fragment_size": 112, "dr": 3, "region": "cn470", "expected_version": "v2"})
    assert options == {
        "fragment_size": 112,
        "dr": 3,
        "region": "CN470",
        "frequency": 505300000,
        "expected_version": "v2",
    }
    assert backend.payload_size(GW, 4) == 222


# --- status, devices, abort, retry ----------------------------------------------------------------------------


def test_status_maps_the_task_entry_and_keeps_it_verbatim(gateway: Responder, backend: MilesightBackend) -> None:
    entry = {"id": 184, "name": "camp-1-gw", "status": 2, "doneDevices": 0, "totalDevices": 2, "stoppedAt": ""}
    others = [{"id": n, "name": f"camp-1-gw-{n}", "status": 3} for n in range(150)]
    gateway.on("GET", TASK, paged([*others, entry], "tasks"))
    status = backend.status(REF)
    assert (status.state, status.raw) == (DeploymentState.ENQUEUE_FRAGMENT, entry)
    with pytest.raises(NotFoundError, match=r"task 999 .* is not on gateway 24E124FFFEF5A6A8"):
        backend.status(TaskRef("camp-1-gw", {"taskId": 999, "gatewayEUI": GW}))


def test_status_reads_the_progress_facts_and_drops_impossible_ones(
    gateway: Responder, backend: MilesightBackend
) -> None:
    entry = {"id": 184, "name": "camp-1-gw", "status": 2, "doneDevices": 1, "totalDevices": 2,
             "startedAt": "2025-04-15T00:50:00.000Z", "updatedAt": "2025-04-15T01:52:30+01:00",
             "fragmentInfo": {"fragmentSize": 48, "fragmentInterval": 5000, "fragmentRedundancy": 30}}  # fmt: skip
    garbled = {**entry, "doneDevices": -1, "totalDevices": "many", "startedAt": "2025-04-15 00:50:00",
               "updatedAt": 17, "fragmentInfo": {"fragmentInterval": "fast"}}  # fmt: skip
    answers = iter([tasks(entry), tasks(garbled)])
    gateway.on("GET", TASK, lambda r: next(answers))
    assert backend.status(REF).progress == TaskProgress(
        task_started_at=datetime(2025, 4, 15, 0, 50, tzinfo=UTC),
        phase_started_at=datetime(2025, 4, 15, 0, 52, 30, tzinfo=UTC),
        fragment_interval_s=5.0,
        devices_done=1,
        devices_total=2,
    )
    status = backend.status(REF)  # nonsense is "not said", and the state still counts
    assert status.progress == TaskProgress() and status.state is DeploymentState.ENQUEUE_FRAGMENT


def test_devices_every_page_mapped_with_reasons(gateway: Responder, backend: MilesightBackend) -> None:
    def device(n: int) -> dict[str, Any]:
        mc, frag, status = [(3, 3, 2), (6, 0, 4), (5, 9, 4), (5, 13, 3)][n % 4]
        return {"devEui": f"{0x24E1247151230000 + n:016X}", "firmwareVersion": "v1.4", "status": status,
                "multicastSessionStatus": mc, "fragmentSessionStatus": frag, "taskId": 184}  # fmt: skip

    items = [device(n) for n in range(230)]
    gateway.on("GET", DEVICES, paged(items, "devices"))
    reports = backend.devices(REF)
    assert [r.query for r in gateway.calls()] == [
        {"taskId": "184", "limit": "100", "offset": str(offset)} for offset in (0, 100, 200)
    ]
    assert [r.raw for r in reports] == items and reports[5].dev_eui == "24e1247151230005"
    assert [r.stage for r in reports[:4]] == [Stage.RECEIVING, Stage.FAILED, Stage.FAILED, Stage.DONE]
    assert reports[1].reason is not None and "did not answer the multicast set-up" in reports[1].reason
    assert reports[2].reason is not None and reports[2].reason.startswith("too few fragments received")
    assert reports[0].reason is None and reports[3].reason is None
    assert {r.firmware_version for r in reports} == {"v1.4"}  # the typed field the engine judges the version on


def test_an_empty_firmware_version_is_no_version(gateway: Responder, backend: MilesightBackend) -> None:
    item = {"devEui": "24E1247151230000", "firmwareVersion": "", "status": 3, "fragmentSessionStatus": 13}
    gateway.on("GET", DEVICES, paged([item], "devices"))
    (report,) = backend.devices(REF)
    assert report.firmware_version is None and report.raw["firmwareVersion"] == ""  # as the spec's sample sends it


def test_abort_deletes_and_a_gone_task_counts_as_deleted(gateway: Responder, backend: MilesightBackend) -> None:
    answers = iter([{"code": 24, "error": ""}, {"code": 5, "error": ""}])
    gateway.on("POST", TASK_DELETE, lambda r: next(answers, {"code": 200, "error": ""}))
    backend.abort(REF)  # 24 Request timeout: retried; 5 Data not found: already gone
    assert [r.body for r in gateway.calls()] == [{"ids": [184]}] * 2


def test_retry_only_a_failed_task_and_typed_refusal(gateway: Responder, backend: MilesightBackend) -> None:
    state = {"status": 2}
    gateway.on("GET", TASK, lambda r: tasks({"id": 184, "name": "camp-1-gw", **state}))
    gateway.on("POST", TASK_RETRY, code(10310014))
    backend.retry(REF)  # running
    state["status"] = 3
    backend.retry(REF)  # succeeded
    assert gateway.calls("POST", TASK_RETRY) == []
    state["status"] = 4
    with pytest.raises(RejectedError, match="10310014 Not able to execute due to current task status") as caught:
        backend.retry(REF)
    assert caught.value.code == 10310014 and len(gateway.calls("POST", TASK_RETRY)) == 1


def test_malformed_answer_is_a_backend_error(gateway: Responder, backend: MilesightBackend) -> None:
    gateway.on("GET", DEVICES, lambda r: {"total": 1, "devices": [{"name": "no devEui"}]})
    with pytest.raises(BackendError, match="unexpected answer"):
        backend.devices(REF)


def test_started_at_defaults_to_now(gateway: Responder, backend: MilesightBackend) -> None:
    gateway.on("GET", PAYLOAD_SIZE, lambda r: SIZES).on("GET", TASK, lambda r: tasks())
    gateway.on("POST", TASK, lambda r: {"id": 1})
    backend.create(spec())
    sent = gateway.calls("POST", TASK)[0].body["fuotaTask"]["startedAt"]
    assert sent.endswith("Z") and len(sent) == len("2026-11-24T02:00:00.000Z")
    assert abs((datetime.fromisoformat(sent) - datetime.now(UTC)).total_seconds()) < 5


def test_after_the_stop_no_request_is_sent(mqtt_broker: Broker, gateway: Responder) -> None:
    # A daemon told to stop (SIGTERM) starts no new exchange with a gateway, as with an HTTP back end.
    gateway.on("GET", TASK, lambda r: tasks())
    api = client(mqtt_broker, timeout=2)
    deadline.stop()
    try:
        with pytest.raises(TransientError, match=r"GET /api/fuota/task: not sent: fuota is stopping"):
            api.request("GET", TASK, GW)
    finally:
        deadline.carry_on()
    assert gateway.calls() == []
    assert api.request("GET", TASK, GW)["body"] == tasks()  # and again once carried on
    api.close()
