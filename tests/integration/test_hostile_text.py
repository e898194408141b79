"""Hostile text from a back end is inert (issue 16, item 3): an IoTSquare server whose `msg` holds Rich markup, a
screen-clearing escape, an OSC title and the token it was sent. Whatever of it reaches `fuota run`'s output,
`status` (text and JSON), the text report, the store's bytes and the logs holds no ESC, no markup Rich would render
(a clickable link) and no token: the token is [redacted]. A Milesight gateway's refusal quoted by `fuota plan` is
inert the same way, the broker password redacted."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from rich.console import Console

from fuota.backends.untrusted import REDACTED
from fuota.sim.iotsquare import Faults, IoTSquareSim, fleet_euis
from fuota.store import Store
from fuota.views.watch import view
from fuota.web.app import create_app
from fuota.web.server import Dashboard
from tests.support.broker import Broker
from tests.support.cli_helpers import fuota
from tests.support.config_files import (
    iotsquare,
    milesight,
    sqlite_url,
    write_campaign,
    write_config,
    write_milesight_campaign,
)
from tests.support.milesight_responder import Responder, code

TOKEN = "tok-3f9a61c2e7"
LINK = "[link=http://evil.example]x[/link]"
HOSTILE = f"{LINK} \x1b[2J\x1b]0;pwn\x07 <script>alert(1)</script> your token {TOKEN} is \u202eevil"
# Rich writes styles and links only to a terminal: forced, a link it rendered would show as OSC 8 (ESC ] 8 ;).
TERMINAL = {"FORCE_COLOR": "1", "TERM": "xterm-256color"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A campaign run against a back end refusing fuota/create with HOSTILE; its folder and the run's output."""
    folder = tmp_path_factory.mktemp("hostile")
    euis = fleet_euis(3, seed=16)
    refuse = Faults(refuse_msg=HOSTILE, endpoints={"fuota/create"})
    with IoTSquareSim(devices=euis, token=TOKEN, faults=refuse, speed=400, join_delay=20, seed=16) as sim:
        write_config(folder, iotsquare(sim.url, name="iot", token=TOKEN, timeout=2, give_up_after=2))
        write_campaign(folder, "hostile", euis, firmware=np.random.default_rng(16).bytes(500), join_timeout=2)
        run = fuota(folder, "run", "c.toml", env=TERMINAL, timeout=120)
        assert sim.faults.injected["refuse", "fuota/create"] >= 1, run.stdout + run.stderr
    return folder, run.stdout + run.stderr


def _inert_on_a_terminal(text: str) -> None:
    assert TOKEN not in text
    for raw in ("\x1b[2J", "\x1b]0;", "\x1b]8;", "\x07", "\u202e"):
        assert raw not in text, f"{raw!r} in {text[-2000:]!r}"


def test_run_and_its_logs_show_the_message_inert_and_redacted(hostile: tuple[Path, str]) -> None:
    _, output = hostile
    assert "evil.example" in output and REDACTED in output  # the back end's words reached the output (and logs)
    _inert_on_a_terminal(output)


def test_the_watch_view_shows_the_markup_as_text(hostile: tuple[Path, str]) -> None:
    folder, _ = hostile
    console = Console(file=io.StringIO(), force_terminal=True, width=400, color_system="truecolor")
    with Store(sqlite_url(folder)) as store:
        (record,) = store.campaigns()
        console.print(view(store, record.id, datetime.now(UTC)))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "[link=http://evil.example]" in shown
    _inert_on_a_terminal(shown)


def test_the_html_report_and_the_dashboard_escape_it(hostile: tuple[Path, str]) -> None:
    folder, _ = hostile
    html = fuota(folder, "report", "hostile", "--format", "html")
    assert html.returncode == 0, html.stderr
    with Store(sqlite_url(folder)) as store:
        (record,) = store.campaigns()
        dashboard = Dashboard(create_app(store), "127.0.0.1", 0).start()
        try:
            paths = (f"/campaigns/{record.id}", f"/fragments/campaigns/{record.id}/devices")
            pages = [httpx.get(dashboard.url + path, timeout=10) for path in paths]
        finally:
            dashboard.stop()
    assert all(page.status_code == 200 for page in pages), [page.status_code for page in pages]
    # The report and the device table show the back end's words, escaped; no page holds them raw.
    assert all("&lt;script&gt;alert(1)" in text for text in (html.stdout, pages[1].text))
    for text in (html.stdout, *(page.text for page in pages)):
        assert "<script>alert" not in text and 'href="http://evil.example' not in text
        _inert_on_a_terminal(text)


def test_status_text_shows_the_markup_as_text_and_json_holds_no_token(hostile: tuple[Path, str]) -> None:
    folder, _ = hostile
    text = fuota(folder, "status", "hostile", env=TERMINAL)
    _inert_on_a_terminal(text.stdout + text.stderr)
    as_json = fuota(folder, "status", "hostile", "--json")
    assert as_json.returncode == 0, as_json.stderr
    shown = json.dumps(json.loads(as_json.stdout))  # every string, \u-escaped or not, as JSON writes it
    assert TOKEN not in as_json.stdout and "\\u001b" not in shown and "\\u202e" not in shown
    # The back end's words are there, as plain text: the markup kept verbatim (not rendered), the token redacted.
    assert REDACTED in as_json.stdout and "evil.example" in as_json.stdout
    plain = fuota(folder, "status", "hostile")
    assert "[link=http://evil.example]" in plain.stdout, plain.stdout  # rendered, only its "x" would show


def test_the_text_report_and_the_store_bytes_hold_no_escape_and_no_token(hostile: tuple[Path, str]) -> None:
    folder, _ = hostile
    report = fuota(folder, "report", "hostile")
    assert report.returncode == 0, report.stderr
    _inert_on_a_terminal(report.stdout)
    assert REDACTED in report.stdout
    for path in folder.glob("fuota.db*"):
        assert TOKEN.encode() not in path.read_bytes(), path
    # Every text the store holds (the firmware is a blob: its bytes may be anything).
    with closing(sqlite3.connect(folder / "fuota.db")) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        texts = [v for t in tables for row in db.execute(f"SELECT * FROM {t}") for v in row if isinstance(v, str)]
    assert any(REDACTED in text for text in texts)
    for text in texts:
        _inert_on_a_terminal(text)


def test_a_gateway_s_hostile_error_reaches_plan_inert_and_without_the_broker_password(
    tmp_path: Path, mqtt_broker: Broker
) -> None:
    # `fuota plan` asks the gateways itself (MilesightKind.plan) and quotes their refusal in its error.
    gateway = "24e124fffe000016"
    password = "brokerpass-7c1d"
    error = HOSTILE.replace(TOKEN, password)
    with Responder(mqtt_broker, gateway).on("GET", "/api/urdevices", code(3, error)):
        write_config(tmp_path, milesight(mqtt_broker.url, [gateway], username="fuota", password=password, timeout=1))
        write_milesight_campaign(tmp_path, "ms-hostile", fleet_euis(2, seed=17), firmware=b"\x01" * 300)
        result = fuota(tmp_path, "plan", "c.toml", env=TERMINAL, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "evil.example" in output and REDACTED in output  # the gateway's words, inert
    assert password not in output
    _inert_on_a_terminal(output)
