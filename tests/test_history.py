"""Issue 7, part 1: the session's history — every finished run, restorable, reusable."""
from __future__ import annotations

import json
import re

from PIL import Image

from studio import history
from studio.record import Reference, RunRecord
from wiro import spec

pytest_plugins = ["tests.app_harness"]

RUN_TIMEOUT_MS = 30_000
UI_MS = 20_000  # a busy 2-core box: events can queue for seconds
URL_1 = "https://cdn.example.com/one.jpg"


def record(task_id="101", seed=5, image="x.png", refs=(URL_1,), **inputs) -> RunRecord:
    """A finished run as the lifecycle describes it."""
    sent = {**{f.name: f.default for f in spec.INPUTS if f.name != spec.INPUT_IMAGE.name},
            spec.WIDTH.name: 512, spec.HEIGHT.name: 256, **inputs, spec.SEED.name: seed}
    return RunRecord(task_id=task_id, inputs=sent,
                     references=tuple(Reference("url", url=u) for u in refs), image=image,
                     width=512, height=256, format="png", bytes=10, cost_usd=0.03,
                     estimate_usd=0.03, simulated=False, wiro_seconds=1.0, total_seconds=2.5)


# --- pure functions ------------------------------------------------------------------------

def test_newest_first_no_duplicates_and_bounded():
    entries: list[RunRecord] = []
    for n in range(history.MAX_ENTRIES + 5):
        entries = history.add(entries, record(task_id=str(n)))
    assert len(entries) == history.MAX_ENTRIES
    assert entries[0].task_id == str(history.MAX_ENTRIES + 4)
    again = history.add(entries, record(task_id=entries[3].task_id))
    assert again == entries


def test_restore_gives_every_input_by_spec_name():
    item = record(seed=9, **{spec.PROMPT.name: "p", spec.SAFETY_TOLERANCE.name: 5,
                             spec.OUTPUT_FORMAT.name: "jpeg", spec.WIDTH.name: 0})
    restored = item.values()
    assert set(restored) == {f.name for f in spec.INPUTS}
    assert restored == {spec.INPUT_IMAGE.name: [URL_1], spec.PROMPT.name: "p",
                        spec.WIDTH.name: 0, spec.HEIGHT.name: 256,
                        spec.SAFETY_TOLERANCE.name: 5, spec.SEED.name: 9,
                        spec.OUTPUT_FORMAT.name: "jpeg"}


def test_a_record_survives_json():
    item = record(refs=(URL_1,))
    again = RunRecord.from_json(json.loads(json.dumps(item.as_json())))
    assert again == item


def test_use_as_reference_appends_the_saved_file(tmp_path):
    saved = tmp_path / "flux2pro-task101-seed5.png"
    Image.new("RGB", (8, 8)).save(saved)
    item = record(image=str(saved))
    refs, note = history.use_as_reference([URL_1], item)
    assert refs == [URL_1, str(saved)] and note == ""
    assert history.use_as_reference(refs, item)[1] == "That result is already a reference image."
    full = [URL_1] * spec.MAX_REFERENCE_IMAGES
    assert history.use_as_reference(full, item)[0] == full  # no room: the list is unchanged
    saved.unlink()
    assert "gone" in history.use_as_reference([], item)[1]


def test_render_shows_what_the_issue_asks_for(tmp_path):
    item = record(image=str(tmp_path / "o.png"), **{spec.PROMPT.name: "A <b>bold</b> fox"})
    page = history.render([item])
    assert "A &lt;b&gt;bold&lt;/b&gt; fox" in page
    assert f"gradio_api/file={tmp_path}" in page  # served by the app, not a CDN link
    for fact in ("Seed", "5", "512×256", "PNG", "Safety Tolerance", "estimated $0.030, "
                 "charged $0.030", "2.5 s", 'data-action="restore"', 'data-action="use"',
                 URL_1):
        assert fact in page
    assert 'data-count="0"' in history.render([])


# --- in the browser ------------------------------------------------------------------------

def _expect():
    from playwright.sync_api import expect  # noqa: PLC0415
    return expect


def wait_done(page):
    page.wait_for_selector("#run-status-box .run-status[data-kind=done]", timeout=RUN_TIMEOUT_MS)


from tests.page_helpers import (UPLOAD_INPUT, form_values, open_advanced,  # noqa: E402
                                ref_names, set_number, wait_for_ref_count)


def cards(page):
    return page.eval_on_selector_all("#history .hist-card", """cards => cards.map(c => ({
        task: c.dataset.task, prompt: c.querySelector('.hist-prompt').innerText,
        facts: c.querySelector('.hist-facts').innerText,
        src: c.querySelector('.hist-image').getAttribute('src'),
        loaded: c.querySelector('.hist-image').naturalWidth > 0,
        refs: c.querySelectorAll('.hist-ref').length}))""")


def page_inputs(page):
    return {**form_values(page), "refs": ref_names(page)}


