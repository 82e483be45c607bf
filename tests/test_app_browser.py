"""The demo page in a real browser (Debian's Chromium via Playwright) on the built-in simulator.

Each test gets a fresh tab (so a fresh Gradio session) and a simulator with default knobs;
the app runs in this process (tests/app_harness.py). Assertions are about what a visitor
sees and what reached the simulated Wiro, never about timing.
"""
from __future__ import annotations

import io
import os
import re
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from PIL import Image

from wiro import spec

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(120)

from playwright.sync_api import expect  # noqa: E402

RUN_TIMEOUT_MS = 30_000  # a task takes ~3 s at pace 0.5; generous for a busy 2-core box
STATUS = "#run-status-box .run-status"


# --- helpers -------------------------------------------------------------------------------

def status_of(page) -> dict:
    return page.eval_on_selector(STATUS, "e => ({kind: e.dataset.kind, status: e.dataset.status,"
                                         " text: e.innerText})")


def wait_for_status(page, kind: str | None = None, status: str | None = None,
                    timeout: int = RUN_TIMEOUT_MS) -> dict:
    selector = STATUS + (f"[data-kind={kind}]" if kind else "") + (
        f"[data-status={status}]" if status else "")
    page.wait_for_selector(selector, timeout=timeout)
    return status_of(page)


def open_advanced(page) -> None:
    if not page.locator("#width input").is_visible():
        page.get_by_text("Advanced settings", exact=True).click()
    page.wait_for_selector("#width input", state="visible")


def set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input")
    box.fill(str(value))
    box.press("Tab")  # commit, as a visitor leaving the field does


def ref_cards(page) -> list[dict]:
    return page.eval_on_selector_all("#refs .ref-card", """cards => cards.map(c => ({
        number: c.dataset.ref, title: c.querySelector('b').innerText,
        caption: c.querySelector('figcaption').innerText,
        name: c.querySelector('figcaption span').innerText,
        src: c.querySelector('img').getAttribute('src')}))""")


def wait_for_ref_count(page, count: int) -> list[dict]:
    expect(page.locator("#refs .ref-card")).to_have_count(count)
    if count == 0:
        expect(page.locator("#refs .refs-empty")).to_be_visible()
    return ref_cards(page)


def select_ref(page, number: int) -> None:
    page.locator("#ref-select input").click()
    page.get_by_role("option").filter(has_text=f"image {number}:").first.click()
    shown = page.locator("#ref-select input")
    expect(shown).to_have_value(re.compile(rf"^image {number}: "))


def add_url(page, url: str, count_after: int) -> None:
    page.locator("#ref-url textarea, #ref-url input").first.fill(url)
    page.click("#ref-add-url")
    wait_for_ref_count(page, count_after)


def clear_refs(page) -> None:
    page.click("#ref-clear")
    wait_for_ref_count(page, 0)


def download_href(page) -> str:
    link = page.locator("#download a[href]").first
    expect(link).to_be_visible(timeout=RUN_TIMEOUT_MS)
    return link.get_attribute("href")


def simulator_output(sim, taskid: str) -> bytes:
    """The exact bytes the simulated CDN serves for a finished task."""
    outputs = next(message for status, message, _ in sim.events(taskid)
                   if status == "task_postprocess_end")
    found = sim.output_bytes(urlsplit(outputs[0]["url"]).path)
    assert found is not None, "the simulator no longer serves the output"
    return found[0]


def make_png(path, size, colour) -> str:
    Image.new("RGB", size, colour).save(path, "PNG")
    return str(path)


# --- a. the page -------------------------------------------------------------------------

def test_page_loads_in_simulator_mode(page):
    banner = page.locator("#mode-banner")
    expect(banner).to_be_visible()
    assert "Simulator mode" in banner.inner_text()
    assert page.input_value("#prompt textarea") == spec.PROMPT.default
    cards = ref_cards(page)
    assert [c["src"] for c in cards] == spec.default_reference_images()
    assert status_of(page)["kind"] == "idle"


# --- b. the inspirations -------------------------------------------------------------------

