"""The app's data directory: what must survive a restart (task journal, spend ledger, kept
results) lives here, in one SQLite database plus files.

`APP_DATA_DIR` (default `./.data`; `/data` on a Space with persistent storage). Each feature
owns its own tables and creates them with `CREATE TABLE IF NOT EXISTS` through `Database.
ensure`, so there is no central schema to keep in step.

Storage never holds up a run or the page: every thread has its own connection (WAL, so
readers never wait for a writer), a locked database is waited for only `BUSY_SECONDS`, and
`safely` turns a failed write into one log line. Async routes never touch the database on
the event loop (they run their handlers in a thread).
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

DATABASE_NAME = "app.sqlite3"
# How long a statement waits for another connection's write lock before it fails: short, so
# a stuck writer (another process, a backup) costs a run a second, not the page its answer.
BUSY_SECONDS = 0.5

T = TypeVar("T")


class Database:
    """One SQLite database, a connection per thread."""

    def __init__(self, directory: str | os.PathLike | None):
        """`directory` None: a private in-memory database (unit tests, one-off scripts)."""
        self.directory = Path(directory).resolve() if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.path = self.directory / DATABASE_NAME
            self._target = str(self.path)
        else:
            self.path = None
            self._target = f"file:memory-{uuid.uuid4().hex}?mode=memory&cache=shared"
        self._local = threading.local()
        self._schemas: list[str] = []
        self._lock = threading.Lock()  # guards _schemas only
        # An in-memory database lives as long as one connection to it: this one.
        self._keep = self._connect() if self.path is None else None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._target, uri=self.path is None, check_same_thread=False,
                               isolation_level=None, timeout=BUSY_SECONDS)
        conn.row_factory = sqlite3.Row
        if self.path is not None:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            schemas = list(self._schemas)
        for schema in schemas:  # a new file (the old one removed) gets its tables again
            conn.executescript(schema)
        return conn

    def _file_id(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_dev, stat.st_ino

    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if self.path is not None and conn is not None and \
                self._local.file != self._file_id():
            # The file was removed or replaced under us: every thread moves to the new one
            # (its tables made again), rather than writing on into a file nobody will read.
            conn.close()
            conn = None
        if conn is None:
            conn = self._local.conn = self._connect()
            self._local.file = self._file_id() if self.path is not None else None
        return conn

    def ensure(self, schema: str) -> None:
        """Run a feature's `CREATE TABLE IF NOT EXISTS …` statements (and on every new
        connection after)."""
        with self._lock:
            if schema not in self._schemas:
                self._schemas.append(schema)
        self._conn.executescript(schema)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Statements inside run atomically (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | Mapping = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple | Mapping = ()) -> int:
        """One statement in its own transaction; returns the rows it changed."""
        return self._conn.execute(sql, params).rowcount

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def safely(what: str, action: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run a bookkeeping write; if storage fails (locked, full, gone) log one line and go on.
    For what must never stop a paid run: the run itself matters more than its records."""
    try:
        return action(*args, **kwargs)
    except (sqlite3.Error, OSError) as exc:
        log.warning("%s was not recorded (%s: %s)", what, type(exc).__name__, exc)
        return None


_shared: dict[Path, Database] = {}
_shared_lock = threading.Lock()


def open_database(directory: str | os.PathLike) -> Database:
    """The process's one Database for a directory (the app's: APP_DATA_DIR)."""
    path = Path(directory).resolve()
    with _shared_lock:
        if path not in _shared:
            _shared[path] = Database(path)
        return _shared[path]
