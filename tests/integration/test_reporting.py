"""fuota.views.report on a real SQLite store: the report's numbers, its timeline, and its four renderings."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fuota.core.model import CampaignState, DeploymentState, DeviceProgress, Outcome, Stage
from fuota.core.reasons import Category, describe
from fuota.store import EventKind, NewDeployment, NewEvent, Store
from fuota.views.report import CSV_FIELDS, REASON_FIELDS, render, report_data
from tests.support.chromium import CHROMIUM_ARGS
from tests.support.store_helpers import T0, Clock, campaign_settings

NORTH = [f"70b3d5e75e01{i:04x}" for i in range(12)]
SOUTH = [f"70b3d5e75e02{i:04x}" for i in range(8)]
EVIL = "<script>alert(1)</script>"
# How the 20 devices end: (stage, outcome, reason), and the category of each reason.
ENDINGS: dict[str, tuple[Stage, Outcome, str | None]] = {
    **{eui: (Stage.DONE, Outcome.UPDATED, None) for eui in NORTH[:9] + SOUTH[:5]},
    NORTH[9]: (Stage.RECEIVING, Outcome.FAILED, "missing fragments: 3 of 40"),
    NORTH[10]: (Stage.RECEIVING, Outcome.FAILED, "missing fragments: 5 of 40"),
    SOUTH[5]: (Stage.FAILED, Outcome.FAILED, "missing fragments: 9 of 40"),
    SOUTH[6]: (Stage.FAILED, Outcome.FAILED, EVIL),
    NORTH[11]: (Stage.MULTICAST_SETUP, Outcome.UNREACHABLE, "never joined the multicast group"),
    SOUTH[7]: (Stage.RECEIVING, Outcome.FAILED, "no status answer"),
}
CATEGORY = {
    NORTH[9]: Category.TOO_FEW_FRAGMENTS,
    NORTH[10]: Category.TOO_FEW_FRAGMENTS,
    SOUTH[5]: Category.TOO_FEW_FRAGMENTS,
    SOUTH[6]: Category.UNKNOWN,
    NORTH[11]: Category.NEVER_JOINED,
    SOUTH[7]: Category.NO_STATUS_REPORT,
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock()
    with Store(f"sqlite:///{tmp_path / 'fuota.db'}", clock=clock) as s:
        yield s, clock


def _create(store: Store) -> int:
    deployments = [
        NewDeployment("iotsquare", "group-north", "north", temporary=True, devices=NORTH),
        NewDeployment("milesight", "gw-south", "south", temporary=False, devices=SOUTH),
    ]
    spec = campaign_settings("spring", success_threshold=0.7, redundancy_percent=30)
    return store.create_campaign(spec, b"\x01" * 1000, deployments).id


def _move(
    store: Store, clock: Clock, seconds: int, moves: dict[str, tuple[Stage, Stage, Outcome | None, str | None]]
) -> None:
    """One engine step at T0 + seconds: every device in `moves` goes from → to, with its outcome and reason."""
    clock.now = at = T0 + timedelta(seconds=seconds)
    for deployment in store.deployments(1):
        mine = {eui: m for eui, m in moves.items() if eui in (NORTH if deployment.task_name == "north" else SOUTH)}
        events = [
            NewEvent(EventKind.DEVICE, reason or "reported", str(before), str(after), eui, at)
            for eui, (before, after, _, reason) in mine.items()
        ]
        devices = [
            DeviceProgress(
                eui,
                after,
                {"code": int(after is Stage.DONE), "step": seconds},
                outcome,
                reason,
                at,
                category=CATEGORY.get(eui) if outcome is not None else None,
            )
            for eui, (_, after, outcome, reason) in mine.items()
        ]
        store.apply(deployment.id, state=DeploymentState.ENQUEUE_FRAGMENT, events=events, devices=devices)


@pytest.fixture
def finished(store: tuple[Store, Clock]) -> Store:
    """A campaign that ran for 11 minutes and ended Done with 14 of 20 devices updated."""
    s, clock = store
    campaign_id = _create(s)
    clock.now = T0 + timedelta(seconds=10)
    s.set_campaign_state(campaign_id, CampaignState.RUNNING, "north starts")
    everyone = NORTH + SOUTH
    reachable = [e for e in everyone if ENDINGS[e][0] is not Stage.MULTICAST_SETUP]
    _move(s, clock, 60, {e: (Stage.PENDING, Stage.MULTICAST_SETUP, None, None) for e in everyone})
    _move(s, clock, 120, {e: (Stage.MULTICAST_SETUP, Stage.MULTICAST_READY, None, None) for e in reachable})
    _move(s, clock, 300, {e: (Stage.MULTICAST_READY, Stage.RECEIVING, None, None) for e in reachable})
    ends = {e: (Stage.RECEIVING, *ENDINGS[e]) for e in reachable}
    ends[NORTH[11]] = (Stage.MULTICAST_SETUP, *ENDINGS[NORTH[11]])
    _move(s, clock, 600, ends)
    for d in s.deployments(campaign_id):
        s.apply(d.id, state=DeploymentState.DONE)
    clock.now = T0 + timedelta(seconds=660)
    s.set_campaign_state(campaign_id, CampaignState.DONE, "14 of 20 devices updated")
    return s


def test_summary_counts_times_and_threshold(finished: Store) -> None:
    s = report_data(finished, 1)["summary"]
    assert (s["id"], s["name"], s["state"]) == (1, "spring", "Done")
    assert s["created_at"] == T0.isoformat()
    assert s["started_at"] == (T0 + timedelta(seconds=10)).isoformat()
    assert s["ended_at"] == (T0 + timedelta(seconds=660)).isoformat()
    assert s["duration_seconds"] == 650
    assert (s["devices"], s["updated"], s["failed"], s["unreachable"], s["pending"]) == (20, 14, 5, 1, 0)
    assert s["updated_share"] == pytest.approx(0.7)
    assert s["success_threshold"] == 0.7 and s["threshold_met"] is True
    assert s["firmware"]["size"] == 1000 and len(s["firmware"]["sha256"]) == 64
    assert s["redundancy_percent"] == 30


def _group(category: str, outcomes: dict[str, int]) -> dict[str, object]:
    failures = outcomes.get("failed", 0) + outcomes.get("unreachable", 0)
    return describe(category) | {"devices": sum(outcomes.values()), "outcomes": outcomes, "failures": failures}


def test_reasons_are_grouped_by_category_and_sorted_by_count(finished: Store) -> None:
    # Three details with three different numbers, one category; ties in the order a device goes through a campaign.
    assert report_data(finished, 1)["reasons"] == [
        _group("too_few_fragments", {"failed": 3}),
        _group("never_joined", {"unreachable": 1}),
        _group("no_status_report", {"failed": 1}),
        _group("unknown", {"failed": 1}),
    ]


def test_deployment_lines_and_device_rows(finished: Store) -> None:
    data = report_data(finished, 1)
    lines = {d["task_name"]: d for d in data["deployments"]}
    assert lines["north"] | {"id": 0} == {
        "id": 0,
        "task_name": "north",
        "backend": "iotsquare",
        "target": "group-north",
        "state": "Done",
        "backend_ref": None,
        "devices": 12,
        "counts": {**{s.value: 0 for s in Stage}, "done": 9, "receiving": 2, "multicast_setup": 1},
        "outcomes": {"updated": 9, "failed": 2, "unreachable": 1, "aborted": 0, "skipped": 0},
        "updated": 9,
        "failed": 2,
        "unreachable": 1,
        "aborted": 0,
        "skipped": 0,
        "pending": 0,
        "progress": 100.0,
        # Stored without a plan and never polled: the fragments cannot be told; it ended when it last changed.
        "phase": "ended",
        "fragments_sent": None,
        "fragments_total": None,
        "fragment_interval_s": None,
        "settled": 12,
        "time_left_seconds": 0.0,
        "ends_at": lines["north"]["ends_at"],
        "retries": 0,
        "last_retry": None,
        "credentials_refused_since": None,
        "reasons": [_group("too_few_fragments", {"failed": 2}), _group("never_joined", {"unreachable": 1})],
    }
    assert (lines["south"]["devices"], lines["south"]["updated"], lines["south"]["failed"]) == (8, 5, 3)
    rows = {d["dev_eui"]: d for d in data["devices"]}
    assert set(rows) == set(ENDINGS)
    for eui, (stage, outcome, reason) in ENDINGS.items():
        assert (rows[eui]["stage"], rows[eui]["outcome"], rows[eui]["reason"]) == (stage, outcome, reason)
        assert rows[eui]["category"] == CATEGORY.get(eui)
        assert rows[eui]["deployment"] == ("north" if eui in NORTH else "south")
    assert rows[NORTH[0]]["raw"] == {"code": 1, "step": 600}
    assert rows[NORTH[0]]["last_change"] == (T0 + timedelta(seconds=600)).isoformat()


def test_timeline_replays_the_device_events(finished: Store) -> None:
    timeline = report_data(finished, 1)["timeline"]
    points = timeline["points"]
    assert [p["at"] for p in points] == [(T0 + timedelta(seconds=t)).isoformat() for t in (0, 60, 120, 300, 600, 660)]
    assert all(sum(p["counts"].values()) == 20 for p in points)
    assert points[0]["counts"]["pending"] == 20
    assert points[1]["counts"]["multicast_setup"] == 20
    assert points[3]["counts"] | {} == {**dict.fromkeys(timeline["stages"], 0), "multicast_setup": 1, "receiving": 19}
    final = {k: v for k, v in finished.stage_counts(1).items() if v}
    assert (
        {k: v for k, v in points[-1]["counts"].items() if v}
        == final
        == {
            "done": 14,
            "receiving": 3,
            "failed": 2,
            "multicast_setup": 1,
        }
    )


def test_a_change_written_without_event_still_ends_the_timeline(store: tuple[Store, Clock]) -> None:
    s, clock = store
    campaign_id = _create(s)
    clock.now = T0 + timedelta(seconds=30)
    s.apply(1, devices=[DeviceProgress(NORTH[0], Stage.RECEIVING, updated_at=clock.now)])
    points = report_data(s, campaign_id)["timeline"]["points"]
    assert [p["at"] for p in points] == [T0.isoformat(), clock.now.isoformat()]
    assert (points[-1]["counts"]["pending"], points[-1]["counts"]["receiving"]) == (19, 1)


def test_csv_has_one_row_per_device(finished: Store) -> None:
    text = render(report_data(finished, 1), "csv")
    assert len(text.splitlines()) == 21
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_FIELDS
    assert sorted(r["dev_eui"] for r in rows) == sorted(ENDINGS)
    evil = next(r for r in rows if r["dev_eui"] == SOUTH[6])
    assert (evil["outcome"], evil["reason"], json.loads(evil["raw"])) == ("failed", EVIL, {"code": 0, "step": 600})
    assert evil["category"] == "unknown"


def test_reasons_csv_has_one_row_per_category(finished: Store) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report_data(finished, 1), "reasons-csv"))))
    assert [(r["category"], r["devices"], r["failed"], r["unreachable"], r["aborted"]) for r in rows] == [
        ("too_few_fragments", "3", "3", "0", "0"),
        ("never_joined", "1", "0", "1", "0"),
        ("no_status_report", "1", "1", "0", "0"),
        ("unknown", "1", "1", "0", "0"),
    ]
    assert tuple(rows[0]) == REASON_FIELDS and rows[0]["advice"].startswith("raise redundancy_percent")


def test_json_round_trips(finished: Store) -> None:
    data = report_data(finished, 1)
    assert json.loads(render(data, "json")) == data


def test_text_names_every_device_not_updated_with_its_reason(finished: Store) -> None:
    text = render(report_data(finished, 1), "text")
    lines = text.splitlines()
    for eui, (_, outcome, reason) in ENDINGS.items():
        mine = [line for line in lines if eui in line]
        if outcome is Outcome.UPDATED:
            assert mine == []
        else:
            assert len(mine) == 1 and reason in mine[0] and outcome in mine[0]
    assert "Devices not updated: 6" in text
    assert "14 updated, 5 failed, 1 unreachable, 0 aborted, 0 skipped, 0 pending" in text
    # One line per category with its count, whatever the numbers in each device's detail.
    grouped = [line for line in lines if "too few fragments" in line]
    assert len(grouped) == 1 and grouped[0].split()[0] == "3" and "(too_few_fragments): 3 failed" in grouped[0]
    assert "70% updated, success threshold 70%: met" in text


class _Checker(HTMLParser):
    """Collects tags and attributes, and checks that every element closes in order."""

    VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "line"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing open"


@pytest.mark.parametrize("ended", [True, False])
def test_html_is_self_contained_and_escaped(finished: Store, ended: bool) -> None:
    campaign_id = 1
    if not ended:
        fresh = [NewDeployment("iotsquare", None, "fresh", True, ["00" * 8])]
        campaign_id = finished.create_campaign(campaign_settings("fresh"), b"", fresh).id
    page = render(report_data(finished, campaign_id), "html")
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.open == []
    assert checker.tags.count("svg") == (3 if ended else 2)  # no reasons chart before any device failed
    assert "script" not in checker.tags
    assert not [a for a in checker.attrs if a[0] == "src" or a[0].startswith("on")]
    assert [v for k, v in checker.attrs if k == "href"] == ["data:,"]
    assert "http://" not in page and "https://" not in page and "url(" not in page
    if ended:
        assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_render_and_report_data_refuse_what_they_do_not_know(finished: Store) -> None:
    with pytest.raises(ValueError, match="pdf"):
        render(report_data(finished, 1), "pdf")
    with pytest.raises(LookupError):
        report_data(finished, 99)


def test_a_campaign_that_has_not_started_renders_in_every_format(store: tuple[Store, Clock]) -> None:
    s, _ = store
    data = report_data(s, _create(s))
    assert data["summary"]["started_at"] is None and data["summary"]["duration_seconds"] == 0
    assert data["summary"]["pending"] == 20 and data["summary"]["threshold_met"] is False
    assert data["reasons"] == [] and len(data["timeline"]["points"]) == 1
    for fmt in ("text", "json", "csv", "reasons-csv", "html"):
        assert render(data, fmt)
    assert "20 devices still pending" in render(data, "text")


def _chromium(page: Path, folder: Path) -> tuple[str, str]:
    """Open `page` in headless Chromium with every network request failing; (DOM, log)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise RuntimeError("chromium is not installed: `make test` installs Debian's chromium as root")
    flags = [
        "--headless",
        *CHROMIUM_ARGS,
        f"--user-data-dir={folder / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--proxy-server=127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no network, whatever the page asks
        "--virtual-time-budget=3000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run([binary, *flags], capture_output=True, text=True, timeout=60, check=False)
    return done.stdout, done.stderr


def _console_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Refused to" in line or "net::ERR" in line]


def test_the_html_report_renders_in_headless_chromium_offline(finished: Store, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(report_data(finished, 1), "html"), encoding="utf-8")
    dom, log = _chromium(page, tmp_path)
    assert dom.count("<svg") == 3 and "spring" in dom  # rendered: the charts and the campaign are in the DOM
    assert _console_lines(log) == []
    # The check can fail: a page that logs an error or fetches from the network is caught.
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><script>console.error("boom")</script><img src="http://example.invalid/x.png">')
    assert _console_lines(_chromium(bad, tmp_path)[1])


def test_the_html_device_table_lists_the_failed_devices_first(finished: Store) -> None:
    data = report_data(finished, 1)
    page = render(data, "html")
    table = page[page.index('<table class="devices">') :]
    shown = re.findall(r'<tr class="([a-z_]+)">', table[: table.index("</table>")])
    rank = {"failed": 0, "updated": 3, "pending": 2}
    assert len(shown) == len(data["devices"]) and {"failed", "updated"} <= set(shown)
    assert [rank.get(o, 1) for o in shown] == sorted(rank.get(o, 1) for o in shown)
    assert shown[0] == "failed"
