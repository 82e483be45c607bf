"""One run as the page lives it: validate, Run, follow, download, and always clean up.

`generate` is a generator of `RunUpdate`s. It follows the task with wiro.live's one follow
loop (in a background thread) and yields as soon as that reports something, with a
heartbeat every TICK_SECONDS so Gradio can stop it promptly (APP_PUSH_UPDATES=0 brings back
the old behaviour of yielding only on the tick). Its `finally` stops the remote task if the
run did not end, and `ActiveRuns` lets Stop and a closed tab end a session's tasks from
outside. Every task is written to the crash journal (studio/journal.py) while it runs.
"""
from __future__ import annotations

import io
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from PIL import Image

from wiro import InvalidInputError, Task, WiroClient, WiroError, spec, validate_inputs
from wiro.errors import (
    AmbiguousStartError, DownloadError, RateLimitedError, RunMaybeStartedError,
    TaskDeadlineError, TaskFailedError, TaskStalledError,
)
from wiro.live import FollowThread, TaskEvent, event_from_task
from wiro.models import StopOutcome
from wiro.statuses import TaskStatus, lifecycle_fraction
from wiro.validation import RunRequest

from .backend import Backend
from .guards import RunRefused, Ticket
from .outputs import OutputStore
from .status import RunStatus

TICK_SECONDS = 0.25
# How long shutting down waits for Runs on their way to name their tasks, so they can be
# stopped too (Run answers in well under a second when Wiro is healthy).
START_WAIT_SECONDS = 5.0


@dataclass
class RunUpdate:
    status: RunStatus
    image: str | None = None
    details: dict[str, Any] | None = None
    seed: int | None = None
    finished: bool = False
    taskid: str | None = None  # once Wiro has named the task


@dataclass
class ActiveRuns:
    """The remote tasks each browser session has running, so they can be stopped from outside
    the run's own generator (the Stop button, a closed tab, the server shutting down)."""

    _runs: dict[str, dict[str, WiroClient]] = field(default_factory=dict)
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

    def add(self, session: str, client: WiroClient, taskid: str) -> None:
        with self._lock:
            self._runs.setdefault(session, {})[taskid] = client
            self._following[taskid] = session

    def discard(self, session: str, taskid: str) -> None:
        """The run following `taskid` has ended (its generator's `finally`)."""
        with self._changed:
            tasks = self._runs.get(session, {})
            tasks.pop(taskid, None)
            if not tasks:
                self._runs.pop(session, None)
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
            line = stop_task(client, taskid)
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

    def count(self, session: str | None = None) -> int:
        with self._lock:
            if session is not None:
                return len(self._runs.get(session, {}))
            return sum(len(t) for t in self._runs.values())

    def stop(self, session: str) -> list[str]:
        """Cancel (queued) or kill (running) every task of a session; says what happened."""
        with self._lock:
            tasks = dict(self._runs.pop(session, {}))
            self._stopped.update(dict.fromkeys(tasks))
        return self._stop(tasks)

    def stop_task(self, session: str, taskid: str) -> str | None:
        """Stop one task of a session (a side-by-side slot); None if it is not running."""
        with self._lock:
            client = self._runs.get(session, {}).pop(taskid, None)
            if session in self._runs and not self._runs[session]:
                del self._runs[session]
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


def stop_line(outcome: StopOutcome) -> str:
    """What stopping a task did, in the words the page shows."""
    taskid, before = outcome.taskid, outcome.before
    if outcome.action == "cancelled" and before in (None, TaskStatus.QUEUE):
        return f"Task {taskid} was cancelled while queued; nothing was charged."
    if outcome.action in ("cancelled", "killed"):
        return f"Task {taskid} was killed" + (f" while {before.phase}." if before else ".")
    if outcome.action == "already_ended":
        return f"Task {taskid} had already finished."
    return (f"Task {taskid} could not be stopped ({outcome.error or 'no answer'}); it may still "
            "be running and may still be charged — check your Wiro dashboard.")


def stop_task(client: WiroClient, taskid: str) -> str:
    return stop_line(client.stop(taskid))


# Where the model's own percentage moves the bar: from task_start to task_output_full.
GENERATING_BAND = (lifecycle_fraction(TaskStatus.START),
                   lifecycle_fraction(TaskStatus.OUTPUT_FULL))


def progress_fraction(update: TaskEvent | Task | None) -> float:
    """The bar: the lifecycle stage, and within generating the model's own percentage."""
    if update is None:
        return 0.0
    event = event_from_task(update) if isinstance(update, Task) else update
    if event.status in (TaskStatus.OUTPUT, TaskStatus.ERROR):
        low, high = GENERATING_BAND
        return low + (high - low) * (event.percentage or 0.0) / 100.0
    return lifecycle_fraction(event.status)


