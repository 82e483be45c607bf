"""The paid tasks each browser session has running, so they can be stopped from outside the
run that follows them: the Stop button, a side-by-side slot's Stop, a closed tab, the server
shutting down. Each run adds its task here once Wiro names it and takes it out when it ends.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from wiro import WiroClient
from wiro.models import StopOutcome
from wiro.statuses import TaskStatus

# How long shutting down waits for Runs on their way to name their tasks, so they can be
# stopped too (Run answers in well under a second when Wiro is healthy).
START_WAIT_SECONDS = 5.0


@dataclass
class ActiveRuns:
    simulated: bool = False  # the simulator's tasks: their costs are not charges
    # What Stop can still stop: session -> {task id: (its client, its side-by-side slot)}.
    _runs: dict[str, dict[str, tuple[WiroClient, int]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Runs whose generator has not ended yet (task id -> session), even once Stop took
    # their task out of _runs: Stop waits for them, so its message is the page's last word.
    _following: dict[str, str] = field(default_factory=dict)
    # What Stop did to a task (None while the stop is under way), kept until the task's run
    # ends: a run that sees its task cancelled says the same thing as Stop.
    _stopped: dict[str, str | None] = field(default_factory=dict)
    _changed: threading.Condition = field(init=False, repr=False)
    # Sessions with a Run request on its way (Wiro has not named the task yet).
    _starting: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    def starting(self, session: str) -> None:
        """A Run is on its way for `session`: stop_all waits for it to name its task."""
        with self._lock:
            self._starting[session] = self._starting.get(session, 0) + 1

    def started(self, session: str) -> None:
        """That Run has answered (its task, if any, is already added)."""
        with self._changed:
            left = self._starting.get(session, 0) - 1
            if left > 0:
                self._starting[session] = left
            else:
                self._starting.pop(session, None)
            self._changed.notify_all()

    def add(self, session: str, client: WiroClient, taskid: str, slot: int = 0) -> None:
        with self._lock:
            self._runs.setdefault(session, {})[taskid] = (client, slot)
            self._following[taskid] = session

    def _take(self, session: str, taskid: str) -> WiroClient | None:
        """Out of what Stop can stop (the lock held): its client, None if it was not there."""
        tasks = self._runs.get(session, {})
        entry = tasks.pop(taskid, None)
        if not tasks:
            self._runs.pop(session, None)
        return entry[0] if entry else None

    def discard(self, session: str, taskid: str) -> None:
        """The run following `taskid` has ended (its generator's `finally`)."""
        with self._changed:
            self._take(session, taskid)
            self._following.pop(taskid, None)
            self._stopped.pop(taskid, None)
            self._changed.notify_all()

    def wait_until_ended(self, session: str, timeout: float = 5.0) -> bool:
        """Wait for the session's runs to end (after Stop); False if some are still going."""
        with self._changed:
            return self._changed.wait_for(lambda: session not in self._following.values(),
                                          timeout)

    def _stop(self, tasks: dict[str, WiroClient]) -> list[str]:
        """Stop tasks already taken out of _runs (and marked in _stopped), noting the outcome."""
        lines = []
        for taskid, client in tasks.items():
            line = stop_task(client, taskid, self.simulated)
            with self._changed:
                if taskid in self._stopped:  # else its run has ended and will not ask
                    self._stopped[taskid] = line
                self._changed.notify_all()
            lines.append(line)
        return lines

    def stop_outcome(self, taskid: str, timeout: float = 30.0) -> str | None:
        """What Stop said about this task, waiting for a stop under way; None if it was not
        stopped from this page (cancelled elsewhere)."""
        with self._changed:
            self._changed.wait_for(lambda: self._stopped.get(taskid, "") is not None, timeout)
            return self._stopped.get(taskid)

    def task_ids(self) -> list[str]:
        """Every task a run of this process is following now."""
        with self._lock:
            return list(self._following)

    def count(self, session: str | None = None) -> int:
        with self._lock:
            if session is not None:
                return len(self._runs.get(session, {}))
            return sum(len(t) for t in self._runs.values())

    def stop(self, session: str) -> list[str]:
        """Cancel (queued) or kill (running) every task of a session; says what happened."""
        with self._lock:
            tasks = {taskid: client for taskid, (client, _) in self._runs.pop(session, {}).items()}
            self._stopped.update(dict.fromkeys(tasks))
        return self._stop(tasks)

    def stop_slot(self, session: str, slot: int) -> str | None:
        """Stop the task of one side-by-side slot; None if it is not running."""
        with self._lock:  # the newest task in that slot
            taskid = next((t for t, (_, s) in reversed(self._runs.get(session, {}).items())
                           if s == slot), None)
        return self.stop_task(session, taskid) if taskid else None

    def stop_task(self, session: str, taskid: str) -> str | None:
        """Stop one task of a session; None if it is not running."""
        with self._lock:
            client = self._take(session, taskid)
            if client is not None:
                self._stopped[taskid] = None
        return None if client is None else self._stop({taskid: client})[0]

    def stop_all(self, wait_for_starts: float = START_WAIT_SECONDS) -> list[str]:
        """Stop every session's tasks (shutting down). A Run still on its way is waited for
        a moment, so the task it starts is not left running when the process exits."""
        with self._changed:
            self._changed.wait_for(lambda: not self._starting, wait_for_starts)
            sessions = list(self._runs)
        return [line for s in sessions for line in self.stop(s)]


def charge_words(usd: float | None, simulated: bool = False) -> str:
    """What Wiro says a stopped task cost, as a sentence ("" when it did not say)."""
    if usd is None:
        return ""
    if simulated:
        return " Simulated — no charge."
    return f" Wiro charged ${usd:.4f}." if usd > 0 else " No charge."


def stop_line(outcome: StopOutcome, simulated: bool = False) -> str:
    """What stopping a task did, in the words the page shows."""
    taskid, before = outcome.taskid, outcome.before
    charged = charge_words(outcome.charged_usd, simulated)
    if outcome.action == "cancelled" and before in (None, TaskStatus.QUEUE):
        return f"Task {taskid} was cancelled while queued;" + (
            charged.lower() or " nothing was charged.")
    if outcome.action in ("cancelled", "killed"):
        return (f"Task {taskid} was killed" + (f" while {before.phase}." if before else ".")
                + charged)
    if outcome.action == "already_ended":
        return f"Task {taskid} had already finished."
    return (f"Task {taskid} could not be stopped ({outcome.error or 'no answer'}); it may still "
            "be running and may still be charged — check your Wiro dashboard.")


def stop_task(client: WiroClient, taskid: str, simulated: bool = False) -> str:
    return stop_line(client.stop(taskid), simulated)