def test_examples_fill_prompt_and_references_without_running(page, app_sim):
    runs_before, tasks_before = app_sim.run_calls, app_sim.tasks_created
    for number, inspiration in enumerate(spec.INSPIRATIONS, start=1):
        page.click(f"#example-{number}")
        expect(page.locator("#prompt textarea")).to_have_value(inspiration.prompt)
        cards = wait_for_ref_count(page, len(inspiration.input_images))
        assert [c["src"] for c in cards] == list(inspiration.input_images), inspiration.title
        assert [c["title"] for c in cards] == [f"image {n}" for n in
                                               range(1, len(cards) + 1)]
        assert [c["name"] for c in cards] == [os.path.basename(u)
                                              for u in inspiration.input_images]
    assert [len(i.input_images) for i in spec.INSPIRATIONS] == [0, 0, 0, 1, 2]
    # Filling the inputs never runs anything (a run costs money).
    assert status_of(page)["kind"] == "idle"
    assert (app_sim.run_calls, app_sim.tasks_created) == (runs_before, tasks_before)


# --- c. a run ----------------------------------------------------------------------------

def test_generate_jpeg_512x768_serves_the_exact_file(page, app_sim, live_app):
    clear_refs(page)
    open_advanced(page)
    set_number(page, "width", 512)
    set_number(page, "height", 768)
    page.locator("#format label").filter(has_text="JPEG").click()
    expect(page.locator("#format input[value=jpeg]")).to_be_checked()

    page.click("#generate")
    done = wait_for_status(page, kind="done")
    task = live_app.newest_task()
    assert task["status"] == "task_postprocess_end"
    assert (task["width"], task["height"], task["output_format"]) == (512, 768, "jpeg")
    assert task["inputs"] == [] and task["seed"] == spec.SEED.default
    assert f"Task {task['id']}" in done["text"] and "512×768 JPEG" in done["text"]

    # The result is shown, and the run details name the task and the file.
    expect(page.locator("#result img")).to_be_visible()
    details = page.locator("#details").inner_text()
    for text in (task["id"], "512", "768", "jpeg", "cost_usd"):
        assert text in details

    # The download is the simulator's file byte for byte: not re-encoded on the way.
    href = download_href(page)
    response = requests.get(urljoin(live_app.url + "/", href), timeout=10)
    assert response.status_code == 200
    data = response.content
    assert data[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (512, 768)
    assert data == simulator_output(app_sim, task["id"])
    assert href.endswith(".jpeg") or href.endswith(".jpg")

    live_app.artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(live_app.artifacts / "finished-page.png"), full_page=True)


# --- d. invalid inputs ---------------------------------------------------------------------

def test_bad_width_is_refused_before_run_and_keeps_inputs(page, app_sim):
    prompt = "A red bicycle leaning on a sunny brick wall."
    page.locator("#prompt textarea").fill(prompt)
    open_advanced(page)
    set_number(page, "width", 1000)
    set_number(page, "seed", 4242)
    runs_before = app_sim.run_calls

    page.click("#generate")
    shown = wait_for_status(page, kind="invalid")
    assert "Width" in shown["text"] and "multiple of 16" in shown["text"]
    assert "Nothing was sent" in shown["text"]
    assert app_sim.run_calls == runs_before
    # What the visitor typed is still there to fix.
    assert page.input_value("#prompt textarea") == prompt
    assert page.input_value("#width input") == "1000"
    assert page.input_value("#seed input") == "4242"
    assert page.input_value("#height input") == str(spec.HEIGHT.default)


# --- e. Stop --------------------------------------------------------------------------------

def wait_for_final_stop(page) -> dict:
    """The status once Stop has answered and the run has ended (Stop answers last)."""
    wait_for_status(page, kind="stopped")
    # Gradio shows a progress overlay on an output while an event writing it is going on.
    page.wait_for_selector("#run-status-box > [data-testid=status-tracker].hide",
                           state="attached")
    return status_of(page)


def _start_held_run(page, app_sim, live_app, status: str) -> dict:
    clear_refs(page)
    page.click("#generate")
    wait_for_status(page, kind="running", status=status)
    task = live_app.newest_task()
    assert task["status"] == status
    return task


