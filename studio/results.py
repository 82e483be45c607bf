"""Kept results: every finished run (a `RunRecord`), stored in the app's data directory so it
survives a restart, can be shared by an unguessable link, and downloaded with its session.

One row per result in the app's SQLite database (studio/datadir.py; tables `results` and
`results_meta`) and one folder of files under `<APP_DATA_DIR>/results/<id>/`: the image with
the bytes Wiro returned and, for each uploaded reference, the copy that was sent to Wiro
(already shrunk to what the model uses) as `refs/<n>/<name>` with a thumbnail beside it,
`refs/<n>-thumb.jpg|png`. URL references are kept as their URL (fetching a visitor's URL on
the server is not something a demo should do). The row's record holds paths relative to the
folder; `Result.record` has them as this server's paths.

Bounds: `APP_KEEP_RESULTS` (count) and `APP_KEEP_RESULTS_MB` (the oldest go first, files and
all), and per result `APP_KEEP_RESULT_MB` (at most a tenth of the store): a result over it
keeps its image and thumbnails without the reference copies, so one run never evicts more
than its share. Thumbnails are made once per sent copy, from at most a sent copy's pixels,
in the thread that keeps the run (never on the event loop).

Who sees what: a result belongs to the browser that made it (its random id, kept in the
browser's local storage; the tab until it has one), in every mode: only that browser lists,
shares and deletes it, until it shares a link. `APP_PUBLIC_GALLERY=1` lists everyone's recent
results to every visitor. Ids, tokens and file names are all made here; text from a visitor
is only ever compared with them, never used as a path.
"""
from __future__ import annotations

import functools
import io
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PIL import Image

from wiro import spec, uploads

from .config import Config
from .datadir import Database, open_database
from .record import Reference, RunRecord

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY,          -- also the folder name under results/
    created REAL NOT NULL,
    owner TEXT NOT NULL,          -- the browser id (or tab:<session>) that may list it
    browser TEXT NOT NULL,        -- the browser that made it: may delete it
    session TEXT NOT NULL,        -- the tab that made it: "Download this session"
    task_id TEXT NOT NULL,
    image TEXT NOT NULL,          -- file name inside the result's folder
    bytes INTEGER NOT NULL,       -- every file of the result, for the megabyte caps
    record TEXT NOT NULL,         -- RunRecord.as_json(), paths relative to the folder
    share_token TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS results_by_created ON results(created);
CREATE INDEX IF NOT EXISTS results_by_owner ON results(owner, created);
CREATE INDEX IF NOT EXISTS results_by_session ON results(session, created);
CREATE TABLE IF NOT EXISTS results_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

RESULTS_FOLDER = "results"
MB = 1024 * 1024
THUMB_EDGE = 256
# A sent copy is at most 4 MP (wiro.uploads); a thumbnail never decodes more than that.
THUMB_MAX_PIXELS = int(uploads.MAX_REFERENCE_MEGAPIXELS * 1_000_000 * 1.05)
THUMB_CACHE = 256  # thumbnails remembered by sent copy: side by side keeps each ref N times
# secrets.token_urlsafe(16): 128 random bits in 22 characters. Anything else is not a token.
TOKEN_BYTES = 16
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
ID_PATTERN = re.compile(r"[0-9a-f]{20}")
BROWSER_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
_EXTENSION = re.compile(r"[a-z0-9]{1,5}")
_UNSAFE = re.compile(r"[^A-Za-z0-9 _.()-]")


def valid_token(token: Any) -> bool:
    return isinstance(token, str) and TOKEN_PATTERN.fullmatch(token) is not None


def valid_browser(browser: Any) -> bool:
    return isinstance(browser, str) and BROWSER_PATTERN.fullmatch(browser) is not None


def new_browser_id() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class Result:
    id: str
    created: float
    owner: str
    browser: str
    session: str
    bytes: int
    share_token: str | None
    record: RunRecord  # paths are this server's (inside the result's folder)

    @property
    def task_id(self) -> str:
        return self.record.task_id

    @property
    def prompt(self) -> str:
        return self.record.prompt

    @property
    def references(self) -> tuple[Reference, ...]:
        return self.record.references


