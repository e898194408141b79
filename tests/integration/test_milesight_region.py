"""Issue 15, item 4: the region comes from each gateway's channel plan, through a real mosquitto.

A Milesight gateway reports its plan in `channelPlan` (3.3); the task's dr and frequency "depend on channel plan"
(appendix). The gateway simulator plays gateways on other plans (`channel_plans`): each answers its plan, its plan's
payload sizes, and its devices refuse a frequency outside the plan with multicastSessionStatus 10, as a real
gateway's would. So a campaign that leaves dr and frequency out gets each gateway's RX2 row and ends Done; one that
pins a region or frequency off a gateway's plan is refused by `plan` and `launch` (exit 2, nothing stored).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from fuota.backends.milesight.mqtt import NsApiClient
from fuota.sim.iotsquare import fleet_euis
from fuota.sim.milesight import Call, MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota
from tests.support.config_files import milesight, write_config, write_milesight_campaign
from tests.support.milesight_responder import Responder, paged

FIRMWARE = np.random.default_rng(17).bytes(1200)
GATEWAYS = gateway_euis(2, seed=8)
TIMING = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)
RX2 = {"CN470": (0, 505_300_000), "US915": (8, 923_300_000), "EU868": (0, 869_525_000)}


def _digest(folder: Path) -> str:
    db = folder / "fuota.db"
    return hashlib.sha256(db.read_bytes()).hexdigest() if db.exists() else "absent"


def _setup(folder: Path, broker: Broker, euis: list[str], options: dict | None = None) -> None:
    # keep_tasks: the tasks stay on the gateways after the run, to read what each was sent
    write_config(folder, milesight(broker.url, GATEWAYS, timeout=1, give_up_after=4, keep_tasks=True))
    write_milesight_campaign(folder, "ms", euis, firmware=FIRMWARE, milesight=options)


def _spread(n: int) -> tuple[list[str], dict[str, list[str]]]:
    euis = fleet_euis(n, seed=12)
    return euis, {g: euis[i :: len(GATEWAYS)] for i, g in enumerate(GATEWAYS)}


def _sent(broker: Broker, gateway: str) -> dict:
    """The tmpMcInfo of the task the gateway holds, as it lists it (6.2)."""
    api = NsApiClient(broker.url, "milesight/ns-api/request", "milesight/ns-api/response", timeout=3)
    try:
        (task,) = api.request("GET", "/api/fuota/task", gateway)["body"]["tasks"]
    finally:
        api.close()
    return {key: task["tmpMcInfo"][key] for key in ("dr", "frequency")}


def _plan(folder: Path) -> dict:
    result = fuota(folder, "plan", "c.toml", "--json", timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout)


def test_a_cn470_gateway_gets_cn470_rx2_defaults_and_the_campaign_ends_done(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    _, spread = _spread(12)
    gateway = GATEWAYS[0]
    one = {gateway: spread[gateway]}
    with MilesightSim(mqtt_broker.url, one, speed=60, timing=TIMING, seed=2, channel_plans={gateway: "CN470"}):
        write_config(tmp_path, milesight(mqtt_broker.url, [gateway], timeout=1, give_up_after=4, keep_tasks=True))
        write_milesight_campaign(tmp_path, "ms", one[gateway], firmware=FIRMWARE)
        planned = _plan(tmp_path)
        (deployment,) = planned["deployments"]
        assert deployment["region"] == "CN470" and deployment["plan"]["dr"] == 0  # the forecast is what is sent
        line = f"gateway {gateway.upper()}: channelPlan 'CN470' → region CN470, dr 0, frequency 505300000 Hz"
        assert line in planned["checks"], planned["checks"]
        result = fuota(tmp_path, "run", "c.toml", timeout=240)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert _sent(mqtt_broker, gateway) == {"dr": 0, "frequency": 505_300_000}
    status = json.loads(fuota(tmp_path, "status", "ms", "--json").stdout)
    assert status["state"] == "Done"
    assert {d["outcome"] for d in status["devices"]} == {"updated"}


@pytest.mark.parametrize(
    ("plan", "options", "value"),
    [
        ("CN470", {"frequency": 869_525_000}, "frequency = 869525000 Hz"),
        ("US915", {"frequency": 869_525_000}, "frequency = 869525000 Hz"),
        ("CN470", {"region": "EU868"}, "region = 'EU868'"),
        ("US915", {"region": "eu868", "frequency": 869_525_000}, "region = 'eu868'"),
    ],
    ids=["CN470 frequency", "US915 frequency", "CN470 region", "US915 region"],
)
def test_plan_and_launch_refuse_a_value_off_the_gateway_s_plan(
    tmp_path: Path, mqtt_broker: Broker, plan: str, options: dict, value: str
) -> None:
    euis, spread = _spread(8)
    plans = dict.fromkeys(GATEWAYS, plan)
    with MilesightSim(mqtt_broker.url, spread, speed=0, timing=TIMING, channel_plans=plans) as sim:
        _setup(tmp_path, mqtt_broker, euis, options)
        for command in (["plan", "c.toml"], ["launch", "c.toml"]):
            result = fuota(tmp_path, *command, timeout=120)
            assert result.returncode == 2, result.stdout + result.stderr
            assert f"reports channelPlan '{plan}'" in result.stderr and value in result.stderr, result.stderr
            assert any(f"gateway {g.upper()}" in result.stderr for g in GATEWAYS), result.stderr
            assert "drop [milesight]" in result.stderr, result.stderr
        assert _digest(tmp_path) == "absent"
        assert not any(call.method == "POST" for call in sim.calls)


def test_two_gateways_on_different_plans_each_get_their_own_defaults(tmp_path: Path, mqtt_broker: Broker) -> None:
    euis, spread = _spread(16)
    plans = {GATEWAYS[0]: "CN470", GATEWAYS[1]: "US915"}
    with MilesightSim(mqtt_broker.url, spread, speed=60, timing=TIMING, seed=5, channel_plans=plans):
        _setup(tmp_path, mqtt_broker, euis)
        planned = _plan(tmp_path)
        regions = {d["target"]: (d["region"], d["plan"]["dr"]) for d in planned["deployments"]}
        assert regions == {gw: (plan, RX2[plan][0]) for gw, plan in plans.items()}
        result = fuota(tmp_path, "run", "c.toml", timeout=240)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        for gateway, plan in plans.items():
            assert _sent(mqtt_broker, gateway) == dict(zip(("dr", "frequency"), RX2[plan], strict=True))
    status = json.loads(fuota(tmp_path, "status", "ms", "--json").stdout)
    assert status["state"] == "Done" and {d["outcome"] for d in status["devices"]} == {"updated"}


def test_one_pinned_frequency_is_refused_for_the_gateway_whose_plan_it_does_not_fit(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    # 505.3 MHz is CN470's RX2 frequency: it fits the CN470 gateway, not the US915 one; one task cannot be sent on
    # two bands, so the campaign is refused, naming the gateway it does not fit.
    euis, spread = _spread(8)
    plans = {GATEWAYS[0]: "CN470", GATEWAYS[1]: "US915"}
    with MilesightSim(mqtt_broker.url, spread, speed=0, timing=TIMING, channel_plans=plans) as sim:
        _setup(tmp_path, mqtt_broker, euis, {"frequency": 505_300_000})
        result = fuota(tmp_path, "launch", "c.toml", timeout=120)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"gateway {GATEWAYS[1].upper()} reports channelPlan 'US915'" in result.stderr, result.stderr
        assert "frequency = 505300000 Hz" in result.stderr and "923300000–927500000 Hz" in result.stderr
        assert _digest(tmp_path) == "absent"
        assert not any(call.method == "POST" for call in sim.calls)


def test_devices_of_a_cn470_gateway_refuse_an_eu868_frequency_with_multicast_code_10(mqtt_broker: Broker) -> None:
    gateway = GATEWAYS[0]
    _, spread = _spread(4)
    with MilesightSim(mqtt_broker.url, spread, speed=0, timing=TIMING, channel_plans={gateway: "CN470"}) as sim:
        api = NsApiClient(mqtt_broker.url, "milesight/ns-api/request", "milesight/ns-api/response", timeout=3)
        try:
            assert api.request("GET", "/api/urdevices", gateway)["body"]["channelPlan"] == "CN470"
            assert api.request("GET", "/api/urdevices", GATEWAYS[1])["body"]["channelPlan"] == "EU868"
            sizes = api.request("GET", "/api/fuota/task/payloadsize", gateway)["body"]["maxPayloadSizeMap"]
            assert {s["dr"]: s["maxPayloadSize"] for s in sizes} == {
                0: 46,
                1: 18,
                2: 81,
                3: 179,
                4: 237,
                5: 237,
                6: 237,
            }
            task = {
                "name": "eu-on-cn", "startedAt": "2026-01-01T00:00:00.000Z", "description": "",
                "deveui": spread[gateway],
                "firmwareInfo": {"firmwareName": "a.bin", "fileContent": "AQID"}, "isOfficialFirmware": False,
                "fragmentInfo": {"fragmentSize": 40, "fragmentInterval": 1000, "fragmentRedundancy": 10},
                "tmpMcInfo": {"groupType": 0, "dr": 0, "frequency": 869_525_000},
            }  # fmt: skip
            assert api.request("POST", "/api/fuota/task", gateway, {"fuotaTask": task})["body"] == {"id": 1}
            sim.clock.advance(TIMING.multicast_setup + 1)
            rows = api.request("GET", "/api/fuota/devices?taskId=1", gateway)["body"]["devices"]
        finally:
            api.close()
    assert {row["multicastSessionStatus"] for row in rows} == {10}
    assert sim.calls[Call(gateway, "POST", "/api/fuota/task")] == 1


def test_a_gateway_without_a_known_plan_is_said_so_and_the_configured_region_is_used(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    gateway = GATEWAYS[0]
    devices = [{"devEUI": eui.upper()} for eui in fleet_euis(3, seed=12)]
    sizes = {"maxPayloadSizeMap": [{"dr": dr, "maxPayloadSize": 46} for dr in range(6)]}
    with Responder(mqtt_broker, gateway) as responder:
        responder.on("GET", "/api/fuota/task/payloadsize", lambda r: sizes)
        for answered, region, expected in ((None, None, "EU868"), ("Lunar433", "KR920", "KR920")):
            listing = paged(devices, "deviceResult", "devTotalCount")
            plan = {} if answered is None else {"channelPlan": answered}
            responder.on("GET", "/api/urdevices", lambda r, listing=listing, plan=plan: listing(r) | plan)
            write_config(tmp_path, milesight(mqtt_broker.url, [gateway], timeout=1, give_up_after=4))
            options = {} if region is None else {"region": region}
            write_milesight_campaign(
                tmp_path, "ms", [d["devEUI"].lower() for d in devices], firmware=FIRMWARE, milesight=options
            )
            planned = _plan(tmp_path)
            reported = "no channelPlan" if answered is None else f"channelPlan {answered!r}, no plan of the appendix"
            note = f"gateway {gateway.upper()} reports {reported}: region {expected}"
            assert any(line.startswith(note) for line in planned["checks"]), planned["checks"]
            assert planned["deployments"][0]["region"] == expected
    assert _digest(tmp_path) == "absent"
