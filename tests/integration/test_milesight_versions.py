"""Issue 15, item 3: Milesight's `firmwareVersion` under every reading, through real Mosquitto and `fuota run`.

6.7 calls a device's `firmwareVersion` "Supported firmware version" and its sample sends "". The gateway simulator
plays three readings (fuota.sim.milesight.FirmwareVersions): "" always, the running version (1.0.0, then 2.0.0 once
upgraded), and a version that never changes. With expected_version = "2.0.0" each campaign ends Done with the same
outcomes, judged by fragmentSessionStatus; where the field cannot tell (empty, never changing) each deployment
records one anomaly saying so, shown in the report; where it is the running version it judges, and a campaign
expecting another version fails the devices that report 2.0.0.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fuota.core.outcomes import VERSION_ANOMALY
from fuota.sim.iotsquare import fleet_euis
from fuota.sim.milesight import FirmwareVersions, MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.store import Store
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota
from tests.support.config_files import milesight, sqlite_url, write_config, write_milesight_campaign

FIRMWARE = np.random.default_rng(11).bytes(1200)
GATEWAYS = gateway_euis(2, seed=8)
EUIS = fleet_euis(16, seed=12)
LOSSY = set(EUIS[:2])  # lose nearly every fragment: failed, too few fragments, whatever the reading
TIMING = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)


def _campaign(folder: Path, broker: Broker, versions: FirmwareVersions, expected: str) -> dict[str, Any]:
    """Run one campaign on a simulator playing `versions`; its status, text and HTML reports, and stored versions."""
    spread = {g: EUIS[i :: len(GATEWAYS)] for i, g in enumerate(GATEWAYS)}
    loss = {e: (0.9 if e in LOSSY else 0.0) for e in EUIS}
    topics = {"request_topic": f"{folder.name}/req", "response_topic": f"{folder.name}/resp"}
    folder.mkdir()
    sim = MilesightSim(
        broker.url, spread, loss=loss, speed=60, timing=TIMING, seed=4, firmware_versions=versions, **topics
    )
    with sim:
        write_config(folder, milesight(broker.url, GATEWAYS, timeout=1, give_up_after=4, **topics))
        write_milesight_campaign(
            folder, "ms", EUIS, firmware=FIRMWARE, success_threshold=0.8, milesight={"expected_version": expected}
        )
        run = fuota(folder, "run", "c.toml", timeout=240)
    status = json.loads(fuota(folder, "status", "ms", "--json").stdout)
    with Store(sqlite_url(folder)) as store:
        stored = {d.dev_eui: (d.initial_version, d.firmware_version) for d in store.devices()}
    return {
        "run": run,
        "status": status,
        "outcomes": {d["dev_eui"]: (d["outcome"], d["category"]) for d in status["devices"]},
        "versions": stored,
        "text": fuota(folder, "report", "ms").stdout,
        "html": fuota(folder, "report", "ms", "--format", "html").stdout,
    }


JUDGED_BY_CODES = {e: ("failed", "too_few_fragments") if e in LOSSY else ("updated", None) for e in EUIS}


@pytest.mark.parametrize(
    ("reading", "seen"),
    [("empty", "no device of the task reported a firmware version (all empty)"), ("fixed", "'1.0.0' on 8 devices")],
)
def test_a_field_that_cannot_tell_fails_no_device_and_is_one_anomaly_per_deployment_in_the_report(
    tmp_path: Path, mqtt_broker: Broker, reading: str, seen: str
) -> None:
    found = _campaign(tmp_path / reading, mqtt_broker, FirmwareVersions(reading), "2.0.0")  # type: ignore[arg-type]
    assert found["run"].returncode == 0, found["run"].stdout[-3000:] + found["run"].stderr[-3000:]
    assert found["status"]["state"] == "Done" and found["outcomes"] == JUDGED_BY_CODES
    notes = [a for a in found["status"]["anomalies"] if a["cause"].startswith(VERSION_ANOMALY)]
    assert sorted(a["deployment"] for a in notes) == sorted(d["task_name"] for d in found["status"]["deployments"])
    assert all(seen in a["cause"] and "judges the devices by the back end's session codes alone" in a["cause"]
               for a in notes)  # fmt: skip
    for note in notes:
        assert found["text"].count(f"{note['deployment']}: {note['cause']}") == 1
        assert found["html"].count(escape(f"{note['deployment']}: {note['cause']}")) == 1
    first = "1.0.0" if reading == "fixed" else None
    assert set(found["versions"].values()) == {(first, first)}


def test_the_running_version_judges_expected_version_met_when_it_becomes_equal(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    found = _campaign(tmp_path / "running", mqtt_broker, FirmwareVersions("running"), "2.0.0")
    assert found["run"].returncode == 0, found["run"].stdout[-3000:] + found["run"].stderr[-3000:]
    assert found["status"]["state"] == "Done" and found["outcomes"] == JUDGED_BY_CODES
    assert not [a for a in found["status"]["anomalies"] if a["cause"].startswith(VERSION_ANOMALY)]
    assert VERSION_ANOMALY not in found["text"] and VERSION_ANOMALY not in found["html"]
    # Recorded as first reported, before any fragment: 1.0.0 everywhere; 2.0.0 once the device applied the image.
    assert found["versions"] == {e: ("1.0.0", "1.0.0" if e in LOSSY else "2.0.0") for e in EUIS}


def test_the_running_version_fails_devices_that_applied_another_version(tmp_path: Path, mqtt_broker: Broker) -> None:
    found = _campaign(tmp_path / "other", mqtt_broker, FirmwareVersions("running"), "3.0.0")
    assert found["run"].returncode == 1 and found["status"]["state"] == "Failed"
    assert found["outcomes"] == {e: ("failed", "too_few_fragments" if e in LOSSY else "wrong_version") for e in EUIS}
    reasons = {d["dev_eui"]: d["reason"] for d in found["status"]["devices"] if d["dev_eui"] not in LOSSY}
    assert all("'2.0.0', not the '3.0.0' sent" in reason for reason in reasons.values())
    assert not [a for a in found["status"]["anomalies"] if a["cause"].startswith(VERSION_ANOMALY)]
