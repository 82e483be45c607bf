"""The crash journal: every paid task the app started, until its run has ended.

A row is written the moment Run answers with a task id and closed when the run ends. If the
process dies in between (SIGKILL, a Space restart) the row stays "running", and the next
start (`recover`, called before the page serves) checks each such task under the owner's
key: a task still going is stopped, a finished one has its cost recorded. A visitor's key is
never stored, so a visitor's task can only be reported.

Lives in the app's one SQLite database (studio/datadir.py).
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .datadir import Database
from .guards import Ledger

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS task_journal (
    taskid TEXT PRIMARY KEY,
    token TEXT NOT NULL DEFAULT '',
    key_kind TEXT NOT NULL CHECK (key_kind IN ('owner', 'visitor')),
    base_url TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL,
    state TEXT NOT NULL,
    cost_usd REAL,
    note TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS task_journal_state ON task_journal (state);
"""

RUNNING = "running"
# A lost Run's task was created within this long of the Run going out (its answer's wait).
LOST_RUN_SECONDS = 120.0
# A Run on its way: Wiro has not named the task yet (the row's taskid is a placeholder).
SENDING = "sending"
# A row ends as what its run did: done, failed or cancelled on Wiro, stopped by this app, or
# (after a crash) finished, reported or gone, as found at the next start.


@dataclass(frozen=True)
class JournalEntry:
    taskid: str
    token: str
    key_kind: str
    base_url: str
    started: float
    state: str
    cost_usd: float | None


class Journal:
    def __init__(self, db: Database):
        self.db = db
        db.ensure(SCHEMA)

    def sending(self, key_kind: str, base_url: str) -> str:
        """Just before Run: a placeholder row, so a crash while Run is on its way is at
        least reported at the next start. Returns the placeholder's id for `started`."""
        placeholder = f"sending-{uuid.uuid4().hex}"
        now = time.time()
        self.db.execute(
            "INSERT INTO task_journal (taskid, key_kind, base_url, started, state, updated)"
            " VALUES (?, ?, ?, ?, ?, ?)", (placeholder, key_kind, base_url, now, SENDING, now))
        return placeholder

    def not_started(self, placeholder: str) -> None:
        """Run answered without starting anything: forget the placeholder."""
        self.db.execute("DELETE FROM task_journal WHERE taskid = ? AND state = ?",
                        (placeholder, SENDING))

    def started(self, taskid: str, token: str, key_kind: str, base_url: str,
                placeholder: str | None = None) -> None:
        now = time.time()
        with self.db.transaction() as db:
            if placeholder:
                db.execute("DELETE FROM task_journal WHERE taskid = ?", (placeholder,))
            db.execute(
                "INSERT OR REPLACE INTO task_journal (taskid, token, key_kind, base_url,"
                " started, state, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (taskid, token, key_kind, base_url, now, RUNNING, now))

    def ended(self, taskid: str, state: str, cost_usd: float | None = None,
              note: str = "") -> None:
        """The run is over. A stop that could not be confirmed leaves the row running, so
        the next start tries again."""
        self.db.execute(
            "UPDATE task_journal SET state = ?, cost_usd = COALESCE(?, cost_usd), note = ?,"
            " updated = ? WHERE taskid = ?", (state, cost_usd, note[:500], time.time(), taskid))

    def task_ids(self) -> set[str]:
        """Every task this app has started (others' are never adopted as a lost Run's)."""
        return {row["taskid"] for row in self.db.query(
            "SELECT taskid FROM task_journal WHERE state != ?", (SENDING,))}

    def _entries(self, column: str, value: str) -> list[JournalEntry]:
        return [JournalEntry(**dict(row)) for row in self.db.query(
            "SELECT taskid, token, key_kind, base_url, started, state, cost_usd FROM task_journal"
            f" WHERE {column} = ? ORDER BY started", (value,))]

    def running(self) -> list[JournalEntry]:
        return self._entries("state", RUNNING)

    def entry(self, taskid: str) -> JournalEntry | None:
        return next(iter(self._entries("taskid", taskid)), None)

    def recover(self, client: Any | None, base_url: str) -> list[str]:
        """Deal with every task a previous process left running; returns what was done.

        `client` is the owner's client (None when there is no owner key, e.g. bring-your-own
        -key or the built-in simulator, whose tasks died with the old process)."""
        lines = []
        for row in self.db.query("SELECT taskid, key_kind, base_url, started FROM task_journal"
                                 " WHERE state = ?", (SENDING,)):
            line = self._look_for_lost(row, client if row["key_kind"] == "owner" and
                                       row["base_url"] == base_url else None)
            log.warning("startup recovery: %s", line)
            lines.append(line)
        for entry in self.running():
            if entry.key_kind != "owner":
                line = (f"Task {entry.taskid} was started with a visitor's key when the app "
                        "stopped; that key is not stored, so it could not be checked or stopped "
                        "(it may have run to the end and been charged to the visitor).")
                self.ended(entry.taskid, "reported", note=line)
            elif client is None or entry.base_url != base_url:
                line = (f"Task {entry.taskid} belonged to another Wiro endpoint "
                        f"({entry.base_url or 'unknown'}); it cannot be reached from here.")
                self.ended(entry.taskid, "gone", note=line)
            else:
                line = self._settle(client, entry)
            log.warning("startup recovery: %s", line)
            lines.append(line)
        return lines

    def _look_for_lost(self, row: Any, client: Any | None) -> str:
        """A Run that never named its task (the app stopped, or its answer was lost): look
        for the task in Task/List with the owner's key, and stop it (nobody waits for it)."""
        reason = "its key is not the owner's, or it went to another Wiro"
        if client is not None:
            search = client.search_lost_task(
                row["started"], until=row["started"] + LOST_RUN_SECONDS, exclude=self.task_ids())
            if search.task is not None:
                outcome = client.stop(search.task.id)
                done = {"already_ended": "had finished", "unconfirmed": "could not be stopped"}
                line = (f"A Run whose answer never came: Task/List found task {search.task.id}, "
                        f"which {done.get(outcome.action, 'was ' + outcome.action)}"
                        + (f" (charged ${outcome.charged_usd:.4f})" if outcome.charged_usd
                           else "") + ".")
                # Its estimate stays on the ledger (the row never learned its task id).
                self.ended(row["taskid"], "stopped" if outcome.confirmed else "reported",
                           outcome.charged_usd, line)
                return line
            reason = search.reason
        line = ("A Run was on its way to Wiro when its answer was lost or the app stopped; "
                f"Wiro may have started (and charged) a task it never named ({reason}) — "
                "check your Wiro dashboard.")
        self.ended(row["taskid"], "reported", note=line)
        return line

    def _settle(self, client: Any, entry: JournalEntry) -> str:
        outcome = client.stop(entry.taskid)
        task = outcome.task
        cost = task.total_cost if task is not None else None
        if cost is not None:  # today's spending: Wiro's charge replaces the estimate
            Ledger(self.db).charged(entry.taskid, cost, by="task_id")
        if outcome.action == "already_ended":
            line = (f"Task {entry.taskid} had ended while the app was down "
                    f"({task.status.value if task else 'status unknown'}"
                    f"{f', ${cost:.4f} charged' if cost else ''}).")
            self.ended(entry.taskid, "finished", cost, line)
        elif outcome.confirmed:
            line = f"Task {entry.taskid}, left running by a crash, was {outcome.action}."
            self.ended(entry.taskid, "stopped", cost, line)
        else:
            line = (f"Task {entry.taskid}, left running by a crash, could not be stopped "
                    f"({outcome.error}); it may still be charged. Trying again next start.")
        return line