def status_title(taskid: str, update: TaskEvent | None) -> str:
    status = update.status if update else TaskStatus.QUEUE
    title = f"Task {taskid}: {status.phase}"
    if update is not None and update.percentage is not None and not status.is_terminal:
        title += f" {update.percentage:.0f}%"
    return title


def generate(backend: Backend, registry: ActiveRuns, store: OutputStore, session: str,
             values: dict[str, Any], randomize_seed: bool = False,
             client: WiroClient | None = None,
             admit: Callable[[], Ticket] | None = None) -> Iterator[RunUpdate]:
    """Run once. `client` overrides the backend's (a visitor's own key); `admit` reserves a
    slot under the page's caps just before the paid call and may refuse it."""
    values = dict(values)
    if randomize_seed:
        values[spec.SEED.name] = random.randint(0, spec.SEED.maximum)
    try:
        request = validate_inputs(values, allow_private_urls=backend.allow_private_urls)
    except InvalidInputError as exc:
        yield RunUpdate(RunStatus("invalid", "Nothing was sent — fix these first:",
                                  problems=exc.problems), finished=True)
        return
    seed = request.params[spec.SEED.name]
    try:
        ticket = admit() if admit else None
    except RunRefused as exc:
        yield RunUpdate(RunStatus("refused", "Not run — nothing was charged.", str(exc)),
                        finished=True)
        return
    cost = 0.0
    try:
        for update in _run(backend, registry, store, session, request, seed, client,
                           ticket):  # the ticket hears of the Run and its charge
            cost = (update.details or {}).get("cost_usd", cost)
            yield update
    finally:
        if ticket:
            ticket.release(cost)


def _start_failure(exc: WiroError) -> str:
    if isinstance(exc, RateLimitedError):
        return "Wiro is rate limiting this key."
    if isinstance(exc, AmbiguousStartError):
        return "Wiro may have started the run, but named no task."
    if isinstance(exc, RunMaybeStartedError):
        return "Wiro may have started the run."
    return "Wiro did not start the run."


def _updates(follower: FollowThread, push: bool) -> Iterator[list[TaskEvent]]:
    """The follower's events: as they arrive (push), else gathered on each tick; an empty
    list at least every TICK_SECONDS either way (the heartbeat)."""
    next_tick = time.monotonic() + TICK_SECONDS
    while not follower.done:
        if push:
            yield follower.take(timeout=TICK_SECONDS)
            continue
        time.sleep(max(0.0, next_tick - time.monotonic()))
        next_tick = max(next_tick + TICK_SECONDS, time.monotonic())
        yield follower.take(timeout=0)


def _run(backend: Backend, registry: ActiveRuns, store: OutputStore, session: str,
         request: RunRequest, seed: int, client: WiroClient | None,
         ticket: Ticket | None = None) -> Iterator[RunUpdate]:
    key_kind = "visitor" if client is not None else "owner"
    client = client or backend.client()
    journal = backend.journal
    started = time.monotonic()
    yield RunUpdate(RunStatus("running", "Sending to Wiro…", fraction=0.0, elapsed=0.0),
                    seed=seed)
    placeholder = journal.sending(key_kind, client.base_url) if journal is not None else None
    registry.starting(session)
    try:
        handle = client.run(request)
    except WiroError as exc:
        if placeholder is not None and not isinstance(exc, RunMaybeStartedError):
            journal.not_started(placeholder)
        elif placeholder is not None:
            journal.ended(placeholder, "reported", note=str(exc))
        yield RunUpdate(RunStatus("error", _start_failure(exc), str(exc)),
                        seed=seed, finished=True)
        return
    else:
        registry.add(session, client, handle.id)  # before `started`: stop_all waits for it
    finally:
        registry.started(session)
    if journal is not None:
        journal.started(handle.id, handle.token, key_kind, client.base_url, placeholder)
    if ticket:  # from here Wiro may charge, whatever happens next
        ticket.sent(handle.id)
    follower = FollowThread(client, handle).start()
    # How the run ended for the journal; None while the task may still be running.
    outcome: tuple[str, float | None] | None = None
    try:
        latest: TaskEvent | None = None
        try:
            for events in _updates(follower, backend.push_updates):
                latest = events[-1] if events else latest
                if latest is not None and latest.is_terminal:
                    break  # _finish says how it ended; a "running" line here could be the last
                status = latest.status if latest else TaskStatus.QUEUE
                yield RunUpdate(RunStatus(
                    "running", status_title(handle.id, latest),
                    fraction=progress_fraction(latest), wiro_status=status.value,
                    elapsed=time.monotonic() - started), seed=seed, taskid=handle.id)
        except (TaskStalledError, TaskDeadlineError) as exc:
            # The follower has already tried to stop the task.
            stopped: StopOutcome = exc.stopped
            if stopped.action == "already_ended" and stopped.task is not None:
                # It ended after all (Detail came back for the stop): deliver what it made.
                task = stopped.task
                outcome = ("cancelled" if task.cancelled else
                           "done" if task.deliverable else "failed", task.total_cost)
                yield _finish(client, store, session, task, seed,
                              time.monotonic() - started)
                return
            task = getattr(exc, "task", None)
            title = ("The run took too long." if isinstance(exc, TaskDeadlineError)
                     else "The run failed.")
            wiro_status = task.status_text if task is not None else ""
            cost = stopped.task.total_cost if stopped.task else None
            if stopped.confirmed:
                outcome = ("stopped", cost)
            yield RunUpdate(RunStatus("error", title, f"{exc}\n{stop_line(stopped)}",
                                      wiro_status=wiro_status), seed=seed, finished=True,
                            taskid=handle.id,
                            details={"task_id": handle.id, "cost_usd": cost} if cost else None)
            return
        except WiroError as exc:
            stopped = client.stop(handle.id, status=latest.status if latest else None)
            if stopped.confirmed:
                outcome = ("stopped", None)
            yield RunUpdate(RunStatus("error", f"Task {handle.id} did not finish.",
                                      f"{exc}\n{stop_line(stopped)}"),
                            seed=seed, finished=True, taskid=handle.id)
            return
        if latest is None or not latest.is_terminal or latest.task is None:
            return  # the follower ended early: the finally below cleans up
        task = latest.task
        outcome = ("cancelled" if task.cancelled else "done" if task.deliverable else "failed",
                   task.total_cost)
        if ticket:  # Wiro's charge, counted before the download can fail
            ticket.charged(task.total_cost)
        stopped_line = registry.stop_outcome(handle.id) if task.cancelled else None
        yield _finish(client, store, session, task, seed, time.monotonic() - started,
                      stopped_line)
    finally:
        follower.stop()
        registry.discard(session, handle.id)
        if outcome is None:
            # Closed tab, Stop, or an error while following: nobody will see this task.
            stopped = client.stop(handle.id)
            if stopped.confirmed:
                outcome = ("stopped", stopped.task.total_cost if stopped.task else None)
        if journal is not None and outcome is not None:
            journal.ended(handle.id, outcome[0], outcome[1])
        if ticket and outcome is not None and outcome[1]:
            ticket.charged(outcome[1])


