"""`fuota run` against the IoTSquare simulator: the same policies as the daemon (its back end's max_concurrent), and
a run killed while the members join resumes their join instead of starting the preparation over."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from fuota.core.model import DeploymentState, Preparation
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import DeploymentRecord, EventKind, Store
from tests.support.cli_helpers import fuota, start_run
from tests.support.config_files import iotsquare, write_campaign, write_config
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(46).bytes(1000)
FAST = {"speed": 400, "join_delay": 20, "phase_time": 4, "fragment_interval": 2}


def _store(folder: Path) -> Store:
    return Store(f"sqlite:///{folder / 'fuota.db'}")


def test_fuota_run_keeps_to_its_back_end_s_max_concurrent(tmp_path: Path) -> None:
    euis = fleet_euis(300, seed=71)  # two temporary groups: 253 + 47
    with IoTSquareSim(devices=euis, seed=8, **FAST) as sim:
        write_config(tmp_path, iotsquare(sim.url, max_concurrent=1))
        write_campaign(tmp_path, "one-at-a-time", euis, firmware=FIRMWARE, join_timeout=3)
        result = fuota(tmp_path, "run", "c.toml", timeout=240)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with _store(tmp_path) as store:
        campaign = store.campaign("one-at-a-time")
        first, second = store.deployments(campaign.id)
        moves = [e for e in store.events(campaign.id, EventKind.TRANSITION) if e.deployment_id]
        first_done = next(e.at for e in moves if e.deployment_id == first.id and e.to_state == "Done")
        second_created = next(e.at for e in moves if e.deployment_id == second.id and e.to_state == "Created")
        assert second_created >= first_done  # the second began only once the first had ended
        assert second.started_at is not None and second.started_at >= first_done


def test_a_run_killed_while_members_join_neither_prepares_again_nor_restarts_the_join_timeout(tmp_path: Path) -> None:
    euis = fleet_euis(6, seed=70)
    join_timeout = 8.0
    with IoTSquareSim(devices=euis, never_join=set(euis[:2]), seed=9, **FAST) as sim:
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign(tmp_path, "joining", euis, firmware=FIRMWARE, join_timeout=join_timeout)
        run = start_run(tmp_path)

        def joining() -> DeploymentRecord | None:
            if not (tmp_path / "fuota.db").exists():
                return None
            with _store(tmp_path) as store:
                records = [d for c in store.campaigns() for d in store.deployments(c.id)]
            return next((d for d in records if d.preparation is Preparation.JOINING), None)

        joined = wait_for(joining, 60, "the run reaching the members' join")
        assert joined.join_deadline is not None
        run.kill()  # SIGKILL: nothing is flushed, nothing released
        run.communicate()
        assert sim.calls["mcgroup/create"] == 1
        # Half the join timeout passes before the restart: a deadline kept from the first run then falls well before
        # the restart + join_timeout that a timeout started over would wait for.
        time.sleep(join_timeout / 2)
        restarted = datetime.now(UTC)
        result = fuota(tmp_path, "run", "c.toml", timeout=120)
        assert result.returncode == 1, result.stderr[-2000:]  # 4 of 6 updated, below 0.9
        assert "resuming" in result.stdout
        assert sim.calls["mcgroup/create"] == 1 and sim.calls["mcdevice/create"] == 1  # prepared once
    with _store(tmp_path) as store:
        (after,) = store.deployments(store.campaign("joining").id)
        assert after.join_deadline == joined.join_deadline and after.state is DeploymentState.DONE
        created = next(e.at for e in store.events(after.campaign_id, EventKind.TRANSITION) if e.to_state == "Created")
        # A join timeout started over would create the task no sooner than join_timeout after the restart.
        assert created < restarted + timedelta(seconds=join_timeout)
        unreachable = [d for d in store.devices(campaign_id=after.campaign_id) if d.dev_eui in euis[:2]]
        assert {str(d.outcome) for d in unreachable} == {"unreachable"}
