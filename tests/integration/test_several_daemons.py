"""Three `fuota daemon` processes on one PostgreSQL divide a campaign's deployments; one is killed with SIGKILL
while it drives some, and the others take them over: every deployment finishes exactly once. Together they keep
a back end's max_concurrent. (The leases themselves are tested on SQLite too, in test_leases.py.)"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, select

from fuota.core.model import CampaignState, DeploymentState
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import EventKind, Store
from fuota.store.schema import runners
from tests.support.cli_helpers import fuota
from tests.support.config_files import iotsquare, write_campaign, write_config
from tests.support.daemons import kill_daemon, start_daemon, stop_daemon, wait_campaign
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(46).bytes(2000)
LEASE_SECONDS = 3


def _alive(store_url: str) -> set[str]:
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(runners.c.name)))
    finally:
        engine.dispose()


def _holders(store: Store, campaign_id: int) -> dict[str, set[int]]:
    held: dict[str, set[int]] = {}
    for d in store.deployments(campaign_id):
        if d.lease_owner and not d.state.ended:
            held.setdefault(d.lease_owner, set()).add(d.id)
    return held


def test_three_daemons_one_killed_every_deployment_finishes_exactly_once(tmp_path: Path, postgres_url: str) -> None:
    store_url = postgres_url
    euis = fleet_euis(1500, seed=47)  # six temporary groups of at most 253: six deployments, two a daemon
    with IoTSquareSim(devices=euis, loss=0.01, speed=10, join_delay=5, phase_time=3, fragment_interval=1) as sim:
        write_config(tmp_path, iotsquare(sim.url), store_url=store_url)
        write_campaign(tmp_path, "shared", euis, firmware=FIRMWARE, join_timeout=10)
        daemons = {name: start_daemon(tmp_path, name=name, lease_seconds=LEASE_SECONDS) for name in ("d1", "d2", "d3")}
        try:
            with Store(store_url) as store:
                wait_for(lambda: _alive(store_url) == {"d1", "d2", "d3"}, 60, "three daemons running")
                assert fuota(tmp_path, "launch", "c.toml").returncode == 0
                cid = store.campaign("shared").id
                held = wait_for(lambda: len(h := _holders(store, cid)) == 3 and h, 60, "three daemons holding")
                victim = sorted(held)[0]
                victims_deployments = held[victim]
                wait_for(
                    lambda: any(d.state is DeploymentState.ENQUEUE_FRAGMENT for d in store.deployments(cid)),
                    60,
                    "fragments being sent",
                )
                kill_daemon(daemons.pop(victim))
            assert wait_campaign(store_url, "shared", timeout=150) is CampaignState.DONE
        finally:
            codes = [stop_daemon(d).code for d in daemons.values()]
        assert codes == [0, 0]
        with Store(store_url) as store:
            deployments = store.deployments(cid)
            assert [d.state for d in deployments] == [DeploymentState.DONE] * 6
            events = store.events(cid)
        assert sim.calls["fuota/create"] == 6  # one task per deployment, none created twice
        # Exactly once: no deployment passed through any transition twice.
        moves = Counter((e.deployment_id, e.from_state, e.to_state) for e in events if e.kind == EventKind.TRANSITION)
        assert max(moves.values()) == 1
        takeovers = [e for e in events if e.kind == EventKind.LEASE]
        assert {e.deployment_id for e in takeovers} == victims_deployments
        assert all(f"over from {victim}" in e.cause for e in takeovers)
        status = json.loads(fuota(tmp_path, "status", "shared", "--json").stdout)
        for device in status["devices"]:
            session = sim.device(device["dev_eui"]).session
            assert (device["outcome"] == "updated") == (session is not None and session.rebuilt(FIRMWARE))


def test_max_concurrent_holds_across_daemons(tmp_path: Path, postgres_url: str) -> None:
    store_url = postgres_url
    euis = fleet_euis(600, seed=59)  # three temporary groups: three deployments of one back end
    with IoTSquareSim(devices=euis, loss=0.01, speed=20, join_delay=2, phase_time=2, fragment_interval=1) as sim:
        write_config(tmp_path, iotsquare(sim.url, max_concurrent=1), store_url=store_url)
        write_campaign(tmp_path, "one-at-a-time", euis, firmware=FIRMWARE, join_timeout=5)
        Store(store_url).close()  # the schema, before the daemons are asked who is alive
        daemons = [start_daemon(tmp_path, name=name, lease_seconds=5) for name in ("e1", "e2", "e3")]
        try:
            wait_for(lambda: _alive(store_url) == {"e1", "e2", "e3"}, 60, "three daemons running")
            assert fuota(tmp_path, "launch", "c.toml").returncode == 0
            assert wait_campaign(store_url, "one-at-a-time", timeout=150) is CampaignState.DONE
        finally:
            codes = [stop_daemon(d).code for d in daemons]
        assert codes == [0, 0, 0]
    with Store(store_url) as store:
        cid = store.campaign("one-at-a-time").id
        deployments = store.deployments(cid)
        ended = {e.deployment_id: e.at for e in store.events(cid, EventKind.TRANSITION) if e.to_state == "Done"}
    assert len(deployments) == 3 and len({d.lease_owner for d in deployments} - {None}) <= 3
    spans = sorted((d.started_at, ended[d.id]) for d in deployments)
    # One under way at a time, whichever daemon drove it: each began after the one before had ended.
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))
