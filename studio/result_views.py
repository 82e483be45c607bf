"""Kept results as people see them outside the app: the read-only page behind a share link,
and the session zip (images as Wiro returned them, runs.json, an offline contact sheet),
written to a file as it goes. Both read the result's RunRecord.

Plain HTML with inline CSS and no script: a shared page loads nothing but its own image and
thumbnails, and the contact sheet opens from disk with relative paths only.
"""
from __future__ import annotations

import html
import json
import os
import secrets
import time
import zipfile
from dataclasses import replace
from typing import Collection, Iterable
from urllib.parse import quote

from wiro import spec

from .cost import SIMULATED, spent_text
from .results import Result, ResultStore

# Light and dark (the viewer's preference); text at >= 4.5:1, a visible focus ring. On a
# desktop the image fills the left of the card, fitted to the window, and the prompt, the
# actions and the facts stand beside it; on a phone they follow it.
STYLE = """
:root{color-scheme:light dark;--bg:#f4f4f6;--card:#fff;--text:#1d1d24;--muted:#4b4b57;
--accent:#4338ca;--plain:#e5e7eb;--note:#fff7ed;--note-edge:#c2410c;--ring:#1d4ed8}
@media (prefers-color-scheme:dark){:root{--bg:#0f0f13;--card:#1b1b22;--text:#ececf1;
--muted:#b4b4c0;--accent:#4f46e5;--plain:#34343f;--note:#2a1d12;--note-edge:#fb923c;
--ring:#93c5fd}}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:var(--bg);
color:var(--text)}
main{max-width:1400px;margin:0 auto;padding:16px 24px}
h1{font-size:1.25rem;margin:0 0 12px}
a:focus-visible{outline:3px solid var(--ring);outline-offset:2px}
.result{display:grid;grid-template-columns:minmax(0,3fr) minmax(280px,2fr);gap:24px;
background:var(--card);border-radius:12px;padding:16px;box-shadow:0 1px 3px #0003;
margin-bottom:20px;align-items:start}
@media (max-width:800px){.result{grid-template-columns:minmax(0,1fr)}}
.image{display:flex;justify-content:center;align-items:center;border-radius:8px}
.image img{display:block;max-width:100%;max-height:calc(100vh - 120px);width:auto;height:auto;
object-fit:contain;border-radius:8px}
.facts{min-width:0}
.prompt{white-space:pre-wrap;font-size:1.05rem;margin:0 0 12px}
.simulated{background:var(--note);border-left:5px solid var(--note-edge);padding:6px 10px;
border-radius:6px;margin:0 0 12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:12px 0}
dt{color:var(--muted)}dd{margin:0}
.refs img{height:72px;border-radius:6px;margin:0 6px 6px 0;vertical-align:top}
.refs span{color:var(--muted)}
.actions{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 8px}
.actions a{display:inline-block;padding:10px 16px;border-radius:8px;background:var(--accent);
color:#fff;text-decoration:none;font-weight:600}
.actions a.plain{background:var(--plain);color:var(--text)}
footer{color:var(--muted);font-size:.9rem}
"""


def _size_asked(inputs: dict) -> str:
    def one(value):
        return "match image 1" if value in (0, "0") else str(value)
    return f"{one(inputs.get(spec.WIDTH.name))}×{one(inputs.get(spec.HEIGHT.name))}"


def _simulated_note(result: Result) -> str:
    """Made by the built-in simulator: a placeholder image, and nothing was charged."""
    if not result.record.simulated:
        return ""
    return ('<p class="simulated" data-simulated="true">Made on the simulator: a placeholder '
            f"image; its price is {SIMULATED}.</p>")


def facts(result: Result) -> list[tuple[str, str, str]]:
    """(key, label, text) for the settings a viewer wants to see."""
    record = result.record
    inputs = record.inputs
    got = f"{record.width}×{record.height}"
    return [
        ("seed", "Seed", str(record.seed)),
        ("size", "Size", got if got == _size_asked(inputs) else
         f"{got} (asked {_size_asked(inputs)})"),
        ("format", spec.OUTPUT_FORMAT.label, str(record.format or
                                                 inputs.get(spec.OUTPUT_FORMAT.name)).upper()),
        ("safety", spec.SAFETY_TOLERANCE.label, str(inputs.get(spec.SAFETY_TOLERANCE.name))),
        ("references", "Reference images", str(len(record.references))),
        ("cost", "Cost", spent_text(record.cost_usd, record.simulated)),
        ("time", "Time", f"{record.total_seconds:.1f} s"),
        ("task", "Wiro task", record.task_id),
        ("when", "Made", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(result.created))),
    ]


def _facts_html(result: Result) -> str:
    return "<dl>" + "".join(f'<dt>{html.escape(label)}</dt><dd data-fact="{key}">'
                            f"{html.escape(text)}</dd>" for key, label, text in facts(result)) \
        + "</dl>"


def _refs_html(result: Result, src) -> str:
    """`src(number, ref)` gives each thumbnail's address, or None when there is none."""
    if not result.references:
        return '<div class="refs"><span>Text to image: no reference images.</span></div>'
    parts = []
    for number, ref in enumerate(result.references, start=1):
        address = src(number, ref)
        title = html.escape(ref.url or ref.name or f"image {number}")
        parts.append(f'<img class="ref" src="{html.escape(address)}" alt="image {number}" '
                     f'title="image {number}: {title}">' if address else
                     f'<span title="{title}">image {number} (no preview)</span> ')
    return f'<div class="refs" data-count="{len(result.references)}">{"".join(parts)}</div>'


