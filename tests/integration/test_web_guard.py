"""The dashboard's guards: 400/404 and never 500 to any id, page or filter (hypothesis over the real ASGI app on a
real SQLite store); Host checked when bound to loopback (a real `fuota daemon --http`, and real sockets on
127.0.0.2 and [::1]); the token asked of every request beyond loopback, and no start there without one."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuota.core.model import Outcome, Stage
from fuota.store import Store
from fuota.web import Dashboard
from fuota.web.app import create_app
from fuota.web.server import DashboardError
from tests.support.cli_helpers import fuota
from tests.support.config_files import dashboard, sqlite_url, write_config
from tests.support.daemons import start_daemon, stop_daemon
from tests.support.store_helpers import EUIS, new_campaign

TOKEN = "guard-s3cret-55e1"

NASTY = ["", "0", "1", "²", "١٢", "1e3", "0x10", " 1", "+1", "-1", "9" * 40, str(2**63), str(2**63 // 50 + 1), "%00"]
numbers = st.one_of(
    st.sampled_from(NASTY), st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text(max_size=6)
)
words = st.one_of(
    st.sampled_from([s.value for s in Stage] + [o.value for o in Outcome] + ["none"]), st.text(max_size=8)
)
filters = st.fixed_dictionaries(
    {}, optional={"page": numbers, "deployment": numbers, "stage": words, "outcome": words, "other": words}
)
PAGES = [
    "/campaigns/{id}",
    "/api/campaigns/{id}",
    "/fragments/campaigns/{id}",
    "/fragments/campaigns/{id}/devices",
    "/api/campaigns/{id}/devices",
    "/campaigns/{id}/devices/{eui}",
    "/api/campaigns/{id}/devices/{eui}",
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, int]]:
    """The dashboard served on a loopback port, and a client of it (real sockets, the server's own 500s)."""
    folder = tmp_path_factory.mktemp("guard")
    with Store(sqlite_url(folder)) as store:
        campaign_id, _ = new_campaign(store)
        server = Dashboard(create_app(store), "127.0.0.1", 0).start()
        try:
            with httpx.Client(base_url=server.url, timeout=30, follow_redirects=True) as http_client:
                yield http_client, campaign_id
        finally:
            server.stop()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    page=st.sampled_from(PAGES),
    campaign=st.one_of(st.just("own"), numbers),
    eui=st.one_of(st.sampled_from(EUIS), st.text(min_size=1, max_size=20)),
    query=filters,
)
def test_any_id_page_or_filter_is_answered_400_or_404_never_500(
    client: tuple[httpx.Client, int], page: str, campaign: str, eui: str, query: dict[str, str]
) -> None:
    test_client, own = client
    path = page.format(id=own if campaign == "own" else quote(campaign, safe=""), eui=quote(eui, safe=""))
    response = test_client.get(path, params=query)
    assert response.status_code in {200, 400, 404}, (path, eui, query, response.text)


def test_the_500s_the_red_team_found_are_400_or_404(client: tuple[httpx.Client, int]) -> None:
    test_client, own = client
    answers = {
        f"/api/campaigns/{2**63}": 404,
        f"/api/campaigns/{10**30}": 404,
        "/api/campaigns/²": 404,
        f"/api/campaigns/{own}?page=²": 400,
        f"/api/campaigns/{own}?page=-3": 400,
        f"/api/campaigns/{own}?page={2**62}": 400,
        f"/api/campaigns/{own}?page={10**30}": 400,
        f"/api/campaigns/{own}?deployment={2**64}": 400,
        f"/api/campaigns/{own}?stage=Nowhere": 400,
        f"/api/campaigns/{own}?page=99999": 200,  # a page past the last is empty, not an error
    }
    for path, status in answers.items():
        response = test_client.get(path)
        assert response.status_code == status, (path, response.text)
        assert response.status_code == 200 or "error" in response.json()


def _hosts(url: str, *hosts: str) -> list[int]:
    return [httpx.get(f"{url}/api/campaigns", headers={"Host": host}, timeout=10).status_code for host in hosts]


def test_the_daemon_on_loopback_refuses_a_forged_host(tmp_path: Path) -> None:
    write_config(tmp_path)
    daemon = start_daemon(tmp_path, http="127.0.0.1:0")
    try:
        url = daemon.url()
        port = httpx.URL(url).port
        forged = [
            "evil.example",
            f"evil.example:{port}",
            "127.0.0.1",
            f"127.0.0.1:{port + 1}",
            f"localhost.evil:{port}",
        ]
        assert _hosts(url, *forged) == [400] * len(forged)
        assert _hosts(url, f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}") == [200, 200, 200]
        refused = httpx.get(f"{url}/campaigns", headers={"Host": "evil.example"}, timeout=10)
        assert "evil.example" in refused.text and f"127.0.0.1:{port}" in refused.text
    finally:
        assert not stop_daemon(daemon).killed


@pytest.mark.parametrize("host", ["127.0.0.2", "::1"])
def test_every_loopback_address_checks_host(tmp_path: Path, host: str) -> None:
    with Store(sqlite_url(tmp_path)) as store:
        served = Dashboard(create_app(store, bound_to=host), host, 0).start()
        try:
            port = httpx.URL(served.url).port
            own = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            assert _hosts(served.url, "evil.example", f"127.0.0.1:{port}", own, f"localhost:{port}") == [
                400,
                400,
                200,
                200,
            ]
        finally:
            served.stop()


def test_beyond_loopback_every_request_needs_the_token(tmp_path: Path) -> None:
    write_config(tmp_path, dashboard(token=TOKEN))
    daemon = start_daemon(tmp_path, http="0.0.0.0:0")
    try:
        url = daemon.url().replace("0.0.0.0", "127.0.0.1")

        def status(path: str, authorization: str | None) -> int:
            headers = {} if authorization is None else {"Authorization": authorization}
            return httpx.get(url + path, headers=headers, timeout=10).status_code

        basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
        for path in ["/campaigns", "/api/campaigns", "/metrics", "/static/htmx.min.js", "/nowhere"]:
            assert status(path, None) == 401, path
            assert status(path, "Bearer wrong") == 401, path
            assert status(path, f"Basic {base64.b64encode(b'anyone:wrong').decode()}") == 401, path
        assert [status("/api/campaigns", f"Bearer {TOKEN}"), status("/campaigns", f"Basic {basic}")] == [200, 200]
        refused = httpx.get(url + "/campaigns", timeout=10)
        assert refused.headers["www-authenticate"].startswith("Basic") and "[dashboard] token" in refused.text
    finally:
        assert not stop_daemon(daemon).killed


def test_beyond_loopback_without_a_token_the_daemon_does_not_start(tmp_path: Path) -> None:
    write_config(tmp_path)
    result = fuota(tmp_path, "daemon", "--http", "0.0.0.0:0", timeout=30)
    assert result.returncode == 2, result.stderr
    assert "[dashboard]" in result.stderr and "0.0.0.0" in result.stderr
    assert not (tmp_path / "fuota.db").exists()  # refused before the store opened
    with Store(sqlite_url(tmp_path)) as store, pytest.raises(DashboardError, match="token"):
        create_app(store, bound_to="192.0.2.7")
