"""The read model's credentials_refused_since (fuota.views.credentials) and how status, watch and the dashboard's
words show it, from "credentials" events in a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from fuota.cli.printing import print_status
from fuota.core.model import DeploymentState
from fuota.store import EventKind, NewEvent, Store
from fuota.views.credentials import ACCEPTED, REFUSED
from fuota.views.model import status_data
from fuota.views.watch import view
from tests.support.store_helpers import Clock, new_campaign


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(f"sqlite:///{tmp_path / 'fuota.db'}", clock=Clock()) as opened:
        yield opened


def _credentials(store: Store, campaign: int, deployment: int, to_state: str, clock: Clock) -> None:
    cause = f"the token was {to_state}"
    event = NewEvent(EventKind.CREDENTIALS, cause, to_state=to_state, at=clock.now)
    store.record_event(campaign, event, deployment_id=deployment)


def _text(renderable: object) -> str:
    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def test_refused_since_the_latest_refusal_until_accepted_again(store: Store) -> None:
    clock = Clock()
    campaign, deployment = new_campaign(store)
    assert status_data(store, campaign)["deployments"][0]["credentials_refused_since"] is None
    _credentials(store, campaign, deployment, REFUSED, clock)
    clock.advance(60)
    _credentials(store, campaign, deployment, ACCEPTED, clock)
    clock.advance(60)
    _credentials(store, campaign, deployment, REFUSED, clock)
    (row,) = status_data(store, campaign)["deployments"]
    assert row["credentials_refused_since"] == clock.now.isoformat()  # the latest refusal, not the first
    clock.advance(5)
    _credentials(store, campaign, deployment, ACCEPTED, clock)
    assert status_data(store, campaign)["deployments"][0]["credentials_refused_since"] is None


def test_status_and_watch_say_so_and_an_ended_deployment_no_longer_waits(store: Store) -> None:
    clock = Clock()
    campaign, deployment = new_campaign(store)
    _credentials(store, campaign, deployment, REFUSED, clock)
    console = Console(record=True, width=200)
    print_status(console, store, campaign)
    assert "credentials refused since 2026-03-01 08:00:00 UTC" in console.export_text()
    assert "credentials refused since 2026-03-01 08:00:00 UTC" in _text(view(store, campaign, clock.now))
    store.apply(deployment, state=DeploymentState.FAILED, expected_state=DeploymentState.SCHEDULED)
    assert status_data(store, campaign)["deployments"][0]["credentials_refused_since"] is None
    assert "credentials refused since" not in _text(view(store, campaign, clock.now))
