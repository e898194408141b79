"""Reads that stay linear at fleet scale (issue 16, item 5), on a real SQLite store: the timeline replayed in one
pass gives what a recount of every device at every point gives, and the latest events other than device changes,
read kind by kind, are the newest ones in time order."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fuota.core.model import DeviceProgress, Stage
from fuota.store import EventKind, NewDeployment, NewEvent, Store
from fuota.views.rows import iso
from fuota.views.timeline import timeline
from tests.support.store_helpers import T0, Clock, campaign_settings

EUIS = [f"70b3d5e75e03{i:04x}" for i in range(40)]
WALK = [Stage.MULTICAST_SETUP, Stage.MULTICAST_READY, Stage.FRAGMENTATION_SETUP, Stage.RECEIVING, Stage.DONE]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock()
    with Store(f"sqlite:///{tmp_path / 'fuota.db'}", clock=clock) as s:
        yield s, clock


def _campaign(store: Store) -> int:
    new = [
        NewDeployment("iotsquare", "group-a", "a", temporary=True, devices=EUIS[:20]),
        NewDeployment("iotsquare", "group-b", "b", temporary=True, devices=EUIS[20:]),
    ]
    return store.create_campaign(campaign_settings("linear"), b"\x01" * 100, new).id


def _recount(store: Store, campaign_id: int) -> list[tuple[str, dict[str, int]]]:
    """The timeline's points as a recount of every device after each event time: the definition, not the code."""
    where = {(d.deployment_id, d.dev_eui): Stage.PENDING.value for d in store.devices(campaign_id=campaign_id)}
    points = [(T0, Counter(where.values()))]
    for e in store.events(campaign_id, kind=EventKind.DEVICE):
        where[e.deployment_id, e.dev_eui] = e.to_state
        if points[-1][0] == e.at:
            points.pop()
        points.append((e.at, Counter(where.values())))
    return [(iso(at), {s: n for s, n in counts.items() if n}) for at, counts in points]


def test_the_timeline_is_a_recount_of_every_device_at_every_point(store: tuple[Store, Clock]) -> None:
    s, clock = store
    campaign_id = _campaign(s)
    where = dict.fromkeys(EUIS, Stage.PENDING)
    rng = random.Random(16)
    for step in range(12):
        # Several devices move at each step, some two stages at once (two events of one time).
        clock.now = T0 + timedelta(seconds=10 * (step + 1))
        for deployment_id, members in ((1, EUIS[:20]), (2, EUIS[20:])):
            events, devices = [], []
            for eui in rng.sample(members, 6):
                for _ in range(rng.choice((1, 1, 2))):
                    if where[eui] is Stage.DONE:
                        break
                    to = WALK[WALK.index(where[eui]) + 1] if where[eui] in WALK else WALK[0]
                    events.append(NewEvent(EventKind.DEVICE, "reported", where[eui].value, to.value, eui))
                    where[eui] = to
                devices.append(DeviceProgress(eui, where[eui], updated_at=clock.now))
            s.apply(deployment_id, events=events, devices=devices)
    found = timeline(s, campaign_id)
    expected = _recount(s, campaign_id)
    assert len(found["points"]) == len(expected) == 13
    for point, (at, counts) in zip(found["points"], expected, strict=True):
        assert point["at"] == at
        assert {k: n for k, n in point["counts"].items() if n} == counts
    assert found["points"][-1]["counts"] == {s.value: n for s, n in Counter(where.values()).items()} | {
        k: 0 for k in found["stages"] if k not in {v.value for v in where.values()}
    }


def test_a_stage_passed_through_within_one_step_is_not_on_the_timeline(store: tuple[Store, Clock]) -> None:
    s, clock = store
    campaign_id = _campaign(s)
    clock.now = T0 + timedelta(seconds=5)
    through = [
        NewEvent(EventKind.DEVICE, "reported", "pending", Stage.MULTICAST_SETUP.value, EUIS[0]),
        NewEvent(EventKind.DEVICE, "reported", Stage.MULTICAST_SETUP.value, Stage.RECEIVING.value, EUIS[0]),
    ]
    s.apply(1, events=through, devices=[DeviceProgress(EUIS[0], Stage.RECEIVING, updated_at=clock.now)])
    found = timeline(s, campaign_id)
    assert found["stages"] == ["pending", "receiving"]
    assert [p["counts"] for p in found["points"]] == [{"pending": 40, "receiving": 0}, {"pending": 39, "receiving": 1}]


def test_latest_events_beside_device_changes_are_the_newest_of_every_kind(store: tuple[Store, Clock]) -> None:
    s, clock = store
    campaign_id = _campaign(s)
    kinds = [EventKind.RETRY, EventKind.ANOMALY, EventKind.ERROR, EventKind.COMMAND]
    for n in range(30):
        clock.now = T0 + timedelta(seconds=n // 2)  # two events per time: the id breaks the tie
        device = NewEvent(EventKind.DEVICE, "reported", "pending", "receiving", EUIS[n])
        s.apply(1 + n % 2, events=[device])
        s.record_event(campaign_id, NewEvent(kinds[n % 4], f"event {n}"), deployment_id=1 + n % 2)
    everything = [e for e in s.events(campaign_id) if e.kind is not EventKind.DEVICE]
    newest = sorted(everything, key=lambda e: (e.at, e.id), reverse=True)
    for limit in (1, 7, 30, 100):
        events, total = s.recent_events(campaign_id, skip=[EventKind.DEVICE], limit=limit)
        assert [e.id for e in events] == [e.id for e in newest[:limit]]
        assert total == len(everything) == 30
    mine, total = s.recent_events(campaign_id, dev_eui=EUIS[3].upper(), limit=5)
    assert ([e.kind for e in mine], total) == ([EventKind.DEVICE], 1)
