"""Follow a task as it happens: Wiro's websocket first, polling Task/Detail as the fallback.

This is the one loop in the package that follows a task; `WiroClient.wait/result` and the
page use it. `follow(client, handle)` yields `TaskEvent`s in lifecycle order and ends with one
final event that carries the final `Task` from Detail, with its outputs, pexit and cost.
When the socket cannot be opened, closes early, or stays quiet for `socket_deadline` seconds
while Detail shows the task moving, the same iterator goes on by polling Detail at the SDKs'
pace (`poll_delay`: the client's poll_interval, backing off only while the task is queued).
Events are never repeated. Nothing here ever sends a second Run.

Detail is believed the way Wiro's own SDKs believe it, and never trusted to move on:
- pexit "0" with outputs is a finished task whatever its status, once that status has sat
  still for `settle_window` s (the docs disagree on whether task_end or
  task_postprocess_end comes last);
- task_error on Detail is final (Wiro-MCP: the status Wiro records for a task that failed
  before the model ran): the run ends at once with Wiro's message, and nothing is sent to a
  task that has ended. On the socket the same word is the model's stderr, an interim line,
  as Wiro's docs and WiroKit read it;
- a status this client does not know that sits still for `stall_window` s ends the run:
  the task is stopped and TaskStalledError raised;
- transient trouble (TRANSIENT_ERRORS: empty tasklist, non-JSON, 5xx, resets, timeouts,
  429 after its Retry-After) is ridden out by the client's request policy until the run's
  deadline;
- at the deadline (`timeout`, else the client's task_timeout) the task is stopped and
  TaskDeadlineError raised. The stop's outcome is on the error's `stopped`.

This module does not import the client: it only calls `client.detail` and `client.stop`.
"""
from __future__ import annotations

import json
import queue
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from .errors import TRANSIENT_ERRORS, TaskDeadlineError, TaskStalledError
from .models import Task, parse_number
from .statuses import LIFECYCLE, TaskStatus

SOCKET = "socket"
POLL = "poll"

# The socket counts as lost after this long without a message, if Detail then shows that
# the task moved on without it. A task waiting in a queue may be quiet for longer.
SOCKET_SILENCE_SECONDS = 10.0
SOCKET_OPEN_TIMEOUT = 5.0
SOCKET_CLOSE_TIMEOUT = 1.0
# A blocked socket read wakes up this often to see whether the caller asked to stop.
STOP_CHECK_SECONDS = 0.1
# Polling Detail while a task waits in the queue: the interval, then 2.5 and 5 times it while
# nothing changes (Wiro-MCP's 2 -> 5 -> 10 s). A queued task is nowhere near its end.
QUEUE_BACKOFF = (1.0, 2.5, 5.0)

# Rank of each status along the lifecycle; interim stderr events rank with their stdout twins.
_RANK = {status: n for n, status in enumerate(LIFECYCLE)}
_RANK[TaskStatus.ERROR] = _RANK[TaskStatus.OUTPUT]
_RANK[TaskStatus.ERROR_FULL] = _RANK[TaskStatus.OUTPUT_FULL]
_RANK[TaskStatus.CANCEL] = len(LIFECYCLE)
_LOG_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%\s*\|")


def poll_delay(status: TaskStatus, unchanged: int, interval: float) -> float:
    """Seconds until the next Detail, after `unchanged` polls that saw no new status.

    Once a worker has the task (any status after task_queue) FLUX.2 [pro] is seconds from
    its end, so Detail is asked every `interval`: a finished task waits at most one interval
    for its result. Only in the queue, where nothing can finish with an image, does the
    pace back off, to at most 5 intervals."""
    if status is TaskStatus.QUEUE:
        return interval * QUEUE_BACKOFF[min(max(0, unchanged), len(QUEUE_BACKOFF) - 1)]
    return interval


@dataclass(frozen=True)
class TaskEvent:
    """One step of a task: its status, the model's own percentage during task_output, the
    socket message as sent (None when polled), and where it came from ("socket" or "poll").
    `task` is the Task from Detail: always on the terminal event, and on polled events."""

    status: TaskStatus
    percentage: float | None = None
    message: Any = field(default=None, compare=False)
    source: str = SOCKET
    task: Task | None = field(default=None, compare=False, repr=False)
    # The follower's last word on this task: set on a task that Detail shows finished (with
    # an image under a status that is not task_postprocess_end, or at task_error).
    final: bool = False

    @property
    def is_terminal(self) -> bool:
        return self.final or self.status.is_terminal


class SocketRefused(Exception):
    """The socket answered the registration with result false (e.g. an unknown token)."""


def _percentage(raw: Any) -> float | None:
    value = parse_number(raw)
    return value if value is not None and 0.0 <= value <= 100.0 else None


