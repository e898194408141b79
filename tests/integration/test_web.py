"""`fuota daemon --http` over HTTP: abort refused without the token or from another site, JSON twins and /metrics
equal to the store's own reads, no secret in any output. One 2 000-device simulated campaign for the module."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stamina.instrumentation
from prometheus_client.parser import text_string_to_metric_families

from fuota.backends.iotsquare.adapter import IoTSquareBackend
from fuota.core.model import CampaignState, Stage
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from fuota.store import EventKind, Store
from fuota.views.metrics import DaemonMetrics
from fuota.views.rows import PER_PAGE
from fuota.web.queries import TIMELINE
from tests.support.cli_helpers import fuota
from tests.support.config_files import dashboard, write_config
from tests.support.daemons import start_daemon, stop_daemon
from tests.support.waiting import wait_for
from tests.support.web_helpers import SIM_TOKEN, TOKEN, Running, campaign_under_way


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with campaign_under_way(tmp_path_factory.mktemp("web")) as running:
        yield running


@pytest.fixture
def aborted(served: Running) -> Running:
    """The module's campaign, aborted with the token if it is still under way (once the daemon polled it)."""
    with served.store() as store:
        if not store.campaign(served.campaign_id).state.ended:
            _wait_polled(served)
            answer = _abort(served, {"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 200, answer.text
    return served


def _wait_polled(running: Running) -> None:
    """Until the daemon has polled a task (a deployment moved past Created on its report): /metrics then has
    status and device-list calls to count, whatever the order the tests run in."""

    def polled() -> bool:
        with running.store() as store:
            return any(d.state not in ("Scheduled", "Created") for d in store.deployments(running.campaign_id))

    wait_for(polled, 60, "the daemon polling a task", every=0.2)


def _abort(running: Running, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{running.url}/api/campaigns/{running.campaign_id}/abort", headers=headers, timeout=30)


def _get(running: Running, path: str, **params: object) -> httpx.Response:
    return httpx.get(running.url + path, params=params, timeout=10)


def test_abort_is_refused_without_the_token_or_from_another_site(served: Running) -> None:
    def polled() -> bool:  # the back end is being polled: its tasks exist
        page = _get(served, f"/api/campaigns/{served.campaign_id}").json()
        return page["state"] == "Running" and all(d["state"] != "Scheduled" for d in page["deployments"])

    wait_for(polled, 30, "the back end's tasks polled", every=0.2)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    refusals = [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token"}, 403),
        ({"Authorization": f"Basic {TOKEN}"}, 401),
        ({**bearer, "Origin": "http://evil.example"}, 403),
        ({**bearer, "Sec-Fetch-Site": "cross-site"}, 403),
        ({**bearer, "Sec-Fetch-Site": "same-site"}, 403),
    ]
    for headers, status in refusals:
        answer = _abort(served, headers)
        assert answer.status_code == status, (headers, answer.text)
        assert TOKEN not in answer.text
    assert _abort(served, {}).headers["WWW-Authenticate"] == "Bearer"
    assert httpx.get(f"{served.url}/api/campaigns/{served.campaign_id}/abort").status_code == 405
    with served.store() as store:
        assert store.campaign(served.campaign_id).state is CampaignState.RUNNING
        assert not any(d.state.ended for d in store.deployments(served.campaign_id))
        assert not any("dashboard" in e.cause for e in store.events(served.campaign_id))


def test_only_loopback_host_names_are_answered(served: Running) -> None:
    # A page of another site that rebinds its name to 127.0.0.1 sends its own name as Host: refused.
    rebound = httpx.get(f"{served.url}/api/campaigns", headers={"Host": "attacker.example"}, timeout=10)
    assert rebound.status_code == 400
    localhost = f"localhost:{httpx.URL(served.url).port}"  # the port too: Host names the dashboard exactly
    assert httpx.get(f"{served.url}/api/campaigns", headers={"Host": localhost}, timeout=10).status_code == 200


def test_abort_with_the_token_ends_the_campaign_aborted(served: Running) -> None:
    _wait_polled(served)
    own = {"Authorization": f"Bearer {TOKEN}", "Origin": served.url, "Sec-Fetch-Site": "same-origin"}
    answer = _abort(served, own)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": served.campaign_id, "name": "fleet", "state": "Aborted"}
    with served.store() as store:
        assert store.campaign(served.campaign_id).state is CampaignState.ABORTED
        assert all(d.state == "Aborted" for d in store.deployments(served.campaign_id))
    assert _abort(served, own).status_code == 409  # once ended, nothing more to abort


def test_json_twins_equal_the_store(aborted: Running) -> None:
    cid = aborted.campaign_id
    with aborted.store() as store:
        records = store.campaigns()
        devices = store.devices(campaign_id=cid)
        deployments = store.deployments(cid)
        events = store.events(cid)
        stages, outcomes = store.stage_counts(cid), store.outcome_counts(cid)
    listed = _get(aborted, "/api/campaigns").json()["campaigns"]
    assert [(c["id"], c["name"], c["state"], c["devices"]) for c in listed] == [
        (r.id, r.name, str(r.state), len(devices)) for r in records
    ]
    page = _get(aborted, f"/api/campaigns/{cid}").json()
    assert (page["state"], page["devices"], page["progress"]) == ("Aborted", 2000, 100.0)
    assert page["counts"] == stages and page["outcomes"] == outcomes
    names = {d.id: d.task_name for d in deployments}
    assert [(d["id"], d["state"], d["devices"]) for d in page["deployments"]] == [
        (d.id, str(d.state), sum(x.deployment_id == d.id for x in devices)) for d in deployments
    ]
    for shown in page["deployments"]:
        mine = [x for x in devices if x.deployment_id == shown["id"]]
        assert shown["counts"] == {s.value: sum(x.stage is s for x in mine) for s in Stage}
    timeline = [e for e in reversed(events) if e.kind is not EventKind.DEVICE]
    assert page["events"]["total"] == len(timeline)
    assert [(e["at"], e["cause"]) for e in page["events"]["latest"]] == [
        (e.at.isoformat(), e.cause) for e in timeline[:TIMELINE]
    ]
    for filters in ({}, {"stage": devices[0].stage.value}, {"deployment": deployments[-1].id, "page": 2},
                    {"outcome": "none"}, {"outcome": "failed", "stage": "failed"}):  # fmt: skip
        table = _get(aborted, f"/api/campaigns/{cid}/devices", **filters).json()
        wanted = [
            x
            for x in devices
            if str(x.stage) == filters.get("stage", x.stage)
            and x.deployment_id == filters.get("deployment", x.deployment_id)
            and (str(x.outcome) if x.outcome else "none") == filters.get("outcome", str(x.outcome or "none"))
        ]
        first = (filters.get("page", 1) - 1) * PER_PAGE
        assert table["total"] == len(wanted), filters
        assert [d["dev_eui"] for d in table["devices"]] == [x.dev_eui for x in wanted[first : first + PER_PAGE]]
        assert _get(aborted, f"/api/campaigns/{cid}", **filters).json()["table"] == table
    device = devices[1234]
    twin = _get(aborted, f"/api/campaigns/{cid}/devices/{device.dev_eui.upper()}").json()
    assert twin["deployments"] == [
        {
            "dev_eui": device.dev_eui,
            "deployment_id": device.deployment_id,
            "deployment": names[device.deployment_id],
            "stage": str(device.stage),
            "outcome": None if device.outcome is None else str(device.outcome),
            "category": None if device.category is None else str(device.category),
            "reason": device.reason,
            "last_change": device.updated_at.isoformat(),
            "raw": device.raw,
        }
    ]
    assert [e["cause"] for e in twin["events"]["latest"]] == [
        e.cause for e in reversed(events) if e.dev_eui == device.dev_eui
    ]
    for path in ("/campaigns", f"/campaigns/{cid}", f"/campaigns/{cid}/devices/{device.dev_eui}"):
        html = _get(aborted, path)
        assert html.status_code == 200 and f'href="/api{path}"' in html.text
        assert "default-src 'none'" in html.headers["Content-Security-Policy"]


def test_metrics_parse_and_equal_the_store(aborted: Running) -> None:
    text = _get(aborted, "/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    with aborted.store() as store:
        states = Counter(str(r.state) for r in store.campaigns())
        devices = store.devices()
        anomalies = len(store.events(aborted.campaign_id, kind=EventKind.ANOMALY))
        tasks = sum(d.backend_ref is not None for d in store.deployments(aborted.campaign_id))
    campaigns = {s.labels["state"]: s.value for s in families["fuota_campaigns"].samples}
    assert campaigns == {state.value: states[state.value] for state in CampaignState}
    shown = Counter()
    for sample in families["fuota_devices"].samples:
        shown[sample.labels["stage"], sample.labels["outcome"]] += sample.value
    assert shown == Counter((str(d.stage), str(d.outcome) if d.outcome else "none") for d in devices)
    assert families["fuota_anomalies"].samples[0].value == anomalies
    calls = Counter()
    for sample in families["fuota_backend_calls"].samples:
        if sample.name.endswith("_total"):
            calls[sample.labels["operation"], sample.labels["result"]] += sample.value
    assert calls["status", "ok"] > 0 and calls["devices", "ok"] > 0
    assert calls["abort", "ok"] == tasks  # the dashboard's abort went through the measured back ends
    latency = {
        s.labels["operation"]: s.value
        for s in families["fuota_backend_call_seconds"].samples
        if s.name.endswith("_count")
    }
    assert latency["status"] == sum(n for (op, _), n in calls.items() if op == "status")
    assert next(s.value for s in families["fuota_poll_lag_seconds"].samples if s.name.endswith("_count")) > 0
    assert "fuota_backend_retries" in families


@pytest.mark.parametrize(
    ("params", "named"),
    [({"stage": "flying"}, "stage = 'flying'"), ({"outcome": "maybe"}, "outcome = 'maybe'"),
     ({"deployment": "x"}, "deployment = 'x'"), ({"deployment": "99999"}, "deployment = 99999"),
     ({"page": "-1"}, "page = '-1'")],
)  # fmt: skip
def test_a_bad_filter_is_refused_naming_it(served: Running, params: dict, named: str) -> None:
    answer = _get(served, f"/api/campaigns/{served.campaign_id}/devices", **params)
    assert answer.status_code == 400 and named in answer.json()["error"]
    assert _get(served, "/api/campaigns/99999").status_code == 404


def test_metrics_count_back_end_calls_and_the_retries_inside_them(tmp_path: Path) -> None:
    group, members = "00000000000000aa", fleet_euis(5, seed=48)
    hooks = stamina.instrumentation.get_on_retry_hooks()
    with (
        IoTSquareSim(groups={group: members}, busy_rate=0.3, seed=3) as sim,
        Store(f"sqlite:///{tmp_path}/m.db") as store,
    ):
        metrics = DaemonMetrics(store)
        stamina.instrumentation.set_on_retry_hooks([metrics.on_retry])
        try:
            fast = {"retry_attempts": 10, "retry_wait_initial": 0.001, "retry_wait_max": 0.002}
            backend = metrics.wrap({"iot": IoTSquareBackend("iot", sim.url, "sim-token", **fast)})["iot"]
            for _ in range(10):
                assert set(backend.ready(group)) == set(members)
            backend.close()
        finally:
            stamina.instrumentation.set_on_retry_hooks(hooks)
        families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}

    def value(name: str, **labels: str) -> float:
        found = [s.value for f in families.values() for s in f.samples if s.name == name and s.labels == labels]
        return found[0] if found else 0.0

    assert value("fuota_backend_calls_total", backend="iot", operation="ready", result="ok") == 10
    assert value("fuota_backend_call_seconds_count", backend="iot", operation="ready") == 10
    retried = value("fuota_backend_retries_total", backend="iot", operation="ready", error="TransientError")
    assert retried == sim.calls["mcdevice/list"] - 10 > 0  # every busy answer was retried, and counted


def test_daemon_refuses_an_address_it_cannot_use(tmp_path: Path) -> None:
    write_config(tmp_path)
    result = fuota(tmp_path, "daemon", "--http", "127.0.0.1:port")
    assert result.returncode == 2 and "--http = '127.0.0.1:port'" in result.stderr
    write_config(tmp_path, dashboard(token_env="FUOTA_TEST_UNSET_TOKEN"))
    unset = fuota(tmp_path, "daemon", "--http", "0")
    assert unset.returncode == 2 and "dashboard.token_env = 'FUOTA_TEST_UNSET_TOKEN'" in unset.stderr
    write_config(tmp_path)
    first = start_daemon(tmp_path, http="127.0.0.1:0")
    try:
        taken = fuota(tmp_path, "daemon", "--http", first.url().removeprefix("http://"))
        assert taken.returncode == 2 and "cannot listen there" in taken.stderr
    finally:
        assert stop_daemon(first, within=15).code == 0


def test_no_secret_in_any_page_twin_or_log(aborted: Running) -> None:
    # Last of the module: it stops the daemon to read its whole log.
    cid = aborted.campaign_id
    with aborted.store() as store:
        eui = store.devices(campaign_id=cid)[0].dev_eui
    paths = ["/campaigns", f"/campaigns/{cid}", f"/campaigns/{cid}/devices/{eui}", "/metrics"]
    paths += ["/api" + p for p in paths[:3]] + [f"/fragments/campaigns/{cid}", f"/fragments/campaigns/{cid}/devices"]
    for path in paths:
        text = _get(aborted, path).text
        assert TOKEN not in text and SIM_TOKEN not in text, path
    stopped = stop_daemon(aborted.daemon, within=15)
    assert stopped.code == 0
    log = stopped.log
    assert TOKEN not in log and SIM_TOKEN not in log
    assert f"dashboard on {aborted.url}/campaigns" in log
