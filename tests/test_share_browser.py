"""Issue 13 in the browser: share a result, open the link with no session, restore its inputs
without a run, survive a restart, and take the session along as a zip whose contact sheet
opens from disk."""
from __future__ import annotations

import json
import re
import secrets
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

from tests.app_process import start_app
from tests.page_helpers import form_values, open_advanced, ref_names, set_number
from wiro.simulator import SimulatorServer, SimulatorState

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(240)

RUN_MS = 30_000
UI_MS = 10_000


def wait_until(check, timeout=10.0, message="condition"):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(0.05)


def loopback_only(route):
    if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost"}:
        route.continue_()
    else:
        route.abort("blockedbyclient")


def wait_done(page, count=1):
    page.wait_for_selector("#run-status-box .run-status[data-kind=done]", timeout=RUN_MS)
    expect(page.locator("#history .hist-card")).to_have_count(count, timeout=UI_MS)


def page_inputs(page) -> dict:
    return {**form_values(page), "refs": page.eval_on_selector_all(
        "#refs .thumbnail-item img", "i => i.length")}


def open_keep(page):
    """The kept-results panel under the result starts closed."""
    if not page.locator("#download-session").is_visible():
        page.locator("#keep-share > button").first.click()
    page.wait_for_selector("#download-session", state="visible")


def share_link(page) -> str:
    open_keep(page)
    page.click("#share")
    field = page.locator("#share-link textarea, #share-link input").first
    expect(field).to_have_value(re.compile(r"/share/[A-Za-z0-9_-]{22}$"),
                                timeout=UI_MS)
    return field.input_value()


def loaded_images(page, selector) -> list[bool]:
    return page.eval_on_selector_all(
        selector, "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")


