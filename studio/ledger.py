"""Today's spending, kept where a restart cannot lose it (APP_DATA_DIR's SQLite database).

Every run the owner pays for has one row, from the moment it is admitted:

- `reserved`: admitted with its estimate; nothing sent to Wiro yet.
- `sent`: the Run is on its way (marked just before it goes out). From here Wiro may charge
  whatever happens next (a lost answer, a failed download, a crash), so the estimate stays
  counted until Wiro's own `totalcost` replaces it.
- `charged`: Wiro's `totalcost` is known; it replaces the estimate.

A run that ends before anything was sent, or whose Run Wiro plainly refused, drops its row.
A row left `reserved` by a process that died is kept: over-counting a few cents is the safe
side of a spending cap. The day is the UTC date the run was admitted.
"""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Callable

from .datadir import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS spend_ledger (
    run_id  TEXT PRIMARY KEY,
    day     TEXT NOT NULL,
    usd     REAL NOT NULL,
    state   TEXT NOT NULL CHECK (state IN ('reserved', 'sent', 'charged')),
    task_id TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_ledger_day ON spend_ledger (day);
"""


class OverCap(Exception):
    """Reserving would take today's spending past the cap."""

    def __init__(self, spent: float, asked: float, cap: float):
        super().__init__(f"${spent:.4f} spent or reserved + ${asked:.4f} > ${cap:.2f}")
        self.spent, self.asked, self.cap = spent, asked, cap


def utc_day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")


class Ledger:
    def __init__(self, database=None, clock: Callable[[], float] = time.time):
        """`database`: a `studio.datadir.Database` (shared with the app's other tables);
        None keeps the ledger in memory."""
        self.db = database if database is not None else Database(None)
        self.clock = clock
        self.db.ensure(SCHEMA)

    def today(self) -> str:
        return utc_day(self.clock())

    @staticmethod
    def _spent(conn, day: str) -> float:
        row = conn.execute("SELECT COALESCE(SUM(usd), 0) FROM spend_ledger WHERE day = ?",
                           (day,)).fetchone()
        return float(row[0])

    def spent(self, day: str | None = None) -> float:
        """Charged, plus the estimates of runs sent or about to be, for `day` (today)."""
        rows = self.db.query("SELECT COALESCE(SUM(usd), 0) FROM spend_ledger WHERE day = ?",
                             (day or self.today(),))
        return float(rows[0][0])

    def reserve(self, estimates: list[float], cap: float = 0.0) -> list[str]:
        """One `reserved` row per run, all or none; raises OverCap if `cap` (> 0) would be
        crossed. Checked and written in one transaction, so runs admitted at the same moment
        cannot all slip under the cap."""
        now = self.clock()
        day = utc_day(now)
        ids = [uuid.uuid4().hex for _ in estimates]
        with self.db.transaction() as conn:
            spent = self._spent(conn, day)
            asked = sum(estimates)
            if cap and spent + asked > cap + 1e-9:
                raise OverCap(spent, asked, cap)
            conn.executemany(
                "INSERT INTO spend_ledger (run_id, day, usd, state, created, updated) "
                "VALUES (?, ?, ?, 'reserved', ?, ?)",
                [(run_id, day, max(0.0, usd), now, now) for run_id, usd in zip(ids, estimates)])
        return ids

    def sent(self, run_id: str, task_id: str | None = None) -> None:
        """The Run is going out (or went out as `task_id`): it counts, whatever follows."""
        self.db.execute("UPDATE spend_ledger SET state = CASE state WHEN 'reserved' THEN 'sent'"
                        " ELSE state END, task_id = COALESCE(?, task_id), updated = ? "
                        "WHERE run_id = ?", (task_id, self.clock(), run_id))

    def not_sent(self, run_id: str) -> None:
        """Wiro refused the Run before starting anything: it costs nothing."""
        self.db.execute("DELETE FROM spend_ledger WHERE run_id = ? AND state = 'sent'",
                        (run_id,))

    def charged(self, run_id: str, usd: float) -> None:
        """Wiro's totalcost for the run: it replaces the estimate, whatever happens next."""
        self.db.execute("UPDATE spend_ledger SET state = 'charged', usd = ?, updated = ? "
                        "WHERE run_id = ?", (max(0.0, float(usd)), self.clock(), run_id))

    def charged_task(self, task_id: str, usd: float) -> None:
        """Wiro's totalcost for a task a crashed process left behind (startup recovery):
        it replaces that run's estimate, which stayed counted meanwhile."""
        self.db.execute("UPDATE spend_ledger SET state = 'charged', usd = ?, updated = ? "
                        "WHERE task_id = ?", (max(0.0, float(usd)), self.clock(), task_id))

    def settle(self, run_id: str) -> None:
        """The run is over: a run never sent costs nothing; the others stay as they are."""
        self.db.execute("DELETE FROM spend_ledger WHERE run_id = ? AND state = 'reserved'",
                        (run_id,))

    def rows(self, day: str | None = None) -> list[dict]:
        return [dict(zip(("run_id", "usd", "state", "task_id"), r)) for r in self.db.query(
            "SELECT run_id, usd, state, task_id FROM spend_ledger WHERE day = ? "
            "ORDER BY created", (day or self.today(),))]
