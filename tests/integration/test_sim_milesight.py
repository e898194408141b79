"""The Milesight simulator through a real mosquitto: envelope, routing per gateway, codes, paging, real decoding."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import queue
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from fuota.sim import fleet_euis
from fuota.sim.milesight import Call, MilesightSim, gateway_euis
from fuota.sim.milesight_codes import FragmentSessionStatus as Frag
from fuota.sim.milesight_codes import FuotaError, ReturnCode, TaskStatus
from fuota.sim.milesight_codes import MulticastSessionStatus as Mc
from fuota.sim.milesight_tasks import Timing
from tests.support.broker import Broker
from tests.support.waiting import wait_for

REQUEST, RESPONSE = "milesight/ns-api/request", "milesight/ns-api/response"
GW = gateway_euis(3)
EUIS = fleet_euis(12)
FLEET = {GW[0]: EUIS[:6], GW[1]: EUIS[6:10], GW[2]: EUIS[10:]}
IMAGE = bytes(range(256)) * 4  # 1 KiB: 24 fragments of 43 bytes (DR0's 46 less the 3-byte header), 8 coded
FAST = Timing(multicast_setup=20, fragment_setup=10, status_report=10, upgrade=10)


class Api:
    """A test client: publishes ns-api requests and collects the answers by id."""

    def __init__(self, broker: Broker) -> None:
        self._answers: queue.Queue[dict] = queue.Queue()
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_connect = lambda client, *_: client.subscribe(RESPONSE)
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = lambda c, u, message: self._answers.put(json.loads(message.payload))
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self._ready.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def send(self, gateway: str | None, method: str, url: str, body: dict | None = None, **extra: object) -> str:
        request_id = f"t{next(self._ids)}"
        request = {"type": "ns-api", "id": request_id, "method": method, "url": url, **extra}
        if gateway is not None:
            request["gatewayEUI"] = gateway
        if body is not None:
            request["body"] = body
        self.client.publish(REQUEST, json.dumps(request))
        return request_id

    def gather(self, request_id: str, wait: float) -> list[dict]:
        """Every answer to `request_id` within `wait` seconds."""
        found, deadline = [], time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                answer = self._answers.get(timeout=left)
            except queue.Empty:
                break
            if answer["id"] == request_id:
                found.append(answer)
        return found

    def ask(self, gateway: str, method: str, url: str, body: dict | None = None, timeout: float = 3.0) -> dict:
        """The body of the first answer to one request; fails after `timeout` s without one."""
        request_id = self.send(gateway, method, url, body)
        deadline = time.monotonic() + timeout
        while True:
            answer = self._answers.get(timeout=max(deadline - time.monotonic(), 0.001))
            if answer["id"] == request_id:
                assert answer["gatewayEUI"] == gateway.upper() and answer["url"] == url and answer["method"] == method
                return answer["body"]


@pytest.fixture
def api(mqtt_broker: Broker) -> Iterator[Api]:
    client = Api(mqtt_broker)
    yield client
    client.close()


def task_body(devices: list[str], name: str = "fw", **fragment: int) -> dict:
    started = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "fuotaTask": {
            "name": name,
            "startedAt": started,
            "description": "test",
            "deveui": devices,
            "firmwareInfo": {"fileContent": base64.b64encode(IMAGE).decode(), "firmwareName": "WT101.0101.bin"},
            "isOfficialFirmware": False,
            "fragmentInfo": {"fragmentSize": 43, "fragmentInterval": 1000, "fragmentRedundancy": 30, **fragment},
            "tmpMcInfo": {"groupType": 0, "dr": 0, "frequency": 869525000},
        }
    }


def task(api: Api, gateway: str, task_id: int) -> dict:
    tasks = api.ask(gateway, "GET", "/api/fuota/task?limit=9999&offset=0")["tasks"]
    return next(t for t in tasks if t["id"] == task_id)


def devices(api: Api, gateway: str, task_id: int) -> dict[str, tuple[int, int, int]]:
    rows = api.ask(gateway, "GET", f"/api/fuota/devices?taskId={task_id}")["devices"]
    return {r["devEui"]: (r["multicastSessionStatus"], r["fragmentSessionStatus"], r["status"]) for r in rows}


def wait_final(api: Api, gateway: str, task_id: int, timeout: float = 8.0) -> dict:
    def final() -> dict | None:
        found = task(api, gateway, task_id)
        return found if found["status"] >= TaskStatus.SUCCESS else None

    return wait_for(final, timeout, f"task {task_id} of gateway {gateway} ending", every=0.05)


def test_each_gateway_answers_only_its_own_requests(mqtt_broker: Broker, api: Api) -> None:
    with MilesightSim(mqtt_broker.url, FLEET) as sim:
        answers = api.gather(api.send(GW[1].upper(), "GET", "/api/urdevices"), 0.3)
        assert [a["gatewayEUI"] for a in answers] == [GW[1].upper()]
        assert answers[0]["body"]["devTotalCount"] == "4"
        everyone = api.gather(api.send(None, "GET", "/api/fuota/task/payloadsize"), 0.3)  # no gatewayEUI: all
        assert sorted(a["gatewayEUI"] for a in everyone) == sorted(g.upper() for g in GW)
        assert api.gather(api.send("0011223344556677", "GET", "/api/urdevices"), 0.3) == []
        assert sim.calls[Call(GW[1], "GET", "/api/urdevices")] == 1
        assert sum(sim.calls.values()) == 4 and sim.gateways == GW


def test_urdevices_pages_and_searches(mqtt_broker: Broker, api: Api) -> None:
    with MilesightSim(mqtt_broker.url, FLEET):
        body = api.ask(GW[0], "GET", "/api/urdevices?&offset=0&limit=9999")
        assert body["devTotalCount"] == "6" and body["channelPlan"] == "EU868"
        assert [d["devEUI"] for d in body["deviceResult"]] == [e.upper() for e in EUIS[:6]]
        page = api.ask(GW[0], "GET", "/api/urdevices?offset=4&limit=3")
        assert page["devTotalCount"] == "6" and [d["devEUI"] for d in page["deviceResult"]] == [
            e.upper() for e in EUIS[4:6]
        ]
        found = api.ask(GW[0], "GET", f"/api/urdevices?search={EUIS[2][-6:].upper()}")
        assert [d["devEUI"] for d in found["deviceResult"]] == [EUIS[2].upper()]
        assert api.ask(GW[0], "GET", "/api/urdevices?limit=x")["code"] == ReturnCode.PARAMETER


def test_payload_size_per_data_rate(mqtt_broker: Broker, api: Api) -> None:
    with MilesightSim(mqtt_broker.url, FLEET, payload_sizes={0: 51, 5: 242}):
        body = api.ask(GW[2], "GET", "/api/fuota/task/payloadsize")
        assert body == {"maxPayloadSizeMap": [{"dr": 0, "maxPayloadSize": 51}, {"dr": 5, "maxPayloadSize": 242}]}


def test_task_creation_is_validated_with_the_spec_codes(mqtt_broker: Broker, api: Api) -> None:
    def refused(body: dict) -> int:
        return api.ask(GW[0], "POST", "/api/fuota/task", body)["code"]

    def changed(**fields: object) -> dict:
        body = task_body(EUIS[:2])
        body["fuotaTask"].update(fields)
        return body

    with MilesightSim(mqtt_broker.url, FLEET, max_tasks=2, speed=0) as sim:
        assert refused(changed(name="  ")) == refused(changed(name="x" * 128)) == FuotaError.NAME
        assert refused(changed(startedAt="tomorrow")) == FuotaError.START_TIME
        assert refused(changed(fragmentInfo=None)) == FuotaError.NO_FRAGMENT_INFO
        assert refused(changed(tmpMcInfo=None)) == FuotaError.NO_TMP_MC_INFO
        assert refused(changed(firmwareInfo=None)) == FuotaError.NO_FIRMWARE_INFO
        assert refused(changed(isOfficialFirmware=True)) == FuotaError.NO_OFFICIAL_FIRMWARE_INFO
        official = changed(isOfficialFirmware=True, officialFirmwareInfo={"id": "1"})
        assert refused(official) == FuotaError.OFFICIAL_FIRMWARE  # the simulated gateway has no Internet
        assert refused(changed(firmwareInfo={"firmwareName": "a.bin"})) == FuotaError.NO_CUSTOM_FIRMWARE_INFO
        for size in (0, 251, 44 + 1):  # DR0 carries 46 bytes: 43 of fragment after the 3-byte header
            assert refused(task_body(EUIS[:2], fragmentSize=size)) == FuotaError.FRAGMENT_SIZE
        for interval in (999, 10001):
            assert refused(task_body(EUIS[:2], fragmentInterval=interval)) == FuotaError.FRAGMENT_INTERVAL
        assert refused(task_body(EUIS[:2], fragmentRedundancy=101)) == FuotaError.REDUNDANCY
        assert refused(changed(deveui=[EUIS[0], EUIS[7]])) == ReturnCode.NOT_FOUND  # EUIS[7] is another gateway's
        assert refused(changed(deveui=[])) == refused({"fuota": {}}) == ReturnCode.PARAMETER
        assert refused(changed(tmpMcInfo={"dr": 9, "frequency": 869525000})) == ReturnCode.PARAMETER
        assert api.ask(GW[0], "POST", "/api/fuota/task", task_body([e.upper() for e in EUIS[:2]])) == {"id": 1}
        assert refused(task_body(EUIS[:2])) == ReturnCode.ALREADY_EXISTS
        assert api.ask(GW[0], "POST", "/api/fuota/task", task_body(EUIS[:2], "fw2")) == {"id": 2}
        assert refused(task_body(EUIS[:2], "fw3")) == FuotaError.TOO_MANY_TASKS
        assert api.ask(GW[1], "POST", "/api/fuota/task", task_body(EUIS[6:8])) == {"id": 1}
        assert sim.calls[Call(GW[0], "POST", "/api/fuota/task")] == 23
        assert sim.calls[Call(GW[1], "POST", "/api/fuota/task")] == 1
        assert api.ask(GW[0], "GET", "/api/nowhere")["code"] == ReturnCode.URL_NOT_SUPPORTED
        assert api.ask(GW[0], "PUT", "/api/fuota/task", {})["code"] == ReturnCode.METHOD_NOT_SUPPORTED
        assert api.gather(api.send(GW[0], "GET", "/api/urdevices", type="other"), 0.3)[0]["body"]["code"] == 21
        api.client.publish(REQUEST, b"{not json")
        garbled = api.gather("", 0.3)
        assert len(garbled) == 3 and {a["body"]["code"] for a in garbled} == {ReturnCode.PARSE_JSON}


def test_a_task_steps_through_its_statuses_on_a_frozen_clock(mqtt_broker: Broker, api: Api) -> None:
    with MilesightSim(mqtt_broker.url, FLEET, speed=0, timing=FAST) as sim:
        body = task_body(EUIS[:3])
        later = dt.datetime.fromtimestamp(sim.clock.ms(5) / 1000, dt.UTC)
        body["fuotaTask"]["startedAt"] = later.isoformat()
        assert api.ask(GW[0], "POST", "/api/fuota/task", body) == {"id": 1}
        first = task(api, GW[0], 1)
        assert first["status"] == TaskStatus.PENDING and first["stoppedAt"] == "" and first["totalDevices"] == 3
        assert set(devices(api, GW[0], 1).values()) == {(Mc.NOT_STARTED, Frag.NOT_STARTED, TaskStatus.PENDING)}
        steps = [  # seconds to advance, task status, every device's (multicast, fragment, status)
            (5, TaskStatus.WAITING, (Mc.SETTING_UP, Frag.NOT_STARTED, TaskStatus.WAITING)),
            (10, TaskStatus.WAITING, (Mc.CONFIRMED, Frag.NOT_STARTED, TaskStatus.WAITING)),
            (10, TaskStatus.WAITING, (Mc.READY, Frag.SETTING_UP, TaskStatus.WAITING)),
            (10, TaskStatus.EXECUTING, (Mc.PROCESSING, Frag.PROCESSING, TaskStatus.EXECUTING)),
            (42, TaskStatus.EXECUTING, (Mc.COMPLETE, Frag.SESSION_COMPLETE, TaskStatus.EXECUTING)),
            (10, TaskStatus.SUCCESS, (Mc.COMPLETE, Frag.UPGRADE_COMPLETE, TaskStatus.SUCCESS)),
        ]
        for seconds, status, codes in steps:
            sim.clock.advance(seconds)
            assert task(api, GW[0], 1)["status"] == status
            assert set(devices(api, GW[0], 1).values()) == {codes}
        last = task(api, GW[0], 1)
        assert last["doneDevices"] == 3 and last["stoppedAt"] == last["updatedAt"] != ""
        session = sim.device(EUIS[0]).session
        assert session is not None and session.rebuilt(IMAGE) and session.received == 24 + 8


def test_device_codes_come_from_what_each_device_really_got(mqtt_broker: Broker, api: Api) -> None:
    ok, mute, short, lossy = EUIS[:4]
    sim = MilesightSim(
        mqtt_broker.url, FLEET, loss={lossy: 0.9}, never_answer_multicast={mute}, low_memory={short.upper()},
        speed=250, timing=FAST,
    )  # fmt: skip
    with sim:
        assert api.ask(GW[0], "POST", "/api/fuota/task", task_body(EUIS[:4])) == {"id": 1}
        final = wait_final(api, GW[0], 1)
        assert final["status"] == TaskStatus.FAILED and final["doneDevices"] == 1
        codes = devices(api, GW[0], 1)
        assert codes[ok] == (Mc.COMPLETE, Frag.UPGRADE_COMPLETE, TaskStatus.SUCCESS)
        assert codes[mute] == (Mc.SETUP_TIMEOUT, Frag.NOT_STARTED, TaskStatus.FAILED)
        assert codes[short] == (Mc.COMPLETE, Frag.LOW_MEMORY, TaskStatus.FAILED)
        assert codes[lossy] == (Mc.COMPLETE, Frag.LACK_OF_FRAGMENTS, TaskStatus.FAILED)
        assert sim.device(mute).session is None and sim.device(short).session is None
        got = sim.device(lossy).session
        assert got is not None and not got.complete and got.missing > 0 and 0 < got.received < 32

        before = sim.device(lossy).session
        assert api.ask(GW[0], "POST", "/api/fuota/task/retry", {"ids": [1]}) == {"code": 200, "error": ""}
        assert task(api, GW[0], 1)["status"] in (TaskStatus.WAITING, TaskStatus.EXECUTING)
        assert devices(api, GW[0], 1)[ok] == (Mc.COMPLETE, Frag.UPGRADE_COMPLETE, TaskStatus.SUCCESS)
        again = wait_final(api, GW[0], 1)
        assert again["status"] == TaskStatus.FAILED and again["stoppedAt"] != ""
        assert sim.device(lossy).session is not before  # a fresh fragmentation session, fresh draws
        assert devices(api, GW[0], 1)[mute][0] == Mc.SETUP_TIMEOUT


def test_devices_refuse_a_frequency_outside_the_channel_plan(mqtt_broker: Broker, api: Api) -> None:
    with MilesightSim(mqtt_broker.url, FLEET, speed=0, timing=FAST) as sim:
        body = task_body(EUIS[6:8])
        body["fuotaTask"]["tmpMcInfo"]["frequency"] = 923300000  # US915's, not EU868's
        assert api.ask(GW[1], "POST", "/api/fuota/task", body) == {"id": 1}
        sim.clock.advance(FAST.multicast_setup + 1)  # startedAt is the wall time, a little after the clock began
        assert set(devices(api, GW[1], 1).values()) == {(Mc.FREQUENCY_ERROR, Frag.NOT_STARTED, TaskStatus.FAILED)}
        sim.clock.advance(1000)
        assert task(api, GW[1], 1)["status"] == TaskStatus.FAILED


def test_retry_needs_a_failed_task_and_delete_removes_tasks(mqtt_broker: Broker, api: Api) -> None:
    with MilesightSim(mqtt_broker.url, FLEET, speed=0, timing=FAST):
        for name in ("a", "b", "c"):
            api.ask(GW[0], "POST", "/api/fuota/task", task_body(EUIS[:2], name))
        retry = api.ask(GW[0], "POST", "/api/fuota/task/retry", {"ids": [2]})
        assert retry["code"] == FuotaError.TASK_STATUS
        assert api.ask(GW[0], "POST", "/api/fuota/task/retry", {"ids": [9]})["code"] == ReturnCode.NOT_FOUND
        listed = api.ask(GW[0], "GET", "/api/fuota/task?limit=2&offset=0")
        assert listed["total"] == 3 and [t["id"] for t in listed["tasks"]] == [3, 2]  # newest first
        assert [t["id"] for t in api.ask(GW[0], "GET", "/api/fuota/task?limit=2&offset=2")["tasks"]] == [1]
        assert [t["name"] for t in api.ask(GW[0], "GET", "/api/fuota/task?search=B")["tasks"]] == ["b"]
        assert api.ask(GW[0], "POST", "/api/fuota/task/delete", {"ids": [1, 3]}) == {"code": 200, "error": ""}
        assert [t["id"] for t in api.ask(GW[0], "GET", "/api/fuota/task")["tasks"]] == [2]
        assert api.ask(GW[0], "POST", "/api/fuota/task/delete", {"ids": [2, 3]})["code"] == ReturnCode.NOT_FOUND
        assert api.ask(GW[0], "GET", "/api/fuota/devices?taskId=3")["code"] == ReturnCode.NOT_FOUND
        assert api.ask(GW[0], "GET", "/api/fuota/devices")["code"] == ReturnCode.PARAMETER
        assert api.ask(GW[0], "POST", "/api/fuota/task/delete", {"ids": "2"})["code"] == ReturnCode.PARAMETER
        page = api.ask(GW[0], "GET", "/api/fuota/devices?taskId=2&limit=1&offset=1")
        assert page["total"] == 2 and [d["devEui"] for d in page["devices"]] == [EUIS[1]]


def test_silent_gateways_never_answer(mqtt_broker: Broker, api: Api) -> None:
    with MilesightSim(mqtt_broker.url, FLEET, silent_gateways={GW[2].upper()}, speed=0) as sim:
        assert api.gather(api.send(GW[2], "GET", "/api/urdevices"), 0.3) == []
        assert api.ask(GW[1], "POST", "/api/fuota/task", task_body(EUIS[6:8])) == {"id": 1}
        sim.silence(GW[1])
        assert api.gather(api.send(GW[1], "GET", "/api/fuota/task"), 0.3) == []
        assert sim.calls[Call(GW[1], "GET", "/api/fuota/task")] == 1  # it got the request, it did not answer
        sim.silence(GW[1], silent=False)
        assert api.ask(GW[1], "GET", "/api/fuota/task")["total"] == 1


def test_the_sim_answers_again_after_a_broker_restart(mqtt_broker: Broker, api: Api) -> None:
    with MilesightSim(mqtt_broker.url, FLEET, speed=0) as sim:
        mqtt_broker.restart(0.3)
        # Both clients reconnect by themselves: each request waits 0.2 s for its answers.
        answers = wait_for(
            lambda: api.gather(api.send(GW[0], "GET", "/api/urdevices"), 0.2), 8, "an answer after the restart", every=0
        )
        assert answers[0]["body"]["devTotalCount"] == "6" and sim.connected


def test_600_devices_on_three_gateways_are_all_listed_on_every_ask(mqtt_broker: Broker, api: Api) -> None:
    many = fleet_euis(600, seed=7)
    gateways = {gw: many[i * 200 : (i + 1) * 200] for i, gw in enumerate(GW)}
    with MilesightSim(mqtt_broker.url, gateways, loss=0.1, speed=500, timing=FAST):
        for gw, euis in gateways.items():
            assert api.ask(gw, "POST", "/api/fuota/task", task_body(euis)) == {"id": 1}
        for gw in GW * 5:
            assert api.ask(gw, "GET", "/api/fuota/devices?taskId=1")["total"] == 200


def test_serve_forever_returns_when_stopped(mqtt_broker: Broker) -> None:
    sim = MilesightSim(mqtt_broker.url, FLEET)
    thread = threading.Thread(target=sim.serve_forever)
    thread.start()
    wait_for(lambda: sim.connected, 5, "the simulator connected", every=0.02)
    sim.stop()
    thread.join(5)
    assert not thread.is_alive()
