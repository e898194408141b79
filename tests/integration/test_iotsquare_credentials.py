"""IoTSquare credentials and groups against the simulator over real HTTP on 127.0.0.1 (issue 15, item 7).

A token read at every call (token_file, token_env) and rotated while a daemon runs; a token that expires and is not
rotated (the refused state, then failure after give_up_after); the temporary groups' push options from the
campaign file; 1008 Query Error bursts while polling; 16001 for a group busy with another task.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from fuota.backends.errors import AuthError, RejectedError, TransientError
from fuota.backends.iotsquare.adapter import IoTSquareBackend
from fuota.backends.iotsquare.kind import IoTSquareConfig
from fuota.backends.registry import make_backend
from fuota.campaign import load_campaign
from fuota.config import load_config
from fuota.core.model import CampaignState
from fuota.core.reports import TaskRef
from fuota.service import campaigns as service
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import EventKind, Store
from fuota.views.model import status_data
from tests.support.cli_helpers import fuota, start_run
from tests.support.config_files import iotsquare, sqlite_url, write_campaign, write_config
from tests.support.daemons import kill_daemon, start_daemon, stop_daemon, wait_campaign
from tests.support.iotsquare_stub import IoTSquareStub, err, ok
from tests.support.waiting import wait_for

FIRMWARE = np.random.default_rng(47).bytes(3000)
FAST = {"speed": 400, "join_delay": 20, "phase_time": 4, "fragment_interval": 2}
PACED = {"speed": 20, "join_delay": 20, "phase_time": 4, "fragment_interval": 2}  # a task lasts ≈ 9 s


def _refused_since(folder: Path) -> str | None:
    """credentials_refused_since of the newest campaign's only deployment, as the read model tells it."""
    if not (folder / "fuota.db").exists():
        return None
    with Store(sqlite_url(folder)) as store:
        records = store.campaigns()
        if not records:
            return None
        (row,) = status_data(store, records[0].id)["deployments"]
        return row["credentials_refused_since"]


def _events(folder: Path, name: str, kind: EventKind) -> list[tuple[str | None, str]]:
    with Store(sqlite_url(folder)) as store:
        return [(e.to_state, e.cause) for e in store.events(store.campaign(name).id, kind)]


def _run(folder: Path, sim: IoTSquareSim, name: str, euis: list[str], **fields: Any) -> CampaignState:
    """Plan, launch and run campaign `name` in this process (the path `fuota run` takes); its final state.
    `fields` go to the back end's table, `iotsquare` (a key of them) to the campaign's."""
    table = fields.pop("iotsquare", None)
    write_config(folder, iotsquare(sim.url, **fields))
    write_campaign(folder, name, euis, firmware=FIRMWARE, join_timeout=2, iotsquare=table)
    config = load_config(folder / "fuota.toml")
    with Store(config.store.url) as store:
        record, _ = service.launch(store, service.plan(config, load_campaign(folder / "c.toml")))
        return service.run(config, store, record.id)


# --- the acceptance test: a token file rotated under a running daemon ------------------------------------------


