"""This browser session's finished runs, newest first, as Gradio State keeps them: a list of
`RunRecord`s (studio/record.py), each with the image the app saved (never Wiro's expiring CDN
link). Pure functions, so the page keeps a plain list and tests need no browser.
"""
from __future__ import annotations

import html
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from wiro import spec

from . import references
from .cost import compare_text, spent_text
from .record import RunRecord

MAX_ENTRIES = 40


def add(entries: list[RunRecord] | None, record: RunRecord) -> list[RunRecord]:
    """A new list with `record` first; a task already listed is not added twice."""
    entries = list(entries or [])
    if any(e.task_id == record.task_id for e in entries):
        return entries
    return [record, *entries][:MAX_ENTRIES]


def find(entries: list[RunRecord] | None, task_id: Any) -> RunRecord | None:
    return next((e for e in entries or [] if e.task_id == str(task_id)), None)


def use_as_reference(refs: list[str] | None, record: RunRecord) -> tuple[list[str], str]:
    """Append the run's saved image to the reference list, as an uploaded file."""
    path = record.image
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


def render_card(item: RunRecord, number: int) -> str:
    inputs = item.values()
    task = html.escape(item.task_id)
    prompt = item.prompt
    short = prompt if len(prompt) <= 140 else prompt[:137] + "…"
    fmt = item.format.upper()
    asked = (f"{_size(inputs, spec.WIDTH.name)}×{_size(inputs, spec.HEIGHT.name)}")
    got = f"{item.width}×{item.height}"
    cost = compare_text(item.estimate_usd, item.cost_usd, item.simulated) or "—"
    seconds = item.total_seconds
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
    charged = item.cost_usd
    return (
        f'<figure class="hist-card" data-task="{task}" data-number="{number}">'
        f'<img class="hist-image" src="{html.escape(file_url(item.image))}" '
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
        f'{" · " + spent_text(charged, item.simulated) if charged else ""}</div>'
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
