"""The crash-consistency harness (tests/support/chaos.py), one small round: `make chaos` runs the full one.

Seed 8 draws simulators that cap their pages (fuota.sim.paging) and a Milesight envelope whose gatewayEUI is ""
and whose ids are echoed as numbers (tests/support/readings.py): the storm meets those readings too."""

from __future__ import annotations

from pathlib import Path

from tests.support.broker import Broker
from tests.support.chaos import Figures, run_round


def test_killed_daemons_end_every_campaign_as_an_uninterrupted_run(tmp_path: Path, mqtt_broker: Broker) -> None:
    figures = Figures()
    run_round(tmp_path, 8, mqtt_broker, kills=4, in_create=2, figures=figures, iot_devices=120, ms_devices=40)
    print("\n".join(figures.lines()))
    assert figures.kills >= 4 and figures.kills_in_create == 2
    assert figures.creates == figures.deployments == 3  # one IoTSquare group of 120, two gateways
    assert figures.outcomes_identical
    assert figures.gaps == []
