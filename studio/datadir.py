"""The app's data directory: what must survive a restart (task journal, spend ledger, kept
results) lives here, in one SQLite database plus files.

`APP_DATA_DIR` (default `./.data`; `/data` on a Space with persistent storage). Each feature
owns its own tables and creates them with `CREATE TABLE IF NOT EXISTS` through `Database.
ensure`, so there is no central schema to keep in step; they share one file and one lock.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

DATABASE_NAME = "app.sqlite3"


class Database:
    """One SQLite connection shared by the app's threads, serialised by a lock.

    SQLite's own locking would allow a connection per thread, but the app's writes are tiny
    and rare (a row per run), so one connection behind a lock is simpler and never sees
    "database is locked"."""

    def __init__(self, directory: str | os.PathLike | None):
        """`directory` None: a private in-memory database (unit tests, one-off scripts)."""
        self.directory = Path(directory).resolve() if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DATABASE_NAME if self.directory is not None else None
        self._conn = sqlite3.connect(self.path or ":memory:", check_same_thread=False,
                                     isolation_level=None, timeout=10)
        self._conn.row_factory = sqlite3.Row
        if self.path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()

    def ensure(self, schema: str) -> None:
        """Run a feature's `CREATE TABLE IF NOT EXISTS …` statements."""
        with self._lock:
            self._conn.executescript(schema)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Statements inside run atomically (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | Mapping = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple | Mapping = ()) -> int:
        """One statement in its own transaction; returns the rows it changed."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()


_shared: dict[Path, Database] = {}
_shared_lock = threading.Lock()


def open_database(directory: str | os.PathLike) -> Database:
    """The process's one Database for a directory (the app's: APP_DATA_DIR)."""
    path = Path(directory).resolve()
    with _shared_lock:
        if path not in _shared:
            _shared[path] = Database(path)
        return _shared[path]