def _legacy(data: dict, image: str) -> dict:
    """A row written before results held a RunRecord: {"inputs", "details", ...}."""
    inputs = dict(data.get("inputs") or {})
    details = data.get("details") or {}
    refs = [{"kind": r.get("kind", "upload"), "url": r.get("url", ""),
             "name": r.get("name", ""), "path": r.get("file", "")}
            for r in inputs.pop(spec.INPUT_IMAGE.name, None) or [] if isinstance(r, dict)]
    return {"task_id": str(details.get("task_id", "")), "inputs": inputs, "references": refs,
            "image": image, "width": details.get("width") or 0,
            "height": details.get("height") or 0, "format": details.get("format") or "",
            "bytes": details.get("bytes") or 0, "cost_usd": details.get("cost_usd") or 0.0,
            "estimate_usd": data.get("estimate_usd"),
            "simulated": bool(details.get("simulated", False)),
            "wiro_seconds": details.get("wiro_seconds") or 0.0,
            "total_seconds": details.get("total_seconds") or 0.0}


def _row(row, root: Path) -> Result:
    data = json.loads(row["record"])
    if "details" in data:
        data = _legacy(data, row["image"])
    data.setdefault("finished_at", row["created"])
    folder = root / row["id"]
    record = RunRecord.from_json(data)
    record = record.moved(image=str(folder / record.image), references=tuple(
        replace(r, path=str(folder / r.path) if r.path else "") for r in record.references))
    return Result(id=row["id"], created=row["created"], owner=row["owner"],
                  browser=row["browser"], session=row["session"], bytes=row["bytes"],
                  share_token=row["share_token"], record=record)


