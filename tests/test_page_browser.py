"""The page a presenter trusts, in Chromium on the simulator: the whole result in view on a
projector, honest about the simulator's prices, accessible (axe-core finds nothing, focus
always shows), and light (what is not on screen costs nothing until it is opened)."""
from __future__ import annotations

import json
import re

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import expect

from tests.app_harness import _loopback_only
from tests.page_helpers import (RUN_TIMEOUT_MS, UI_MS, clear_refs, open_advanced, set_number,
                                upload_refs, wait_for_status, wait_idle_buttons)
from wiro import spec

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(240)

PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
             device_scale_factor=2)
PANELS = ("#advanced", "#request-as-code", "#side-by-side", "#details-box", "#keep-share")


def open_tab(browser, live_app, theme="light", query="", **context):
    context = {"viewport": {"width": 1440, "height": 900}, **context}
    ctx = browser.new_context(color_scheme=theme, **context)
    ctx.set_default_timeout(15_000)
    ctx.route("**/*", _loopback_only)
    page = ctx.new_page()
    dark = "__theme=dark" if theme == "dark" else ""
    glue = "&" if query and dark else ""
    page.goto(live_app.url + "/" + ("?" if query or dark else "") + query + glue + dark,
              wait_until="load")
    page.wait_for_selector("#generate", state="visible")
    page.wait_for_selector("#run-status-box .run-status")
    return ctx, page


@pytest.fixture
def tabs(browser, live_app, app_sim):
    """open(theme=..., **context) -> a settled tab; every context is closed afterwards."""
    opened = []

    def open_(theme="light", query="", **context):
        ctx, page = open_tab(browser, live_app, theme, query, **context)
        opened.append(ctx)
        return page

    yield open_
    for ctx in opened:
        ctx.close()


def axe_violations(page) -> list[dict]:
    """axe-core's violations, once Gradio has finished building the page."""
    page.wait_for_function("() => !document.querySelector('.loading')")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    # Colours settle after the theme's transitions; the markup fixes run on the next frame.
    page.wait_for_timeout(1000)
    found = Axe().run(page).response["violations"]
    return [{"rule": v["id"], "nodes": [n["target"] for n in v["nodes"]][:5],
             "help": v["help"]} for v in found]


def shoot(page, live_app, name):
    live_app.artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(live_app.artifacts / name))


def make_png(path, size, colour=(200, 60, 20)) -> str:
    Image.new("RGB", size, colour).save(path, "PNG")
    return str(path)


# --- accessibility ---------------------------------------------------------------------------

@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_axe_finds_nothing_on_first_load(tabs, theme, device):
    page = tabs(theme, **(PHONE if device == "phone" else {}))
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_nothing_after_a_run_with_every_panel_open(tabs, theme, tmp_path, live_app):
    page = tabs(theme)
    clear_refs(page)
    upload_refs(page, make_png(tmp_path / "before.png", (320, 320)), count_after=1)
    set_number(page, "width", 512)
    set_number(page, "height", 512)
    page.click("#generate")
    wait_for_status(page, kind="done")
    wait_idle_buttons(page)
    expect(page.locator("#before-after img")).to_have_count(2, timeout=UI_MS)
    for panel in PANELS:
        header = page.locator(f"{panel} > button").first
        if header.get_attribute("aria-expanded") != "true":
            header.click()
    expect(page.locator("#code-curl pre")).to_be_visible(timeout=UI_MS)
    expect(page.locator("#share-pick .kept-item").first).to_be_visible(timeout=UI_MS)
    page.click("#unshare")  # the confirmation too
    expect(page.locator("#delete-confirm")).to_be_visible(timeout=UI_MS)
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_axe_finds_nothing_on_a_share_page_or_the_not_found_page(tabs, theme, live_app):
    page = tabs(theme)
    clear_refs(page)
    page.click("#generate")
    wait_for_status(page, kind="done")
    page.locator("#keep-share > button").first.click()
    page.click("#share")
    field = page.locator("#share-link textarea, #share-link input").first
    expect(field).to_have_value(re.compile(r"/share/"), timeout=UI_MS)
    page.goto(field.input_value(), wait_until="load")
    page.wait_for_selector("#shared-image")
    assert axe_violations(page) == []
    page.goto(live_app.url + "/share/not-a-token", wait_until="load")
    expect(page.locator("main h1")).to_have_text("Not found")
    assert axe_violations(page) == []


