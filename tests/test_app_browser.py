"""The demo page in a real browser (Debian's Chromium via Playwright) on the built-in simulator.

Each test gets a fresh tab (so a fresh Gradio session) and a simulator with default knobs;
the app runs in this process (tests/app_harness.py). Assertions are about what a visitor
sees and what reached the simulated Wiro, never about timing.
"""
from __future__ import annotations

import io
import json
import os
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from PIL import Image

from studio import status as run_status
from studio.status import KINDS, RunStatus
from studio.ui.form import field_marks
from wiro import spec

from tests.page_helpers import (RUN_TIMEOUT_MS, UI_MS, add_url, clear_refs, open_advanced,
                                ref_items, ref_names, select_ref, set_number, status_of,
                                upload_refs, wait_for_ref_count, wait_for_status,
                                wait_idle_buttons)

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(120)

from playwright.sync_api import expect  # noqa: E402


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


def open_page(context, live_app, query: str = ""):
    page = context.new_page()
    page.goto(live_app.url + query, wait_until="load")
    page.wait_for_selector("#generate", state="visible")
    page.wait_for_selector("#run-status-box .run-status[data-kind=idle]")
    return page


@pytest.fixture
def phone(browser, live_app, app_sim):
    from tests.app_harness import _loopback_only
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    context.set_default_timeout(15_000)
    context.route("**/*", _loopback_only)
    try:
        yield open_page(context, live_app)
    finally:
        context.close()


@pytest.fixture
def dark(browser, live_app, app_sim):
    """Gradio's dark theme (?__theme=dark) in a browser that prefers dark."""
    from tests.app_harness import _loopback_only
    context = browser.new_context(viewport={"width": 1440, "height": 900}, color_scheme="dark")
    context.set_default_timeout(15_000)
    context.route("**/*", _loopback_only)
    try:
        yield open_page(context, live_app, "?__theme=dark")
    finally:
        context.close()


def shoot(page, live_app, name: str, full_page: bool = False) -> None:
    live_app.artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(live_app.artifacts / name), full_page=full_page)


# --- a. the page -------------------------------------------------------------------------

def test_page_loads_in_simulator_mode(page):
    banner = page.locator("#mode-banner")
    expect(banner).to_be_visible()
    assert "Simulator mode" in banner.inner_text()
    assert page.input_value("#prompt textarea") == spec.PROMPT.default
    items = ref_items(page)
    assert [i["caption"] for i in items] == [
        f"image {n}: {os.path.basename(u)}"
        for n, u in enumerate(spec.default_reference_images(), start=1)]
    assert [i["src"] for i in items] == spec.default_reference_images()  # URLs stay URLs
    assert status_of(page)["kind"] == "idle"
    # Nothing runs: Generate is on, Stop is off; the status is a live region.
    expect(page.locator("#generate")).to_be_enabled()
    expect(page.locator("#stop")).to_be_disabled()
    live = page.eval_on_selector(
        "#run-status-box .run-status", "e => e.closest('[aria-live]')?.getAttribute('aria-live')")
    assert live == "polite"
    # Thumbnails keep their shape.
    fit = page.eval_on_selector("#refs .thumbnail-item img", "e => getComputedStyle(e).objectFit")
    assert fit == "contain"


# --- b. the inspirations -------------------------------------------------------------------

def test_inspirations_show_their_references_and_fill_without_running(page, app_sim):
    runs_before, tasks_before = app_sim.run_calls, app_sim.tasks_created
    rows = page.locator("#inspirations tbody tr")
    expect(rows).to_have_count(len(spec.INSPIRATIONS))
    for number, inspiration in enumerate(spec.INSPIRATIONS):
        row = rows.nth(number)
        expect(row).to_contain_text(inspiration.title)
        thumbs = row.locator("img.insp-ref")
        expect(thumbs).to_have_count(len(inspiration.input_images))
        assert [thumbs.nth(i).get_attribute("src") for i in range(thumbs.count())] == \
            list(inspiration.input_images)
        if not inspiration.input_images:
            expect(row).to_contain_text("prompt only")
    for number, inspiration in enumerate(spec.INSPIRATIONS):
        rows.nth(number).locator("td").first.click()
        expect(page.locator("#prompt textarea")).to_have_value(inspiration.prompt,
                                                               timeout=UI_MS)
        items = wait_for_ref_count(page, len(inspiration.input_images))
        assert [i["src"] for i in items] == list(inspiration.input_images), inspiration.title
        assert [i["caption"].split(":")[0] for i in items] == [
            f"image {n}" for n in range(1, len(items) + 1)]
    assert [len(i.input_images) for i in spec.INSPIRATIONS] == [0, 0, 0, 1, 2]
    # Filling the inputs never runs anything (a run costs money).
    assert status_of(page)["kind"] == "idle"
    assert (app_sim.run_calls, app_sim.tasks_created) == (runs_before, tasks_before)


