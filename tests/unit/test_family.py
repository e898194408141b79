"""Campaign families (fuota.views.family) and a retry's choice of devices (fuota.service.retries), on a SQLite file:
which campaigns form a family, each device's latest outcome, the family total and its line."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Stage
from fuota.core.settings import CampaignSettings, ConfigError
from fuota.service.retries import choose, parse_only
from fuota.store import CampaignRecord, NewDeployment, Store
from fuota.views.family import family_data, family_line, family_members, latest_outcomes
from fuota.views.model import campaign_overview, status_data
from tests.support.store_helpers import T0, Clock, campaign_settings

A, B, C, D = (f"70b3d5e75e00000{i}" for i in range(1, 5))
UPDATED, FAILED, UNREACHABLE = Outcome.UPDATED, Outcome.FAILED, Outcome.UNREACHABLE


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "fuota.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{db}", clock=Clock()) as s:
        yield s


def _campaign(
    store: Store,
    name: str,
    outcomes: dict[str, Outcome | None],
    *,
    retry_of: int | None = None,
    state: CampaignState = CampaignState.FAILED,
) -> CampaignRecord:
    """A campaign of one deployment whose devices ended with `outcomes` (None: not judged), in `state`."""
    settings = campaign_settings(name, retry_of=retry_of)
    record = store.create_campaign(settings, b"image", [NewDeployment("iot", None, f"{name}-1", True, [*outcomes])])
    (deployment,) = store.deployments(record.id)
    devices = [
        DeviceProgress(eui, Stage.DONE if o is UPDATED else Stage.FAILED, {}, o, None if o is UPDATED else "why", T0)
        for eui, o in outcomes.items()
    ]
    store.apply(deployment.id, state=DeploymentState.DONE, devices=devices)
    if state is not CampaignState.SCHEDULED:
        store.set_campaign_state(record.id, state, "ended")
    found = store.campaign(record.id)
    assert found is not None
    return found


def _names(records: list[CampaignRecord]) -> list[str]:
    return [r.name for r in records]


def test_a_family_is_the_root_and_the_campaigns_naming_it_or_named_after_it(store: Store) -> None:
    root = _campaign(store, "first", {A: UPDATED})
    legacy = _campaign(store, "first.retry1", {B: FAILED})  # stored before retry_of existed: by name
    older = _campaign(store, "first.retry1.retry1", {B: FAILED})  # an older fuota's retry of a retry
    linked = _campaign(store, "first.retry2", {B: FAILED}, retry_of=root.id)
    _campaign(store, "firstly", {A: FAILED})
    _campaign(store, "other.retry1", {A: FAILED})  # no campaign "other": its own root
    records = store.campaigns()
    family = ["first", "first.retry1", "first.retry1.retry1", "first.retry2"]
    for member in (root, legacy, older, linked):
        assert _names(family_members(records, member.id)) == family
    lone = store.campaign("other.retry1")
    assert lone is not None and _names(family_members(records, lone.id)) == ["other.retry1"]
    with pytest.raises(LookupError, match="campaign 99 does not exist"):
        family_members(records, 99)


def test_the_link_is_an_optional_setting_read_from_settings_stored_without_it() -> None:
    stored = {"version": 1, "name": "first", "backend": "iot", "kind": "iotsquare", "redundancy_percent": 30}
    assert CampaignSettings.model_validate(stored).retry_of is None
    assert CampaignSettings.model_validate(stored | {"retry_of": 4}).retry_of == 4


def test_updated_anywhere_wins_and_the_latest_outcome_decides_the_rest(store: Store, db: Path) -> None:
    root = _campaign(store, "first", {A: UPDATED, B: FAILED, C: UNREACHABLE, D: FAILED})
    _campaign(store, "first.retry1", {B: UPDATED, C: FAILED, D: None}, retry_of=root.id)
    retry2 = _campaign(store, "first.retry2", {C: UNREACHABLE, A: FAILED}, retry_of=root.id)
    latest = latest_outcomes(store, family_members(store.campaigns(), retry2.id))
    assert {eui: (d.outcome, d.updated) for eui, d in latest.items()} == {
        A: ("failed", True),  # updated in the root: whatever a later member said, it is never sent again
        B: ("updated", True),
        C: ("unreachable", False),  # the newest member's outcome
        D: ("failed", False),  # the retry judged nothing: the root's outcome stands
    }
    assert latest[C].campaign_id == retry2.id and latest[D].campaign_id == root.id
    assert [d.dev_eui for d in choose(latest.values())] == [C, D]
    assert [d.dev_eui for d in choose(latest.values(), parse_only(["failed"]))] == [D]
    # The latest outcome filters by its stored string.
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE devices SET outcome = 'aborted' WHERE dev_eui = ? AND outcome = 'unreachable'", (C,))
    latest = latest_outcomes(store, family_members(store.campaigns(), root.id))
    assert [d.dev_eui for d in choose(latest.values(), parse_only(["aborted,unreachable"]))] == [C]


def test_only_takes_repeats_and_comma_lists_and_names_a_wrong_value() -> None:
    assert parse_only([]) == frozenset()
    assert parse_only(["failed", " Unreachable ,aborted"]) == {"failed", "unreachable", "aborted"}
    with pytest.raises(ConfigError, match=r"--only updated, wrong: .*failed, unreachable, aborted, skipped"):
        parse_only(["failed,wrong", "updated"])


def test_the_family_total_over_every_member(store: Store) -> None:
    root = _campaign(store, "first", {A: UPDATED, B: FAILED, C: UNREACHABLE, D: None})
    _campaign(store, "first.retry1", {B: UPDATED, C: FAILED}, retry_of=root.id)
    retry2 = _campaign(store, "first.retry2", {C: UNREACHABLE}, retry_of=root.id, state=CampaignState.SCHEDULED)
    whole = status_data(store, retry2.id)["family"]
    family = dict(whole)
    # Every outcome fuota knows is listed, zeros included (more of them once the model has more).
    assert family.pop("outcomes") == {o.value: 0 for o in Outcome} | {"updated": 2, "unreachable": 1}
    assert family == {
        "root": {"id": root.id, "name": "first"},
        "members": [
            {"id": root.id, "name": "first", "state": "Failed"},
            {"id": root.id + 1, "name": "first.retry1", "state": "Failed"},
            {"id": retry2.id, "name": "first.retry2", "state": "Scheduled"},
        ],
        "devices": 4,
        "updated": 2,
        "retries": 2,
        "pending": 1,
        "judged": 4,
        "updated_share": 0.5,
        "line": "2 of 4 updated after 2 retries",
    }
    assert status_data(store, root.id)["family"] == whole  # the same from any member


def test_a_campaign_without_retries_is_a_family_of_one_read_from_its_summary(store: Store) -> None:
    alone = _campaign(store, "alone", {A: UPDATED, B: FAILED, C: None})
    summary = campaign_overview(store, alone.id)["summary"]
    family = family_data(store, alone.id, summary)
    assert family == family_data(store, alone.id)  # the summary's numbers are the devices' own
    assert (family["devices"], family["updated"], family["pending"], family["retries"]) == (3, 1, 1, 0)
    assert family["line"] == "1 of 3 updated with no retry yet"


def test_the_line_says_retry_once_and_retries_more() -> None:
    assert family_line({"updated": 97, "devices": 100, "retries": 1}) == "97 of 100 updated after 1 retry"
    assert family_line({"updated": 97, "devices": 100, "retries": 2}) == "97 of 100 updated after 2 retries"
