"""The caps that keep a public Space from spending its owner's credits for strangers, and
today's spending, kept where a restart cannot lose it. Every check happens before Run, so a
refused call costs nothing. The caps come from settings (studio/config.py; 0 = no cap).

The `Ledger` (a table in APP_DATA_DIR's SQLite database) has one row for every run the owner
pays for, from the moment it is admitted:

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

import logging
import sqlite3
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from wiro import pricing, spec

from .config import Config
from .datadir import Database, open_database, safely

HOUR = 3600.0
STORAGE_BUSY = ("The demo cannot check today's spending right now (its storage is busy). "
                "Try again in a moment.")
log = logging.getLogger(__name__)


class RunRefused(Exception):
    """A cap says no; the message tells the visitor why and when to try again."""


def default_estimate_usd() -> float:
    """What a run of the spec's defaults costs: the reservation when no estimate is given."""
    return pricing.estimate_cost(spec.WIDTH.default, spec.HEIGHT.default, 0.0)


@dataclass
class Guard:
    """The caps, checked and reserved together under one lock. Runs going and each
    visitor's starts this hour are kept in memory (a restart ends every run anyway); the
    day's spending is in the `Ledger`, which a restart does not reset when it is given the
    app's database."""

    settings: Config
    clock: Callable[[], float] = time.time
    ledger: Ledger | None = None
    _running: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _starts: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.ledger is None:
            self.ledger = Ledger(clock=self.clock)

    @classmethod
    def persistent(cls, settings: Config, database=None) -> Guard:
        """The app's guard: its ledger in the app's database (APP_DATA_DIR), so a restart
        does not reset today's spending."""
        return cls(settings, ledger=Ledger(database or open_database(settings.data_dir)))

    def check(self, session: str, client_id: str, count: int = 1, *,
              own_key: bool = False) -> None:
        """Raise RunRefused if a cap says no already, reserving nothing: lets a request that
        is over a cap be turned away before any of its files are looked at."""
        cap = self.settings.daily_spend_cap_usd
        with self._lock:
            self._refuse_if_capped(session, client_id, count, own_key, self.clock())
            if not own_key and cap:
                try:
                    spent = self.ledger.spent()
                except sqlite3.Error:
                    raise RunRefused(STORAGE_BUSY) from None
                if spent > cap + 1e-9:
                    raise self._over_cap(OverCap(spent, 0.0, cap))

    def budget_refusal(self, client_id: str) -> str | None:
        """Why no run of this visitor's could be admitted for a while (its hour used up, or
        today's spending cap reached), else None. Cheap: for turning requests away early."""
        s, now = self.settings, self.clock()
        with self._lock:
            starts = self._starts.get(client_id) or ()
            recent = sum(1 for t in starts if now - t < HOUR)
        if s.runs_per_client_per_hour and recent >= s.runs_per_client_per_hour:
            return (f"You have used this demo's {s.runs_per_client_per_hour} runs for the "
                    "hour; nothing was uploaded. Try again later.")
        try:
            spent = self.ledger.spent() if s.daily_spend_cap_usd else 0.0
        except sqlite3.Error:
            return None  # admission says why, with the run's own words
        if s.daily_spend_cap_usd and spent + 1e-9 >= s.daily_spend_cap_usd:
            return (f"The demo has reached today's spending cap (${s.daily_spend_cap_usd:.2f}); "
                    "nothing was uploaded. It resets at midnight UTC.")
        return None

    def admit(self, session: str, client_id: str, count: int = 1, *, own_key: bool = False,
              estimate_usd: float | None = None) -> list[Ticket]:
        """Reserve `count` runs that start together (1, or side by side), all or none; raise
        RunRefused if a cap says no. Release each ticket when its run is over.

        The batch is one admission for the per-session cap (the session must have room for
        one more run, and then holds the whole batch), while every run in it counts on its
        own against the overall cap, the hourly cap and the daily spend, as they are
        separate paid tasks. Each run's `estimate_usd` (the defaults' price if not given)
        is reserved against the daily cap now, so runs admitted together cannot overshoot
        it; Wiro's totalcost replaces it once known (`Ticket.charged`).
        """
        if count < 1:
            return []
        now = self.clock()
        est = default_estimate_usd() if estimate_usd is None else max(0.0, estimate_usd)
        with self._lock:
            self._refuse_if_capped(session, client_id, count, own_key, now)
            run_ids: list[str | None] = [None] * count
            if not own_key:
                try:
                    run_ids = list(self.ledger.reserve([est] * count,
                                                       self.settings.daily_spend_cap_usd))
                except OverCap as exc:
                    raise self._over_cap(exc) from None
                except sqlite3.Error as exc:
                    # Without a cap the ledger only keeps accounts: run, and say so in the log.
                    if self.settings.daily_spend_cap_usd:
                        raise RunRefused(STORAGE_BUSY) from None
                    log.warning("a run's estimate was not reserved (%s)", exc)
            self._running[session] += count
            self._starts[client_id].extend([now] * count)
        return [Ticket(self, session, own_key, run_id) for run_id in run_ids]

    def _over_cap(self, exc: OverCap) -> RunRefused:
        cap = self.settings.daily_spend_cap_usd
        if exc.spent + 1e-9 >= cap:
            return RunRefused(f"The demo has reached today's spending cap (${cap:.2f}). It "
                              "resets at midnight UTC.")
        return RunRefused(f"This would take the demo past today's spending cap (${cap:.2f}): "
                          f"${exc.spent:.3f} is spent or reserved and this costs about "
                          f"${exc.asked:.3f}. Try a smaller size or fewer runs, or come back "
                          "after midnight UTC.")

    def _refuse_if_capped(self, session: str, client_id: str, count: int, own_key: bool,
                          now: float) -> None:
        s = self.settings
        going = self._running.get(session, 0)
        if s.runs_per_session and going >= s.runs_per_session:
            raise RunRefused(
                f"This page already has {going} run(s) going; the limit is "
                f"{s.runs_per_session} at a time. Wait for it to finish, or stop it with its "
                "own Stop (a side-by-side batch has one under each seed).")
        total = sum(self._running.values())
        if s.max_concurrent_runs and total + count > s.max_concurrent_runs:
            raise RunRefused(
                f"The demo is busy ({total} runs going, the limit is {s.max_concurrent_runs}). Try "
                "again in a few seconds." if count == 1 else
                f"The demo is too busy for {count} runs at once ({total} going, the limit is "
                f"{s.max_concurrent_runs}). Try fewer seeds or again in a few seconds.")
        starts = self._starts.get(client_id) or deque()
        while starts and now - starts[0] >= HOUR:
            starts.popleft()
        if not starts:
            self._starts.pop(client_id, None)  # made-up visitors must not pile up here
        # Visitors paying with their own key are not held to the owner's budgets.
        if own_key:
            return
        if s.runs_per_client_per_hour and len(starts) + count > s.runs_per_client_per_hour:
            if count == 1:
                wait_min = max(1, round((HOUR - (now - starts[0])) / 60))
                raise RunRefused(
                    f"You have used this demo's {s.runs_per_client_per_hour} runs for the hour. "
                    f"Try again in about {wait_min} min.")
            left = max(0, s.runs_per_client_per_hour - len(starts))
            raise RunRefused(
                f"That is {count} runs, and {left} of this demo's "
                f"{s.runs_per_client_per_hour} runs for the hour are left. Try fewer seeds.")

    def _end(self, session: str) -> None:
        with self._lock:
            self._running[session] -= 1
            if self._running[session] <= 0:
                del self._running[session]