def test_stop_while_queued_cancels_the_task(page, app_sim, live_app):
    app_sim.hold_in_queue = True
    task = _start_held_run(page, app_sim, live_app, "task_queue")

    page.click("#stop")
    shown = wait_for_final_stop(page)
    assert "cancelled while queued" in shown["text"] and task["id"] in shown["text"]
    assert live_app.task(task["id"])["status"] == "task_cancel"
    assert not [t for t in app_sim.running_tasks() if t["id"] == task["id"]]
    # It never reached a worker, so nothing ran.
    assert "task_start" not in [s for s, _, _ in app_sim.events(task["id"])]


def test_stop_while_running_kills_the_task(page, app_sim, live_app):
    app_sim.hold_running = True
    task = _start_held_run(page, app_sim, live_app, "task_output")

    page.click("#stop")
    shown = wait_for_final_stop(page)
    assert "killed while generating" in shown["text"] and task["id"] in shown["text"]
    assert live_app.task(task["id"])["status"] == "task_cancel"
    assert "task_start" in [s for s, _, _ in app_sim.events(task["id"])]
    assert app_sim.running_tasks() == []


# --- f. closing the tab --------------------------------------------------------------------

def test_closing_the_page_kills_its_running_task(page, app_sim, live_app):
    app_sim.hold_running = True
    task = _start_held_run(page, app_sim, live_app, "task_output")

    page.close()
    live_app.wait_until(lambda: live_app.task(task["id"])["status"] == "task_cancel",
                        timeout=10, message="the closed page's task to be cancelled")
    live_app.wait_until(lambda: app_sim.running_tasks() == [], timeout=10,
                        message="no running tasks")


def test_reloading_the_page_kills_its_running_task_and_starts_clean(page, app_sim, live_app):
    app_sim.hold_running = True
    task = _start_held_run(page, app_sim, live_app, "task_output")

    page.reload(wait_until="load")
    page.wait_for_selector("#generate")
    live_app.wait_until(lambda: live_app.task(task["id"])["status"] == "task_cancel",
                        timeout=10, message="the reloaded page's old task to be cancelled")
    assert app_sim.running_tasks() == []
    assert status_of(page)["kind"] == "idle"  # a fresh session, nothing left running in it


# --- g. the reference list -----------------------------------------------------------------

def test_reference_list_order_is_what_run_receives(page, app_sim, live_app, tmp_path):
    # Loopback URLs: the page just lists them and the simulator never fetches a URL.
    first = f"{live_app.url}/refs/first.jpg"
    second = f"{live_app.url}/refs/second.jpg"
    upload = make_png(tmp_path / "third.png", (320, 240), (30, 140, 200))

    clear_refs(page)
    add_url(page, first, 1)
    add_url(page, second, 2)
    page.set_input_files("#ref-upload input[type=file]", upload)
    cards = wait_for_ref_count(page, 3)
    assert [c["title"] for c in cards] == ["image 1", "image 2", "image 3"]
    assert [c["name"] for c in cards] == ["first.jpg", "second.jpg", "third.png"]
    assert ["URL" in c["caption"] for c in cards] == [True, True, False]
    assert "upload" in cards[2]["caption"]

    select_ref(page, 3)
    page.click("#ref-up")
    live_app.wait_until(lambda: [c["name"] for c in ref_cards(page)] ==
                        ["first.jpg", "third.png", "second.jpg"], timeout=10,
                        message="image 3 to move up")
    assert [c["title"] for c in ref_cards(page)] == ["image 1", "image 2", "image 3"]

    select_ref(page, 1)
    page.click("#ref-remove")
    cards = wait_for_ref_count(page, 2)
    assert [c["name"] for c in cards] == ["third.png", "second.jpg"]
    assert [c["title"] for c in cards] == ["image 1", "image 2"]

    runs_before = app_sim.run_calls
    page.click("#generate")
    wait_for_status(page, kind="done")
    assert app_sim.run_calls == runs_before + 1
    task = live_app.newest_task()
    inputs = task["inputs"]
    assert [i["kind"] for i in inputs] == ["file", "url"]
    assert inputs[0]["source"] == "third.png"
    assert (inputs[0]["width"], inputs[0]["height"]) == (320, 240)
    assert inputs[1]["url"] == second
