"""Limits that keep a public Space from spending its owner's credits for strangers.

Every check happens before Run, so a refused call costs nothing. The caps come from
settings (see .env.example); 0 or empty means "no cap".
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Mapping

from wiro.settings import merged_environment

HOUR = 3600.0


class RunRefused(Exception):
    """A cap says no; the message tells the visitor why and when to try again."""


def _int(values: Mapping[str, str], name: str, default: int) -> int:
    raw = (values.get(name) or "").strip()
    return default if not raw else max(0, int(raw))


def _float(values: Mapping[str, str], name: str) -> float:
    raw = (values.get(name) or "").strip()
    return max(0.0, float(raw)) if raw else 0.0


@dataclass(frozen=True)
class GuardSettings:
    runs_per_session: int = 1
    runs_at_once: int = 4
    runs_per_client_per_hour: int = 30
    daily_spend_cap_usd: float = 0.0
    bring_your_own_key: bool = False

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> "GuardSettings":
        values = merged_environment(environ)
        return cls(
            runs_per_session=_int(values, "APP_RUNS_PER_SESSION", 1),
            runs_at_once=_int(values, "APP_MAX_CONCURRENT_RUNS", 4),
            runs_per_client_per_hour=_int(values, "APP_RUNS_PER_CLIENT_PER_HOUR", 30),
            daily_spend_cap_usd=_float(values, "APP_DAILY_SPEND_CAP_USD"),
            bring_your_own_key=(values.get("APP_BRING_YOUR_OWN_KEY") or "").strip().lower()
            in {"1", "true", "yes", "on"},
        )


@dataclass
class Guard:
    settings: GuardSettings
    clock: Callable[[], float] = time.time
    _running: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _starts: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    _spent: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _today(self) -> str:
        return datetime.fromtimestamp(self.clock(), timezone.utc).strftime("%Y-%m-%d")

    def spent_today(self) -> float:
        with self._lock:
            return self._spent[self._today()]

    def admit(self, session: str, client_id: str, *, own_key: bool = False) -> "Ticket":
        """Reserve a run slot or raise RunRefused. Release the ticket when the run ends."""
        return self.admit_batch(session, client_id, 1, own_key=own_key)[0]

    def admit_batch(self, session: str, client_id: str, count: int, *,
                    own_key: bool = False) -> list["Ticket"]:
        """Reserve `count` runs that start together (side by side), all or none.

        The batch is one admission for the per-session cap (the session must have room for
        one more run, and then holds the whole batch), while every run in it counts on its
        own against the overall cap, the hourly cap and the daily spend, as they are
        separate paid tasks.
        """
        if count < 1:
            return []
        now = self.clock()
        with self._lock:
            self._refuse_if_capped(session, client_id, count, own_key, now)
            self._running[session] += count
            self._starts[client_id].extend([now] * count)
        return [Ticket(self, session, own_key) for _ in range(count)]

    def _refuse_if_capped(self, session: str, client_id: str, count: int, own_key: bool,
                          now: float) -> None:
        s = self.settings
        if s.runs_per_session and self._running[session] >= s.runs_per_session:
            raise RunRefused(
                f"This page already has {self._running[session]} run(s) going; the limit is "
                f"{s.runs_per_session} at a time. Wait for it to finish or press Stop.")
        total = sum(self._running.values())
        if s.runs_at_once and total + count > s.runs_at_once:
            raise RunRefused(
                f"The demo is busy ({total} runs going, the limit is {s.runs_at_once}). Try "
                "again in a few seconds." if count == 1 else
                f"The demo is too busy for {count} runs at once ({total} going, the limit is "
                f"{s.runs_at_once}). Try fewer seeds or again in a few seconds.")
        starts = self._starts[client_id]
        while starts and now - starts[0] >= HOUR:
            starts.popleft()
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
        if s.daily_spend_cap_usd and self._spent[self._today()] >= s.daily_spend_cap_usd:
            raise RunRefused(
                f"The demo has reached today's spending cap (${s.daily_spend_cap_usd:.2f}). "
                "It resets at midnight UTC.")

    def _release(self, session: str, cost: float, own_key: bool) -> None:
        with self._lock:
            self._running[session] -= 1
            if self._running[session] <= 0:
                del self._running[session]
            if not own_key:
                self._spent[self._today()] += cost


@dataclass
class Ticket:
    guard: Guard
    session: str
    own_key: bool
    _released: bool = False

    def release(self, cost: float = 0.0) -> None:
        if not self._released:
            self._released = True
            self.guard._release(self.session, cost, self.own_key)
