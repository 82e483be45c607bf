"""Kept results: every finished run, stored in the app's data directory so it survives a
restart, can be shared by an unguessable link, and downloaded with its session.

One row per result in the app's SQLite database (studio/datadir.py; tables `results` and
`results_meta`) and one folder of files under `<APP_DATA_DIR>/results/<id>/`: the image with
the bytes Wiro returned, and for each uploaded reference image a copy plus a small thumbnail
(URL references are kept as their URL: fetching a visitor's URL on the server is not
something a demo should do). Bounded by `APP_KEEP_RESULTS` (count) and `APP_KEEP_RESULTS_MB`;
the oldest results go first, files and all.

Who sees what: with the owner's key every result's owner is "" (everyone using the demo sees
the recent ones); in bring-your-own-key mode the owner is the visitor's browser id, so a
visitor's results are theirs alone until they share one. Ids, tokens and file names are all
made here; text from a visitor is only ever compared with them, never used as a path.
"""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from PIL import Image

from wiro import spec

from .config import Config
from .datadir import Database, open_database
from .record import RunRecord

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY,          -- also the folder name under results/
    created REAL NOT NULL,
    owner TEXT NOT NULL,          -- '' = everyone (owner's key); else a browser id
    browser TEXT NOT NULL,        -- the browser that made it: may delete it
    session TEXT NOT NULL,        -- the tab that made it: "Download this session"
    task_id TEXT NOT NULL,
    image TEXT NOT NULL,          -- file name inside the result's folder
    bytes INTEGER NOT NULL,       -- every file of the result, for the megabyte cap
    record TEXT NOT NULL,         -- JSON: inputs, details, references
    share_token TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS results_by_created ON results(created);
CREATE INDEX IF NOT EXISTS results_by_owner ON results(owner, created);
CREATE INDEX IF NOT EXISTS results_by_session ON results(session, created);
CREATE TABLE IF NOT EXISTS results_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

RESULTS_FOLDER = "results"
THUMB_EDGE = 256
# secrets.token_urlsafe(16): 128 random bits in 22 characters. Anything else is not a token.
TOKEN_BYTES = 16
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
ID_PATTERN = re.compile(r"[0-9a-f]{20}")
BROWSER_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
_EXTENSION = re.compile(r"[a-z0-9]{1,5}")


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
    task_id: str
    image: str
    bytes: int
    share_token: str | None
    record: dict = field(default_factory=dict)

    @property
    def inputs(self) -> dict:
        return self.record.get("inputs") or {}

    @property
    def details(self) -> dict:
        return self.record.get("details") or {}

    @property
    def references(self) -> list[dict]:
        return list(self.inputs.get(spec.INPUT_IMAGE.name) or [])

    @property
    def prompt(self) -> str:
        return str(self.inputs.get(spec.PROMPT.name) or "")

    def as_json(self) -> dict:
        """Every input and result field, as runs.json carries them."""
        return {"task_id": self.task_id, "finished_at": self.created,
                "finished_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                 time.gmtime(self.created)),
                "inputs": self.inputs, "result": self.details,
                "estimate_usd": self.record.get("estimate_usd")}


def _row(row) -> Result:
    return Result(id=row["id"], created=row["created"], owner=row["owner"],
                  browser=row["browser"], session=row["session"], task_id=row["task_id"],
                  image=row["image"], bytes=row["bytes"], share_token=row["share_token"],
                  record=json.loads(row["record"]))


def _thumbnail_name(image: Path, number: int) -> str | None:
    """Where a reference's thumbnail goes: PNG where there may be transparency, else JPEG.
    Opening reads the header only; None when Pillow cannot read the file at all."""
    try:
        with Image.open(image) as im:
            alpha = im.mode in {"RGBA", "LA", "PA", "P"} or "transparency" in im.info
    except (OSError, ValueError):
        return None
    return f"refs/{number}-thumb.{'png' if alpha else 'jpg'}"


def _make_thumbnail(source: Path, target: Path) -> int:
    """A small copy for pages and contact sheets; returns its size in bytes."""
    partial = target.with_name(target.name + ".partial")
    with Image.open(source) as im:
        # reducing_gap=1: a JPEG decodes at up to 1/8 of its size; a thumbnail needs no more.
        im.thumbnail((THUMB_EDGE, THUMB_EDGE), reducing_gap=1.0)
        if target.suffix == ".png":
            im.convert("RGBA").save(partial, "PNG")
        else:
            im.convert("RGB").save(partial, "JPEG", quality=80)
    os.replace(partial, target)
    return target.stat().st_size


def _extension(name: str, fallback: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return ext if _EXTENSION.fullmatch(ext) else fallback


class ResultStore:
    def __init__(self, directory: str | os.PathLike, settings: Config | None = None,
                 database: Database | None = None):
        self.settings = settings or Config()
        self.db = database or open_database(directory)
        self.db.ensure(SCHEMA)
        self.root = (Path(self.db.directory) / RESULTS_FOLDER).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._browsers: OrderedDict[str, str] = OrderedDict()  # tab -> browser id
        self._thumbnailer = ThreadPoolExecutor(1, thread_name_prefix="thumbnails")
        self._pending: list = []
        self._thumb_lock = threading.Lock()
        self._pending_lock = threading.Lock()
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

    def owner_for(self, browser: str, session: str) -> str:
        if not self.settings.bring_your_own_key:
            return ""
        # No browser id (yet): private to the tab, never shown to anyone else.
        return browser if valid_browser(browser) else f"tab:{session}"

    # --- keeping -----------------------------------------------------------------------------

    def keep(self, session: str, inputs: Mapping[str, Any], details: Mapping[str, Any],
             image: str | os.PathLike, estimate_usd: float | None = None) -> Result:
        """Store a finished run: the image file as saved from Wiro, every input, thumbnails."""
        browser = self.browser_of(session)
        rid = secrets.token_hex(10)
        staging = self.root / f".{rid}.partial"
        staging.mkdir()
        try:
            source = Path(image)
            image_name = "image." + _extension(source.name, str(details.get("format") or "png"))
            shutil.copyfile(source, staging / image_name)
            refs = self._keep_references(staging, inputs.get(spec.INPUT_IMAGE.name) or [])
            size = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
            recorded = {name: inputs.get(name) for name in (f.name for f in spec.INPUTS)}
            recorded[spec.INPUT_IMAGE.name] = refs
            if details.get("seed") is not None:
                recorded[spec.SEED.name] = details["seed"]  # the seed really used
            record = {"inputs": recorded, "details": dict(details), "estimate_usd": estimate_usd}
            staging.rename(self.root / rid)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        created = time.time()
        self.db.execute(
            "INSERT INTO results(id, created, owner, browser, session, task_id, image, bytes, "
            "record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rid, created, self.owner_for(browser, session), browser, session,
             str(details.get("task_id", "")), image_name, size, json.dumps(record)))
        self.prune()
        # Thumbnails after the row: decoding a 12 MP upload takes longer than all the rest,
        # and nobody looks at them before the run's page has updated.
        with self._pending_lock:
            self._pending = [f for f in self._pending if not f.done()] + [
                self._thumbnailer.submit(self._thumbnail, rid, ref)
                for ref in refs if ref.get("thumb")]
        return self.get(rid) or Result(rid, created, "", browser, session,
                                       str(details.get("task_id", "")), image_name, size, None,
                                       record)

    def _keep_references(self, folder: Path, images) -> list[dict]:
        kept = []
        refs = folder / "refs"
        for number, ref in enumerate(images if isinstance(images, (list, tuple)) else [images],
                                     start=1):
            ref = ref if isinstance(ref, str) else getattr(ref, "path", None) or \
                getattr(ref, "name", "")
            if re.match(r"(?i)https?://", ref):
                kept.append({"kind": "url", "url": ref})
                continue
            source = Path(ref)
            entry = {"kind": "upload", "name": source.name}
            if source.is_file():
                refs.mkdir(exist_ok=True)
                copy = refs / f"{number}.{_extension(source.name, 'img')}"
                shutil.copyfile(source, copy)
                entry["file"] = copy.relative_to(folder).as_posix()
                thumb = _thumbnail_name(copy, number)
                if thumb:  # not an image Pillow reads: kept, just not shown small
                    entry["thumb"] = thumb
            kept.append(entry)
        return kept

    def _thumbnail(self, rid: str, ref: Mapping[str, Any]) -> Path | None:
        folder = self.root / rid
        target, source = folder / ref["thumb"], folder / ref.get("file", "")
        with self._thumb_lock:  # the worker and a reader may ask for the same one
            if target.is_file():
                return target
            try:
                size = _make_thumbnail(source, target)
            except (OSError, ValueError):
                return None  # deleted or pruned meanwhile, or not decodable after all
        self.db.execute("UPDATE results SET bytes = bytes + ? WHERE id = ?", (size, rid))
        return target

    def thumbnail(self, result: Result, number: int) -> Path | None:
        """Reference image `number`'s thumbnail (made now if its turn has not come yet)."""
        refs = result.references
        ref = refs[number - 1] if isinstance(number, int) and 1 <= number <= len(refs) else {}
        if not ref.get("thumb") or self.file(result, ref.get("file", "")) is None:
            return None
        self._thumbnail(result.id, ref)
        return self.file(result, ref["thumb"])

    def flush(self) -> None:
        """Wait for the thumbnails still being made (tests, benchmarks, shutdown)."""
        with self._pending_lock:
            pending = list(self._pending)
        for future in pending:
            future.result()

    # --- reading -----------------------------------------------------------------------------

    def get(self, rid: str) -> Result | None:
        if not isinstance(rid, str) or not ID_PATTERN.fullmatch(rid):
            return None
        rows = self.db.query("SELECT * FROM results WHERE id = ?", (rid,))
        return _row(rows[0]) if rows else None

    def by_token(self, token: Any) -> Result | None:
        """The shared result for a link's token; None for anything not a live token."""
        if not self.settings.sharing or not valid_token(token):
            return None
        rows = self.db.query("SELECT * FROM results WHERE share_token = ?", (token,))
        return _row(rows[0]) if rows else None

    def visible_to(self, browser: str, session: str, limit: int = 50) -> list[Result]:
        """Newest first: what this visitor may see (everyone's with the owner's key)."""
        owner = self.owner_for(browser, session)
        rows = self.db.query("SELECT * FROM results WHERE owner = ? ORDER BY created DESC "
                             "LIMIT ?", (owner, limit))
        return [_row(r) for r in rows]

    def of_session(self, session: str) -> list[Result]:
        rows = self.db.query("SELECT * FROM results WHERE session = ? ORDER BY created",
                             (session,))
        return [_row(r) for r in rows]

    def file(self, result: Result, relative: str) -> Path | None:
        """A file of a result, only from inside that result's folder (names come from the
        record this module wrote; the check is there anyway)."""
        folder = (self.root / result.id).resolve()
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder) or not path.is_file():
            return None
        return path

    def usage(self) -> tuple[int, int]:
        row = self.db.query("SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM results")[0]
        return row["n"], row["b"]

    # --- sharing and deleting ----------------------------------------------------------------

    def may_see(self, result: Result, browser: str, session: str) -> bool:
        return result.owner == self.owner_for(browser, session)

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

    def delete(self, result: Result) -> None:
        """The row first, so a link stops working before its files go."""
        self.db.execute("DELETE FROM results WHERE id = ?", (result.id,))
        shutil.rmtree(self.root / result.id, ignore_errors=True)

    def prune(self) -> int:
        """Oldest first until both caps hold; returns how many results went."""
        count_cap = self.settings.keep_results
        byte_cap = int(self.settings.keep_results_mb * 1024 * 1024)
        count, total = self.usage()
        if (not count_cap or count <= count_cap) and (not byte_cap or total <= byte_cap):
            return 0
        removed = 0
        for row in self.db.query("SELECT id, bytes FROM results ORDER BY created"):
            if (not count_cap or count <= count_cap) and (not byte_cap or total <= byte_cap):
                break
            self.db.execute("DELETE FROM results WHERE id = ?", (row["id"],))
            shutil.rmtree(self.root / row["id"], ignore_errors=True)
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


def keep(session: str, record: RunRecord) -> Result:
    """Keep a finished run (storage trouble raises: the page logs it and goes on)."""
    return store().keep(session, record.values(), record.details(), record.image,
                        record.estimate_usd)
