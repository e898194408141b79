"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, during a simulated
2 000-device campaign. It sees progress advance without a reload, filters and pages the device table, is refused
an abort without the token and aborts with it; no request leaves 127.0.0.1. Screenshots go to tmp_path/shots.
And a lossy campaign's failures read as one category line, in the reports and on the dashboard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from fuota.core.model import CampaignState
from fuota.sim.iotsquare import IoTSquareSim, fleet_euis
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.support.cli_helpers import fuota
from tests.support.config_files import dashboard, iotsquare, write_campaign, write_config
from tests.support.daemons import start_daemon, stop_daemon
from tests.support.waiting import wait_for
from tests.support.web_helpers import FIRMWARE, TOKEN, campaign_under_way


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _until(page: Page, condition, what: str, timeout: float = 30) -> None:
    """Wait, letting the page run, until `condition()` holds."""
    wait_for(condition, timeout, what, every=0.2, pause=lambda seconds: page.wait_for_timeout(seconds * 1000))


def _progress(page: Page) -> float:
    return float(page.inner_text("#campaign-progress").removesuffix(" %"))


def test_live_progress_filters_paging_and_abort_in_chromium(tmp_path: Path, browser: Browser) -> None:
    shots, folder = tmp_path / "shots", tmp_path / "run"
    shots.mkdir()
    folder.mkdir()
    with campaign_under_way(folder, speed=4) as run:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        requests: list[str] = []
        problems: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))

        page.goto(f"{run.url}/campaigns")
        assert page.inner_text("tr.campaign td.state") in ("Scheduled", "Running")
        page.screenshot(path=shots / "campaigns.png", full_page=True)
        page.click("tr.campaign a")
        page.wait_for_selector("#campaign-progress")
        assert page.url == f"{run.url}/campaigns/{run.campaign_id}"
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
        page.evaluate("window.loadedOnce = true")  # gone if the page were ever reloaded

        # Live: the progress number moves while the page stays the same document.
        first = _progress(page)
        _until(page, lambda: _progress(page) > first, "the progress shown never advanced")
        page.screenshot(path=shots / "campaign-live.png", full_page=True)

        # Filter by deployment: exactly that deployment's devices, paged by 50.
        with run.store() as store:
            deployment = store.deployments(run.campaign_id)[1]
            euis = [d.dev_eui for d in store.devices(deployment_id=deployment.id)]
        page.select_option("#filter-deployment", str(deployment.id))
        _until(page, lambda: page.inner_text("#devices-total") == str(len(euis)), "the deployment filter")
        assert set(page.eval_on_selector_all("tr.device", "rows => rows.map(r => r.dataset.deployment)")) == {
            str(deployment.id)
        }
        page.click("a.page-next")
        _until(page, lambda: page.inner_text("#devices-page") == "2", "the next page")
        shown = page.eval_on_selector_all("tr.device code", "cells => cells.map(c => c.textContent)")
        assert shown == euis[50:100]
        # And by stage, on top: every row shown is at that stage.
        stage = page.eval_on_selector_all("tr.device", "rows => rows.map(r => r.dataset.stage)")[0]
        page.select_option("#filter-stage", stage)
        _until(page, lambda: page.inner_text("#devices-page") == "1", "the stage filter")
        stages = set(page.eval_on_selector_all("tr.device", "rows => rows.map(r => r.dataset.stage)"))
        assert stages <= {stage}
        page.screenshot(path=shots / "campaign-filtered.png", full_page=True)

        # Abort: refused without the token and with a wrong one, the campaign untouched; done with it.
        page.click("#abort-button")
        _until(page, lambda: "refused (401)" in page.inner_text("#abort-result"), "the refusal without a token")
        page.fill("#abort-token", "not-the-token")
        page.click("#abort-button")
        _until(page, lambda: "refused (403)" in page.inner_text("#abort-result"), "the refusal of a wrong token")
        with run.store() as store:
            assert store.campaign(run.campaign_id).state is CampaignState.RUNNING
        page.screenshot(path=shots / "abort-refused.png", full_page=True)
        page.fill("#abort-token", TOKEN)
        page.click("#abort-button")
        _until(page, lambda: page.inner_text("#abort-result") == "campaign fleet: Aborted", "the abort")
        _until(page, lambda: page.inner_text("#campaign-state") == "Aborted", "the page showing Aborted")
        with run.store() as store:
            assert store.campaign(run.campaign_id).state is CampaignState.ABORTED
        page.screenshot(path=shots / "aborted.png", full_page=True)
        assert navigations == [] and page.evaluate("window.loadedOnce") is True

        # The device page: its codes and events.
        page.select_option("#filter-stage", "")
        _until(page, lambda: page.inner_text("#devices-total") == str(len(euis)), "clearing the stage filter")
        page.click("tr.device a")
        page.wait_for_selector("#device-stage")
        assert page.inner_text("h1").removeprefix("Device ") in euis
        page.screenshot(path=shots / "device.png", full_page=True)

    assert {urlsplit(url).hostname for url in requests} == {"127.0.0.1"}, sorted(set(requests))
    assert any("/fragments/" in url for url in requests)  # the live parts came by polling, not by reloading
    refusals = [f"the server responded with a status of {code}" for code in (401, 403)]
    unexpected = [p for p in problems if not any(refusal in p for refusal in refusals)]
    assert unexpected == [] and len(problems) == 2  # the two refusals; no script error, no CSP violation
    assert {p.name for p in shots.iterdir()} >= {"campaigns.png", "campaign-live.png", "aborted.png", "device.png"}


