"""The simulators' virtual fleet (fuota.sim): its EUIs, and a broadcast's outcome whatever the batches it is sent in."""

from __future__ import annotations

import numpy as np

import codec
from fuota.sim import Broadcast, Fleet, fleet_euis


def test_fleet_euis_are_distinct_and_deterministic() -> None:
    euis = fleet_euis(1000, seed=4)
    assert len(set(euis)) == 1000 and euis == fleet_euis(1000, seed=4) and euis != fleet_euis(1000, seed=5)
    assert all(len(e) == 16 and int(e, 16) >= 0 and e == e.lower() for e in euis)


def test_a_broadcast_leaves_the_same_decoders_whatever_the_batches() -> None:
    image = np.random.default_rng(2).bytes(2000)
    plan = codec.plan(len(image), 48, percent=40, rounding=codec.Rounding.IOTSQUARE)
    fragments = codec.encode(image, 48, plan.redundancy)
    euis = fleet_euis(50)
    outcomes = []
    for batch in (1, 7, plan.total):
        fleet = Fleet(euis, loss=0.25, seed=9)
        broadcast = Broadcast([fleet[e] for e in euis], plan, fragments)
        for count in range(batch, plan.total + batch, batch):
            broadcast.send_until(count)
        outcomes.append([(s.received, s.missing, s.rebuilt(image)) for s in broadcast.sessions.values()])
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert any(done for _, _, done in outcomes[0]) and not all(done for _, _, done in outcomes[0])