@dataclass
class Ticket:
    """One admitted run's place under the caps: a run slot, and a row in the spend ledger
    (None with a visitor's own key). The run says `sending()` just before Run goes out,
    `not_sent()` if Wiro plainly refused it, `charged(usd)` once Wiro's totalcost is known,
    and `release()` when it is over, whatever happened: the slot is freed first, and the
    ledger's writes are only logged if storage fails (studio/datadir.safely)."""

    guard: Guard
    session: str
    own_key: bool
    run_id: str | None = None  # its ledger row; None for a visitor's own key
    _released: bool = False

    def _ledger(self, what: str, method: str, *args: Any) -> None:
        if self.run_id:
            safely(what, getattr(self.guard.ledger, method), self.run_id, *args)

    def sending(self, task_id: str | None = None) -> None:
        self._ledger("a Run on its way", "sent", task_id)

    def not_sent(self) -> None:
        self._ledger("a refused Run", "not_sent")

    def release(self, charge: float | None = None) -> None:
        if self._released:
            return
        self._released = True
        self.guard._end(self.session)
        if charge is not None:
            self._ledger("Wiro's charge", "charged", charge)
        else:
            self._ledger("the end of a run", "settle")


# --- today's spending ----------------------------------------------------------------------

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
SPENT = "SELECT COALESCE(SUM(usd), 0) FROM spend_ledger WHERE day = ?"


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

    def spent(self, day: str | None = None) -> float:
        """Charged, plus the estimates of runs sent or about to be, for `day` (today)."""
        return float(self.db.query(SPENT, (day or self.today(),))[0][0])

    def reserve(self, estimates: list[float], cap: float = 0.0) -> list[str]:
        """One `reserved` row per run, all or none; raises OverCap if `cap` (> 0) would be
        crossed. Checked and written in one transaction, so runs admitted at the same moment
        cannot all slip under the cap."""
        now = self.clock()
        day = utc_day(now)
        ids = [uuid.uuid4().hex for _ in estimates]
        with self.db.transaction() as conn:
            spent = float(conn.execute(SPENT, (day,)).fetchone()[0])
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

    def charged(self, run_id: str, usd: float, *, by: str = "run_id") -> None:
        """Wiro's totalcost for the run (`by="task_id"`: a task a crashed process left
        behind): it replaces the estimate, whatever happens next."""
        assert by in ("run_id", "task_id")
        self.db.execute(f"UPDATE spend_ledger SET state = 'charged', usd = ?, updated = ? "
                        f"WHERE {by} = ?", (max(0.0, float(usd)), self.clock(), run_id))

    def settle(self, run_id: str) -> None:
        """The run is over: a run never sent costs nothing; the others stay as they are."""
        self.db.execute("DELETE FROM spend_ledger WHERE run_id = ? AND state = 'reserved'",
                        (run_id,))

    def rows(self, day: str | None = None) -> list[dict]:
        return [dict(zip(("run_id", "usd", "state", "task_id"), r)) for r in self.db.query(
            "SELECT run_id, usd, state, task_id FROM spend_ledger WHERE day = ? "
            "ORDER BY created", (day or self.today(),))]
