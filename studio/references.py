"""The ordered list of reference images (inputImage) as the page keeps it.

Each entry is a string: an http(s) URL or the path of an uploaded file. The order is the
order Wiro receives them in, which the prompts refer to as "image 1", "image 2", ...
Pure functions, so Gradio's State holds plain lists and tests need no browser.
"""
from __future__ import annotations

import os
from typing import Iterable
from urllib.parse import urlsplit

from wiro import spec
from wiro.uploads import is_url

MAX_ENTRIES = spec.INPUT_IMAGE.max_items


def add_files(entries: list[str], files: Iterable | None) -> tuple[list[str], str]:
    """Append uploads; returns the new list and a note when some did not fit."""
    paths = [f if isinstance(f, str) else getattr(f, "name", None) or getattr(f, "path", "")
             for f in (files or [])]
    return _append(entries, [p for p in paths if p])


def add_url(entries: list[str], url: str | None) -> tuple[list[str], str]:
    url = (url or "").strip()
    if not url:
        return list(entries), "Paste an image URL first."
    if not is_url(url):
        return list(entries), f"{url[:60]!r} is not an http(s) URL."
    return _append(entries, [url])


def _append(entries: list[str], new: list[str]) -> tuple[list[str], str]:
    room = MAX_ENTRIES - len(entries)
    kept = list(entries) + new[:max(room, 0)]
    dropped = len(new) - max(room, 0)
    note = (f"{spec.MODEL_TITLE} takes at most {MAX_ENTRIES} reference images; "
            f"{dropped} not added.") if dropped > 0 else ""
    return kept, note


def remove(entries: list[str], number: int | None) -> list[str]:
    """Remove entry `number` (1-based, as shown on the page)."""
    index = _index(entries, number)
    return list(entries) if index is None else entries[:index] + entries[index + 1:]


def move(entries: list[str], number: int | None, delta: int) -> list[str]:
    index = _index(entries, number)
    if index is None:
        return list(entries)
    target = min(max(index + delta, 0), len(entries) - 1)
    moved = list(entries)
    moved.insert(target, moved.pop(index))
    return moved


def _index(entries: list[str], number: int | None) -> int | None:
    if number is None or not 1 <= int(number) <= len(entries):
        return None
    return int(number) - 1


def label(entries: list[str], number: int) -> str:
    entry = entries[number - 1]
    name = os.path.basename(urlsplit(entry).path) if is_url(entry) else os.path.basename(entry)
    return f"image {number}: {name or entry}"
