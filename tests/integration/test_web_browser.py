"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright, during a simulated
2 000-device campaign. It sees progress advance without a reload, filters and pages the device table, is refused
an abort without the token and aborts with it; no request leaves 127.0.0.1. Screenshots go to tmp_path/shots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from fuota.core.model import CampaignState
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.support.waiting import wait_for
from tests.support.web_helpers import TOKEN, campaign_under_way


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