def test_history_restore_and_use_as_reference(page, app_sim, live_app, tmp_path):
    expect = _expect()
    upload = tmp_path / "garden.png"
    Image.new("RGB", (320, 240), (40, 160, 60)).save(upload)

    # Run 1: the default URLs plus an upload, at 512×512, seed 123.
    page.set_input_files(UPLOAD_INPUT, str(upload))
    wait_for_ref_count(page, 3)
    page.locator("#prompt textarea").fill("First run: a garden")
    open_advanced(page)
    set_number(page, "width", 512)
    set_number(page, "height", 512)
    page.click("#generate")
    wait_done(page)
    expect(page.locator("#history .hist-card")).to_have_count(1, timeout=UI_MS)
    first_task = live_app.newest_task()

    # Run 2: everything different.
    page.click("#ref-clear")
    wait_for_ref_count(page, 0)
    page.locator("#prompt textarea").fill("Second run: a desert")
    set_number(page, "width", 256)
    set_number(page, "height", 384)
    set_number(page, "seed", 77)
    page.locator("#format label").filter(has_text="JPEG").click()
    page.locator("#safety input[type=number]").fill("5")
    page.locator("#safety input[type=number]").press("Tab")
    page.click("#generate")
    page.wait_for_selector("#history .hist-card >> nth=1", timeout=RUN_TIMEOUT_MS)
    second_task = live_app.newest_task()
    assert second_task["prompt"] == "Second run: a desert"

    shown = cards(page)
    assert [c["task"] for c in shown] == [second_task["id"], first_task["id"]]  # newest first
    live_app.wait_until(lambda: all(c["loaded"] for c in cards(page)), timeout=10,
                        message="history images to load")
    for card in shown:
        assert card["src"].startswith("gradio_api/file=")  # relative: under a prefix too
        assert str(live_app.app.outputs.root) in card["src"]  # the app's copy, not the CDN
    assert "77" in shown[0]["facts"] and "256×384" in shown[0]["facts"]
    assert "JPEG" in shown[0]["facts"] and "simulated — no charge" in shown[0]["facts"]
    assert "123" in shown[1]["facts"] and "512×512" in shown[1]["facts"]
    assert (shown[0]["refs"], shown[1]["refs"]) == (0, 3)
    live_app.artifacts.mkdir(exist_ok=True)
    page.locator("#history").scroll_into_view_if_needed()
    page.screenshot(path=str(live_app.artifacts / "history.png"), full_page=True)

    # Restore run 1: every input comes back.
    page.locator(f'#history .hist-card[data-task="{first_task["id"]}"] .hist-restore').click()
    expect(page.locator("#history-note")).to_contain_text(f"task {first_task['id']}", timeout=UI_MS)
    wait_for_ref_count(page, 3)
    restored = page_inputs(page)
    assert restored["prompt"] == "First run: a garden"
    assert (restored["width"], restored["height"], restored["seed"]) == ("512", "512", "123")
    assert restored["safety"] == "2" and restored["format"] == "png"
    assert restored["refs"] == [u.rsplit("/", 1)[1] for u in spec.default_reference_images()] \
        + ["garden.png"]

    # Use run 2's image as a reference: it joins the list as an upload, last.
    page.locator(f'#history .hist-card[data-task="{second_task["id"]}"] .hist-use').click()
    wait_for_ref_count(page, 4)
    fourth = page.locator("#refs .thumbnail-item").nth(3)
    expect(fourth).to_contain_text(f"image 4: flux2pro-task{second_task['id']}", timeout=UI_MS)

    # Generate with the restored inputs: Wiro gets run 1's inputs plus run 2's image.
    page.click("#generate")
    page.wait_for_selector("#history .hist-card >> nth=2", timeout=RUN_TIMEOUT_MS)
    third = live_app.newest_task()
    assert third["prompt"] == "First run: a garden"
    assert (third["width"], third["height"], third["seed"]) == (512, 512, 123)
    assert [i["kind"] for i in third["inputs"]] == ["url", "url", "file", "file"]
    assert third["inputs"][2]["source"] == "garden.png"
    assert re.match(rf"flux2pro-task{second_task['id']}-seed77\.jpe?g",
                    third["inputs"][3]["source"])
    assert third["inputs"][3]["width"] == 256


def test_estimate_beside_generate_and_the_price_after_says_simulated(page, app_sim, live_app):
    """Keyless, the page runs on the simulator: every price it shows says no money moved."""
    expect = _expect()
    box = page.locator("#cost-estimate .cost-estimate")
    # The two default references are URLs: their size is unknown here, so assumed (and said).
    expect(box).to_contain_text("Price on Wiro: $0.060 (simulated — no charge)", timeout=UI_MS)
    expect(box).to_contain_text("URL images assumed 1024×1024", timeout=UI_MS)
    page.click("#ref-clear")
    expect(box).to_contain_text("Price on Wiro: $0.030", timeout=UI_MS)
    expect(box).not_to_contain_text("URL images", timeout=UI_MS)
    open_advanced(page)
    set_number(page, "width", 2048)
    set_number(page, "height", 1024)
    expect(box).to_contain_text("Price on Wiro: $0.045", timeout=UI_MS)
    page.click("#generate")
    wait_done(page)
    line = page.locator("#cost-compare")
    expect(line).to_contain_text("Last run: $0.045 simulated — no charge", timeout=UI_MS)
    expect(line).not_to_contain_text("charged")
    card = page.locator("#history .hist-card").first
    expect(card.locator("[data-fact=cost]")).to_contain_text("$0.045 simulated — no charge")
    expect(card.locator(".hist-task")).to_contain_text("simulated — no charge")


def test_request_as_code_follows_the_inputs(page, app_sim):
    expect = _expect()
    page.get_by_text("Request as code", exact=True).click()
    curl = page.locator("#code-curl")
    expect(curl).to_contain_text("openssl dgst -sha256 -hmac", timeout=UI_MS)
    expect(curl).to_contain_text("Content-Type: application/json", timeout=UI_MS)
    page.locator("#prompt textarea").fill("A lighthouse at dusk")
    expect(curl).to_contain_text("A lighthouse at dusk", timeout=UI_MS)
    expect(page.locator("#code-python")).to_contain_text("A lighthouse at dusk", timeout=UI_MS)
    text = page.locator("#code-curl").inner_text() + page.locator("#code-python").inner_text()
    assert "WIRO_API_KEY" in text and "WIRO_API_SECRET" in text
