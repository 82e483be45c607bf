"""This browser session's finished runs, newest first, as Gradio State keeps them.

Each entry is a plain dict: the inputs exactly as the page had them when Generate was
pressed (spec names; reference images as the page's list of URLs and uploaded paths), and
what came back: the image file the app saved (OutputStore, never Wiro's expiring CDN
link), its size and format, the estimated and the charged cost, and the time taken.
Pure functions, so the page keeps a plain list and tests need no browser.
"""
from __future__ import annotations

import html
import os
import time
from typing import Any, Mapping
from urllib.parse import quote

from wiro import spec

from . import references
from .cost import compare_text, spent_text

MAX_ENTRIES = 40
INPUT_NAMES = tuple(f.name for f in spec.INPUTS)


def snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    """The page's inputs, copied so later edits on the page cannot change them."""
    inputs = {name: values.get(name) for name in INPUT_NAMES}
    images = inputs.get(spec.INPUT_IMAGE.name) or []
    inputs[spec.INPUT_IMAGE.name] = list(images) if isinstance(images, (list, tuple)) \
        else [images]
    return inputs


def entry(inputs: Mapping[str, Any], details: Mapping[str, Any], image: str,
          estimate_usd: float | None = None, finished_at: float | None = None) -> dict:
    """One history entry from a finished run's inputs and its RunUpdate details."""
    recorded = snapshot(inputs)
    if details.get("seed") is not None:
        recorded[spec.SEED.name] = details["seed"]  # the seed really used (randomize)
    return {
        "task_id": str(details.get("task_id", "")),
        "image": image,
        "inputs": recorded,
        "result_width": details.get("width"),
        "result_height": details.get("height"),
        "result_format": details.get("format"),
        "cost_usd": details.get("cost_usd"),
        "simulated": bool(details.get("simulated")),  # the simulator's price: no charge
        "estimate_usd": estimate_usd,
        "seconds": details.get("total_seconds"),
        "finished_at": finished_at if finished_at is not None else time.time(),
    }


def add(entries: list[dict] | None, new: dict) -> list[dict]:
    """A new list with `new` first; a task already listed is not added twice."""
    entries = list(entries or [])
    if new.get("task_id") and any(e.get("task_id") == new["task_id"] for e in entries):
        return entries
    return [new, *entries][:MAX_ENTRIES]


def find(entries: list[dict] | None, task_id: Any) -> dict | None:
    return next((e for e in entries or [] if e.get("task_id") == str(task_id)), None)


def restore(item: Mapping[str, Any]) -> dict[str, Any]:
    """Every input of that run (spec names), ready to put back on the page."""
    inputs = dict(item.get("inputs") or {})
    restored = {f.name: inputs.get(f.name, f.default) for f in spec.INPUTS}
    restored[spec.INPUT_IMAGE.name] = list(inputs.get(spec.INPUT_IMAGE.name) or [])
    return restored


def use_as_reference(refs: list[str] | None, item: Mapping[str, Any]) -> tuple[list[str], str]:
    """Append the run's saved image to the reference list, as an uploaded file."""
    path = item.get("image")
    if not path or not os.path.isfile(path):
        return list(refs or []), "That result's file is gone; run it again to use it."
    if path in (refs or []):
        return list(refs or []), "That result is already a reference image."
    return references.add_files(list(refs or []), [path])


# --- rendering ---------------------------------------------------------------------------

def file_url(path: str) -> str:
    """Relative to the page, so it holds when the app is served under a path prefix."""
    return f"gradio_api/file={quote(path)}"


def _ref_thumbs(images: list[str]) -> str:
    if not images:
        return '<span class="hist-norefs">text to image</span>'
    thumbs = []
    for number, ref in enumerate(images, start=1):
        src = ref if references.is_url(ref) else file_url(ref)
        thumbs.append(f'<img class="hist-ref" src="{html.escape(src)}" alt="image {number}" '
                      f'title="image {number}: {html.escape(os.path.basename(ref))}" '
                      "loading=\"lazy\" onerror=\"this.style.visibility='hidden'\">")
    return "".join(thumbs)


def _size(inputs: Mapping[str, Any], axis: str) -> str:
    value = inputs.get(axis)
    return "match" if value in (0, "0") else str(value)


def render_card(item: Mapping[str, Any], number: int) -> str:
    inputs = item.get("inputs") or {}
    task = html.escape(str(item.get("task_id", "")))
    prompt = str(inputs.get(spec.PROMPT.name) or "")
    short = prompt if len(prompt) <= 140 else prompt[:137] + "…"
    fmt = str(item.get("result_format") or inputs.get(spec.OUTPUT_FORMAT.name) or "").upper()
    asked = (f"{_size(inputs, spec.WIDTH.name)}×{_size(inputs, spec.HEIGHT.name)}")
    got = f"{item.get('result_width')}×{item.get('result_height')}"
    simulated = bool(item.get("simulated"))
    cost = compare_text(item.get("estimate_usd"), item.get("cost_usd"), simulated) or "—"
    seconds = item.get("seconds")
    facts = [
        ("Seed", inputs.get(spec.SEED.name)),
        ("Size", got if asked == got else f"{got} (asked {asked})"),
        ("Format", fmt),
        (spec.SAFETY_TOLERANCE.label, inputs.get(spec.SAFETY_TOLERANCE.name)),
        ("Cost", cost),
        ("Time", f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else "—"),
    ]
    rows = "".join(f'<div data-fact="{html.escape(k.split()[0].lower())}"><dt>{html.escape(k)}'
                   f"</dt><dd>{html.escape(str(v))}</dd></div>" for k, v in facts)
    charged = item.get("cost_usd")
    return (
        f'<figure class="hist-card" data-task="{task}" data-number="{number}">'
        f'<img class="hist-image" src="{html.escape(file_url(str(item.get("image", ""))))}" '
        f'alt="result of task {task}" loading="lazy">'
        f"<figcaption>"
        f'<div class="hist-prompt" title="{html.escape(prompt)}">{html.escape(short)}</div>'
        f'<dl class="hist-facts">{rows}</dl>'
        f'<div class="hist-refs" data-count="{len(inputs.get(spec.INPUT_IMAGE.name) or [])}">'
        f"{_ref_thumbs(list(inputs.get(spec.INPUT_IMAGE.name) or []))}</div>"
        f'<div class="hist-actions">'
        f'<button type="button" class="hist-restore" data-action="restore" data-task="{task}"'
        f' title="Put every input of this run back on the page">Restore inputs</button>'
        f'<button type="button" class="hist-use" data-action="use" data-task="{task}"'
        f' title="Add this image to the reference images">Use as reference</button>'
        f"</div>"
        f'<div class="hist-task">task {task}'
        f'{" · " + spent_text(charged, simulated) if charged else ""}</div>'
        f"</figcaption></figure>")


def render(entries: list[dict] | None) -> str:
    entries = entries or []
    if not entries:
        return ('<div class="hist-empty" data-count="0">Finished runs of this session appear '
                "here, newest first: restore any of them, or use its image as a reference."
                "</div>")
    cards = "".join(render_card(e, n) for n, e in enumerate(entries, start=1))
    return f'<div class="hist-grid" data-count="{len(entries)}">{cards}</div>'


# Delegated click handling for gr.HTML(js_on_load=...): one listener survives re-renders.
JS_ON_LOAD = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('[data-action]');
  if (button && element.contains(button)) {
    trigger('click', {action: button.dataset.action, task: button.dataset.task});
  }
});
"""