# --- c. a run ----------------------------------------------------------------------------

def test_generate_jpeg_512x768_serves_the_exact_file(page, app_sim, live_app):
    clear_refs(page)
    set_number(page, "width", 512)
    set_number(page, "height", 768)
    open_advanced(page)
    page.locator("#format label").filter(has_text="JPEG").click()
    expect(page.locator("#format input[value=jpeg]")).to_be_checked()

    page.click("#generate")
    done = wait_for_status(page, kind="done")
    task = live_app.newest_task()
    assert task["status"] == "task_postprocess_end"
    assert (task["width"], task["height"], task["output_format"]) == (512, 768, "jpeg")
    assert task["inputs"] == [] and task["seed"] == spec.SEED.default
    assert f"Task {task['id']}" in done["text"] and "512×768 JPEG" in done["text"]
    wait_idle_buttons(page)

    # The result is shown with words for screen readers; the details name task and file.
    image = page.locator("#result img")
    expect(image).to_be_visible()
    alt = image.get_attribute("alt")
    assert alt.startswith(f"Generated image, seed {spec.SEED.default}: ")
    assert spec.PROMPT.default[:30] in alt
    page.get_by_text("Run details", exact=True).click()
    details = page.locator("#details").inner_text()
    for text in (task["id"], "512", "768", "jpeg", "cost_usd"):
        assert text in details
    expect(page.locator("#cost-compare")).to_contain_text("$0.030 simulated — no charge")
    expect(page.locator("#use-as-reference")).to_be_visible()
    expect(page.locator("#before-after")).to_be_hidden()  # no reference: nothing to compare

    # The download is the simulator's file byte for byte: not re-encoded on the way.
    href = download_href(page)
    response = requests.get(urljoin(live_app.url + "/", href), timeout=10)
    assert response.status_code == 200
    data = response.content
    assert data[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (512, 768)
    assert data == simulator_output(app_sim, task["id"])
    assert href.endswith(".jpeg") or href.endswith(".jpg")
    shoot(page, live_app, "finished-page.png", full_page=True)


def test_a_new_run_supersedes_the_last_result_at_once(page, app_sim, live_app):
    """Buttons follow the run; the old image and cost line go the moment Generate is
    pressed, and progress shows in a frame of the new image's shape."""
    clear_refs(page)
    page.click("#generate")
    wait_for_status(page, kind="done")
    expect(page.locator("#result img")).to_be_visible()
    expect(page.locator("#cost-compare .cost-compare")).to_be_visible()
    wait_idle_buttons(page)

    app_sim.hold_running = True
    set_number(page, "width", 1360)
    set_number(page, "height", 768)
    page.click("#generate")
    wait_for_status(page, kind="running", status="task_output")
    expect(page.locator("#result img")).to_have_count(0)
    expect(page.locator("#cost-compare .cost-compare")).to_have_count(0)
    expect(page.locator("#use-as-reference")).to_be_hidden()
    frame = page.locator("#run-status-box .run-frame")
    expect(frame).to_be_visible()
    box = frame.bounding_box()
    assert box["width"] / box["height"] == pytest.approx(1360 / 768, rel=0.03)
    expect(frame.locator("[role=progressbar]")).to_be_visible()
    # While it runs, Generate is off (no silent second click) and Stop is on.
    expect(page.locator("#generate")).to_be_disabled()
    expect(page.locator("#stop")).to_be_enabled()
    shoot(page, live_app, "desktop-running.png")
    app_sim.release(live_app.newest_task()["id"])
    wait_for_status(page, kind="done")
    wait_idle_buttons(page)


def test_ctrl_enter_in_the_prompt_runs(page, app_sim, live_app):
    clear_refs(page)
    runs_before = app_sim.run_calls
    box = page.locator("#prompt textarea")
    box.fill("A kite over the dunes")
    box.press("Control+Enter")
    wait_for_status(page, kind="done")
    assert app_sim.run_calls == runs_before + 1
    assert live_app.newest_task()["prompt"] == "A kite over the dunes"
    assert page.input_value("#prompt textarea") == "A kite over the dunes"  # no newline added


# --- d. sizes and invalid inputs --------------------------------------------------------

def test_presets_set_valid_sizes_and_fields_stay_editable(page, app_sim, live_app, tmp_path):
    page.locator("#ratio label").filter(has_text="16:9").click()
    expect(page.locator("#width input")).to_have_value("1360", timeout=UI_MS)
    expect(page.locator("#height input")).to_have_value("768")
    page.locator("#megapixels input").click()
    page.get_by_role("option", name="4 MP").click()
    expect(page.locator("#width input")).to_have_value("2048", timeout=UI_MS)
    expect(page.locator("#height input")).to_have_value("1152")
    page.locator("#ratio label").filter(has_text="9:16").click()
    expect(page.locator("#width input")).to_have_value("1152", timeout=UI_MS)
    # Match image 1: an upload's shape at the chosen megapixels.
    clear_refs(page)
    upload_refs(page, make_png(tmp_path / "wide.png", (640, 352), (10, 120, 60)), count_after=1)
    page.locator("#megapixels input").click()
    page.get_by_role("option", name="0.25 MP").click()
    expect(page.locator("#width input")).to_have_value("384", timeout=UI_MS)  # 9:16, smaller
    page.locator("#ratio label").filter(has_text="Match image 1").click()
    expect(page.locator("#width input")).to_have_value("688", timeout=UI_MS)
    expect(page.locator("#height input")).to_have_value("384")
    set_number(page, "height", 390)  # still editable by hand
    expect(page.locator("#size-marks .field-problem[data-field=height]")).to_contain_text(
        "multiple of 16: 384 or 400", timeout=UI_MS)
    set_number(page, "height", 384)
    expect(page.locator("#size-marks .field-problem")).to_have_count(0, timeout=UI_MS)
    page.click("#generate")
    wait_for_status(page, kind="done")
    task = live_app.newest_task()
    assert (task["width"], task["height"]) == (688, 384)


def test_bad_width_is_marked_on_its_field_and_refused_before_run(page, app_sim):
    prompt = "A red bicycle leaning on a sunny brick wall."
    page.locator("#prompt textarea").fill(prompt)
    set_number(page, "width", 1000)
    set_number(page, "seed", 4242)
    runs_before = app_sim.run_calls

    # Marked on the field itself, with what to change; the estimate names the field too.
    mark = page.locator("#size-marks .field-problem[data-field=width]")
    expect(mark).to_contain_text("Width: Use a multiple of 16: 992 or 1008", timeout=UI_MS)
    field, mark_box = page.locator("#width input").bounding_box(), mark.bounding_box()
    assert 0 <= mark_box["y"] - (field["y"] + field["height"]) < 120  # right below it
    border = page.eval_on_selector("#width input", "e => getComputedStyle(e).borderTopWidth")
    assert border == "2px"
    expect(page.locator("#cost-estimate")).to_contain_text("fix the width first")

    page.click("#generate")
    shown = wait_for_status(page, kind="invalid")
    assert "Width" in shown["text"] and "multiple of 16" in shown["text"]
    assert "Nothing was sent" in shown["text"]
    assert app_sim.run_calls == runs_before
    wait_idle_buttons(page)
    # What the visitor typed is still there to fix.
    assert page.input_value("#prompt textarea") == prompt
    assert page.input_value("#width input") == "1000"
    assert page.input_value("#seed input") == "4242"
    assert page.input_value("#height input") == str(spec.HEIGHT.default)


# --- e. Stop --------------------------------------------------------------------------------

def wait_for_final_stop(page) -> dict:
    """The status once Stop has answered and the run has ended (Stop answers last)."""
    wait_for_status(page, kind="stopped")
    wait_idle_buttons(page)
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


# --- g. the reference images ------------------------------------------------------------

def test_reordering_keeps_the_selection_on_the_moved_image(page, app_sim, tmp_path):
    """The reported bug: choose image 3, press Earlier twice; it must end first, selected."""
    clear_refs(page)
    paths = [make_png(tmp_path / f"{name}.png", (160, 120), colour) for name, colour in
             (("red", (220, 0, 0)), ("blue", (0, 0, 220)), ("green", (0, 160, 0)))]
    upload_refs(page, *paths, count_after=3)
    assert ref_names(page) == ["red.png", "blue.png", "green.png"]
    select_ref(page, 3)
    page.click("#ref-up")
    page.wait_for_function("() => document.querySelectorAll('#refs .caption-label')[1]"
                           "?.innerText.endsWith('green.png')")
    assert [i["selected"] for i in ref_items(page)] == [False, True, False]
    page.click("#ref-up")
    page.wait_for_function("() => document.querySelectorAll('#refs .caption-label')[0]"
                           "?.innerText.endsWith('green.png')")
    items = ref_items(page)
    assert ref_names(page) == ["green.png", "red.png", "blue.png"]
    assert [i["selected"] for i in items] == [True, False, False]
    assert [i["caption"].split(":")[0] for i in items] == ["image 1", "image 2", "image 3"]
    page.click("#ref-down")  # and back down: the same image moves, still selected
    page.wait_for_function("() => document.querySelectorAll('#refs .caption-label')[1]"
                           "?.innerText.endsWith('green.png')")
    assert [i["selected"] for i in ref_items(page)] == [False, True, False]
    # An upload keeps the selection where it was.
    upload_refs(page, make_png(tmp_path / "grey.png", (50, 50), (90, 90, 90)), count_after=4)
    assert [i["selected"] for i in ref_items(page)] == [False, True, False, False]
    page.click("#ref-remove")
    wait_for_ref_count(page, 3)
    assert ref_names(page) == ["red.png", "blue.png", "grey.png"]
    assert [i["selected"] for i in ref_items(page)] == [False, True, False]


def test_reference_list_order_is_what_run_receives(page, app_sim, live_app, tmp_path):
    # Loopback URLs: the page just lists them and the simulator never fetches a URL.
    first = f"{live_app.url}/refs/first.jpg"
    second = f"{live_app.url}/refs/second.jpg"
    upload = make_png(tmp_path / "third.png", (320, 240), (30, 140, 200))

    clear_refs(page)
    add_url(page, first, 1)  # Enter in the URL box adds
    expect(page.locator("#ref-url textarea, #ref-url input").first).to_have_value("")
    page.locator("#ref-url textarea, #ref-url input").first.fill(second)
    page.click("#ref-add-url")
    wait_for_ref_count(page, 2)
    upload_refs(page, upload, count_after=3)
    assert ref_names(page) == ["first.jpg", "second.jpg", "third.png"]
    assert [i["caption"].split(":")[0] for i in ref_items(page)] == [
        "image 1", "image 2", "image 3"]

    select_ref(page, 3)
    page.click("#ref-up")
    page.wait_for_function("() => document.querySelectorAll('#refs .caption-label')[1]"
                           "?.innerText.endsWith('third.png')")
    select_ref(page, 1)
    page.click("#ref-remove")
    wait_for_ref_count(page, 2)
    assert ref_names(page) == ["third.png", "second.jpg"]

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


def test_before_after_and_use_as_reference(page, app_sim, live_app, tmp_path):
    clear_refs(page)
    upload_refs(page, make_png(tmp_path / "before.png", (320, 320), (200, 60, 20)),
                count_after=1)
    set_number(page, "width", 256)
    set_number(page, "height", 256)
    page.click("#generate")
    wait_for_status(page, kind="done")
    slider = page.locator("#before-after")
    expect(slider).to_be_visible(timeout=UI_MS)
    expect(slider.locator("img")).to_have_count(2, timeout=UI_MS)
    task = live_app.newest_task()
    page.click("#use-as-reference")
    wait_for_ref_count(page, 2)
    assert ref_names(page)[1].startswith(f"flux2pro-task{task['id']}")
    expect(page.locator("#refs-note")).to_contain_text("now image 2")


# --- h. readable in light and dark, on a desktop and a phone ----------------------------

CONTRAST_JS = """(selector) => {
  const canvas = document.createElement('canvas'); canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const rgba = (css) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = '#000'; ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1); const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255]; };
  const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3]));
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let colour = [255, 255, 255];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const lum = (c) => { const [r, g, b] = c.map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  return [...document.querySelectorAll(selector)].map((el) => {
    const bg = background(el), fg = over(rgba(getComputedStyle(el).color), bg);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return {text: el.innerText.slice(0, 40), ratio: (a + 0.05) / (b + 0.05)};
  });
}"""


def every_status_kind() -> str:
    statuses = [RunStatus(kind, f"{kind} title", f"{kind} detail", problems=("a problem",),
                          fraction=0.4, elapsed=1.0) for kind in KINDS]
    return "".join(run_status.to_html(s, frame=(16, 9)) for s in statuses)


def contrast_of_everything(page) -> list[dict]:
    """Every status kind, the banner, a field mark and the estimate, as rendered here."""
    page.evaluate("""([statuses, marks]) => {
      const status = document.querySelector('#run-status-box .run-status').parentElement;
      status.innerHTML = statuses;
      document.querySelector('#size-marks').insertAdjacentHTML('beforeend', marks);
    }""", [every_status_kind(), field_marks(width=1000)])
    page.wait_for_selector("#run-status-box .run-status[data-kind=error]")
    selectors = ", ".join([".run-status .run-title", ".run-status .run-body",
                           ".run-status .run-frame-note", "#mode-banner", ".field-problem",
                           ".cost-estimate"])
    return page.evaluate(CONTRAST_JS, selectors)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_status_kind_and_the_banner_are_readable(theme, page, dark, live_app):
    view = dark if theme == "dark" else page
    if theme == "dark":
        assert view.evaluate("() => document.body.classList.contains('dark') || "
                             "document.documentElement.classList.contains('dark')")
    measured = contrast_of_everything(view)
    assert len(measured) >= 2 * len(KINDS) + 3
    low = [m for m in measured if m["ratio"] < 4.5]
    assert not low, json.dumps(low)
    shoot(view, live_app, f"statuses-{theme}.png")


def test_dark_mode_page_after_a_run(dark, app_sim, live_app):
    clear_refs(dark)
    dark.click("#generate")
    wait_for_status(dark, kind="done")
    wait_idle_buttons(dark)
    low = [m for m in dark.evaluate(CONTRAST_JS, ".run-title, .run-body, #mode-banner, "
                                                 ".cost-estimate, .cost-compare")
           if m["ratio"] < 4.5]
    assert not low, json.dumps(low)
    dark.wait_for_timeout(300)  # let the image paint for the screenshot
    shoot(dark, live_app, "dark-desktop.png")


def test_result_stays_in_view_while_scrolling_on_a_desktop(page, browser, live_app):
    page.set_viewport_size({"width": 1440, "height": 900})
    result = page.locator("#result-col")
    settings = page.locator("#settings")
    assert result.bounding_box()["x"] > settings.bounding_box()["x"] + 300  # beside the inputs
    page.mouse.wheel(0, 900)
    page.wait_for_function("() => window.scrollY > 300")
    box = result.bounding_box()  # relative to the viewport
    assert 0 <= box["y"] <= 40
    shoot(page, live_app, "desktop-scrolled.png")


def test_on_a_phone_the_result_follows_generate_and_targets_are_big(phone, app_sim, live_app):
    generate = phone.locator("#generate").bounding_box()
    result = phone.locator("#result-col").bounding_box()
    settings = phone.locator("#settings").bounding_box()
    assert generate["y"] < result["y"] < settings["y"]
    assert result["y"] - (generate["y"] + generate["height"]) < 300
    small = phone.evaluate("""() => [...document.querySelectorAll(
        '#main button, #main input, #main textarea, #main label, #main [role=gridcell], '
        + '.hist-actions button, #request-as-code button, #side-by-side button')]
      .filter(e => e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden')
      .filter(e => !(e.type === 'file' || e.type === 'radio' || e.type === 'checkbox'))
      .filter(e => !e.closest('label') || e.tagName === 'LABEL')
      .filter(e => e.dataset.testid !== 'block-label')  // a component's name tag, not a control
      .map(e => e.closest('.wrap-inner') || e)  // a dropdown's tap area is its whole box
      .map(e => { const r = e.getBoundingClientRect();
                  return {what: e.tagName + '#' + (e.id || e.className).toString().slice(0, 40)
                                + ' ' + (e.innerText || e.value || '').slice(0, 20),
                          height: Math.round(r.height), width: Math.round(r.width)}; })
      .filter(t => t.height > 0 && t.height < 40)""")
    assert not small, json.dumps(small, ensure_ascii=False)
    shoot(phone, live_app, "phone-idle.png", full_page=True)
    clear_refs(phone)
    phone.click("#generate")
    wait_for_status(phone, kind="done")
    phone.locator("#result").scroll_into_view_if_needed()
    phone.wait_for_timeout(300)
    shoot(phone, live_app, "phone-done.png")


def test_desktop_screenshot(page, app_sim, live_app):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.click("#generate")  # the default: two URL references (their pictures are offline)
    wait_for_status(page, kind="done")
    wait_idle_buttons(page)
    expect(page.locator("#cost-compare")).to_contain_text("$0.060 simulated — no charge")
    page.wait_for_timeout(300)
    shoot(page, live_app, "desktop-done.png")
