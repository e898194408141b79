"""The five former read paths give identical numbers for the same store, on a finished campaign and a running one:
`fuota status --json` (and `fuota list --json`), `fuota report --format json`, the dashboard's JSON twins served on
a loopback socket, `fuota watch`'s rendered view, and /metrics. Each is read through its real front end and
reduced to the same facts: devices per stage and per outcome, pending, total, progress and retries per
deployment, started, ended and progress — as far as each shows them (/metrics knows no campaign's times)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from fuota.core.model import Outcome, Stage
from fuota.store import Store
from fuota.views.metrics import DaemonMetrics
from fuota.views.watch import view
from fuota.web import create_app
from fuota.web.server import Dashboard
from tests.support.cli_helpers import fuota
from tests.support.sample_campaign import NAME, Expected, build
from tests.support.store_helpers import T0, Clock

CAMPAIGN = 1  # the only campaign of each store
_FOOTER = re.compile(
    r"(?P<settled>\d+)/(?P<devices>\d+) devices settled, "
    r"(?:progress (?P<progress>[\d.]+) %|(?P<updated>[\d.]+) % updated), (?P<fragments>\S+) fragments sent, "
    r"started (?P<started>.+?), (?:ended (?P<ended>.+)|time left: .+)$",
    re.MULTILINE,
)


@pytest.fixture(params=["running", "finished"])
def sample(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, Store, Expected]]:
    """The sample campaign in a SQLite file of its own, a configuration naming it, and the store opened."""
    clock = Clock()
    url = f"sqlite:///{tmp_path / 'fuota.db'}"
    (tmp_path / "fuota.toml").write_text(f'[store]\nurl = "{url}"\n')
    with Store(url, clock=clock) as store:
        expected = build(store, clock, finished=request.param == "finished")
        yield tmp_path, store, expected


def _facts(summary: dict[str, Any], devices: int, deployments: list[dict[str, Any]]) -> dict[str, Any]:
    """The facts compared, from a JSON output's campaign summary and deployment rows."""
    return {
        "counts": summary["counts"],
        "outcomes": summary["outcomes"],
        "pending": summary["pending"],
        "devices": devices,
        "progress": summary["progress"],
        "deployments": {d["task_name"]: (d["progress"], d["retries"]) for d in deployments},
        "started_at": summary["started_at"],
        "ended_at": summary["ended_at"],
    }


def _json(folder: Path, *args: str) -> Any:
    result = fuota(folder, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _from_status(folder: Path) -> dict[str, Any]:
    status = _json(folder, "status", NAME, "--json")
    rows = status["devices"]  # the device rows; their number is the summary's `devices`
    assert sum(row["stage"] == stage for row in rows for stage in status["counts"]) == len(rows)
    return _facts(status, len(rows), status["deployments"])


def _from_list(folder: Path) -> dict[str, Any]:
    (row,) = _json(folder, "list", "--json")
    return {**_facts(row, row["devices"], []), "deployments": None}


def _from_report(folder: Path) -> dict[str, Any]:
    report = _json(folder, "report", NAME, "--format", "json")
    assert len(report["devices"]) == report["summary"]["devices"]
    return _facts(report["summary"], report["summary"]["devices"], report["deployments"])


def _from_dashboard(store: Store) -> tuple[dict[str, Any], dict[str, Any]]:
    dashboard = Dashboard(create_app(store), "127.0.0.1", 0).start()
    try:
        page = httpx.get(f"{dashboard.url}/api/campaigns/{CAMPAIGN}", timeout=10).json()
        (row,) = httpx.get(f"{dashboard.url}/api/campaigns", timeout=10).json()["campaigns"]
    finally:
        dashboard.stop()
    return _facts(page, page["devices"], page["deployments"]), {**_facts(row, row["devices"], []), "deployments": None}


def _watch_time(text: str | None) -> str | None:
    if text is None or text == "-":
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC).isoformat()


