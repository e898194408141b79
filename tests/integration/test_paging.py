"""Issue 15, item 6: lists read whole whatever page size the server answers, over real HTTP and real Mosquitto.

The specs announce a list's whole count (`amount`, `total`, `devTotalCount`) but not what a server does when asked
for a larger page than it serves. The simulators play each reading (fuota.sim.paging.PageCap): fuota reads every
item under clamp and cut, and under a server that ignores paging refuses with a clear error instead of acting on
the first page.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fuota.backends.base import TaskSpec
from fuota.backends.errors import MalformedAnswer
from fuota.backends.iotsquare.adapter import IoTSquareBackend
from fuota.backends.milesight.adapter import MilesightBackend
from fuota.sim.iotsquare import IoTSquareSim, PageCap, fleet_euis
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota
from tests.support.config_files import iotsquare, write_campaign, write_config

FIRMWARE = np.random.default_rng(15).bytes(1200)
GROUP = "cc3e92cea33ac601"


def _iotsquare(sim: IoTSquareSim) -> IoTSquareBackend:
    return IoTSquareBackend("iot", sim.url, "sim-token", timeout=5, retry_attempts=1)


@pytest.mark.parametrize("reading", ["clamp", "cut"])
def test_an_iotsquare_group_of_600_is_read_whole_from_pages_of_50(reading: str) -> None:
    euis = fleet_euis(600, seed=21)
    with IoTSquareSim(groups={GROUP: euis}, page_cap=PageCap(50, reading)) as sim:  # type: ignore[arg-type]
        backend = _iotsquare(sim)
        try:
            target = backend.prepare(GROUP, tuple(euis), {})
            assert sorted(target.members) == sorted(euis) and not target.refused
            assert sim.calls["mcdevice/list"] == 12  # 600 / 50: the first page is asked at 100, then 50 a page
        finally:
            backend.close()


def test_an_iotsquare_server_ignoring_paging_is_refused_not_half_read() -> None:
    euis = fleet_euis(120, seed=22)
    with IoTSquareSim(groups={GROUP: euis}, page_cap=PageCap(50, "ignore")) as sim:
        backend = _iotsquare(sim)
        try:
            with pytest.raises(MalformedAnswer, match=r"ignores paging.*first 50 items \(of 120\)"):
                backend.prepare(GROUP, tuple(euis), {})
        finally:
            backend.close()


def test_a_600_device_campaign_on_a_server_capping_pages_at_50_reports_all_600(tmp_path: Path) -> None:
    euis = fleet_euis(600, seed=23)
    sim = IoTSquareSim(devices=euis, loss=0.02, speed=400, join_delay=20, phase_time=4, fragment_interval=2, seed=4,
                       page_cap=PageCap(50, "cut"))  # fmt: skip
    with sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "paged", euis, firmware=FIRMWARE, join_timeout=3)
        result = fuota(tmp_path, "run", "c.toml", timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert sim.calls["fuota/device/list"] >= 3 * 2  # three deployments' device lists, each more than one page
    status = json.loads(fuota(tmp_path, "status", "paged", "--json").stdout)
    assert status["state"] == "Done"
    devices = {d["dev_eui"]: d for d in status["devices"]}
    assert set(devices) == set(euis)
    assert all(d["stage"] != "unknown" for d in devices.values())  # every device reported, none missed by a page
    assert status["outcomes"]["updated"] >= 590


def test_a_gateway_capping_pages_is_read_whole_and_one_ignoring_paging_refused(mqtt_broker: Broker) -> None:
    gateway = gateway_euis(1, seed=24)[0]
    euis = fleet_euis(230, seed=24)
    timing = Timing(multicast_setup=5, fragment_setup=5, status_report=5, upgrade=5)
    with MilesightSim(mqtt_broker.url, {gateway: euis}, speed=0, timing=timing, page_cap=PageCap(40)) as sim:
        backend = MilesightBackend("ms", mqtt_broker.url, timeout=3, retry_attempts=1)
        try:
            assert set(backend.locate([gateway], euis).values()) == {gateway}  # /api/urdevices, 6 pages
            spec = TaskSpec("fuota-paged-1", gateway, FIRMWARE, 30.0, tuple(euis), {"fragment_interval": 1000})
            ref = backend.create(spec)
            assert backend.find(spec) == ref
            assert sorted(d.dev_eui for d in backend.devices(ref)) == sorted(euis)  # /api/fuota/devices, 6 pages
            sim.page_cap = PageCap(40, "ignore")
            with pytest.raises(MalformedAnswer, match="ignores paging"):
                backend.devices(ref)
        finally:
            backend.close()
