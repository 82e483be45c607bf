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

from .cost import money
from .results import Result, ResultStore

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f6f8;
color:#1d1d24}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.3rem;margin:0 0 16px}
.result{display:flex;flex-wrap:wrap;gap:24px;background:#fff;border-radius:12px;padding:16px;
box-shadow:0 1px 3px #0002;margin-bottom:20px}
.result>a>img,.result>img{max-width:min(560px,100%);max-height:70vh;border-radius:8px;
display:block}
.facts{flex:1;min-width:260px}
.prompt{white-space:pre-wrap;font-size:1.02rem;margin:0 0 12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0 0 12px}
dt{color:#666}dd{margin:0}
.refs img{height:72px;border-radius:6px;margin:0 6px 6px 0;vertical-align:top}
.refs span{color:#666}
.actions a{display:inline-block;margin:8px 8px 0 0;padding:8px 14px;border-radius:8px;
background:#4f46e5;color:#fff;text-decoration:none}
.actions a.plain{background:#e5e7eb;color:#1d1d24}
footer{color:#777;font-size:.85rem}
"""


def _size_asked(inputs: dict) -> str:
    def one(value):
        return "match image 1" if value in (0, "0") else str(value)
    return f"{one(inputs.get(spec.WIDTH.name))}×{one(inputs.get(spec.HEIGHT.name))}"


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
        ("cost", "Cost", money(record.cost_usd)),
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
<section class="result" id="shared-result">
<a href="{token}/image"><img id="shared-image" src="{token}/image"
 alt="{html.escape(result.prompt[:200])}"></a>
<div class="facts"><p class="prompt" id="shared-prompt">{html.escape(result.prompt)}</p>
{_facts_html(result)}
<div><b>Reference images</b></div>{_refs_html(result, ref_src)}
<div class="actions"><a id="open-in-app" href="../?restore={token}">Open in the app</a>
<a class="plain" id="download-image" href="{token}/image" download>Download the image</a></div>
</div></section>
<footer>Opening the app from here fills in these inputs; nothing runs until you press
Generate there.</footer></main></body></html>"""


NOT_FOUND = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found"
             "</title></head><body><h1>Not found</h1><p>This link does not lead to a shared "
             "result. It may have been deleted.</p></body></html>")


# --- the session zip ----------------------------------------------------------------------

def _zip_names(number: int, result: Result) -> tuple[str, str]:
    stem = f"{number:03d}-task{result.task_id}-seed{result.record.seed}"
    return stem, f"images/{stem}.{result.record.image.rsplit('.', 1)[-1]}"


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
            f'<a href="{quote(image_path)}"><img class="sheet-image" src="{quote(image_path)}" '
            f'alt="{html.escape(result.prompt[:200])}"></a><div class="facts">'
            f'<p class="prompt">{html.escape(result.prompt)}</p>{_facts_html(result)}'
            f"<div><b>Reference images</b></div>{_refs_html(result, ref_src)}"
            + "".join(f'<div class="refs"><span>image {n}: {html.escape(r.url)}</span></div>'
                      for n, r in enumerate(result.references, start=1) if r.kind == "url")
            + "</div></section>")
    body = "".join(sections) or "<p>No finished runs in this session.</p>"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(spec.MODEL_TITLE)}: this session's results</title><style>{STYLE}</style>
</head><body><main><h1>{html.escape(spec.MODEL_TITLE)}: {len(entries)} results, oldest first
</h1>{body}<footer>Images are the files Wiro returned; every input and result field is in
runs.json.</footer></main></body></html>"""


def runs_entry(result: Result, image_path: str, thumbs: list[str | None]) -> dict:
    """A result in runs.json: the record, its files named as in the zip."""
    record = result.record.moved(image=image_path, references=tuple(
        replace(ref, path=thumb or "") for ref, thumb in zip(result.references, thumbs)))
    return {**record.as_json(), "finished_at_utc": time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(result.created))}


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
        stem, image_path = _zip_names(number, result)
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