def fresh_page(browser):
    """A new browser context: no cookies, no localStorage, no Gradio session."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    context.route("**/*", loopback_only)
    return context, context.new_page()


def test_share_open_with_no_session_restore_without_a_run_then_delete(
        page, app_sim, live_app, browser, tmp_path):
    upload = tmp_path / "harbour.png"
    Image.new("RGB", (400, 300), (30, 90, 160)).save(upload)
    page.click("#ref-clear")
    page.set_input_files(".ref-add-row input[type=file]", str(upload))
    expect(page.locator("#refs .thumbnail-item")).to_have_count(1, timeout=UI_MS)
    page.locator("#prompt textarea").fill("A harbour at dawn, shared with the team")
    open_advanced(page)
    set_number(page, "width", 512)
    set_number(page, "height", 768)
    set_number(page, "seed", 4242)
    page.locator("#format label").filter(has_text="JPEG").click()
    page.locator("#safety input[type=number]").fill("5")
    page.locator("#safety input[type=number]").press("Tab")
    page.click("#generate")
    wait_done(page)
    task = live_app.newest_task()
    assert task["prompt"] == "A harbour at dawn, shared with the team"

    link = share_link(page)
    assert link.startswith(live_app.url + "/share/")
    runs_before = len(app_sim.tasks())

    context, viewer = fresh_page(browser)
    try:
        response = viewer.goto(link, wait_until="load")
        assert response.status == 200
        expect(viewer.locator("#shared-prompt")).to_have_text(
            "A harbour at dawn, shared with the team")
        wait_until(lambda: loaded_images(viewer, "#shared-image") == [True],
                   message="the shared image to load")
        facts = {k: viewer.inner_text(f'[data-fact="{k}"]')
                 for k in ("seed", "size", "format", "safety", "task", "references")}
        assert facts == {"seed": "4242", "size": "512×768", "format": "JPEG", "safety": "5",
                         "task": task["id"], "references": "1"}
        # Made on the simulator: its price is no charge, and the page says so twice.
        assert viewer.inner_text('[data-fact="cost"]').endswith("simulated — no charge")
        expect(viewer.locator(".simulated")).to_contain_text("Made on the simulator")
        # "Open in the app" sits at the top of the facts, in view on a desktop.
        assert viewer.locator("#open-in-app").bounding_box()["y"] < 400
        wait_until(lambda: loaded_images(viewer, ".refs img.ref") == [True],
                   message="the reference thumbnail to load")
        live_app.artifacts.mkdir(exist_ok=True)
        viewer.screenshot(path=str(live_app.artifacts / "shared-result.png"), full_page=True)

        viewer.click("#open-in-app")
        viewer.wait_for_selector("#generate", state="visible")
        expect(viewer.locator("#share-note")).to_contain_text(f"shared task {task['id']}",
                                                              timeout=UI_MS)
        assert page_inputs(viewer) == {
            "prompt": "A harbour at dawn, shared with the team", "width": "512",
            "height": "768", "seed": "4242", "safety": "5", "format": "jpeg", "refs": 1}
        wait_until(lambda: loaded_images(viewer, "#refs .thumbnail-item img") == [True],
                   message="the restored reference to show")
        # The upload comes back under its own name, and the page says so where one looks.
        assert ref_names(viewer) == ["harbour.png"]
        expect(viewer.locator("#refs-note")).to_contain_text("own names (harbour.png)")
        expect(viewer.locator("#run-status-box .run-status")).to_contain_text(
            f"Restored every input of shared task {task['id']}")
        expect(viewer.locator("#run-status-box .run-status")).to_have_attribute(
            "data-kind", "idle")
        assert len(app_sim.tasks()) == runs_before  # opening and restoring cost nothing

        guessed = viewer.goto(f"{live_app.url}/share/{secrets.token_urlsafe(16)}")
        assert guessed.status == 404 and "Not found" in viewer.content()

        # The maker deletes it, once asked and sure: the link now says not found.
        open_keep(page)
        page.click("#unshare")
        expect(page.locator("#delete-confirm")).to_contain_text("seed 4242", timeout=UI_MS)
        page.click("#delete-no")
        expect(page.locator("#delete-confirm")).to_be_hidden(timeout=UI_MS)
        assert viewer.goto(link).status == 200  # Cancel deleted nothing
        page.click("#unshare")
        page.click("#delete-yes")
        expect(page.locator("#share-note")).to_contain_text("Deleted", timeout=UI_MS)
        gone = viewer.goto(link)
        assert gone.status == 404 and "Not found" in viewer.content()
        assert requests.get(link + "/image", timeout=5).status_code == 404
    finally:
        context.close()
    assert len(app_sim.tasks()) == runs_before


def test_download_this_session_contact_sheet_opens_from_disk(
        page, app_sim, live_app, browser, tmp_path):
    page.click("#ref-clear")
    prompts = ["A zip test: red kite", "A zip test: blue boat"]
    for number, prompt in enumerate(prompts, start=1):
        page.locator("#prompt textarea").fill(prompt)
        page.click("#generate")
        wait_done(page, number)
    open_keep(page)
    page.click("#download-session")
    expect(page.locator("#share-note")).to_contain_text("2 results", timeout=UI_MS)
    with page.expect_download() as download:
        page.locator("#session-zip a").first.click()
    archive_path = tmp_path / "session.zip"
    download.value.save_as(archive_path)
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(folder)
        names = archive.namelist()
    assert "runs.json" in names and "index.html" in names
    assert sum(n.startswith("images/") for n in names) == 2

    # From disk, with every network request refused: the sheet needs none.
    context = browser.new_context(offline=True)
    context.route("http*://**/*", lambda route: route.abort())
    try:
        sheet = context.new_page()
        sheet.goto(Path(folder / "index.html").as_uri(), wait_until="load")
        wait_until(lambda: loaded_images(sheet, "img.sheet-image") == [True, True],
                   message="every image of the contact sheet to load")
        text = sheet.inner_text("main")
        for prompt in prompts:
            assert prompt in text
        assert "Seed" in text and "1024×1024" in text
        assert text.count("simulated — no charge") >= 2  # each price, on the simulator
    finally:
        context.close()
    runs = json.loads((folder / "runs.json").read_text())
    assert [r["cost_note"] for r in runs] == ["simulated — no charge"] * 2
    assert all(r["simulated"] is True for r in runs)


def test_a_shared_link_survives_a_restart(browser, tmp_path):
    env = {"APP_DATA_DIR": str(tmp_path / "data"), "WIRO_API_KEY": "",
           "WIRO_SIMULATOR_PACE": "0.1", "APP_RUNS_PER_CLIENT_PER_HOUR": "0"}
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = start_app(tmp_path / "first", env)
    try:
        context, tab = fresh_page(browser)
        tab.goto(first.url, wait_until="load")
        tab.wait_for_selector("#run-status-box .run-status[data-kind=idle]")
        tab.click("#ref-clear")
        tab.locator("#prompt textarea").fill("Kept across a restart")
        tab.click("#generate")
        wait_done(tab)
        token = share_link(tab).rsplit("/", 1)[1]
        context.close()
    finally:
        first.terminate()

    second = start_app(tmp_path / "second", env, port=urlsplit(first.url).port)
    try:
        context, viewer = fresh_page(browser)
        link = f"{second.url}share/{token}"
        assert viewer.goto(link, wait_until="load").status == 200
        expect(viewer.locator("#shared-prompt")).to_have_text("Kept across a restart")
        wait_until(lambda: loaded_images(viewer, "#shared-image") == [True],
                   message="the shared image to load after the restart")
        viewer.click("#open-in-app")
        expect(viewer.locator("#share-note")).to_contain_text("Restored", timeout=UI_MS)
        assert viewer.input_value("#prompt textarea") == "Kept across a restart"
        context.close()
    finally:
        second.terminate()
    for process in (first, second):
        assert "Traceback" not in process.log()


def open_app(page, url):
    """The page, once its load event has run (it stores the browser's id)."""
    page.goto(url, wait_until="load")
    page.wait_for_selector("#generate", state="visible")
    page.wait_for_function("localStorage.getItem('flux2pro-visitor') !== null")


def kept_options(page):
    open_keep(page)
    return page.locator("#share-pick .kept-item")


def test_with_visitors_keys_each_browser_sees_only_its_own_results(tmp_path, browser):
    key, secret = "visitor-key-issue13", "visitor-secret-issue13"
    visitor = SimulatorState(key, secret, pace=0)
    with SimulatorServer(visitor) as sim:
        env = {"APP_BRING_YOUR_OWN_KEY": "1", "WIRO_API_BASE_URL": sim.base_url,
               "WIRO_POLL_INTERVAL": "0.05", "APP_DATA_DIR": str(tmp_path / "data")}
        (tmp_path / "first").mkdir()
        (tmp_path / "second").mkdir()
        context_a, a = fresh_page(browser)
        context_b, b = fresh_page(browser)
        try:
            first = start_app(tmp_path / "first", env)
            try:
                open_app(a, first.url)
                a.click("#ref-clear")
                a.locator("#prompt textarea").fill("Only mine until I share it")
                a.fill("#byok-key input", key)
                a.fill("#byok-secret input", secret)
                a.click("#generate")
                wait_done(a)
                expect(kept_options(a)).to_have_count(1, timeout=UI_MS)
                token = share_link(a).rsplit("/", 1)[1]

                open_app(b, first.url)
                expect(kept_options(b)).to_have_count(0)
                open_keep(b)
                b.click("#share")  # nothing of A's to pick, nothing shared
                expect(b.locator("#share-note")).to_contain_text("Pick a kept result",
                                                                 timeout=UI_MS)
                open_app(a, first.url)  # a reload: the same browser, a new tab session
                expect(kept_options(a)).to_have_count(1, timeout=UI_MS)
            finally:
                first.terminate()

            # The same address again: a browser keeps its local storage per origin.
            second = start_app(tmp_path / "second", env, port=urlsplit(first.url).port)
            try:
                open_app(a, second.url)  # after a restart, still A's own
                expect(kept_options(a)).to_have_text(
                    [re.compile("Only mine until I share it")], timeout=UI_MS)
                open_app(b, second.url)
                expect(kept_options(b)).to_have_count(0)
                assert b.goto(f"{second.url}share/{token}").status == 200  # shared: visible
                expect(b.locator("#shared-prompt")).to_have_text("Only mine until I share it")
            finally:
                second.terminate()
        finally:
            context_a.close()
            context_b.close()
    assert visitor.tasks_created == 1