def _from_watch(store: Store, now: datetime) -> dict[str, Any]:
    """What `fuota watch` prints, read back from its rendered text."""
    console = Console(record=True, width=200)
    console.print(view(store, CAMPAIGN, now))
    text = console.export_text()
    cells = [[c.strip() for c in line.strip("│ ").split("│")] for line in text.splitlines() if line.startswith("│")]
    deployments = [row for row in cells if len(row) == 10]
    counts = {row[0]: int(row[1]) for row in cells if len(row) == 2 and row[0] in {s.value for s in Stage}}
    outcomes = dict.fromkeys((o.value for o in Outcome), 0)
    for _, _, _, _, _, updated, failed, unreachable, _, _ in deployments:
        outcomes["updated"] += int(updated.split("/")[0])
        outcomes["failed"] += int(failed)
        outcomes["unreachable"] += int(unreachable)
    footer = _FOOTER.search(text)
    assert footer is not None, text
    devices = int(footer["devices"])
    assert sum(int(row[8]) for row in deployments) == devices - int(footer["settled"])  # pending, both ways
    if footer["updated"] is not None:  # an ended campaign shows its share of devices updated instead of its 100 %
        assert float(footer["updated"]) == round(100 * outcomes["updated"] / devices, 1)
    return {
        "counts": counts,
        "outcomes": outcomes,
        "pending": devices - int(footer["settled"]),
        "devices": devices,
        "progress": 100.0 if footer["progress"] is None else float(footer["progress"]),
        "deployments": {row[0]: (float(row[3]), int(row[9])) for row in deployments},
        "started_at": _watch_time(footer["started"]),
        "ended_at": _watch_time(footer["ended"]),
    }


def _from_metrics(store: Store) -> dict[str, Any]:
    """/metrics' device and retry numbers; with one campaign in the store, the fleet is that campaign."""
    text = DaemonMetrics(store).exposition().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counts = dict.fromkeys((s.value for s in Stage), 0)
    outcomes = dict.fromkeys((o.value for o in Outcome), 0)
    pending = 0
    for sample in families["fuota_devices"].samples:
        counts[sample.labels["stage"]] += int(sample.value)
        if sample.labels["outcome"] == "none":
            pending += int(sample.value)
        else:
            outcomes[sample.labels["outcome"]] += int(sample.value)
    return {
        "counts": counts,
        "outcomes": outcomes,
        "pending": pending,
        "devices": sum(counts.values()),
        "retries": int(families["fuota_retries"].samples[0].value),
    }


def test_the_five_read_paths_agree(sample: tuple[Path, Store, Expected]) -> None:
    folder, store, expected = sample
    want = asdict(expected)
    page, row = _from_dashboard(store)
    paths = {
        "fuota status --json": _from_status(folder),
        "fuota report --format json": _from_report(folder),
        "dashboard /api/campaigns/1": page,
        "fuota watch": _from_watch(store, T0 + timedelta(days=1)),
    }
    for path, facts in paths.items():
        assert facts == want, path
    listed = {**want, "deployments": None}
    assert _from_list(folder) == listed and row == listed  # the campaign list: fuota list --json, /api/campaigns
    retries = sum(n for _, n in expected.deployments.values())
    assert _from_metrics(store) == {k: want[k] for k in ("counts", "outcomes", "pending", "devices")} | {
        "retries": retries
    }


def test_metrics_export_the_fragments_and_time_left_of_campaigns_under_way(
    sample: tuple[Path, Store, Expected],
) -> None:
    _, store, expected = sample
    text = DaemonMetrics(store, clock=lambda: T0 + timedelta(seconds=300)).exposition().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    shown = {
        name: {s.labels["campaign"]: s.value for s in families[name].samples}
        for name in ("fuota_fragments_sent", "fuota_fragments_total", "fuota_campaign_seconds_left")
    }
    if expected.ended_at is not None:  # an ended campaign is not under way: no series of its own
        assert shown == {key: {} for key in shown}
    else:  # as tests/unit/test_read_model.py works them out by hand at T0 + 300 s
        assert shown == {
            "fuota_fragments_sent": {NAME: 147},
            "fuota_fragments_total": {NAME: 233},
            "fuota_campaign_seconds_left": {NAME: 320},
        }