def parse_message(raw: str | bytes | dict, token: str | None = None) -> TaskEvent | None:
    """A websocket message as a TaskEvent; None for anything that is not a status of this
    task (binary frames, unknown types, realtime-only events, another `token`'s messages)."""
    data = raw
    if isinstance(raw, (str, bytes)):
        try:
            data = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(data, dict):
        return None
    if token is not None and data.get("tasktoken") not in (None, token):
        return None
    if data.get("result") is False:
        raise SocketRefused(str(data.get("message") or "registration refused"))
    try:
        status = TaskStatus(str(data.get("type", "")))
    except ValueError:
        return None
    message = data.get("message")
    percentage = None
    details = message
    if isinstance(details, str) and details.lstrip().startswith("{"):
        try:  # Wiro's SDKs accept the progress object sent as a JSON string, too
            details = json.loads(details)
        except ValueError:
            pass
    if status is TaskStatus.OUTPUT and isinstance(details, dict):
        percentage = _percentage(details.get("percentage"))
    return TaskEvent(status, percentage, message, SOCKET)


def event_from_task(task: Task) -> TaskEvent:
    """What a Detail answer says, as an event; the percentage comes from the model's log.
    Detail's task_error is final (see the module's notes)."""
    percentage = None
    if task.status is TaskStatus.OUTPUT:
        found = _LOG_PERCENT.findall(str(task.raw.get("debugoutput") or ""))
        percentage = _percentage(found[-1]) if found else None
    return TaskEvent(task.status, percentage, None, POLL, task, final=task.is_terminal)


class _Progress:
    """What has been reported so far; lets through only what moves the task forward."""

    def __init__(self) -> None:
        self.rank = -1
        self.seen: set[TaskStatus] = set()
        self.percentage: float | None = None
        self.status: TaskStatus | None = None

    def accept(self, event: TaskEvent) -> bool:
        rank = _RANK.get(event.status, _RANK[TaskStatus.OUTPUT])
        if self.status is not None and self.status.is_terminal or rank < self.rank:
            return False
        new_status = event.status not in self.seen
        rises = event.percentage is not None and (self.percentage is None
                                                  or event.percentage > self.percentage)
        if not (new_status or rises):
            return False
        self.rank, self.status = rank, event.status
        self.seen.add(event.status)
        if rises:
            self.percentage = event.percentage
        return True


_SILENCE = object()  # _listen's signal: nothing arrived for the whole deadline


def _listen(url: str, token: str, silence: float, open_timeout: float,
            stop: threading.Event | None, ends_at: float) -> Iterator[Any]:
    """Socket messages for one task as TaskEvents (and _SILENCE after each quiet spell, and
    once the deadline `ends_at` has passed); ends when the socket cannot be opened, is
    closed, or refuses the registration."""
    try:
        # No keepalive pings (and no thread for them): the silence deadline already
        # notices a dead socket, and then Detail takes over.
        ws = connect(url, open_timeout=open_timeout, close_timeout=SOCKET_CLOSE_TIMEOUT,
                     compression=None, ping_interval=None)
    except (OSError, TimeoutError, WebSocketException):
        return
    with ws:
        try:
            ws.send(json.dumps({"type": "task_info", "tasktoken": token}))
        except (OSError, WebSocketException):
            return
        quiet_since = time.monotonic()
        while stop is None or not stop.is_set():
            now = time.monotonic()
            left = silence - (now - quiet_since)
            if left <= 0 or now >= ends_at:
                yield _SILENCE
                quiet_since = time.monotonic()
                continue
            try:
                wait = min(left, ends_at - now)
                raw = ws.recv(timeout=wait if stop is None else min(wait, STOP_CHECK_SECONDS))
            except TimeoutError:
                continue
            except (ConnectionClosed, OSError):
                return
            quiet_since = time.monotonic()
            try:
                event = parse_message(raw, token)
            except SocketRefused:
                return
            if event is not None:
                yield event


class _Stillness:
    """How long Detail has shown the same thing, and what that means by now."""

    def __init__(self, settle_window: float, stall_window: float):
        self.settle_window = settle_window
        self.stall_window = stall_window
        self._seen: tuple | None = None
        self._since = 0.0

    def verdict(self, task: Task) -> str | None:
        """"deliver", "fail", or None (keep waiting)."""
        # A growing log counts as moving: a model may print to stderr while it works.
        seen = (task.status_text, task.deliverable, len(str(task.raw.get("debugoutput") or "")))
        now = time.monotonic()
        if seen != self._seen:
            self._seen, self._since = seen, now
        still = now - self._since
        if task.deliverable and still >= self.settle_window:
            return "deliver"
        if not task.status_known and still >= self.stall_window:
            return "fail"
        return None