def test_a_token_file_rotated_under_a_running_daemon_is_picked_up_and_the_campaign_ends_done(tmp_path: Path) -> None:
    euis = fleet_euis(10, seed=70)
    token_file = tmp_path / "iot.token"
    token_file.write_text("first-token\n")  # the newline an editor adds is not part of the token
    with IoTSquareSim(devices=euis, token="first-token", seed=70, **PACED) as sim:
        write_config(tmp_path, iotsquare(sim.url, token=None, token_file=str(token_file), give_up_after=120))
        write_campaign(tmp_path, "rotated", euis, firmware=FIRMWARE, join_timeout=2)
        assert fuota(tmp_path, "launch", "c.toml").returncode == 0
        daemon = start_daemon(tmp_path, http="127.0.0.1:0")
        try:
            wait_for(lambda: sim.done["fuota/create"] == 1, 60, "the task created")
            sim.rotate_token("second-token")  # the server revokes the first token: every call now answers 1004
            since = wait_for(lambda: _refused_since(tmp_path), 30, "the refused state in the read model")
            shown = fuota(tmp_path, "status", "--json")
            status = json.loads(shown.stdout)
            (row,) = status["deployments"]
            assert status["state"] == "Running" and row["credentials_refused_since"] == since
            assert "credentials refused since" in fuota(tmp_path, "status").stdout
            assert 'class="credentials-refused"' in httpx.get(f"{daemon.url()}/campaigns/{status['id']}").text
            token_file.write_text("second-token\n")  # the operator rotates the file; the daemon is not restarted
            assert wait_campaign(sqlite_url(tmp_path), "rotated", timeout=120) is CampaignState.DONE
            stopped = stop_daemon(daemon)
        finally:
            kill_daemon(daemon)
    assert stopped.code == 0, stopped.log[-3000:]
    assert "Traceback" not in stopped.log and "second-token" not in stopped.log
    assert stopped.log.count("credentials refused since") == 1  # a log line once a minute at most, not every poll
    assert [state for state, _ in _events(tmp_path, "rotated", EventKind.CREDENTIALS)] == ["refused", "accepted"]
    assert _refused_since(tmp_path) is None
    assert sim.done["fuota/create"] == 1


# --- a token that expires and is not rotated -------------------------------------------------------------------


def test_an_expired_token_shows_the_refused_state_then_fails_after_give_up_after(tmp_path: Path) -> None:
    euis = fleet_euis(8, seed=71)
    with IoTSquareSim(devices=euis, token_expires_after=16, seed=71, **PACED) as sim:
        write_config(tmp_path, iotsquare(sim.url, give_up_after=8))
        write_campaign(tmp_path, "expired", euis, firmware=FIRMWARE, join_timeout=2)
        run = start_run(tmp_path)
        try:
            wait_for(lambda: _refused_since(tmp_path) or run.poll() is not None, 60, "the refused state")
            status = json.loads(fuota(tmp_path, "status", "--json").stdout)
            assert status["deployments"][0]["credentials_refused_since"] is not None, status["deployments"]
            out, errors = run.communicate(timeout=60)
        finally:
            run.kill()
        assert sim.credentials.expired
    assert run.returncode == 1, out[-2000:] + errors[-2000:]  # Failed, not a traceback
    status = json.loads(fuota(tmp_path, "status", "--json").stdout)
    (row,) = status["deployments"]
    assert status["state"] == "Failed" and row["state"] == "Failed" and row["credentials_refused_since"] is None
    reasons = {device["reason"] for device in status["devices"]}
    assert any("credentials refused for" in r and "give_up_after = 8 s" in r and "1003" in r for r in reasons), reasons
    assert [state for state, _ in _events(tmp_path, "expired", EventKind.CREDENTIALS)] == ["refused"]


# --- token_env and token_file, read again at every call ---------------------------------------------------------


def test_token_env_is_read_again_at_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUOTA_TEST_ISQ_TOKEN", "one")
    with IoTSquareSim(token="one") as sim:
        config = IoTSquareConfig(kind="iotsquare", base_url=sim.url, token_env="FUOTA_TEST_ISQ_TOKEN")
        backend = make_backend("iot", config)
        try:
            backend.reachable()
            sim.rotate_token("two")
            with pytest.raises(AuthError, match="1004"):
                backend.reachable()
            monkeypatch.setenv("FUOTA_TEST_ISQ_TOKEN", "two")
            backend.reachable()  # no restart, no new adapter
            monkeypatch.delenv("FUOTA_TEST_ISQ_TOKEN")
            with pytest.raises(AuthError, match="token_env = 'FUOTA_TEST_ISQ_TOKEN': no token there"):
                backend.reachable()
        finally:
            backend.close()


