"""What a visitor does on the demo page, as Playwright steps shared by the browser tests."""
from __future__ import annotations

import re

from playwright.sync_api import expect

RUN_TIMEOUT_MS = 30_000  # a task takes ~3 s at pace 0.5; generous for a busy 2-core box
UI_MS = 20_000  # a busy 2-core box: events can queue for seconds
STATUS = "#run-status-box .run-status"
UPLOAD_INPUT = ".ref-add-row input[type=file]"


def status_of(page) -> dict:
    return page.eval_on_selector(STATUS, "e => ({kind: e.dataset.kind, status: e.dataset.status,"
                                         " text: e.innerText})")


def wait_for_status(page, kind: str | None = None, status: str | None = None,
                    timeout: int = RUN_TIMEOUT_MS) -> dict:
    selector = STATUS + (f"[data-kind={kind}]" if kind else "") + (
        f"[data-status={status}]" if status else "")
    page.wait_for_selector(selector, timeout=timeout)
    return status_of(page)


def wait_idle_buttons(page) -> None:
    """The run is over as the page shows it: Generate back on, Stop off."""
    expect(page.locator("#generate")).to_be_enabled(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#stop")).to_be_disabled(timeout=UI_MS)


def open_advanced(page) -> None:
    if not page.locator("#seed input").is_visible():
        page.get_by_text("Advanced settings", exact=True).click()
    page.wait_for_selector("#seed input", state="visible")


def form_values(page) -> dict:
    """Every model input but the references, as the page shows it."""
    open_advanced(page)
    return {
        "prompt": page.input_value("#prompt textarea"),
        "width": page.input_value("#width input"),
        "height": page.input_value("#height input"),
        "seed": page.input_value("#seed input"),
        "safety": page.input_value("#safety input[type=number]"),
        "format": page.eval_on_selector("#format input:checked", "e => e.value"),
    }


def set_number(page, elem_id: str, value) -> None:
    if elem_id in ("seed",):
        open_advanced(page)
    box = page.locator(f"#{elem_id} input")
    box.fill(str(value))
    box.press("Tab")  # commit, as a visitor leaving the field does


def ref_items(page) -> list[dict]:
    """The reference gallery's thumbnails in order: caption, image src, selected or not."""
    if not page.locator("#refs").is_visible():
        return []
    return page.eval_on_selector_all("#refs .thumbnail-item", """items => items.map(i => ({
        caption: (i.querySelector('.caption-label') || {}).innerText || '',
        src: i.querySelector('img') ? i.querySelector('img').getAttribute('src') : '',
        selected: i.classList.contains('selected')}))""")


def ref_names(page) -> list[str]:
    return [re.sub(r"^image \d+: ", "", i["caption"]) for i in ref_items(page)]


def wait_for_ref_count(page, count: int) -> list[dict]:
    if count == 0:
        expect(page.locator("#refs")).to_be_hidden(timeout=UI_MS)
        expect(page.locator("#refs-empty")).to_be_visible(timeout=UI_MS)
    else:
        expect(page.locator("#refs .thumbnail-item")).to_have_count(count, timeout=UI_MS)
    return ref_items(page)


def select_ref(page, number: int) -> None:
    page.locator("#refs .thumbnail-item").nth(number - 1).click()
    expect(page.locator("#refs .thumbnail-item").nth(number - 1)).to_have_class(
        re.compile(r"\bselected\b"))


def add_url(page, url: str, count_after: int) -> None:
    """Paste a URL and press Enter: Enter adds."""
    box = page.locator("#ref-url textarea, #ref-url input").first
    box.fill(url)
    box.press("Enter")
    wait_for_ref_count(page, count_after)


def upload_refs(page, *paths: str, count_after: int) -> None:
    page.set_input_files(UPLOAD_INPUT, list(paths))
    wait_for_ref_count(page, count_after)


def clear_refs(page) -> None:
    page.click("#ref-clear")
    wait_for_ref_count(page, 0)
