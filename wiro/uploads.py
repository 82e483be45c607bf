"""Lighter uploads: reference images are sent no larger than the model uses them.

FLUX.2 [pro] takes at most `spec.MAX_INPUT_MEGAPIXELS` (9 MP) of reference images in all,
and makes images of at most 4 MP, so detail beyond that in one reference is never used.
`prepare_references` shrinks uploaded files to fit both (keeping their aspect ratio,
applying their EXIF orientation, never enlarging) and returns the list in the same order;
URLs are left alone (Wiro fetches them itself). Files that already fit, and are upright,
are returned untouched, byte for byte.

Photos are re-encoded as JPEG (quality 90), images with transparency as PNG. The copies go
to a cache folder named after the source file, its size and mtime, so sending the same
inputs again (another seed, a restored run) reuses them.

Megapixels here are millions of pixels, the unit of BFL's 9 MP limit and of
`wiro.validation`'s check of it.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import os
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from PIL import Image, ImageOps

from . import spec
from .errors import InvalidInputError
from .validation import ImageFile, ImageUrl, RunRequest

# The largest image FLUX.2 [pro] makes is 4 MP; a reference beyond that adds bytes, not detail.
MAX_REFERENCE_MEGAPIXELS = 4.0
JPEG_QUALITY = 90
_PIXELS_PER_MP = 1_000_000
# EXIF orientations 5-8 turn the image a quarter: width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112

_cache_lock = threading.Lock()
_default_cache: Path | None = None


def default_cache_dir() -> Path:
    """One temporary folder per process for the shrunk copies."""
    global _default_cache
    with _cache_lock:
        if _default_cache is None or not _default_cache.is_dir():
            _default_cache = Path(tempfile.mkdtemp(prefix="flux2pro-references-"))
        return _default_cache


# --- sizes (pure) -------------------------------------------------------------------------

def target_sizes(sizes: Sequence[tuple[int, int]], *,
                 max_each_mp: float = MAX_REFERENCE_MEGAPIXELS,
                 max_total_mp: float = spec.MAX_INPUT_MEGAPIXELS) -> list[tuple[int, int]]:
    """The size to send each image at: within `max_each_mp` each and `max_total_mp` together.

    Every image is first capped on its own; if the capped images still add up to more than
    the total, all of them are shrunk by the same area factor. Aspect ratios are kept (to
    within a pixel) and nothing is ever enlarged.
    """
    caps = [min(w * h, max_each_mp * _PIXELS_PER_MP) for w, h in sizes]
    total = sum(caps)
    factor = min(1.0, max_total_mp * _PIXELS_PER_MP / total) if total else 1.0
    targets = []
    for (w, h), cap in zip(sizes, caps):
        area = cap * factor
        if area >= w * h:
            targets.append((w, h))
            continue
        scale = math.sqrt(area / (w * h))
        targets.append((max(1, math.floor(w * scale)), max(1, math.floor(h * scale))))
    return targets


# --- files ---------------------------------------------------------------------------------

def is_url(entry: Any) -> bool:
    return isinstance(entry, str) and urlsplit(entry.strip()).scheme.lower() in {"http",
                                                                                 "https"}


def _path_of(entry: Any) -> str | None:
    """The local file an entry names, or None for URLs and anything unreadable."""
    if isinstance(entry, ImageUrl) or is_url(entry):
        return None
    if isinstance(entry, ImageFile):
        return entry.path
    if isinstance(entry, os.PathLike):
        return os.fspath(entry)
    if isinstance(entry, dict):
        entry = entry.get("path")
    elif not isinstance(entry, str):
        entry = getattr(entry, "path", None)
    if isinstance(entry, str) and entry.strip() and "://" not in entry:
        return entry.strip()
    return None


@dataclass(frozen=True)
class _Header:
    """What the first bytes of an image file tell: enough to plan without decoding it."""

    size: tuple[int, int]  # upright, after the EXIF orientation
    orientation: int
    format: str


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation, from what opening the file has read: Pillow's PNG getexif()
    decodes the whole image to look for an eXIf chunk after the pixels (seconds for a big
    one), so for PNG only a chunk before the pixels counts."""
    if im.format == "PNG" and "exif" not in im.info:
        return 1
    try:
        return int(im.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except (TypeError, ValueError, SyntaxError, OSError):
        return 1


def _read_header(path: str) -> _Header | None:
    try:
        with Image.open(path) as im:
            width, height = im.size
            if width * height > spec.MAX_UPLOAD_PIXELS:
                return None  # left for validation to refuse as too large
            orientation = _orientation(im)
            fmt = im.format or ""
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # validation says what is wrong with it
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    return _Header((width, height), orientation, fmt)


def _targets(headers: Sequence[_Header | None], **limits: float) -> list[tuple[int, int] | None]:
    """`target_sizes` for the readable images, None in the others' places."""
    targets = iter(target_sizes([h.size for h in headers if h], **limits))
    return [next(targets) if h else None for h in headers]


def sent_sizes(images: Sequence[Any] | None, **limits: float) -> list[tuple[int, int] | None]:
    """The size each reference will be sent at, None for URLs (and unreadable files).
    Reads only the files' headers: cheap enough to run on every input change."""
    return _targets([_read_header(p) if (p := _path_of(e)) else None for e in images or []],
                    **limits)


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info)


