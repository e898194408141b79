"""A store written by the fuota of schema revision 0003, upgraded by today's: nothing lost, every fact read back.

tests/integration/data/store-0003.sql is the SQL dump of a SQLite store that the code of revision 0003 wrote by
running four campaigns on the simulators (an IoTSquare campaign that failed its threshold, with two retried back-end
failures; a Milesight campaign on two gateways that ended Done; one scheduled in a window; one aborted before it
started), and store-0003-status-N.json what `fuota status N --json` printed of each then. Revision 0005 changed what
some devices' outcome says (NEW_OUTCOMES) and gave every reason its category (CATEGORIES).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from fuota.core.model import Preparation
from fuota.core.settings import Window
from fuota.store import EventKind, Store
from fuota.views.model import status_data

DATA = Path(__file__).parent / "data"
# Revision 0005: the device of the campaign aborted before its task existed was "failed"; nothing was sent to it.
NEW_OUTCOMES = {("legacy-aborted-1", "53b47482b83463f4"): "skipped"}
# Revision 0005: the category of every device that did not end updated, from the text of its reason.
CATEGORIES = {
    ("legacy-aborted-1", "53b47482b83463f4"): "aborted",
    ("legacy-iot-1", "e5afcdbcaf266a95"): "too_few_fragments",
    ("legacy-iot-1", "39a72dabd56a2742"): "too_few_fragments",
    ("legacy-ms-24e124fffea4acbb", "b5b587e3774f67ed"): "low_memory",
}


def _old_database(folder: Path) -> Path:
    database = folder / "old.db"
    with sqlite3.connect(database) as db:
        db.executescript((DATA / "store-0003.sql").read_text())
    return database


@pytest.fixture
def upgraded(tmp_path: Path) -> Store:
    database = _old_database(tmp_path)
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0003",)]
        old_events = db.execute("SELECT count(*) FROM events").fetchone()[0]
    store = Store(f"sqlite:///{database}")
    store.old_events = old_events  # type: ignore[attr-defined]
    return store


def _old_status(campaign_id: int) -> dict:
    return json.loads((DATA / f"store-0003-status-{campaign_id}.json").read_text())


def test_every_campaign_deployment_and_device_reads_back_as_before(upgraded: Store) -> None:
    with upgraded as store:
        assert [c.name for c in store.campaigns()] == ["legacy-aborted", "legacy-later", "legacy-ms", "legacy-iot"]
        for campaign in store.campaigns():
            old = _old_status(campaign.id)
            assert (campaign.name, str(campaign.state)) == (old["name"], old["state"])
            deployments = store.deployments(campaign.id)
            assert [(d.id, d.task_name, d.backend, d.target, str(d.state), d.backend_ref) for d in deployments] == [
                (d["id"], d["task_name"], d["backend"], d["target"], d["state"], d["backend_ref"])
                for d in old["deployments"]
            ]
            names = {d.id: d.task_name for d in deployments}
            devices = [
                {
                    "dev_eui": d.dev_eui,
                    "deployment": names[d.deployment_id],
                    "stage": str(d.stage),
                    "outcome": None if d.outcome is None else str(d.outcome),
                    "reason": d.reason,
                    "raw": d.raw,
                }
                for d in store.devices(campaign_id=campaign.id)
            ]
            before = [{k: d[k] for k in devices[0]} for d in old["devices"]]
            assert devices == [
                d | {"outcome": NEW_OUTCOMES.get((d["deployment"], d["dev_eui"]), d["outcome"])} for d in before
            ]
            image = store.firmware(campaign.id)
            assert hashlib.sha256(image).hexdigest() == campaign.firmware_sha256 and len(image) == 1500


def test_the_settings_keep_every_value_with_one_name_and_unit(upgraded: Store) -> None:
    with upgraded as store:
        iot, ms, later, aborted = (
            store.campaign(n) for n in ("legacy-iot", "legacy-ms", "legacy-later", "legacy-aborted")
        )
        assert iot is not None and ms is not None and later is not None and aborted is not None
        s = iot.settings
        assert (s.version, s.backend, s.kind, s.redundancy_percent, s.success_threshold) == (
            1,
            "iot",
            "iotsquare",
            30,
            0.8,
        )
        assert s.join_timeout == 3 and s.expected_version is None and s.target["gen_app_key"]
        assert s.target["frag_size"] == 48 and s.target["region"] == "eu868"
        m = ms.settings
        assert (m.kind, m.backend, m.redundancy_percent, m.success_threshold) == ("milesight", "ms", 25, 0.9)
        assert m.expected_version == "v2" and m.join_timeout == 600
        assert (m.target["region"], m.target["dr"], m.target["frequency"]) == ("EU868", 0, 869_525_000)
        assert m.target["fragment_interval"] == 1000 and m.target["fragment_size"] == 43
        w = later.settings
        assert w.start is not None and w.start.isoformat() == "2030-01-01T02:00:00+00:00"
        assert w.window == Window(days=["mon", "tue"], start="01:00", end="05:00", timezone="Europe/Paris")
        assert w.redundancy_percent == 40 and w.devices_file == "devs.csv"
        assert aborted.settings.start == w.start and aborted.settings.window is None


def test_retried_failures_become_retry_events_and_the_anomaly_stays(upgraded: Store) -> None:
    with upgraded as store:
        iot = store.campaign("legacy-iot")
        assert iot is not None
        retries = store.events(iot.id, EventKind.RETRY)
        assert [e.cause for e in retries] == [
            "legacy-iot-1 PollTask: IoTSquare back end 'iot', GET /openapi/fuota/status: HTTP 503",
            "legacy-iot-1 PollTask: IoTSquare back end 'iot', GET /openapi/fuota/status: HTTP 200 without IoTSquare's "
            "JSON envelope (no code/msg/data envelope)",
        ]
        anomalies = [e for e in store.events(iot.id, EventKind.ANOMALY) if "envelope" in e.cause]
        assert [e.cause for e in anomalies] == [retries[1].cause] and anomalies[0].at == retries[1].at
        assert not [e for e in store.events(iot.id) if "will retry" in e.cause]
        total = sum(len(store.events(c.id)) for c in store.campaigns())
        assert total == store.old_events + 1  # type: ignore[attr-defined]  # the anomaly's retry, beside it


def test_devices_gain_their_reported_firmware_version_and_deployments_a_preparation(tmp_path: Path) -> None:
    database = _old_database(tmp_path)
    # The simulator's gateways report firmwareVersion "" as the spec's sample does; a real one may report a version.
    with sqlite3.connect(database) as db:
        raw = json.loads(db.execute("SELECT raw FROM devices WHERE dev_eui = 'c7f752824d296872'").fetchone()[0])
        db.execute(
            "UPDATE devices SET raw = ? WHERE dev_eui = 'c7f752824d296872'",
            (json.dumps(raw | {"firmwareVersion": "v2"}),),
        )
    with Store(f"sqlite:///{database}") as store:
        ms = store.campaign("legacy-ms")
        assert ms is not None
        versions = {d.dev_eui: d.firmware_version for d in store.devices(campaign_id=ms.id)}
        assert versions.pop("c7f752824d296872") == "v2" and set(versions.values()) == {None}
        later = store.campaign("legacy-later")
        assert later is not None
        (waiting,) = store.deployments(later.id)
        assert waiting.preparation is Preparation.WAITING and waiting.join_deadline is None


def test_status_reads_the_upgraded_store_as_the_old_fuota_printed_it(upgraded: Store) -> None:
    with upgraded as store:
        for campaign in store.campaigns():
            old, new = _old_status(campaign.id), status_data(store, campaign.id)
            assert (new["id"], new["name"], new["state"]) == (old["id"], old["name"], old["state"])
            expected = Counter(old["outcomes"])
            for d in old["devices"]:
                if (now := NEW_OUTCOMES.get((d["deployment"], d["dev_eui"]))) is not None:
                    expected.subtract([d["outcome"]])
                    expected.update([now])
            assert {k: n for k, n in new["outcomes"].items() if n} == {k: n for k, n in expected.items() if n}
            assert {k: n for k, n in new["counts"].items() if n} == old["counts"]
            assert [(d["task_name"], d["state"], d["retries"]) for d in new["deployments"]] == [
                (d["task_name"], d["state"], d["retries"]) for d in old["deployments"]
            ]
            assert [a["cause"] for a in new["anomalies"]] == [
                a["cause"].removesuffix("; will retry") for a in old["anomalies"]
            ]


def test_every_reason_gets_its_category_and_status_groups_by_it(upgraded: Store) -> None:
    with upgraded as store:
        names = {d.id: d.task_name for d in store.deployments()}
        devices = {(names[d.deployment_id], d.dev_eui): d for d in store.devices()}
        unreachable = [key for key, d in devices.items() if str(d.outcome) == "unreachable"]
        assert len(unreachable) == 1
        expected = CATEGORIES | dict.fromkeys(unreachable, "never_joined")
        assert {key: str(d.category) for key, d in devices.items() if d.category is not None} == expected
        iot = store.campaign("legacy-iot")
        assert iot is not None
        reasons = status_data(store, iot.id)["reasons"]
        assert [(r["category"], r["devices"], r["outcomes"]) for r in reasons] == [
            ("too_few_fragments", 2, {"failed": 2}),
            ("never_joined", 1, {"unreachable": 1}),
        ]
        aborted = status_data(store, store.campaign("legacy-aborted").id)  # type: ignore[union-attr]
        assert (aborted["failed"], aborted["skipped"], aborted["judged"]) == (0, 1, 0)
        assert [(r["category"], r["outcomes"]) for r in aborted["reasons"]] == [("aborted", {"skipped": 1})]


def test_aborted_with_a_task_becomes_aborted_and_every_text_fuota_wrote_has_its_category(tmp_path: Path) -> None:
    database = _old_database(tmp_path)
    written = {
        # an abort after the task existed, a Milesight multicast timeout, texts of 0003's code tables and engine
        "campaign aborted while the device was at stage receiving": ("failed", "aborted", "aborted"),
        "the device did not answer the multicast set-up (McGroupSetupReq): check that it is joined (multicast "
        "session status 6)": ("failed", "unreachable", "never_joined"),
        "fragment session set-up timeout: the device did not answer FragSessionSetupReq": ("failed", "failed",
                                                                                          "setup_timeout"),
        "the device reports firmware 'v1', not the 'v2' sent: it did not apply it": ("failed", "failed",
                                                                                    "wrong_version"),
        "deployment failed: HTTP 401": ("failed", "failed", "deployment_failed"),
        "the task ended while the device was at stage receiving, not done": ("failed", "failed", "backend_silent"),
        "not known to gateway 24E124FFFEA4ACBB: add it to the gateway's network server first": ("failed", "failed",
                                                                                               "backend_refused"),
        "too few fragments received to rebuild the image (fragment session status 9)": ("failed", "failed",
                                                                                      "too_few_fragments"),
        "something no fuota wrote": ("failed", "failed", "unknown"),
    }  # fmt: skip
    with sqlite3.connect(database) as db:
        # A copy of the aborted campaign's deployment that had created its task before the abort.
        db.execute("UPDATE deployments SET backend_ref = '{\"fdID\": 7}' WHERE task_name = 'legacy-aborted-1'")
        for n, (reason, (outcome, _, _)) in enumerate(written.items()):
            db.execute(
                "INSERT INTO devices (deployment_id, dev_eui, stage, outcome, reason, raw, updated_at) "
                "VALUES (5, ?, 'failed', ?, ?, '{}', '2026-12-01 14:40:19')",
                (f"{n:016x}", outcome, reason),
            )
    with Store(f"sqlite:///{database}") as store:
        found = {d.reason: (str(d.outcome), str(d.category)) for d in store.devices() if d.deployment_id == 5}
    assert found.pop("campaign aborted while the device was at stage pending") == ("aborted", "aborted")
    assert found == {reason: (outcome, category) for reason, (_, outcome, category) in written.items()}