def test_one_cause_is_one_category_line_in_the_text_and_html_reports_and_the_dashboard(
    tmp_path: Path, browser: Browser
) -> None:
    """The 100-device campaign at 25 % loss: its too-few-fragments failures, each with its own numbers in its
    detail, show as one line with their count in the text report, the HTML report (rendered by Chromium) and the
    dashboard."""
    euis = fleet_euis(100, seed=63)
    sim = IoTSquareSim(devices=euis, loss=0.25, speed=400, join_delay=20, phase_time=4, fragment_interval=2, seed=4)
    with sim:
        write_config(tmp_path, iotsquare(sim.url), dashboard(token=TOKEN))
        write_campaign(tmp_path, "lossy", euis, firmware=FIRMWARE, join_timeout=3)
        fuota(tmp_path, "run", "c.toml", timeout=240)
    status = json.loads(fuota(tmp_path, "status", "lossy", "--json").stdout)
    assert status["state"] == "Failed"
    lost = [d for d in status["devices"] if d["category"] == "too_few_fragments"]
    assert len(lost) == status["failed"] > 10 and len({d["reason"] for d in lost}) > 5  # many details, one cause
    assert [(r["category"], r["devices"]) for r in status["reasons"]] == [("too_few_fragments", len(lost))]

    text = fuota(tmp_path, "report", "lossy").stdout
    lines = [line for line in text.splitlines() if "(too_few_fragments)" in line]
    assert len(lines) == 1 and lines[0].split()[0] == str(len(lost))

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    (tmp_path / "report.html").write_text(fuota(tmp_path, "report", "lossy", "--format", "html").stdout)
    page.goto((tmp_path / "report.html").as_uri())
    rows = page.eval_on_selector_all("table.reasons tbody tr", "rows => rows.map(r => r.innerText)")
    assert len(rows) == 1 and rows[0].split("\t")[0] == str(len(lost)) and "too_few_fragments" in rows[0]
    bars = page.eval_on_selector_all('svg[aria-label="failure reasons by category"] > text', "t => t.length")
    assert bars == 2  # the one category's label and its count
    page.screenshot(path=tmp_path / "report.png", full_page=True)

    daemon = start_daemon(tmp_path, http="127.0.0.1:0")
    try:
        page.goto(f"{daemon.url()}/campaigns/{status['id']}")
        page.wait_for_selector("#reasons")
        groups = page.eval_on_selector_all(
            "#reasons tr.reason-group", "rows => rows.map(r => [r.dataset.category, r.cells[0].innerText])"
        )
        assert groups == [["too_few_fragments", str(len(lost))]]
        per_deployment = page.eval_on_selector_all("#deployments tr.reason", "rows => rows.map(r => r.innerText)")
        assert len(per_deployment) == len(status["deployments"])
        assert per_deployment[0].startswith(f"{len(lost)} × ")
        page.screenshot(path=tmp_path / "dashboard-reasons.png", full_page=True)
    finally:
        assert not stop_daemon(daemon, within=15).killed
