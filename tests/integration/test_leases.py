"""Leases in the store: several runners divide the open deployments, a dead runner's deployments are taken over,
a runner that lost its lease cannot write, and an abort takes every deployment whoever holds it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from fuota.core.model import CampaignState, DeploymentState
from fuota.service.runner import ended_here
from fuota.store import EventKind, LeaseLost, Store
from tests.support.store_helpers import Clock, campaign_settings, deployment

LEASE = timedelta(seconds=30)


def _campaign(store: Store, n: int, name: str = "spring") -> int:
    return store.create_campaign(campaign_settings(name), b"fw", [deployment(i, campaign=name) for i in range(n)]).id


def test_alone_a_runner_takes_every_open_deployment(store: Store) -> None:
    cid = _campaign(store, 4)
    store.renew_leases("a", LEASE)
    assert len(store.claim_deployments("a", LEASE, campaign_id=cid)) == 4
    assert {d.lease_owner for d in store.deployments(cid)} == {"a"}


def test_runners_alive_together_divide_the_deployments(store: Store) -> None:
    cid = _campaign(store, 7)
    for name in "abc":
        store.renew_leases(name, LEASE)
    held = {name: store.claim_deployments(name, LEASE, campaign_id=cid) for name in "abc"}
    assert [len(held[n]) for n in "abc"] == [3, 3, 1]  # ceil(7 / 3), what remains
    assert set().union(*held.values()) == {d.id for d in store.deployments(cid)}
    assert not held["a"] & held["b"] and not held["b"] & held["c"]
    # Claiming again keeps what each holds and takes nothing from the others.
    assert store.claim_deployments("a", LEASE, campaign_id=cid) == held["a"]


def test_an_expired_lease_is_taken_over_and_the_take_over_recorded(store: Store, clock: Clock) -> None:
    cid = _campaign(store, 2)
    store.renew_leases("a", LEASE)
    store.renew_leases("b", LEASE)
    first = store.claim_deployments("a", LEASE, campaign_id=cid)
    assert len(first) == 1 and store.claim_deployments("b", LEASE, campaign_id=cid) != first
    clock.advance(20)
    store.renew_leases("b", LEASE)  # b lives on; a died 20 s ago
    assert store.claim_deployments("b", LEASE, campaign_id=cid) == store.claim_deployments("b", LEASE, campaign_id=cid)
    assert len(store.claim_deployments("b", LEASE, campaign_id=cid)) == 1  # a's lease still runs
    clock.advance(11)
    store.renew_leases("b", LEASE)
    assert len(store.claim_deployments("b", LEASE, campaign_id=cid)) == 2
    (event,) = store.events(cid, EventKind.LEASE)
    assert "b takes fuota-spring-0 over from a, whose lease expired 1 s ago" in event.cause
    assert event.deployment_id in first


def test_a_runner_that_lost_its_lease_cannot_write(store: Store, clock: Clock) -> None:
    cid = _campaign(store, 1)
    (did,) = store.claim_deployments("a", LEASE, campaign_id=cid)
    clock.advance(31)
    assert store.claim_deployments("b", LEASE, campaign_id=cid) == {did}
    before = store.deployment(did)
    with pytest.raises(LeaseLost, match="driven by b now, not a"):
        store.apply(did, state=DeploymentState.CREATED, lease_owner="a")
    assert store.deployment(did) == before
    store.apply(did, state=DeploymentState.CREATED, lease_owner="b")
    assert store.deployment(did).state is DeploymentState.CREATED


def test_force_takes_what_another_runner_holds(store: Store) -> None:
    cid = _campaign(store, 2)
    held = store.claim_deployments("daemon", LEASE, campaign_id=cid)
    assert len(held) == 2
    assert store.claim_deployments("abort", LEASE, campaign_id=cid) == frozenset()
    assert store.claim_deployments("abort", LEASE, campaign_id=cid, force=True) == held
    assert all("to stop it" in e.cause for e in store.events(cid, EventKind.LEASE))


def test_release_frees_the_deployments_and_ended_ones_are_never_claimed(store: Store) -> None:
    cid = _campaign(store, 3)
    held = sorted(store.claim_deployments("a", LEASE, campaign_id=cid))
    store.apply(held[0], state=DeploymentState.ABORTED, lease_owner="a")
    assert store.release_leases("a") == 2  # the ended one is no work left for another daemon
    assert store.claim_deployments("b", LEASE, campaign_id=cid) == set(held[1:])
    assert store.events(cid, EventKind.LEASE) == []  # nobody held them: nothing was taken over


def test_only_one_of_two_runners_concluding_at_once_records_the_transition(store: Store) -> None:
    cid = _campaign(store, 1)
    assert store.set_campaign_state(cid, CampaignState.RUNNING, "go", expected=CampaignState.SCHEDULED)
    assert not store.set_campaign_state(cid, CampaignState.RUNNING, "go", expected=CampaignState.SCHEDULED)
    assert store.set_campaign_state(cid, CampaignState.DONE, "all updated", expected=CampaignState.RUNNING)
    assert not store.set_campaign_state(cid, CampaignState.FAILED, "late", expected=CampaignState.RUNNING)
    transitions = [e.to_state for e in store.events(cid, EventKind.TRANSITION)]
    assert transitions == ["Running", "Done"]


def test_a_dead_process_of_this_machine_is_taken_over_at_once(store: Store) -> None:
    cid = _campaign(store, 1)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_name = f"runner@{socket.gethostname()}:{gone.stdout.strip()}"
    live_name = f"runner@{socket.gethostname()}:{os.getppid()}"
    assert ended_here({dead_name, live_name, "d1", "runner@elsewhere:1"}) == {dead_name}
    (did,) = store.claim_deployments(dead_name, LEASE, campaign_id=cid)
    assert store.claim_deployments("b", LEASE, campaign_id=cid) == frozenset()  # its lease still runs
    assert store.claim_deployments("b", LEASE, campaign_id=cid, dead=ended_here({dead_name})) == {did}
    (event,) = store.events(cid, EventKind.LEASE)
    assert event.cause == f"b takes fuota-spring-0 over from {dead_name}, a process of this machine that ended"


def test_admit_keeps_max_concurrent_across_runners(store: Store) -> None:
    cid = _campaign(store, 3)
    first, second, third = (d.id for d in store.deployments(cid))
    assert store.admit(first, "iotsquare", 2) and store.admit(second, "iotsquare", 2)
    assert not store.admit(third, "iotsquare", 2)  # whichever runner asks: two are under way
    assert store.admit(first, "iotsquare", 2)  # one that began goes on (a runner restarted, or took it over)
    store.apply(first, state=DeploymentState.DONE)
    assert store.admit(third, "iotsquare", 2)
    assert store.deployment(third).started_at is not None
