"""Progress and time left watched from start to end, on each simulator: `fuota run` in a subprocess, the read model
sampled from the store the whole time (and `fuota status --json` once, as an operator would), on the wall clock.

The simulators run `speed` times faster than real time and report their times as the wall-clock instants at which
their simulated ones happen (fuota.sim.clock), as a real back end's clock runs with fuota's: so the time left
fuota derives from them is in wall seconds, and is compared here with the campaign's real, wall-clock end.

What must hold (issue 14): the progress never goes backwards, and once the fragments go out, the end each sample
predicts (sample time + time left) is within 10 % of the campaign's duration of its real end.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.store import Store
from fuota.views.model import status_data
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota, start_run
from tests.support.config_files import (
    iotsquare,
    milesight,
    sqlite_url,
    write_campaign,
    write_config,
    write_milesight_campaign,
)
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(44).bytes(2000)
SMALL = FIRMWARE[:1200]
TOLERANCE = 0.10  # of the campaign's duration


@dataclass(frozen=True)
class Sample:
    at: datetime
    state: str
    phase: str
    progress: float
    left: float | None
    sent: int | None


def _sample(store: Store, campaign_id: int) -> Sample:
    now = datetime.now(UTC)
    s = status_data(store, campaign_id, now)
    return Sample(now, s["state"], s["phase"], s["progress"], s["time_left_seconds"], s["fragments_sent"])


def _watch(folder: Path, run: subprocess.Popen) -> tuple[list[Sample], dict]:
    """Sample the campaign `run` drives until it ends; also read `fuota status --json` once while fragments go
    out. The samples, and that status."""
    wait_for(lambda: (folder / "fuota.db").exists(), 30, "the store", every=0.1)
    samples: list[Sample] = []
    status: dict = {}
    with Store(sqlite_url(folder)) as store:
        wait_for(lambda: store.campaigns(), 30, "the campaign stored", every=0.1)
        campaign_id = store.campaigns()[0].id
        while True:
            samples.append(_sample(store, campaign_id))
            if samples[-1].state in ("Done", "Failed", "Aborted"):
                break
            if not status and samples[-1].phase == "fragments" and (samples[-1].sent or 0) > 0:
                result = fuota(folder, "status", "--json")
                assert result.returncode == 0, result.stderr
                status = json.loads(result.stdout)
                samples.append(_sample(store, campaign_id))
            assert run.poll() is None or samples[-1].state != "Running", run.communicate()
            time.sleep(0.15)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, out[-3000:] + err[-3000:]
    return samples, status


def _check(samples: list[Sample], status: dict, started: datetime, ended: datetime) -> None:
    duration = (ended - started).total_seconds()
    progress = [s.progress for s in samples]
    shown = [(s.state, s.phase, s.progress, s.left, s.sent) for s in samples]
    assert progress == sorted(progress), f"the progress went backwards: {shown}"
    assert progress[-1] == 100.0 and samples[-1].left == 0.0
    # Once the fragments go out, every prediction of the end is within 10 % of the campaign's duration.
    sending = [s for s in samples if s.phase in ("fragments", "finishing") and s.left is not None]
    assert len(sending) >= 10, samples
    misses = [
        (s.at.isoformat(), s.left, round((s.at + timedelta(seconds=s.left) - ended).total_seconds(), 2))
        for s in sending
        if abs((s.at + timedelta(seconds=s.left) - ended).total_seconds()) > TOLERANCE * duration
    ]
    assert not misses, f"duration {duration:.1f} s, predictions off by more than 10 %: {misses}"
    # The time left reaches 0 within 10 % of the real end: not before.
    first_zero = next(s.at for s in samples if s.left == 0.0)
    assert (ended - first_zero).total_seconds() <= TOLERANCE * duration
    # `fuota status --json`, read in a subprocess while the fragments went out, says the same kind of thing.
    assert status["phase"] in ("fragments", "finishing") and status["state"] == "Running"
    assert 10.0 <= status["progress"] < 100.0 and status["time_left_seconds"] > 0
    assert 0 < status["fragments_sent"] <= status["fragments_total"]
    assert all(d["fragments_total"] == d["fragments_sent"] for d in status["deployments"] if d["phase"] == "ended")


def _ends(folder: Path) -> tuple[datetime, datetime]:
    with Store(sqlite_url(folder)) as store:
        record = store.campaigns()[0]
        started = store.started_at(record.id)[record.id]
        assert record.ended_at is not None
        return started, record.ended_at


def test_iotsquare_progress_and_time_left_from_start_to_end(tmp_path: Path) -> None:
    euis = fleet_euis(60, seed=31)
    # 2000 B → 42 fragments of 48 B + 12 coded; 54 × 2 simulated s plus 5 phases of 4 s, at 5 × real time.
    sim = IoTSquareSim(devices=euis, loss=0.05, speed=5, join_delay=4, phase_time=4, fragment_interval=2, seed=6)
    with sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "watched", euis, firmware=FIRMWARE, join_timeout=5)
        samples, status = _watch(tmp_path, start_run(tmp_path))
    _check(samples, status, *_ends(tmp_path))
    assert status["deployments"][0]["fragment_interval_s"] == 0.4  # 2 simulated s at 5 × real time


def test_milesight_progress_and_time_left_from_start_to_end(tmp_path: Path, mqtt_broker: Broker) -> None:
    gateways = gateway_euis(2, seed=5)
    euis = fleet_euis(40, seed=32)
    spread = {g: euis[i::2] for i, g in enumerate(gateways)}
    # 1200 B → 28 fragments of 43 B + 9 coded, 1 s apart; set-up 15 s, status round and upgrade 10 s; at 3 × real
    # time: about 20 s.
    timing = Timing(multicast_setup=10, fragment_setup=5, status_report=5, upgrade=5)
    with MilesightSim(mqtt_broker.url, spread, loss=0.03, speed=3, timing=timing, seed=7):
        write_config(tmp_path, milesight(mqtt_broker.url, gateways, timeout=1, give_up_after=10))
        write_milesight_campaign(tmp_path, "watched", euis, firmware=SMALL)
        samples, status = _watch(tmp_path, start_run(tmp_path))
    _check(samples, status, *_ends(tmp_path))
    # The task's own fragmentInterval, 1000 ms, as it passes on the wall clock at 3 × real time.
    assert {d["fragment_interval_s"] for d in status["deployments"]} == {0.333}