def test_a_token_file_that_cannot_be_used_is_an_auth_error_naming_the_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("good\n")
    with IoTSquareSim(token="good") as sim:
        config = IoTSquareConfig(kind="iotsquare", base_url=sim.url, token_file=token_file)
        backend = make_backend("iot", config)
        try:
            backend.reachable()
            for content, why in [("", "no token there"), ("bad\x07token", "characters an HTTP header cannot carry")]:
                token_file.write_text(content)
                with pytest.raises(AuthError, match=why) as caught:
                    backend.reachable()
                assert str(token_file) in str(caught.value) and "bad\x07" not in str(caught.value)
            token_file.unlink()
            with pytest.raises(AuthError, match="cannot read the token"):
                backend.reachable()
            token_file.write_text("good")
            backend.reachable()
            assert sim.calls["mcgroup/list"] == 2  # an unusable token is never sent
        finally:
            backend.close()


# --- the temporary groups' push options ------------------------------------------------------------------------


def test_group_options_of_the_campaign_file_reach_the_simulator(tmp_path: Path) -> None:
    euis = fleet_euis(6, seed=72)
    options = {
        "subnet": "auto",
        "auto_subnet": True,
        "push_url": ["https://iot.example.com/api/iotsquare", "http://backup.example.com/push"],
        "enable_mqtt": False,
        "headers": {"userID": "2333", "x-access-token": "6666"},
    }
    with IoTSquareSim(devices=euis, seed=72, **FAST) as sim:
        assert _run(tmp_path, sim, "pushed", euis, iotsquare=options) is CampaignState.DONE
        (group,) = sim.created_groups
    assert group.subnet == "auto" and group.auto_subnet and not group.enable_mqtt
    assert group.push_urls == tuple(options["push_url"]) and group.headers == options["headers"]


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"push_url": "ftp://iot.example.com"}, "ftp://iot.example.com"),
        ({"push_url": []}, "push_url"),
        ({"headers": {f"h{i}": "v" for i in range(6)}}, "at most 5"),
        ({"headers": {"user id": "1"}}, "'user id'"),
        ({"auto_subnet": True}, "subnet = 'ch_00-07'"),
        ({"enable_mqtt": "maybe"}, "enable_mqtt"),
    ],
)
def test_bad_group_options_are_refused_before_anything_is_stored(
    tmp_path: Path, table: dict[str, Any], named: str
) -> None:
    write_config(tmp_path, iotsquare("http://127.0.0.1:9"))
    write_campaign(tmp_path, "bad", fleet_euis(2, seed=73), firmware=FIRMWARE, iotsquare=table)
    result = fuota(tmp_path, "launch", "c.toml")
    assert result.returncode == 2 and named in result.stderr, result.stderr
    if (tmp_path / "fuota.db").exists():
        with Store(sqlite_url(tmp_path)) as store:
            assert store.campaign("bad") is None


@pytest.mark.parametrize("push_url", ["https://iot.example.com/api", ["https://a.example.com", "https://b.example"]])
def test_push_url_is_sent_in_the_form_given(push_url: str | list[str]) -> None:
    with IoTSquareStub() as stub:
        stub.on("/openapi/mcgroup/create", ok())
        stub.on("/openapi/mcdevice/create", ok())
        backend = IoTSquareBackend("iot", stub.url, "tok")
        try:
            options = {"name_prefix": "p", "enable_mc_remote": True, "push_url": push_url, "headers": {"a": "1"}}
            backend.prepare(None, ("8cf9573000000001",), options)
        finally:
            backend.close()
        (request,) = stub.calls("/openapi/mcgroup/create")
    assert request.body["pushURL"] == push_url and request.body["headers"] == {"a": "1"}
    assert "enableMQTT" not in request.body and "autoSubnet" not in request.body  # not given: not sent


# --- 1008 Query Error while polling ----------------------------------------------------------------------------


