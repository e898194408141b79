"""The IoTSquare simulator through real loopback HTTP: envelope, codes, paging, groups, tasks, real decoding."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from fuota.sim import DeviceState, IoTSquareSim, fleet_euis
from tests.support.waiting import wait_for

MC = "a1cf5e687656d815"
AUTO = {
    "mcName": "mc_group_00",
    "mcEUI": "F7D96C075A6D0154",
    "region": "eu868",
    "subnet": "ch_00-07",
    "enableMCRemote": True,
    "groupID": 0,
    "genAppKey": "504e83e6dd1a457af1bf93f99d362e89",
}
MANUAL = {
    "mcName": "mc_group_02",
    "mcEUI": "0abe5ddf92cff537",
    "region": "eu868",
    "subnet": "ch_00-07",
    "enableMCRemote": False,
    "mcAddr": "45c325ce",
    "mcAppSKey": "a1ef710bb888c7f0d1a296a442203fb8",
    "mcNwkSKey": "868d85d136e7006619c6910aaf3e488e",
}


def client(sim: IoTSquareSim, token: str = "sim-token") -> httpx.Client:
    return httpx.Client(base_url=f"{sim.url}/openapi/", headers={"Authorization": token}, timeout=5)


@pytest.fixture
def api() -> Iterator[tuple[IoTSquareSim, httpx.Client]]:
    """A sim with a frozen clock, 12 registered devices and the manual group MC holding the first four."""
    euis = fleet_euis(12)
    with IoTSquareSim(devices=euis, groups={MC: euis[:4]}, speed=0) as sim, client(sim) as http:
        yield sim, http


def payload(image: bytes) -> str:
    return base64.b64encode(image).decode()


def create_task(http: httpx.Client, image: bytes, name: str = "fw", percent: float = 0.3, mc: str = MC) -> int:
    answer = http.post(
        "fuota/create",
        json={"mcEUI": mc, "firmwareName": name, "redundancyPercent": percent, "payload": payload(image)},
    ).json()
    assert answer == {"code": 0, "msg": "ok"}  # no fdID: clients find it through fuota/list
    tasks = http.get("fuota/list", params={"mcEUI": mc, "pageNo": 0, "pageSize": 0}).json()["data"]
    return next(task["fdID"] for task in tasks if task["firmwareName"] == name)


def all_devices(http: httpx.Client, fd_id: int, mc: str = MC) -> list[dict]:
    rows, number = [], 1
    while True:
        page = http.get("fuota/device/list", params={"mcEUI": mc, "fdID": fd_id, "pageNo": number, "pageSize": 50})
        rows += page.json()["data"]
        if len(rows) >= page.json()["amount"]:
            return rows
        number += 1


def test_token_missing_wrong_and_right(api: tuple[IoTSquareSim, httpx.Client]) -> None:
    sim, _ = api
    with httpx.Client(base_url=f"{sim.url}/openapi/") as anonymous:
        assert anonymous.get("mcgroup/list").json() == {"code": 1003, "msg": "No Token, Please log in again"}
    with client(sim, "nope") as wrong:
        assert wrong.get("mcgroup/list").json()["code"] == 1004
    with client(sim, "Bearer sim-token") as bearer:
        assert bearer.get("mcgroup/list").json()["code"] == 0


def test_custom_token_header() -> None:
    with IoTSquareSim(token="t0k", token_header="X-Access-Token") as sim:
        assert httpx.get(f"{sim.url}/openapi/mcgroup/list", headers={"x-access-token": "t0k"}).json()["code"] == 0
        assert httpx.get(f"{sim.url}/openapi/mcgroup/list", headers={"Authorization": "t0k"}).json()["code"] == 1003


def test_unknown_path_wrong_method_and_bad_json(api: tuple[IoTSquareSim, httpx.Client]) -> None:
    _, http = api
    missing = http.get("app/frobnicate")
    assert missing.status_code == 404 and missing.json()["code"] == 1007
    assert http.get("fuota/create").status_code == 405
    bad = http.post("fuota/create", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 200 and bad.json() == {"code": 1007, "msg": "Param Error"}


def test_pagination_pages_and_the_200_cap() -> None:
    euis = fleet_euis(250, seed=3)
    with IoTSquareSim(groups={MC: euis}, speed=0) as sim, client(sim) as http:
        first = http.get("mcdevice/list", params={"mcEUI": MC}).json()
        assert first["amount"] == 250 and len(first["data"]) == 10  # pageSize defaults to 10
        everything = http.get("mcdevice/list", params={"mcEUI": MC, "pageNo": 0, "pageSize": 0}).json()
        assert everything["amount"] == 250 and len(everything["data"]) == 200  # "all", capped: clients must page
        pages = [
            http.get("mcdevice/list", params={"mcEUI": MC, "pageNo": n, "pageSize": 100}).json()["data"]
            for n in (1, 2, 3, 4)
        ]
        assert [len(p) for p in pages] == [100, 100, 50, 0]
        assert [row["devEUI"] for p in pages for row in p] == euis
        assert all(row["joined"] for row in pages[0])  # a manually configured group: joined at once
        assert http.get("mcdevice/list", params={"mcEUI": MC, "pageNo": -1}).json()["code"] == 1007


def test_group_create_validation_duplicates_and_delete(api: tuple[IoTSquareSim, httpx.Client]) -> None:
    _, http = api
    assert http.post("mcgroup/create", json=AUTO).json() == {"code": 0, "msg": "ok"}
    assert http.post("mcgroup/create", json=MANUAL).json()["code"] == 0
    assert http.post("mcgroup/create", json={**AUTO, "mcEUI": AUTO["mcEUI"].lower()}).json()["code"] == 14002
    assert http.post("mcgroup/create", json={**AUTO, "mcEUI": "f7d96c07"}).json()["code"] == 1007
    assert http.post("mcgroup/create", json={**AUTO, "mcEUI": "1" * 16, "mcName": "bad-name!"}).json()["code"] == 1007
    assert http.post("mcgroup/create", json={**AUTO, "mcEUI": "1" * 16, "region": "mars"}).json()["code"] == 1011
    no_key = {k: v for k, v in AUTO.items() if k != "genAppKey"} | {"mcEUI": "2" * 16, "mcName": "other"}
    assert http.post("mcgroup/create", json=no_key).json()["code"] == 1006
    clash = {**MANUAL, "mcEUI": "3" * 16, "mcName": "clash"}  # same mcAddr and mcNwkSKey
    assert http.post("mcgroup/create", json=clash).json()["code"] == 14003
    groups = http.get("mcgroup/list", params={"pageNo": 0, "pageSize": 0}).json()
    assert groups["amount"] == 3
    auto = next(g for g in groups["data"] if g["mcName"] == "mc_group_00")
    assert auto["mcEUI"] == "f7d96c075a6d0154" and auto["groupID"] == 0 and auto["deviceNums"] == 0
    deleted = http.post("mcgroup/delete", json={"mcEUIs": ["0ABE5DDF92CFF537", "32590dc55e105682"]}).json()
    assert deleted == {
        "code": 14007,
        "msg": "MCGroup Batch Delete Error",
        "data": [{"code": 14001, "msg": "MCGroup Not Exist", "mcEUI": "32590dc55e105682"}],
    }
    assert http.get("mcgroup/list").json()["amount"] == 2


def test_mcdevice_create_partial_success_and_delete(api: tuple[IoTSquareSim, httpx.Client]) -> None:
    sim, http = api
    euis = list(sim.fleet)
    assert http.post("mcgroup/create", json=AUTO).json()["code"] == 0
    mc = AUTO["mcEUI"]
    assert http.post("mcdevice/create", json={"mcEUI": mc, "devEUIs": [euis[4]]}).json()["code"] == 0
    unknown = "55e1032590dc5682"
    answer = http.post(
        "mcdevice/create", json={"mcEUI": mc, "devEUIs": [euis[5].upper(), unknown, euis[4], euis[0], euis[6], unknown]}
    ).json()
    assert answer["code"] == 14008 and answer["msg"] == "MCDevice Batch Bind Error"
    assert answer["data"] == [
        {"code": 4001, "msg": "Device Not Exist", "devEUI": unknown},
        {"code": 14010, "msg": "MCDevice Already Bind Current Group", "devEUI": euis[4]},
        {"code": 14011, "msg": "MCDevice Already Bind Other Group", "devEUI": euis[0]},
    ]
    members = http.get("mcdevice/list", params={"mcEUI": mc.lower()}).json()
    assert [m["devEUI"] for m in members["data"]] == [euis[4], euis[5], euis[6]]  # the good ones were added
    assert set(members["data"][0]) == {"devEUI", "devName", "joined", "createtime"}
    removed = http.post("mcdevice/delete", json={"mcEUI": mc, "devEUIs": [euis[5], euis[0]]}).json()
    assert removed["code"] == 14009 and [e["code"] for e in removed["data"]] == [14013]
    assert http.get("mcdevice/list", params={"mcEUI": mc}).json()["amount"] == 2
    # deleting a group unbinds its devices: they may join another one
    assert http.post("mcgroup/delete", json={"mcEUIs": [MC]}).json()["code"] == 0
    assert http.post("mcdevice/create", json={"mcEUI": mc, "devEUIs": [euis[0]]}).json()["code"] == 0
    assert http.post("mcdevice/create", json={"mcEUI": "9" * 16, "devEUIs": [euis[0]]}).json()["code"] == 14001


def test_extended_function_caps_a_group_at_253() -> None:
    euis = fleet_euis(255)
    with IoTSquareSim(devices=euis, speed=0) as sim, client(sim) as http:
        ext = {**AUTO, "enableMCExt": True, "timeSlotLength": 3}
        assert http.post("mcgroup/create", json=ext).json()["code"] == 0
        answer = http.post("mcdevice/create", json={"mcEUI": AUTO["mcEUI"], "devEUIs": euis}).json()
        assert answer["code"] == 14008 and [e["code"] for e in answer["data"]] == [14004, 14004]
        assert http.get("mcdevice/list", params={"mcEUI": AUTO["mcEUI"]}).json()["amount"] == 253


def test_auto_configured_members_join_after_join_delay_but_never_join_ones_do_not() -> None:
    euis = fleet_euis(3)
    with IoTSquareSim(devices=euis, never_join={euis[2].upper()}, join_delay=60, speed=0) as sim, client(sim) as http:
        http.post("mcgroup/create", json=AUTO)
        http.post("mcdevice/create", json={"mcEUI": AUTO["mcEUI"], "devEUIs": euis})

        def joined() -> list[bool]:
            return [m["joined"] for m in http.get("mcdevice/list", params={"mcEUI": AUTO["mcEUI"]}).json()["data"]]

        assert joined() == [False, False, False]
        sim.clock.advance(59)
        assert joined() == [False, False, False]
        sim.clock.advance(1)
        assert joined() == [True, True, False]
        sim.clock.advance(10_000)
        assert joined() == [True, True, False]


def test_create_answers_no_fd_id_refuses_duplicates_and_bad_params(api: tuple[IoTSquareSim, httpx.Client]) -> None:
    sim, http = api
    image = np.random.default_rng(0).bytes(13737)
    fd_id = create_task(http, image)
    body = {"mcEUI": MC, "firmwareName": "fw", "redundancyPercent": 0.3, "payload": payload(image)}
    assert http.post("fuota/create", json=body).json() == {"code": 16001, "msg": "Fuota Deployment Already Exist"}
    for percent in (0.05, 1.5, "0.3", True):
        assert http.post("fuota/create", json={**body, "firmwareName": "x", "redundancyPercent": percent}).json() == {
            "code": 1007,
            "msg": "Param Error",
        }
    assert http.post("fuota/create", json={**body, "firmwareName": "x", "payload": "@@@"}).json()["code"] == 1007
    assert http.post("fuota/create", json={**body, "firmwareName": "x", "mcEUI": "9" * 16}).json()["code"] == 14001
    assert http.post("fuota/create", json={"mcEUI": MC}).json()["code"] == 1006
    listed = http.get("fuota/list", params={"mcEUI": MC.upper()}).json()
    assert listed["amount"] == 1 and sim.calls["fuota/create"] == 9
    status = http.get("fuota/status", params={"mcEUI": MC, "fdID": fd_id}).json()["data"]
    # the spec's section 9.3 sample: 13737 bytes at 0.3 → 287 fragments of 48 bytes, 39 padding, 86 redundancy
    assert (status["nbFrag"], status["fragSize"], status["padding"], status["redundancy"]) == (287, 48, 39, 86)
    assert len(base64.b64decode(status["descriptor"])) == 4
    assert status["state"] == "Created" and status["nextStepTime"] > status["createtime"]
    assert sim.image(fd_id) == image
    assert http.get("fuota/status", params={"mcEUI": MC, "fdID": 99}).json()["code"] == 1008


def test_timeline_and_device_states_step_by_step() -> None:
    euis = fleet_euis(3)
    timing = {"phase_time": 10, "fragment_interval": 1, "join_delay": 30}
    with IoTSquareSim(devices=euis, never_join={euis[2]}, speed=0, **timing) as sim, client(sim) as http:
        http.post("mcgroup/create", json=AUTO)
        mc = AUTO["mcEUI"].lower()
        http.post("mcdevice/create", json={"mcEUI": mc, "devEUIs": euis[:2]})
        sim.clock.advance(30)  # the first two have joined
        http.post("mcdevice/create", json={"mcEUI": mc, "devEUIs": euis[2:]})
        fd_id = create_task(http, bytes(range(200)), mc=mc)  # 5 fragments + 1 coded: EnqueueFragment lasts 6 s
        seen = []
        for step in (0, 10, 10, 3, 3, 10, 10, 10):
            sim.clock.advance(step)
            state = http.get("fuota/status", params={"mcEUI": mc, "fdID": fd_id}).json()["data"]["state"]
            rows = all_devices(http, fd_id, mc)
            seen.append((state, rows[0]["state"], rows[0]["nbFragReceived"], rows[2]["state"]))
        assert seen == [
            ("Created", "MC Joined", 0, "MC Not Joined"),
            ("SendFragSessSetup", "MC Joined", 0, "MC Not Joined"),
            ("EnqueueFragment", "FragSessionSetupAns", 1, "MC Not Joined"),
            ("EnqueueFragment", "FragSessionSetupAns", 4, "MC Not Joined"),
            ("SendFragSessStatus", "FragSessStatusAns", 6, "MC Not Joined"),
            ("SendFragSessDel", "FragSessDelAns", 6, "MC Not Joined"),
            ("Cleanup", "Done", 6, "MC Not Joined"),
            ("Done", "Done", 6, "MC Not Joined"),
        ]
        assert rows[2]["error_message"] and rows[0]["error_message"] == ""
        assert isinstance(rows[0]["nbFragReceived"], int)  # a number, as the samples send it (DESIGN.md §5)
        done = http.get("fuota/list", params={"mcEUI": mc}).json()["data"][0]
        assert done["state"] == "Done" and done["nextStepTime"] == -1


def test_a_whole_campaign_at_high_speed_matches_the_real_decoders() -> None:
    euis = fleet_euis(20, seed=7)
    lossy = euis[-1]
    image = np.random.default_rng(5).bytes(3000)
    loss = {eui: 0.0 for eui in euis} | {lossy: 0.9}
    with IoTSquareSim(groups={MC: euis}, loss=loss, speed=2000) as sim, client(sim) as http:
        fd_id = create_task(http, image, percent=0.2)
        wait_for(
            lambda: http.get("fuota/status", params={"mcEUI": MC, "fdID": fd_id}).json()["data"]["state"] == "Done",
            5,
            "the task Done",
            every=0.01,
        )
        rows = {row["devEUI"]: row for row in all_devices(http, fd_id)}
        assert len(rows) == 20
        for eui, row in rows.items():
            session = sim.device(eui).session
            assert session is not None
            assert row["nbFragReceived"] == session.received and row["nbFragMissing"] == session.decoder.missing
            if eui == lossy:
                assert row["state"] == DeviceState.FRAG_SESS_STATUS_ANS and row["nbFragMissing"] > 0
                assert "could not rebuild" in row["error_message"]
            else:
                assert row["state"] == "Done" and row["nbFragMissing"] == 0 and row["error_message"] == ""
                assert session.decoder.result()[: len(image)] == image


def test_a_never_join_device_of_a_manual_group_counts_as_joined_but_hears_nothing() -> None:
    euis = fleet_euis(2)
    with IoTSquareSim(groups={MC: euis}, never_join={euis[1]}, speed=0) as sim, client(sim) as http:
        assert [m["joined"] for m in http.get("mcdevice/list", params={"mcEUI": MC}).json()["data"]] == [True, True]
        fd_id = create_task(http, bytes(500))
        sim.clock.advance(10_000)
        deaf = all_devices(http, fd_id)[1]
        assert (deaf["state"], deaf["nbFragReceived"], deaf["nbFragMissing"]) == ("FragSessStatusAns", 0, 11)
        assert all_devices(http, fd_id)[0]["state"] == "Done"


def test_abort_during_enqueue_freezes_the_devices() -> None:
    euis = fleet_euis(5)
    sim = IoTSquareSim(groups={MC: euis}, loss=0.2, speed=0, phase_time=5, fragment_interval=1)
    with sim, client(sim) as http:
        fd_id = create_task(http, bytes(1000))  # 21 fragments + 6 coded
        sim.clock.advance(10 + 12.5)  # 13 fragments sent
        assert http.get("fuota/status", params={"mcEUI": MC, "fdID": fd_id}).json()["data"]["state"] == (
            "EnqueueFragment"
        )
        assert http.post("fuota/abort", json={"mcEUI": MC, "fdID": fd_id}).json() == {"code": 0, "msg": "ok"}
        before = all_devices(http, fd_id)
        sim.clock.advance(1)
        status = http.get("fuota/status", params={"mcEUI": MC, "fdID": fd_id}).json()["data"]
        assert status["state"] == "Cleanup"
        sim.clock.advance(1000)
        after = all_devices(http, fd_id)
        assert http.get("fuota/status", params={"mcEUI": MC, "fdID": fd_id}).json()["data"]["state"] == "Done"
        freeze = [(r["state"], r["nbFragReceived"], r["nbFragMissing"]) for r in after]
        assert freeze == [(r["state"], r["nbFragReceived"], r["nbFragMissing"]) for r in before]
        assert all(r["state"] == "FragSessionSetupAns" and 0 < r["nbFragReceived"] <= 13 for r in after)
        assert all(r["error_message"].startswith("task aborted") for r in after)
        assert sim.device(euis[0]).session.received == after[0]["nbFragReceived"]


def test_busy_answers_do_nothing_and_every_call_is_counted() -> None:
    with IoTSquareSim(devices=fleet_euis(2), busy_rate=0.5, seed=1) as sim, client(sim) as http:
        codes = [http.post("mcgroup/create", json=AUTO).json()["code"] for _ in range(30)]
        assert codes.count(1001) > 5 and codes.count(0) == 1  # created once, then 14002 (or busy)
        assert set(codes) == {0, 1001, 14002}
        assert sim.calls["mcgroup/create"] == 30 and sim.calls["fuota/create"] == 0


def test_slow_answers() -> None:
    with IoTSquareSim(delay=0.2) as sim, client(sim) as http:
        started = time.monotonic()
        assert http.get("mcgroup/list").json()["code"] == 0
        assert time.monotonic() - started >= 0.2


def test_serve_forever_returns_when_stopped_from_another_thread() -> None:
    sim = IoTSquareSim().start()
    runner = threading.Thread(target=sim.serve_forever)  # the CLI's way: start, then wait
    runner.start()
    assert httpx.get(f"{sim.url}/openapi/mcgroup/list").json()["code"] == 1003
    sim.stop()
    runner.join(2)
    assert not runner.is_alive()