FOCUS_JS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const ring = (el) => { const s = getComputedStyle(el);
    return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; };
  const label = e.closest('label');
  return {what: e.tagName + '#' + (e.id || '') + '.' + String(e.className).slice(0, 30)
                + ' ' + (e.getAttribute('aria-label') || e.innerText || '').slice(0, 30),
          owner: e.closest('[id]')?.id || '',
          visible: ring(e) || (label !== null && ring(label))};
}"""


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_control_shows_keyboard_focus(tabs, theme):
    page = tabs(theme)
    open_advanced(page)  # the safety slider, seed and format too
    page.locator("#page-head").click()  # start at the top, keyboard from here
    owners, hidden = set(), []
    for _ in range(90):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_JS)
        if focused is None:
            continue
        owners.add(focused["owner"])
        if not focused["visible"]:
            hidden.append(focused["what"])
    assert not hidden, hidden
    # Among them the controls whose focus did not show: the aspect radios, the URL box, the
    # safety slider, and (in dark mode) the prompt, Size and seed.
    assert {"prompt", "generate", "ratio", "megapixels", "ref-url", "safety",
            "seed"} <= owners, owners


# --- the result, whole and in view ------------------------------------------------------

FIT_JS = """(selector) => [...document.querySelectorAll(selector)].map((img) => {
  const r = img.getBoundingClientRect();
  let clipped = false;
  for (let e = img.parentElement; e; e = e.parentElement) {
    const s = getComputedStyle(e);
    if (/(hidden|clip|auto|scroll)/.test(s.overflow + s.overflowX + s.overflowY)) {
      const c = e.getBoundingClientRect();
      if (r.top < c.top - 1 || r.bottom > c.bottom + 1 || r.left < c.left - 1
          || r.right > c.right + 1) clipped = true;
    }
  }
  return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
          ratio: r.width / r.height, natural: img.naturalWidth / img.naturalHeight,
          clipped, height: innerHeight, width: innerWidth, scrollY};
})"""


def assert_whole_and_in_view(box: dict, what: str) -> None:
    assert 0 <= box["top"] and box["bottom"] <= box["height"] + 0.5, (what, box)
    assert 0 <= box["left"] and box["right"] <= box["width"] + 0.5, (what, box)
    assert not box["clipped"], (what, box)
    assert box["ratio"] == pytest.approx(box["natural"], rel=0.02), (what, box)  # fitted


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900), (1920, 1080)])
def test_the_whole_result_is_in_view_without_scrolling(tabs, app_sim, live_app, size):
    width, height = size
    page = tabs(viewport={"width": width, "height": height})
    clear_refs(page)
    for shape in ((1024, 1024), (768, 1360), (1360, 768)):
        set_number(page, "width", shape[0])
        set_number(page, "height", shape[1])
        page.evaluate("() => window.scrollTo(0, 0)")
        page.click("#generate")
        wait_for_status(page, kind="done")
        wait_idle_buttons(page)
        page.wait_for_function("() => document.querySelector('#result img')?.complete")
        [box] = page.evaluate(FIT_JS, "#result img")
        assert box["natural"] == pytest.approx(shape[0] / shape[1], rel=0.01)
        assert box["scrollY"] == 0, "the page scrolled"
        assert_whole_and_in_view(box, f"{shape} at {size}")
        if shape == (1024, 1024):
            shoot(page, live_app, f"result-{width}x{height}.png")


def test_the_before_after_slider_fits_in_view_too(tabs, app_sim, live_app, tmp_path):
    page = tabs(viewport={"width": 1280, "height": 720})
    clear_refs(page)
    upload_refs(page, make_png(tmp_path / "tall.png", (600, 900)), count_after=1)
    set_number(page, "width", 768)
    set_number(page, "height", 1152)
    page.click("#generate")
    wait_for_status(page, kind="done")
    slider = page.locator("#before-after")
    expect(slider.locator("img")).to_have_count(2, timeout=UI_MS)
    slider.scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('#before-after img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    page.wait_for_timeout(200)
    for box in page.evaluate(FIT_JS, "#before-after img"):
        assert 0 <= box["top"] and box["bottom"] <= box["height"] + 0.5, box
        assert not box["clipped"], box


def test_on_a_phone_the_result_still_follows_generate(tabs, app_sim):
    page = tabs(**PHONE)
    clear_refs(page)
    page.click("#generate")
    wait_for_status(page, kind="done")
    generate = page.locator("#generate").bounding_box()
    result = page.locator("#result img").bounding_box()
    settings = page.locator("#settings").bounding_box()
    assert generate["y"] < result["y"] < settings["y"]
    page.locator("#result img").scroll_into_view_if_needed()
    [box] = page.evaluate(FIT_JS, "#result img")
    assert box["bottom"] - box["top"] <= box["height"]  # a whole screen shows all of it
    assert not box["clipped"]


# --- runs, refusals, statuses -----------------------------------------------------------

def test_a_refused_generate_leaves_the_last_result_and_its_refusal_goes_when_fixed(
        page, app_sim):
    clear_refs(page)
    page.click("#generate")
    wait_for_status(page, kind="done")
    wait_idle_buttons(page)
    src = page.locator("#result img").get_attribute("src")
    set_number(page, "width", 1000)
    runs_before = app_sim.run_calls
    page.click("#generate")
    shown = wait_for_status(page, kind="invalid")
    assert "Nothing was sent" in shown["text"]
    wait_idle_buttons(page)
    assert app_sim.run_calls == runs_before
    # Still there: the image, its cost line and its download.
    expect(page.locator("#result img")).to_have_attribute("src", src)
    expect(page.locator("#cost-compare .cost-compare")).to_be_visible()
    expect(page.locator("#download a[href]").first).to_be_visible()
    set_number(page, "width", 1008)
    wait_for_status(page, kind="idle", timeout=UI_MS)  # the refusal is stale once fixed


def test_an_inspiration_click_confirms_where_the_presenter_looks(page, app_sim):
    page.set_viewport_size({"width": 1440, "height": 900})
    runs_before = app_sim.run_calls
    chosen = spec.INSPIRATIONS[3]
    row = page.locator("#inspirations tbody tr").nth(3)
    row.scroll_into_view_if_needed()
    assert page.evaluate("() => scrollY") > 300
    row.locator("td").first.click()
    expect(page.locator("#prompt textarea")).to_have_value(chosen.prompt, timeout=UI_MS)
    status = page.locator("#run-status-box .run-status")
    expect(status).to_contain_text(f"Filled in “{chosen.title}”", timeout=UI_MS)
    expect(status).to_contain_text("Nothing has run")
    page.wait_for_function("() => { const r = document.querySelector('#generate')"
                           ".getBoundingClientRect(); return r.top >= 0 && "
                           "r.bottom <= innerHeight; }")
    for selector in ("#prompt textarea", "#run-status-box .run-status"):
        box = page.locator(selector).bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= 900, selector
    assert page.evaluate("() => document.activeElement.closest('#prompt') !== null")
    assert status.get_attribute("data-kind") == "idle" and app_sim.run_calls == runs_before


def test_generate_during_side_by_side_names_the_stop_that_works(page, app_sim, live_app):
    app_sim.configure(hold_running=True)
    clear_refs(page)
    page.get_by_text("Side by side: the same inputs with 2–4 seeds", exact=True).click()
    page.locator("#sbs-confirm input[type=checkbox]").check()
    page.click("#sbs-run")
    expect(page.locator("#sbs-stop-1")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#sbs-run")).to_be_disabled()  # no second batch from the same click
    page.click("#generate")
    shown = wait_for_status(page, kind="refused")
    assert "under each seed" in shown["text"]
    expect(page.locator("#stop")).to_be_disabled()  # not the main Stop: it says which
    for task in app_sim.running_tasks():
        app_sim.release(task["id"])
    expect(page.locator("#sbs-run")).to_be_enabled(timeout=RUN_TIMEOUT_MS)


# --- kept results ------------------------------------------------------------------------

def test_kept_results_are_cards_and_delete_asks_first(tabs, app_sim, live_app):
    maker = tabs()
    clear_refs(maker)
    for seed in (7331, 7332):
        set_number(maker, "seed", seed)
        maker.click("#generate")
        wait_for_status(maker, kind="done")
        wait_idle_buttons(maker)
    maker.locator("#keep-share > button").first.click()
    cards = maker.locator("#share-pick .kept-item")
    expect(cards.first).to_contain_text("seed 7332", timeout=UI_MS)  # newest first
    expect(cards.nth(1)).to_contain_text("seed 7331")
    for card in (cards.first, cards.nth(1)):
        expect(card.locator("time")).to_contain_text("UTC")
        assert card.locator("img").get_attribute("src").startswith("data:image/jpeg")
    expect(cards.first).to_have_attribute("aria-pressed", "true")  # this tab's newest
    # Delete sits apart from Share and Download, below them.
    share, delete = (maker.locator(s).bounding_box() for s in ("#share", "#unshare"))
    assert delete["y"] > share["y"] + share["height"]
    cards.nth(1).click()
    expect(cards.nth(1)).to_have_attribute("aria-pressed", "true")
    maker.click("#unshare")
    confirm = maker.locator("#delete-confirm")
    expect(confirm).to_contain_text("seed 7331", timeout=UI_MS)
    maker.click("#delete-yes")
    expect(maker.locator("#share-note")).to_contain_text("Deleted", timeout=UI_MS)
    expect(cards.filter(has_text="seed 7331")).to_have_count(0, timeout=UI_MS)
    expect(cards.filter(has_text="seed 7332")).to_have_count(1)
    expect(confirm).to_be_hidden()

    other = tabs()  # another browser: none of these are its own, so nothing is picked
    other.locator("#keep-share > button").first.click()
    expect(other.locator("#share-pick .kept-item", has_text="seed 7332")).to_have_count(0)
    other.click("#unshare")
    expect(other.locator("#share-note")).to_contain_text("Pick a kept result first",
                                                         timeout=UI_MS)
    expect(other.locator("#delete-confirm")).to_be_hidden()


def test_restore_sets_the_size_presets_and_says_so_in_view(page, app_sim):
    clear_refs(page)
    page.locator("#ratio label").filter(has_text="3:2").click()
    expect(page.locator("#width input")).to_have_value("1248", timeout=UI_MS)
    page.click("#generate")
    wait_for_status(page, kind="done")
    wait_idle_buttons(page)
    page.locator("#ratio label").filter(has_text="1:1").click()
    expect(page.locator("#width input")).to_have_value("1024", timeout=UI_MS)
    page.locator("#history .hist-restore").first.click()
    expect(page.locator("#width input")).to_have_value("1248", timeout=UI_MS)
    expect(page.locator("#ratio input[value='3:2']")).to_be_checked()
    expect(page.locator("#megapixels input")).to_have_value("1 MP")
    status = page.locator("#run-status-box .run-status")
    expect(status).to_contain_text("Restored every input", timeout=UI_MS)
    assert status.bounding_box()["y"] < page.viewport_size["height"]


# --- the simulator's prices, and weight --------------------------------------------------

def test_the_page_loads_no_video_player_no_code_editor_and_is_compressed(
        browser, live_app, app_sim):
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    ctx.route("**/*", _loopback_only)
    loaded: list[str] = []
    try:
        page = ctx.new_page()
        page.on("request", lambda r: loaded.append(r.url))
        page.goto(live_app.url, wait_until="load")
        page.wait_for_selector("#run-status-box .run-status[data-kind=idle]")
        page.wait_for_timeout(500)
        assert not [u for u in loaded if re.search(r"/(hls|Video|Gallery)-", u)], loaded
        # Request as code is not even drawn until opened, then follows the inputs.
        assert page.locator("#code-curl pre").count() == 0
        page.locator("#request-as-code > button").first.click()
        expect(page.locator("#code-curl pre")).to_contain_text("curl", timeout=UI_MS)
        page.locator("#prompt textarea").fill("A heron at dawn")
        expect(page.locator("#code-python pre")).to_contain_text("A heron at dawn",
                                                                 timeout=UI_MS)
    finally:
        ctx.close()
    answer = requests.get(live_app.url, headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert answer.headers.get("content-encoding") == "gzip"
    assert "api_info_as_input" not in answer.text
    assert len(answer.content) < 140_000  # uncompressed, without the API schemas
    # The generate endpoint's hidden components are left out of the page, not of /config.
    assert '"api-only"' not in answer.text
    assert '"api-only"' in requests.get(live_app.url.rstrip("/") + "/config", timeout=10).text


def test_the_simulators_prices_say_no_charge_on_the_page(page, app_sim):
    clear_refs(page)
    expect(page.locator("#cost-estimate")).to_contain_text("simulated — no charge")
    page.click("#generate")
    wait_for_status(page, kind="done")
    expect(page.locator("#cost-compare")).to_contain_text("simulated — no charge",
                                                          timeout=RUN_TIMEOUT_MS)
    page.get_by_text("Side by side: the same inputs with 2–4 seeds", exact=True).click()
    expect(page.locator("#sbs-confirm")).to_contain_text("simulated runs (no charge)")
    for selector in ("#cost-estimate", "#cost-compare", "#sbs-confirm", "#sbs-cost"):
        assert "paid" not in page.locator(selector).inner_text()
        assert "charged $" not in page.locator(selector).inner_text()


def test_nothing_shifts_as_the_page_builds(browser, live_app, app_sim):
    """Gradio mounts components one by one; the page shows once it is built, in one piece."""
    ctx = browser.new_context(viewport={"width": 412, "height": 823}, is_mobile=True)
    ctx.route("**/*", _loopback_only)
    ctx.add_init_script("""window.__shifts = [];
      new PerformanceObserver((list) => { for (const e of list.getEntries())
        if (!e.hadRecentInput) window.__shifts.push(e.value); })
        .observe({type: 'layout-shift', buffered: true});""")
    try:
        page = ctx.new_page()
        page.goto(live_app.url, wait_until="load")
        page.wait_for_selector("#run-status-box .run-status[data-kind=idle]")
        page.wait_for_function("() => document.documentElement.classList.contains('page-ready')")
        page.wait_for_timeout(1000)
        assert sum(page.evaluate("() => window.__shifts")) <= 0.02
    finally:
        ctx.close()


def test_the_header_and_mode_show_before_gradios_code_has_run(browser, live_app, app_sim):
    """The title and the simulator notice are in the page's HTML: they are drawn at once,
    even while (here: even if) Gradio's scripts have not built the rest."""
    ctx = browser.new_context(viewport={"width": 412, "height": 823}, is_mobile=True)
    ctx.route("**/*", _loopback_only)
    ctx.route(re.compile(r".*/assets/.*\.js$"), lambda route: route.abort())
    try:
        page = ctx.new_page()
        page.goto(live_app.url, wait_until="load")
        expect(page.locator("#page-head h1")).to_have_text(f"{spec.MODEL_TITLE} on Wiro")
        expect(page.locator("#mode-banner")).to_contain_text("Simulator mode")
        assert page.locator("#generate").count() == 0  # Gradio's part really did not run
    finally:
        ctx.close()