def _extension(name: str, fallback: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return ext if _EXTENSION.fullmatch(ext) else fallback


def _copy_name(ref: Reference) -> str:
    """The visitor's file name (so a restored reference is captioned as they uploaded it),
    with the extension of what was really sent."""
    stem = _UNSAFE.sub("_", Path(ref.name).stem)[:80].strip(" .") or "image"
    return f"{stem}.{_extension(ref.path, 'img')}"


def _link_or_copy(source: str | os.PathLike, target: Path) -> None:
    """A hard link where the file system allows (side by side keeps one copy N times)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def make_thumbnail(source: str | os.PathLike) -> tuple[str, bytes] | None:
    """(".jpg" or ".png", bytes) of a small copy; None for a file that is not an image, or
    holds more pixels than any sent copy does (never decoded)."""
    try:
        with Image.open(source) as im:
            if im.width * im.height > THUMB_MAX_PIXELS:
                return None
            alpha = im.mode in {"RGBA", "LA", "PA", "P"} or "transparency" in im.info
            # draft: a JPEG decodes at 1/2..1/8 scale; reduce does the rest of the shrinking.
            im.thumbnail((THUMB_EDGE, THUMB_EDGE), reducing_gap=2.0)
            out = io.BytesIO()
            if alpha:
                im.convert("RGBA").save(out, "PNG")
            else:
                im.convert("RGB").save(out, "JPEG", quality=80)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return (".png" if alpha else ".jpg"), out.getvalue()


@functools.lru_cache(maxsize=THUMB_CACHE)
def _thumbnail(path: str, size: int, mtime_ns: int) -> tuple[str, bytes] | None:
    return make_thumbnail(path)  # size and mtime: a changed file is a new key


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class ResultStore:
    def __init__(self, directory: str | os.PathLike, settings: Config | None = None,
                 database: Database | None = None):
        self.settings = settings or Config()
        self.db = database or open_database(directory)
        self.db.ensure(SCHEMA)
        self.root = (Path(self.db.directory) / RESULTS_FOLDER).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._browsers: OrderedDict[str, str] = OrderedDict()  # tab -> browser id
        self._lock = threading.Lock()
        self._sweep_orphans()

    # --- who is who ------------------------------------------------------------------------

    def secret(self, name: str) -> str:
        """A random value made once and kept (e.g. the key BrowserState encrypts with, so a
        visitor's browser id still opens after a restart)."""
        rows = self.db.query("SELECT value FROM results_meta WHERE key = ?", (name,))
        if rows:
            return rows[0]["value"]
        self.db.execute("INSERT OR IGNORE INTO results_meta(key, value) VALUES (?, ?)",
                        (name, secrets.token_urlsafe(24)))
        return self.db.query("SELECT value FROM results_meta WHERE key = ?", (name,))[0]["value"]

    def claim(self, session: str, browser: str) -> None:
        """The page tells which browser a tab belongs to (on load, from BrowserState)."""
        if not valid_browser(browser):
            return
        with self._lock:
            self._browsers[session] = browser
            self._browsers.move_to_end(session)
            while len(self._browsers) > 10_000:
                self._browsers.popitem(last=False)

    def browser_of(self, session: str) -> str:
        with self._lock:
            return self._browsers.get(session, "")

    @staticmethod
    def owner_for(browser: str, session: str) -> str:
        # No browser id (yet): private to the tab, never shown to anyone else.
        return browser if valid_browser(browser) else f"tab:{session}"

    # --- keeping -----------------------------------------------------------------------------

    def result_cap(self) -> int:
        """Bytes one result may hold (0 = no cap)."""
        caps = [self.settings.keep_result_mb, self.settings.keep_results_mb / 10]
        caps = [c for c in caps if c > 0]
        return int(min(caps) * MB) if caps else 0

    def keep(self, session: str, record: RunRecord) -> Result:
        """Store a finished run: its image file, the reference copies sent, thumbnails."""
        browser = self.browser_of(session)
        rid = secrets.token_hex(10)
        staging = self.root / f".{rid}.partial"
        staging.mkdir()
        try:
            image_name = "image." + _extension(Path(record.image).name, record.format or "png")
            shutil.copyfile(record.image, staging / image_name)
            refs = self._keep_references(staging, record.references)
            size = self._fit(staging, refs)
            kept = record.moved(image=image_name, references=tuple(refs))
            staging.rename(self.root / rid)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        created = time.time()
        self.db.execute(
            "INSERT INTO results(id, created, owner, browser, session, task_id, image, bytes, "
            "record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rid, created, self.owner_for(browser, session), browser, session, kept.task_id,
             image_name, size, json.dumps(kept.as_json())))
        self.prune(keep=rid)
        return self.get(rid)

    def _keep_references(self, folder: Path, references) -> list[Reference]:
        kept = []
        for number, ref in enumerate(references, start=1):
            if ref.kind != "upload" or not ref.path or not os.path.isfile(ref.path):
                kept.append(replace(ref, path=""))
                continue
            relative = f"refs/{number}/{_copy_name(ref)}"
            _link_or_copy(ref.path, folder / relative)
            thumb = self._thumbnail_of(ref.path)
            if thumb:  # not an image Pillow reads: kept, just not shown small
                (folder / f"refs/{number}-thumb{thumb[0]}").write_bytes(thumb[1])
            kept.append(replace(ref, path=relative))
        return kept

    @staticmethod
    def _thumbnail_of(path: str) -> tuple[str, bytes] | None:
        """Made once per sent copy: a side-by-side batch keeps the same references N times."""
        stat = os.stat(path)
        return _thumbnail(os.path.realpath(path), stat.st_size, stat.st_mtime_ns)

    def _fit(self, folder: Path, refs: list[Reference]) -> int:
        """Hold the result to its cap: reference copies go, largest first (their thumbnails
        stay). Returns the folder's bytes; raises if even the image is over."""
        size, cap = _size(folder), self.result_cap()
        copies = sorted((i for i, r in enumerate(refs) if r.path),
                        key=lambda i: (folder / refs[i].path).stat().st_size, reverse=True)
        for index in copies:
            if not cap or size <= cap:
                break
            path = folder / refs[index].path
            size -= path.stat().st_size
            path.unlink()
            refs[index] = replace(refs[index], path="")
        if cap and size > cap:
            raise ValueError(f"its image alone is over APP_KEEP_RESULT_MB ({size:,} bytes)")
        return size

    # --- reading -----------------------------------------------------------------------------

    def _select(self, where: str, *params: Any) -> list[Result]:
        return [_row(r, self.root) for r in
                self.db.query(f"SELECT * FROM results {where}", params)]

    def get(self, rid: str) -> Result | None:
        if not isinstance(rid, str) or not ID_PATTERN.fullmatch(rid):
            return None
        return next(iter(self._select("WHERE id = ?", rid)), None)

    def by_token(self, token: Any) -> Result | None:
        """The shared result for a link's token; None for anything not a live token."""
        if not self.settings.sharing or not valid_token(token):
            return None
        return next(iter(self._select("WHERE share_token = ?", token)), None)

    def visible_to(self, browser: str, session: str, limit: int = 50) -> list[Result]:
        """Newest first: this browser's own results (everyone's with a public gallery)."""
        if self.settings.public_gallery:
            return self._select("ORDER BY created DESC LIMIT ?", limit)
        return self._select("WHERE owner = ? ORDER BY created DESC LIMIT ?",
                            self.owner_for(browser, session), limit)

    def of_session(self, session: str) -> list[Result]:
        return self._select("WHERE session = ? ORDER BY created", session)

    def file(self, result: Result, path: str | os.PathLike) -> Path | None:
        """A file of a result, only from inside that result's folder (paths come from the
        record this module wrote; the check is there anyway)."""
        if not path:
            return None
        folder = (self.root / result.id).resolve()
        found = (folder / path).resolve()
        if not found.is_relative_to(folder) or not found.is_file():
            return None
        return found

    def image(self, result: Result) -> Path | None:
        return self.file(result, result.record.image)

    def thumbnail(self, result: Result, number: Any) -> Path | None:
        """Reference image `number`'s thumbnail, if it has one (never made here: reading a
        result decodes nothing)."""
        if not isinstance(number, int) or not 1 <= number <= len(result.references):
            return None
        for suffix in (".jpg", ".png"):
            found = self.file(result, f"refs/{number}-thumb{suffix}")
            if found:
                return found
        return None

    def usage(self) -> tuple[int, int]:
        row = self.db.query("SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM results")[0]
        return row["n"], row["b"]

    # --- sharing and deleting ----------------------------------------------------------------

    def may_see(self, result: Result, browser: str, session: str) -> bool:
        return (self.settings.public_gallery
                or result.owner == self.owner_for(browser, session))

    def may_delete(self, result: Result, browser: str, session: str) -> bool:
        return result.session == session or (valid_browser(browser) and
                                             result.browser == browser)

    def share(self, result: Result) -> str:
        """The result's link token, made on first share and kept after."""
        if not self.settings.sharing:
            raise PermissionError("sharing is turned off")
        if result.share_token:
            return result.share_token
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self.db.execute("UPDATE results SET share_token = COALESCE(share_token, ?) WHERE id = ?",
                        (token, result.id))
        return self.get(result.id).share_token

    def delete(self, result: Result | str) -> None:
        """The row first, so a link stops working before its files go."""
        rid = result if isinstance(result, str) else result.id
        self.db.execute("DELETE FROM results WHERE id = ?", (rid,))
        shutil.rmtree(self.root / rid, ignore_errors=True)

    def prune(self, keep: str | None = None) -> int:
        """Oldest first until both caps hold, never `keep` (the result just kept: it is
        within its own cap, a tenth of the store); returns how many results went."""
        count_cap = self.settings.keep_results
        byte_cap = int(self.settings.keep_results_mb * MB)
        count, total = self.usage()
        removed = 0
        for row in self.db.query("SELECT id, bytes FROM results ORDER BY created"):
            if (not count_cap or count <= count_cap) and (not byte_cap or total <= byte_cap):
                break
            if row["id"] == keep:
                continue
            self.delete(row["id"])
            count, total, removed = count - 1, total - row["bytes"], removed + 1
        return removed

    def _sweep_orphans(self) -> None:
        """Folders left by a crash between writing files and the row (or the reverse)."""
        known = {r["id"] for r in self.db.query("SELECT id FROM results")}
        for path in self.root.iterdir():
            if path.is_dir() and path.name not in known:
                shutil.rmtree(path, ignore_errors=True)


# --- the app's one store -------------------------------------------------------------------

_store: ResultStore | None = None
_store_lock = threading.Lock()


def open_store(config: Config) -> ResultStore:
    """Open the process's store in the app's data directory (once, at start)."""
    global _store
    with _store_lock:
        if _store is None:
            _store = ResultStore(config.data_dir, config)
        return _store


def store() -> ResultStore:
    """The process's store (`open_store` has run at start)."""
    if _store is None:
        raise RuntimeError("the result store is opened at start (results.open_store)")
    return _store