def _copy_path(path: str, target: tuple[int, int], cache_dir: Path) -> Path:
    info = os.stat(path)
    key = f"{os.path.realpath(path)}|{info.st_size}|{info.st_mtime_ns}|{target}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return cache_dir / digest / Path(path).stem


def shrink(path: str, target: tuple[int, int], cache_dir: str | Path | None = None) -> str:
    """An upright copy of `path` at `target` (width, height): JPEG, or PNG if transparent."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    stem = _copy_path(path, target, cache)
    for ext in (".jpg", ".png"):
        done = stem.with_name(stem.name + ext)
        if done.is_file():
            with contextlib.suppress(OSError):
                os.utime(done)  # in use again: pruning goes by last use
            return str(done)
    with Image.open(path) as im:
        if im.width * im.height > spec.MAX_UPLOAD_PIXELS:  # decoding is bounded by the header
            raise ValueError(f"{im.width}×{im.height} is over the upload limit")
        orientation = _orientation(im)
        # JPEG can decode at 1/2, 1/4 or 1/8 scale: much faster for a large photo.
        stored = target[::-1] if orientation in _QUARTER_TURNS else target
        im.draft("RGB", stored)
        im.load()
        icc = im.info.get("icc_profile")
        # Turned as planned from the header (a PNG's late eXIf chunk is not looked at).
        upright = ImageOps.exif_transpose(im) if orientation != 1 else im.copy()
    alpha = _has_alpha(upright)
    upright = upright.convert("RGBA" if alpha else "RGB")
    if upright.size != target:
        upright = upright.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = stem.with_name(stem.name + (".png" if alpha else ".jpg"))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}.part")
    options: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if alpha:
        upright.save(partial, "PNG", **options)
    else:
        upright.save(partial, "JPEG", quality=JPEG_QUALITY, **options)
    os.replace(partial, out)  # whole or absent, even with two runs preparing at once
    return str(out)


# --- the cache of shrunk copies: pruned like Gradio's own (files unused for an hour go), and
# by bytes with the app's other temporary files (`prune_oldest`, studio/bounds.py) ----------

CACHE_MAX_AGE_SECONDS = 3600.0
PRUNE_EVERY_SECONDS = 600.0
_last_prune = 0.0


def prune_cache(cache_dir: str | Path | None = None, *,
                max_age_seconds: float = CACHE_MAX_AGE_SECONDS,
                now: float | None = None) -> int:
    """Delete shrunk copies not used for `max_age_seconds`; returns how many went."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    now = time.time() if now is None else now
    removed = 0
    for folder in list(cache.iterdir()) if cache.is_dir() else []:
        if not folder.is_dir() or folder.is_symlink():
            continue
        for file in list(folder.iterdir()):
            try:
                if now - file.stat().st_mtime >= max_age_seconds:
                    file.unlink()
                    removed += 1
            except OSError:
                continue
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if now empty
    return removed