def _finish(client: WiroClient, store: OutputStore, session: str, task: Task, seed: int,
            wall: float, stopped: str | None = None) -> RunUpdate:
    if task.cancelled:  # the same words as the Stop button's answer, when it was that
        return RunUpdate(RunStatus("stopped", "Stopped.",
                                   stopped or f"Task {task.id} was cancelled outside this page.",
                                   wiro_status=task.status_text), seed=seed, finished=True,
                         taskid=task.id)
    if not task.deliverable:
        return RunUpdate(RunStatus("error", "The model did not produce an image.",
                                   str(TaskFailedError(task)), wiro_status=task.status_text),
                         seed=seed, finished=True, taskid=task.id)
    output = task.outputs[0]
    try:
        data = client.download(output)
    except DownloadError as exc:
        # Charged all the same: the cost still counts, and the link may still work later.
        return RunUpdate(RunStatus(
            "error", "The image could not be downloaded.",
            f"Task {task.id} finished and was charged ${task.total_cost:.4f}, but its image "
            f"could not be fetched: {exc}\nLink: {exc.url}", wiro_status=task.status_text),
            details={"task_id": task.id, "seed": seed, "cost_usd": task.total_cost,
                     "url": exc.url},
            seed=seed, finished=True, taskid=task.id)
    try:  # a file that is not an image gets plain words, not Pillow's repr
        with Image.open(io.BytesIO(data)) as im:
            width, height, fmt = im.width, im.height, (im.format or "").lower()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return RunUpdate(RunStatus(
            "error", "Wiro's output is not an image this page can show.",
            f"Task {task.id} finished and was charged ${task.total_cost:.4f}, but its output "
            f"file {output.name or '(unnamed)'} ({len(data):,} bytes) is not a PNG, JPEG or "
            "WebP image.", wiro_status=task.status_text),
            details={"task_id": task.id, "seed": seed, "cost_usd": task.total_cost},
            seed=seed, finished=True, taskid=task.id)
    extension = output.name.rsplit(".", 1)[-1] if "." in output.name else fmt
    path = store.save(session, f"flux2pro-task{task.id}-seed{seed}.{extension}", data)
    details = {
        "task_id": task.id,
        "seed": seed,
        "width": width,
        "height": height,
        "format": fmt,
        "bytes": len(data),
        "wiro_seconds": task.elapsed_seconds,
        "total_seconds": round(wall, 2),
        "cost_usd": task.total_cost,
    }
    summary = (f"Task {task.id} · seed {seed} · {width}×{height} {fmt.upper()} · "
               f"{wall:.1f} s · ${task.total_cost:.4f}")
    return RunUpdate(RunStatus("done", "Done.", summary, fraction=1.0,
                               wiro_status=task.status_text),
                     image=str(path), details=details, seed=seed, finished=True,
                     taskid=task.id)
