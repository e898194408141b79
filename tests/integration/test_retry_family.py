"""`fuota retry` on a campaign family against the IoTSquare simulator, through the real `fuota` command.

The simulator counts the fragmentation sessions set up with each virtual device and the fragments multicast to it
(`IoTSquareSim.sends`, `VirtualDevice.fragments_sent`): a device that any campaign of the family updated must never
be sent the image again, however often the family is retried.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np

from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import Store
from tests.support.cli_helpers import fuota
from tests.support.config_files import iotsquare, sqlite_url, write_campaign, write_campaign_file, write_config
from tests.support.daemons import start_daemon, stop_daemon, wait_campaign

FIRMWARE = np.random.default_rng(51).bytes(3000)  # 63 fragments of 48 B
NB_FRAG = 63


def _sim(euis: list[str], stuck: set[str], lossy: set[str] = frozenset()) -> IoTSquareSim:
    # Lossy devices miss 35 % of the fragments: too many at 30 % redundancy, few enough at 100 %.
    loss = {eui: 0.35 for eui in lossy}
    return IoTSquareSim(devices=euis, loss=loss, never_join=stuck, speed=400, join_delay=20, phase_time=4,
                        fragment_interval=2, seed=4)  # fmt: skip


def _status(folder: Path, campaign: str) -> dict:
    result = fuota(folder, "status", campaign, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _sends(sim: IoTSquareSim, euis: list[str]) -> dict[str, tuple[int, int]]:
    """Per device: (fragmentation sessions set up with it, fragments multicast to it)."""
    sessions = sim.sends
    return {eui: (sessions[eui], sim.device(eui).fragments_sent) for eui in euis}


def _root(folder: Path, sim: IoTSquareSim, euis: list[str], name: str = "first") -> dict:
    write_config(folder, iotsquare(sim.url))
    write_campaign(folder, name, euis, firmware=FIRMWARE, join_timeout=2)
    ran = fuota(folder, "run", "c.toml")
    assert ran.returncode == 1, ran.stdout[-2000:] + ran.stderr[-2000:]  # below the 0.9 threshold: Failed
    return _status(folder, name)


def test_two_retries_never_send_to_an_updated_device(tmp_path: Path) -> None:
    euis = fleet_euis(30, seed=21)
    stuck, lossy = set(euis[:2]), set(euis[2:4])
    with _sim(euis, stuck, lossy) as sim:
        first = _root(tmp_path, sim, euis)
        outcomes = {d["dev_eui"]: d["outcome"] for d in first["devices"]}
        assert {e for e, o in outcomes.items() if o != "updated"} == stuck | lossy
        assert {outcomes[e] for e in lossy} == {"failed"} and {outcomes[e] for e in stuck} == {"unreachable"}
        before = _sends(sim, euis)
        assert all(before[e] == (1, NB_FRAG + 18) for e in set(euis) - stuck)  # 30 %: 18 coded fragments

        # Retry 1: only the devices that failed, at 100 % redundancy (the advice their failure reason gives).
        retried = fuota(tmp_path, "retry", "first", "--only", "failed", "--redundancy-percent", "100")
        assert retried.returncode == 0, retried.stdout[-2000:] + retried.stderr[-2000:]
        retry1 = _status(tmp_path, "first.retry1")
        assert {d["dev_eui"]: d["outcome"] for d in retry1["devices"]} == dict.fromkeys(lossy, "updated")
        assert retry1["redundancy_percent"] == 100
        with Store(sqlite_url(tmp_path)) as store:
            record = store.campaign("first.retry1")
            assert record is not None and record.settings.retry_of == first["id"]
            assert record.settings.redundancy_percent == 100
            assert store.deployments(record.id)[0].plan == {"nb_frag": 63, "frag_size": 48, "padding": 24,
                                                            "redundancy": 63}  # fmt: skip
        after1 = _sends(sim, euis)
        for eui in euis:  # the task multicast 63 + 63 fragments to the two failed devices, nothing to any other
            expected = (before[eui][0] + 1, before[eui][1] + 2 * NB_FRAG) if eui in lossy else before[eui]
            assert after1[eui] == expected, eui

        # Retry 2, named by a member: the rest of the family, the two unreachable devices, and no one updated.
        again = fuota(tmp_path, "retry", "first.retry1")
        assert again.returncode == 1  # they still never join
        retry2 = _status(tmp_path, "first.retry2")
        assert {d["dev_eui"] for d in retry2["devices"]} == stuck
        assert retry2["redundancy_percent"] == 100  # the newest member's settings
        assert _sends(sim, euis) == after1  # the stuck devices never join: nothing reaches them either
        assert sim.calls["fuota/create"] == 3

        family = _status(tmp_path, "first")["family"]
        assert family == _status(tmp_path, "first.retry2")["family"]
        assert [(m["name"], m["state"]) for m in family["members"]] == [
            ("first", "Failed"), ("first.retry1", "Done"), ("first.retry2", "Failed")
        ]  # fmt: skip
        assert (family["devices"], family["updated"], family["retries"]) == (30, 28, 2)
        assert {k: n for k, n in family["outcomes"].items() if n} == {"updated": 28, "unreachable": 2}
        assert family["line"] == "28 of 30 updated after 2 retries"
        assert "28 of 30 updated after 2 retries" in fuota(tmp_path, "status", "first.retry1").stdout
        for fmt in ("text", "html"):
            report = fuota(tmp_path, "report", "first", "--format", fmt)
            assert report.returncode == 0 and "28 of 30 updated after 2 retries" in report.stdout, report.stderr
        report = json.loads(fuota(tmp_path, "report", "first", "--format", "json").stdout)
        assert report["family"] == family


def test_dry_run_and_refused_options_send_and_store_nothing(tmp_path: Path) -> None:
    euis = fleet_euis(10, seed=22)
    stuck = set(euis[:2])
    with _sim(euis, stuck) as sim:
        _root(tmp_path, sim, euis)
        calls = sim.calls
        with Store(sqlite_url(tmp_path)) as store:
            events = len(store.events(1))

        dry = fuota(tmp_path, "retry", "first", "--dry-run", "--redundancy-percent", "50")
        assert dry.returncode == 0, dry.stderr
        assert "uncoded + coded" in dry.stdout and "63 + 31" in dry.stdout  # `fuota plan`'s table, at 50 %
        assert "first.retry1" in dry.stdout and all(eui in dry.stdout for eui in stuck)
        assert "8 updated devices left out" in dry.stdout
        data = json.loads(fuota(tmp_path, "retry", "first", "--dry-run", "--json").stdout)
        assert data["name"] == "first.retry1" and data["devices"] == 2
        assert data["deployments"][0]["plan"]["redundancy"] == 18  # the family's 30 %
        assert {(d["dev_eui"], d["latest_outcome"]) for d in data["retry"]["devices"]} == {
            (eui, "unreachable") for eui in stuck
        }
        assert data["retry"]["left_out_updated"] == 8 and data["family"]["line"] == "8 of 10 updated with no retry yet"

        nothing = fuota(tmp_path, "retry", "first", "--only", "failed")
        assert nothing.returncode == 0 and "no device to retry" in nothing.stdout

        for args, named in [
            (["--only", "failed,updated"], "--only updated"),
            (["--redundancy-percent", "5"], "--redundancy-percent 5"),
            (["--redundancy-percent", "150"], "--redundancy-percent 150"),
            (["--dry-run", "--launch-only"], "--dry-run"),
        ]:
            refused = fuota(tmp_path, "retry", "first", *args)
            assert refused.returncode == 2 and named in refused.stderr, (args, refused.stderr)

        assert sim.calls == calls  # not one request to the back end
        with Store(sqlite_url(tmp_path)) as store:
            assert [r.name for r in store.campaigns()] == ["first"] and len(store.events(1)) == events


def test_a_retry_launched_for_the_daemon_and_the_dashboard_family(tmp_path: Path) -> None:
    euis = fleet_euis(10, seed=23)
    stuck = set(euis[:2])
    with _sim(euis, stuck) as sim:
        first = _root(tmp_path, sim, euis)
        launched = fuota(tmp_path, "retry", "first", "--launch-only", "--json")
        assert launched.returncode == 0, launched.stderr
        stored = json.loads(launched.stdout)
        assert (stored["name"], stored["state"], stored["retry_of"], stored["devices"]) == (
            "first.retry1", "Scheduled", first["id"], 2
        )  # fmt: skip
        assert sim.calls["fuota/create"] == 1  # stored, not sent

        busy = fuota(tmp_path, "retry", "first")
        assert busy.returncode == 2
        assert "first.retry1" in busy.stderr and "Scheduled" in busy.stderr and "fuota watch" in busy.stderr

        daemon = start_daemon(tmp_path, http="127.0.0.1:0")
        try:
            url = daemon.url()
            assert wait_campaign(sqlite_url(tmp_path), "first.retry1").value == "Failed"  # they still never join
            page = httpx.get(f"{url}/campaigns/{stored['id']}", timeout=10).text
            twin = httpx.get(f"{url}/api/campaigns/{first['id']}", timeout=10).json()
        finally:
            stop_daemon(daemon)
        assert sim.calls["fuota/create"] == 2
        assert twin["family"]["line"] == "8 of 10 updated after 1 retry"
        assert [m["name"] for m in twin["family"]["members"]] == ["first", "first.retry1"]
        assert "8 of 10 updated after 1 retry" in page
        assert f'href="/campaigns/{first["id"]}"' in page and f'href="/campaigns/{stored["id"]}"' in page


def test_a_campaign_sent_to_an_existing_group_is_not_retried_through_it(tmp_path: Path) -> None:
    euis = fleet_euis(10, seed=24)
    group = "cc3e92cea33ac62a"
    with IoTSquareSim(groups={group: euis}, never_join=euis[:1], speed=400, join_delay=20, phase_time=4,
                      fragment_interval=2) as sim:  # fmt: skip
        write_config(tmp_path, iotsquare(sim.url))
        write_campaign_file(tmp_path, "c.toml", image=FIRMWARE, name="grouped", backend="iot", redundancy_percent=30,
                            iotsquare={"mc_eui": group, "join_timeout": 2})  # fmt: skip
        assert fuota(tmp_path, "run", "c.toml").returncode == 0  # 9 of 10
        calls = sim.calls
        refused = fuota(tmp_path, "retry", "grouped")
        assert refused.returncode == 2 and group in refused.stderr and "already updated" in refused.stderr
        dry = json.loads(fuota(tmp_path, "retry", "grouped", "--dry-run", "--json").stdout)
        assert [d["dev_eui"] for d in dry["retry"]["devices"]] == euis[:1] and group in dry["retry"]["refused"]
        assert sim.calls == calls
        with Store(sqlite_url(tmp_path)) as store:
            assert [r.name for r in store.campaigns()] == ["grouped"]