def share_page(result: Result, token: str, thumbnails: Collection[int] = ()) -> str:
    """The read-only view behind /share/<token>. Links are relative to it, so it works under
    whatever path the app is served from; "Open in the app" only fills in the inputs.
    `thumbnails`: the numbers of the references that have one."""
    def ref_src(number, ref):
        if ref.kind == "url":
            return ref.url
        return f"{token}/ref/{number}" if number in thumbnails else None
    title = f"{spec.MODEL_TITLE} result"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body><main>
<h1>{html.escape(title)}, shared from the demo</h1>
<section class="result" id="shared-result" aria-label="The shared result">
<a class="image" href="{token}/image"><img id="shared-image" src="{token}/image"
 alt="{html.escape(result.prompt[:200])}"></a>
<div class="facts">{_simulated_note(result)}
<p class="prompt" id="shared-prompt">{html.escape(result.prompt)}</p>
<div class="actions"><a id="open-in-app" href="../?restore={token}">Open in the app</a>
<a class="plain" id="download-image" href="{token}/image" download>Download the image</a></div>
{_facts_html(result)}
<h2 style="font-size:1rem;margin:0 0 6px">Reference images</h2>{_refs_html(result, ref_src)}
</div></section>
<footer>Opening the app from here fills in these inputs; nothing runs until you press
Generate there.</footer></main></body></html>"""


NOT_FOUND = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Not found</title>
<style>{STYLE}</style></head><body><main><h1>Not found</h1>
<p>This link does not lead to a shared result. It may have been deleted.</p>
<p class="actions"><a href="../">Open the app</a></p></main></body></html>"""


# --- the session zip ----------------------------------------------------------------------

def results_count(count: int) -> str:
    return f"{count} result{'' if count == 1 else 's'}"


def contact_sheet(entries: list[tuple[Result, str, list[str | None]]]) -> str:
    """index.html for the zip: each image (relative path) with its prompt and settings."""
    sections = []
    for result, image_path, thumbs in entries:
        def ref_src(number, ref, thumbs=thumbs):
            if ref.kind == "url":
                return None  # offline: a remote image would not show
            return thumbs[number - 1]
        sections.append(
            f'<section class="result" data-task="{html.escape(result.task_id)}">'
            f'<a class="image" href="{quote(image_path)}"><img class="sheet-image" '
            f'src="{quote(image_path)}" alt="{html.escape(result.prompt[:200])}"></a>'
            f'<div class="facts">{_simulated_note(result)}'
            f'<p class="prompt">{html.escape(result.prompt)}</p>{_facts_html(result)}'
            f"<div><b>Reference images</b></div>{_refs_html(result, ref_src)}"
            + "".join(f'<div class="refs"><span>image {n}: {html.escape(r.url)}</span></div>'
                      for n, r in enumerate(result.references, start=1) if r.kind == "url")
            + "</div></section>")
    body = "".join(sections) or "<p>No finished runs in this session.</p>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(spec.MODEL_TITLE)}: this session's results</title><style>{STYLE}</style>
</head><body><main><h1>{html.escape(spec.MODEL_TITLE)}: {results_count(len(entries))}, oldest
first</h1>{body}<footer>Images are the files Wiro returned; every input and result field is in
runs.json.</footer></main></body></html>"""


def runs_entry(result: Result, image_path: str, thumbs: list[str | None]) -> dict:
    """A result in runs.json: the record, its files named as in the zip."""
    record = result.record.moved(image=image_path, references=tuple(
        replace(ref, path=thumb or "") for ref, thumb in zip(result.references, thumbs)))
    entry = {**record.as_json(), "finished_at_utc": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(result.created))}
    if record.simulated:  # a simulator's price is no charge: say so beside it
        entry["cost_note"] = SIMULATED
    return entry


def session_zip(store: ResultStore, results: Iterable[Result], target: str | os.PathLike) -> int:
    """Write the zip to `target`: every image as Wiro returned it, runs.json, and the contact
    sheet index.html. Files are streamed from disk, so memory stays small whatever the
    session holds. Returns how many results went in."""
    # Whole or absent, under a name of its own: the same tab may be zipping twice at once.
    folder, name = os.path.split(os.fspath(target))
    partial = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.partial")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            count = _write_zip(store, results, archive)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return count


def _write_zip(store: ResultStore, results: Iterable[Result], archive: zipfile.ZipFile) -> int:
    runs, sheet = [], []
    for number, result in enumerate(results, start=1):
        image = store.image(result)
        if image is None:
            continue
        stem = f"{number:03d}-task{result.task_id}-seed{result.record.seed}"
        image_path = f"images/{stem}{image.suffix}"
        archive.write(image, image_path, compress_type=zipfile.ZIP_STORED)
        thumbs: list[str | None] = []
        for index in range(1, len(result.references) + 1):
            thumb = store.thumbnail(result, index)
            name = f"references/{stem}-image{index}{thumb.suffix}" if thumb else None
            if thumb:
                archive.write(thumb, name)
            thumbs.append(name)
        runs.append(runs_entry(result, image_path, thumbs))
        sheet.append((result, image_path, thumbs))
    archive.writestr("runs.json", json.dumps(runs, indent=2, ensure_ascii=False))
    archive.writestr("index.html", contact_sheet(sheet))
    return len(runs)
