"""The read model's schedule and "driven" facts (fuota.views.schedule) over a real SQLite store and a hand-moved
clock: start, window and next opening; a lease makes a campaign driven; silence past one lease makes it undriven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fuota.core.model import CampaignState
from fuota.core.settings import Window
from fuota.store import Store
from fuota.store.leases import DEFAULT_LEASE
from fuota.views.model import campaign_list, status_data
from fuota.views.schedule import schedule_keys, schedule_rows, schedule_text, undriven_text, window_text
from tests.support.store_helpers import Clock, campaign_settings, deployment

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Store:
    with Store(f"sqlite:///{tmp_path / 'fuota.db'}", clock=clock) as opened:
        yield opened


def _campaign(store: Store, **settings: object) -> int:
    return store.create_campaign(campaign_settings("night", **settings), b"image", [deployment(campaign="night")]).id


def _keys(store: Store, campaign_id: int) -> dict:
    record = store.campaign(campaign_id)
    assert record is not None
    return schedule_keys(record, store.deployments(campaign_id), store.now())


def test_a_future_start_and_a_window_give_the_next_opening(store: Store) -> None:
    window = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "04:00", "timezone": "UTC"}
    cid = _campaign(store, start=T0 + timedelta(days=1), window=window)
    keys = _keys(store, cid)
    assert keys["start_at"] == "2026-11-24T12:00:00+00:00"
    assert keys["window"] == "mon–fri 22:00–04:00 (overnight) UTC" and keys["window_open"] is False
    assert keys["next_opening_at"] == "2026-11-24T22:00:00+00:00"  # the first opening after the start
    assert schedule_text(keys) == (
        "start 2026-11-24 12:00:00 UTC · window mon–fri 22:00–04:00 (overnight) UTC (closed now) · "
        "next opening 2026-11-24 22:00:00 UTC"
    )
    assert schedule_rows(keys) == [
        ("start", "2026-11-24 12:00:00 UTC"),
        ("window", "mon–fri 22:00–04:00 (overnight) UTC, closed now"),
        ("opens", "2026-11-24 22:00:00 UTC"),
    ]
    # The same keys in the summary (status) and the campaign row (list).
    assert {k: status_data(store, cid)[k] for k in keys} == keys == {k: campaign_list(store)[0][k] for k in keys}


def test_without_start_or_window_nothing_is_held_back(store: Store) -> None:
    keys = _keys(store, _campaign(store))
    assert (keys["start_at"], keys["window"], keys["window_open"], keys["next_opening_at"]) == (None,) * 4
    assert schedule_text(keys) is None


def test_a_start_that_passed_opens_nothing_more(store: Store, clock: Clock) -> None:
    cid = _campaign(store, start=T0 + timedelta(minutes=5))
    assert _keys(store, cid)["next_opening_at"] == "2026-11-23T12:05:00+00:00"
    clock.advance(600)
    assert _keys(store, cid)["next_opening_at"] is None


def test_window_text() -> None:
    assert window_text(Window()) == "every day all day UTC"
    days = Window(days=["sat", "mon", "tue", "sun", "wed"], start="08:00", end="18:30", timezone="Europe/Paris")
    assert window_text(days) == "mon–wed,sat,sun 08:00–18:30 Europe/Paris"


def test_undriven_after_one_lease_of_silence(store: Store, clock: Clock) -> None:
    cid = _campaign(store)
    assert _keys(store, cid)["undriven_seconds"] is None  # just launched: a daemon has a lease's time to take it
    clock.advance(DEFAULT_LEASE.total_seconds() + 5)
    keys = _keys(store, cid)
    assert keys["driven_by"] == [] and keys["undriven_seconds"] == DEFAULT_LEASE.total_seconds() + 5
    assert undriven_text(keys).startswith("no daemon has driven this campaign for 35 s")
    assert schedule_rows(keys) == [("driven", undriven_text(keys))]


def test_a_live_lease_drives_it_and_its_end_starts_the_silence(store: Store, clock: Clock) -> None:
    cid = _campaign(store, start=T0 + timedelta(days=1))  # waiting for its start: held all the same
    clock.advance(100)
    store.claim_deployments("daemon-a", DEFAULT_LEASE, campaign_id=cid)
    claimed = clock.now
    clock.advance(DEFAULT_LEASE.total_seconds() - 1)
    assert _keys(store, cid)["driven_by"] == ["daemon-a"] and _keys(store, cid)["undriven_seconds"] is None
    clock.advance(2)  # the lease ran out (its daemon died): silent since the daemon last claimed it
    assert _keys(store, cid)["driven_by"] == []
    assert _keys(store, cid)["undriven_seconds"] == (clock.now - claimed).total_seconds() == 31


def test_an_ended_campaign_is_never_undriven(store: Store, clock: Clock) -> None:
    cid = _campaign(store, window={"days": ["sun"]})
    store.set_campaign_state(cid, CampaignState.ABORTED, "aborted")
    clock.advance(3600)
    keys = _keys(store, cid)
    assert keys["undriven_seconds"] is None and keys["next_opening_at"] is None
    assert keys["window"] == "sun all day UTC"  # what it was launched with, still shown
