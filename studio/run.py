"""One run as the page lives it: validate, Run, follow, download, and always clean up.

`generate` is a generator of `RunUpdate`s, one at least every TICK_SECONDS, so Gradio can
stop it promptly; its `finally` stops the remote task if the run did not end, and
`ActiveRuns` lets Stop and a closed tab end a session's tasks from outside.
"""
from __future__ import annotations

import contextlib
import io
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from PIL import Image

from wiro import InvalidInputError, Task, WiroClient, WiroError, spec, validate_inputs
from wiro.client import MAX_TRANSIENT_POLL_ERRORS, TRANSIENT_ERRORS, TaskHandle
from wiro.errors import TaskFailedError
from wiro.live import FollowThread, TaskEvent, event_from_task
from wiro.statuses import TaskStatus, lifecycle_fraction

from wiro.validation import RunRequest

from .backend import Backend
from .guards import RunRefused, Ticket
from .outputs import OutputStore
from .status import RunStatus

TICK_SECONDS = 0.25


@dataclass
class RunUpdate:
    status: RunStatus
    image: str | None = None
    details: dict[str, Any] | None = None
    seed: int | None = None
    finished: bool = False


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

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

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

    def stop_all(self) -> list[str]:
        with self._lock:
            sessions = list(self._runs)
        return [line for s in sessions for line in self.stop(s)]


def stop_task(client: WiroClient, taskid: str) -> str:
    try:
        before = client.detail(taskid).status
        task = client.stop(taskid)
    except WiroError as exc:
        return f"Task {taskid} could not be stopped: {exc}"
    if task.cancelled and before.is_queued:
        return f"Task {taskid} was cancelled while queued; nothing was charged."
    if task.cancelled:
        return f"Task {taskid} was killed while {before.phase}."
    return f"Task {taskid} had already finished."


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


def watch(client: WiroClient, handle: TaskHandle | str,
          poll_interval: float) -> Iterator[TaskEvent | None]:
    """Yield the latest known state of the task at least every tick, ending with its
    terminal event, which carries the final Task.

    With a socket URL on the client, the task's events come live from a background thread
    (wiro.live, which falls back to polling by itself); the thread is stopped when this
    generator ends or is closed. Without one, Detail is polled every `poll_interval`.
    """
    if isinstance(handle, TaskHandle) and handle.token and client.socket_url:
        follower = FollowThread(client, handle).start()
        latest: TaskEvent | None = None
        try:
            while not follower.done:
                events = follower.take(timeout=TICK_SECONDS)
                latest = events[-1] if events else latest
                yield latest
                if latest is not None and latest.is_terminal:
                    return
        finally:
            follower.stop()
    yield from _watch_polling(client, getattr(handle, "id", handle), poll_interval)


def _watch_polling(client: WiroClient, taskid: str,
                   poll_interval: float) -> Iterator[TaskEvent | None]:
    event: TaskEvent | None = None
    last_poll = float("-inf")
    failures = 0
    while True:
        if time.monotonic() - last_poll >= poll_interval:
            last_poll = time.monotonic()
            try:
                event = event_from_task(client.detail(taskid))
                failures = 0
            except TRANSIENT_ERRORS:
                failures += 1
                if failures > MAX_TRANSIENT_POLL_ERRORS:
                    raise
        yield event
        if event is not None and event.is_terminal:
            return
        time.sleep(TICK_SECONDS)


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
                           ticket):  # issue 12: the ticket hears of the Run and its charge
            cost = (update.details or {}).get("cost_usd", cost)
            yield update
    finally:
        if ticket:
            ticket.release(cost)


def _run(backend: Backend, registry: ActiveRuns, store: OutputStore, session: str,
         request: RunRequest, seed: int, client: WiroClient | None,
         ticket: Ticket | None = None) -> Iterator[RunUpdate]:
    client = client or backend.client()
    started = time.monotonic()
    yield RunUpdate(RunStatus("running", "Sending to Wiro…", fraction=0.0, elapsed=0.0),
                    seed=seed)
    try:
        handle = client.run(request)
    except WiroError as exc:
        yield RunUpdate(RunStatus("error", "Wiro did not start the run.", str(exc)),
                        seed=seed, finished=True)
        return
    registry.add(session, client, handle.id)
    if ticket:  # issue 12: from here Wiro may charge, whatever happens next
        ticket.sent(handle.id)
    ended = False
    try:
        update: TaskEvent | None = None
        with contextlib.closing(watch(client, handle, client.poll_interval)) as updates:
            for update in updates:
                if update is not None and update.is_terminal:
                    break  # _finish says how it ended; a "running" line here could be the last
                status = update.status if update else TaskStatus.QUEUE
                yield RunUpdate(RunStatus(
                    "running", status_title(handle.id, update),
                    fraction=progress_fraction(update), wiro_status=status.value,
                    elapsed=time.monotonic() - started), seed=seed)
        ended = True
        if ticket and update.task is not None:  # issue 12: Wiro's charge, before the download
            ticket.charged(update.task.total_cost)
        stopped = registry.stop_outcome(handle.id) if update.task.cancelled else None
        yield _finish(client, store, session, update.task, seed, time.monotonic() - started,
                      stopped)
    except WiroError as exc:
        yield RunUpdate(RunStatus("error", f"Task {handle.id} did not finish.", str(exc)),
                        seed=seed, finished=True)
    finally:
        registry.discard(session, handle.id)
        if not ended:
            # Closed tab, Stop, or an error while following: nobody will see this task.
            stop_task(client, handle.id)


def _finish(client: WiroClient, store: OutputStore, session: str, task: Task, seed: int,
            wall: float, stopped: str | None = None) -> RunUpdate:
    if task.cancelled:  # the same words as the Stop button's answer, when it was that
        return RunUpdate(RunStatus("stopped", "Stopped.",
                                   stopped or f"Task {task.id} was cancelled outside this page.",
                                   wiro_status=task.status.value), seed=seed, finished=True)
    if not task.succeeded:
        return RunUpdate(RunStatus("error", "The model did not produce an image.",
                                   str(TaskFailedError(task)), wiro_status=task.status.value),
                         seed=seed, finished=True)
    output = task.outputs[0]
    data = client.download(output)
    try:  # issue 12: a file that is not an image gets plain words, not Pillow's repr
        with Image.open(io.BytesIO(data)) as im:
            width, height, fmt = im.width, im.height, (im.format or "").lower()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return RunUpdate(RunStatus(
            "error", "Wiro's output is not an image this page can show.",
            f"Task {task.id} finished and was charged ${task.total_cost:.4f}, but its output "
            f"file {output.name or '(unnamed)'} ({len(data):,} bytes) is not a PNG, JPEG or "
            "WebP image.", wiro_status=task.status.value), seed=seed, finished=True)
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
                               wiro_status=task.status.value),
                     image=str(path), details=details, seed=seed, finished=True)