def follow(client: Any, handle: Any, *, socket_url: str | None = None,
           use_socket: bool = True, socket_deadline: float = SOCKET_SILENCE_SECONDS,
           open_timeout: float = SOCKET_OPEN_TIMEOUT, timeout: float | None = None,
           on_event: Callable[[TaskEvent], None] | None = None,
           stop: threading.Event | None = None, stall_window: float | None = None,
           settle_window: float | None = None) -> Iterator[TaskEvent]:
    """Yield the task's events as they happen, ending with its final event (with `task`).

    `client` is a WiroClient (or anything with its `detail`, `stop`, `socket_url` and
    timing attributes); `handle` anything with `id` and `token`. The socket is
    `socket_url`, else the client's; with neither, or with `use_socket=False`, the task is
    polled from the start. Setting `stop` ends the iterator early, without a final event
    and without touching the task. A stall or the deadline stops the task first, then
    raises TaskStalledError / TaskDeadlineError.
    """
    url = (socket_url or getattr(client, "socket_url", None)) if use_socket else None
    if timeout is None:
        timeout = getattr(client, "task_timeout", 600.0)
    stillness = _Stillness(
        getattr(client, "settle_window", 3.0) if settle_window is None else settle_window,
        getattr(client, "stall_window", 30.0) if stall_window is None else stall_window)
    progress = _Progress()
    ends_at = time.monotonic() + timeout
    ended_by: TaskEvent | None = None  # the socket's terminal event, if it told us first

    def stopped() -> bool:
        if time.monotonic() >= ends_at:
            raise TaskDeadlineError(handle.id, timeout)
        return stop is not None and stop.is_set()

    def pause(seconds: float) -> None:
        seconds = max(0.0, min(seconds, ends_at - time.monotonic()))
        if stop is not None:
            stop.wait(seconds)
        else:
            time.sleep(seconds)

    def emit(event: TaskEvent) -> TaskEvent:
        if on_event is not None:
            on_event(event)
        return event

    feed = _listen(url, handle.token, socket_deadline, open_timeout, stop, ends_at) if (
        url and handle.token) else None
    try:
        for item in feed or ():
            if stopped():
                return
            if item is _SILENCE:
                # Quiet: fine if the task is quiet too, lost if Detail shows it moved on.
                try:
                    task = client.detail(handle.id, within=0)
                except TRANSIENT_ERRORS:
                    break  # the polling below rides it out
                event = event_from_task(task)
                if event.is_terminal:
                    yield emit(event)
                    return
                if task.deliverable or not task.status_known:
                    break  # it may never move on: the polling below decides for how long
                if progress.accept(event):
                    yield emit(event)
                    break
                continue
            if item.is_terminal:
                ended_by = item
                break
            if progress.accept(item):
                yield emit(item)
        if feed is not None and ended_by is None:
            feed.close()  # given up on; after a terminal event it stays open until the end

        # Polling: the fallback, and the Detail call that fetches the finished task.
        interval = getattr(client, "poll_interval", 2.0)
        unchanged = 0  # polls since the status last changed
        while not stopped():
            try:  # the client's request policy rides out trouble, up to the deadline
                task = client.detail(handle.id, within=max(0.0, ends_at - time.monotonic()),
                                     stop=stop)
            except TRANSIENT_ERRORS:
                pause(interval)
                continue
            event = event_from_task(task)
            verdict = stillness.verdict(task)
            if event.is_terminal or verdict == "deliver":
                if ended_by is not None:
                    event = replace(event, message=ended_by.message, source=SOCKET)
                yield emit(replace(event, final=True))
                return
            if verdict == "fail":
                raise TaskStalledError(task, stillness.stall_window)
            before = progress.status
            if progress.accept(event):
                yield emit(event)
            unchanged = 0 if event.status is not before else unchanged + 1
            pause(poll_delay(event.status, unchanged, interval))
    except (TaskStalledError, TaskDeadlineError) as exc:
        if feed is not None:
            feed.close()  # the socket goes first, then the task is stopped
        exc.stopped = client.stop(handle.id, status=progress.status)
        raise
    finally:
        if feed is not None:
            feed.close()


_END = object()


class FollowThread:
    """`follow` in a daemon thread; its events arrive on a queue.

    `take(timeout)` waits up to `timeout` for events and returns all that are there (an
    error raised by `follow` is raised here); `done` turns true after the last one. `stop()`
    ends the thread promptly whatever the task is doing; the task itself is left alone.
    """

    def __init__(self, client: Any, handle: Any, **follow_options: Any):
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.done = False
        self._thread = threading.Thread(
            target=self._run, args=(client, handle), kwargs=follow_options,
            name=f"wiro-follow-{handle.id}", daemon=True)

    def start(self) -> FollowThread:
        self._thread.start()
        return self

    def _run(self, client: Any, handle: Any, **options: Any) -> None:
        try:
            for event in follow(client, handle, stop=self._stop, **options):
                self._queue.put(event)
        except Exception as exc:  # handed to the consumer, raised in take()
            self._queue.put(exc)
        finally:
            self._queue.put(_END)

    def take(self, timeout: float) -> list[TaskEvent]:
        if self.done:
            return []
        try:
            items = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        events = []
        for item in items:
            if item is _END:
                self.done = True
            elif isinstance(item, Exception):
                self.done = True
                raise item
            else:
                events.append(item)
        return events

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def __enter__(self) -> FollowThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