def prune_oldest(folders: Sequence[str | Path], *, max_bytes: float,
                 min_age_seconds: float = 0.0, now: float | None = None) -> int:
    """Delete files in `folders`, least recently written first, until those left add up to
    `max_bytes` or less; a file written in the last `min_age_seconds` stays (a run may be
    about to read it). Returns the bytes left. Links are never followed."""
    now = time.time() if now is None else now
    files, total = [], 0
    roots = {os.path.abspath(f) for f in folders}
    for folder in folders:
        for directory, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(directory, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    files.append((info.st_mtime, info.st_size, path))
                    total += info.st_size
    for mtime, size, path in sorted(files):
        if total <= max_bytes or now - mtime < min_age_seconds:
            break  # sorted: every file after this one is newer still
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size
        parent = os.path.dirname(path)
        if os.path.abspath(parent) not in roots:
            with contextlib.suppress(OSError):
                os.rmdir(parent)  # Gradio keeps each file in a folder of its own
    return total


def _maybe_prune(cache_dir: str | Path | None) -> None:
    global _last_prune
    now = time.monotonic()
    with _cache_lock:
        if now - _last_prune < PRUNE_EVERY_SECONDS:
            return
        _last_prune = now
    prune_cache(cache_dir)


def prepare_references(images: Sequence[Any] | None, *, cache_dir: str | Path | None = None,
                       max_each_mp: float = MAX_REFERENCE_MEGAPIXELS,
                       max_total_mp: float = spec.MAX_INPUT_MEGAPIXELS) -> list[Any]:
    """The same references in the same order, uploads shrunk to what the model uses.

    URLs and files that already fit (and need no turning) come back unchanged; the others
    are replaced by the path of a shrunk, upright copy. Anything unreadable is passed on
    as it was, for validation to report.
    """
    entries = list(images or [])
    paths = [_path_of(e) for e in entries]
    if any(paths):
        _maybe_prune(cache_dir)
    headers = [_read_header(p) if p else None for p in paths]
    targets = _targets(headers, max_each_mp=max_each_mp, max_total_mp=max_total_mp)
    prepared: list[Any] = []
    for entry, path, header, target in zip(entries, paths, headers, targets):
        if header is None or (target == header.size and header.orientation == 1):
            prepared.append(entry)
            continue
        try:
            prepared.append(shrink(path, target, cache_dir))
        except (OSError, ValueError, SyntaxError):
            prepared.append(entry)  # a file that reads but does not decode: validation says so
    return prepared


def prepare(request: RunRequest, *, cache_dir: str | Path | None = None) -> RunRequest:
    """The request as it will be sent: each uploaded file shrunk and turned upright where it
    needs it (`prepare_references`), and every file decoded once here — draft-bounded for a
    large JPEG — so a damaged one is refused before anything is paid for. Raises
    InvalidInputError naming the file. URLs are left alone."""
    paths = [i.path for i in request.images if isinstance(i, ImageFile)]
    if not paths:
        return request
    sent = iter(prepare_references(paths, cache_dir=cache_dir))
    images, problems = [], []
    for number, image in enumerate(request.images, start=1):
        if not isinstance(image, ImageFile):
            images.append(image)
            continue
        path = next(sent)
        try:
            with Image.open(path) as im:
                if im.width * im.height > spec.MAX_UPLOAD_PIXELS:
                    raise ValueError("too many pixels")
                if path == image.path:
                    im.load()  # an untouched original is proven whole (a copy we made is)
                images.append(ImageFile(path, im.width, im.height, im.format or image.format))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            problems.append(f"{spec.INPUT_IMAGE.label} {number} ({image.filename}) is damaged "
                            "or cut short; upload a PNG, JPEG or WebP image.")
    if problems:
        raise InvalidInputError(problems)
    return RunRequest(params=dict(request.params), images=tuple(images))