def test_1008_while_polling_is_tolerated_three_times_in_a_row() -> None:
    ref = TaskRef("camp-1", {"fdID": 16, "mcEUI": "cc3e92cea33ac62a"})
    query_error = err(1008, "Query Error")
    status = ok({"fdID": 16, "state": "EnqueueFragment"})
    with IoTSquareStub() as stub:
        stub.on("/openapi/fuota/status", query_error, query_error, status, *[query_error] * 4)
        backend = IoTSquareBackend("iot", stub.url, "tok", retry_attempts=1)
        try:
            for seen in (1, 2):
                with pytest.raises(TransientError, match=f"{seen} of 3 in a row"):
                    backend.status(ref)
            backend.status(ref)  # a good answer starts the count anew
            for seen in (1, 2, 3):
                with pytest.raises(TransientError, match=f"{seen} of 3 in a row"):
                    backend.status(ref)
            with pytest.raises(RejectedError, match="4 answers in a row, giving up") as caught:
                backend.status(ref)
            assert caught.value.code == 1008
        finally:
            backend.close()


def test_a_burst_of_1008_is_retried_and_the_campaign_ends_done(tmp_path: Path) -> None:
    euis = fleet_euis(6, seed=74)
    with IoTSquareSim(devices=euis, query_errors=3, seed=74, **FAST) as sim:
        assert _run(tmp_path, sim, "queried", euis) is CampaignState.DONE
    retries = [cause for _, cause in _events(tmp_path, "queried", EventKind.RETRY)]
    assert len([cause for cause in retries if "1008 Query Error" in cause]) == 3, retries


def test_a_fourth_1008_in_a_row_fails_the_deployment(tmp_path: Path) -> None:
    euis = fleet_euis(6, seed=75)
    with IoTSquareSim(devices=euis, query_errors=4, seed=75, **FAST) as sim:
        assert _run(tmp_path, sim, "lost", euis) is CampaignState.FAILED
    failed = [cause for state, cause in _events(tmp_path, "lost", EventKind.TRANSITION) if state == "Failed"]
    assert failed and all("1008" in cause and "4 answers in a row" in cause for cause in failed), failed


# --- 16001 for a group busy with another task ------------------------------------------------------------------


def test_a_busy_group_is_waited_for_then_the_campaign_ends_done(tmp_path: Path) -> None:
    euis = fleet_euis(6, seed=76)
    with IoTSquareSim(devices=euis, busy_group=2, seed=76, **FAST) as sim:
        assert _run(tmp_path, sim, "waited", euis) is CampaignState.DONE
        assert sim.calls["fuota/create"] == 3 and sim.done["fuota/create"] == 1
    retries = [cause for _, cause in _events(tmp_path, "waited", EventKind.RETRY)]
    busy = [cause for cause in retries if "is busy with another task, waiting" in cause]
    assert len(busy) == 2 and all("16001" in cause for cause in busy), retries


def test_a_group_busy_for_longer_than_give_up_after_fails_with_the_reason(tmp_path: Path) -> None:
    euis = fleet_euis(4, seed=77)
    with IoTSquareSim(devices=euis, busy_group=True, seed=77, **FAST) as sim:
        assert _run(tmp_path, sim, "busy", euis, give_up_after=2) is CampaignState.FAILED
        assert sim.done["fuota/create"] == 0
    failed = [cause for state, cause in _events(tmp_path, "busy", EventKind.TRANSITION) if state == "Failed"]
    assert failed and "busy with another task" in failed[0], failed


# --- the simulator's own options, as a client meets them -------------------------------------------------------


def test_the_simulator_token_expires_after_n_calls_until_it_is_rotated() -> None:
    with IoTSquareSim(token="a", token_expires_after=2) as sim:

        def code(token: str) -> int:
            answer = httpx.get(f"{sim.url}/openapi/mcgroup/list", headers={"Authorization": token})
            return int(answer.json()["code"])

        assert [code("a"), code("a"), code("a"), code("a")] == [0, 0, 1003, 1003]
        sim.rotate_token("b")
        assert [code("a"), code("Bearer b"), code("b"), code("b")] == [1004, 0, 0, 1003]
        assert sim.credentials.expired and sim.token == "b"
