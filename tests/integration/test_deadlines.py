"""One deadline per whole back-end call, and a deployment that fails within give_up_after + one call timeout.

Against raw sockets on 127.0.0.1 (tests/support/raw_servers.py): a server that trickles a header line more often
than the timeout (httpx's per-read timeout alone never fires), one that never answers, one that never reads. The
time bounds below are generous on purpose (about 3× the budget): they show that nothing hangs, not how fast it is.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import numpy as np
import pytest

from fuota.backends.errors import TransientError
from fuota.backends.iotsquare.http import IoTSquareHTTP
from fuota.core.model import DeploymentState
from fuota.sim.iotsquare import fleet_euis
from fuota.store import EventKind, Store
from tests.support.cli_helpers import fuota
from tests.support.config_files import iotsquare, sqlite_url, write_campaign, write_config
from tests.support.raw_servers import RawServer, deaf, silent, trickle

STATUS = "/openapi/fuota/status"
NO_HANG = 3  # a bound of 3× the budget: enough to show that a call did not hang, whatever the machine's load


def _client(url: str, timeout: float, **knobs: float) -> IoTSquareHTTP:
    return IoTSquareHTTP("slow", url, "tok-123456", timeout=timeout, **knobs)  # type: ignore[arg-type]


def _timed(call: Callable[[], object]) -> tuple[TransientError, float]:
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        call()
    return caught.value, time.monotonic() - started


def test_a_trickling_answer_times_out_at_the_call_s_deadline() -> None:
    # A header line every 0.5 s under a 2 s timeout: every read gets data in time, so only a whole-call deadline
    # ends it.
    with trickle(every=0.5) as server:
        client = _client(server.url, timeout=2)
        error, took = _timed(lambda: client.once("GET", STATUS, params={"fdID": 1}))
        client.close()
    assert server.lines >= 2, "the server trickled before the call ended"
    assert "no answer within 2 s (whole exchange)" in str(error)
    assert 1.9 <= took < 2 * NO_HANG


@pytest.mark.parametrize(
    ("server", "body", "stuck"),
    [(silent, None, httpx.ReadTimeout), (deaf, {"firmware": "A" * 16_000_000}, httpx.WriteTimeout)],
    ids=["never answers", "never reads a large request"],
)
def test_a_silent_or_deaf_server_times_out_at_the_call_s_deadline(
    server: Callable[[], AbstractContextManager[RawServer]], body: object, stuck: type[Exception]
) -> None:
    with server() as running:
        client = _client(running.url, timeout=1)
        error, took = _timed(lambda: client.once("POST", "/openapi/fuota/create", body=body))
        client.close()
    assert "no answer within 1 s" in str(error) and isinstance(error.__cause__, stuck)  # stuck where meant
    assert took < 1 * NO_HANG


def test_retries_stop_at_their_budget_from_the_first_failure() -> None:
    # Five attempts of 1 s with back-off would take about 8 s: no attempt starts 2.5 s after the first failure (at
    # 1 s), and the one under way then ends by its own 1 s deadline.
    with trickle(every=0.3) as server:
        client = _client(server.url, timeout=1, retry_attempts=5, retry_timeout=2.5, retry_wait_initial=0.2)
        error, took = _timed(lambda: client.call("GET", STATUS))
        client.close()
    assert 2.5 <= error.silent_for <= 2.5 + 1 + 0.2  # counted from the first failure
    assert took < (1 + 2.5 + 1) * NO_HANG


@pytest.mark.parametrize("server", [trickle, silent], ids=["trickles", "never answers"])
def test_a_run_fails_its_deployment_within_give_up_after_and_one_timeout(
    tmp_path: Path, server: Callable[..., AbstractContextManager[RawServer]]
) -> None:
    give_up, timeout = 4, 1
    with server() if server is silent else server(every=0.3) as running:
        write_config(tmp_path, iotsquare(running.url, timeout=timeout, give_up_after=give_up))
        write_campaign(tmp_path, "slow", fleet_euis(3, seed=5), firmware=np.random.default_rng(5).bytes(500))
        started = time.monotonic()
        done = fuota(tmp_path, "run", "c.toml", timeout=60)
        took = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    with Store(sqlite_url(tmp_path)) as store:
        campaign = store.campaign("slow")
        assert campaign is not None
        (deployment,) = store.deployments(campaign.id)
        failed = [e for e in store.events(campaign.id, EventKind.TRANSITION) if e.to_state == "Failed"]
    assert deployment.state is DeploymentState.FAILED
    cause = failed[0].cause
    found = re.search(r"back end silent/slow for (\d+) s \(give_up_after = 4 s\)", cause)
    assert found, cause
    assert give_up <= int(found[1]) <= give_up + timeout + 1  # the rule itself: counted from the first failure
    assert took < (give_up + timeout) * NO_HANG  # the whole `fuota run`, process start included: no hang
