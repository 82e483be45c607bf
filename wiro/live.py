"""Follow a task as it happens: Wiro's websocket first, polling Task/Detail as the fallback.

`follow(client, handle)` yields `TaskEvent`s in lifecycle order and ends with one terminal
event (task_postprocess_end or task_cancel) that carries the final `Task` from one Detail
call, with its outputs, pexit and cost. When the socket cannot be opened, closes early, or
stays quiet for `socket_deadline` seconds while Detail shows the task moving, the same
iterator goes on by polling Detail with a growing delay. Events are never repeated: a status
is reported once, and task_output only when its percentage rises. Nothing here ever sends a
second Run.

`FollowThread` runs `follow` in a background thread and hands its events over a queue, for
callers (like a UI) that must wake up on their own schedule and be able to stop it.
"""
from __future__ import annotations

import json
import queue
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import connect

from .client import MAX_TRANSIENT_POLL_ERRORS, TRANSIENT_ERRORS
from .errors import WiroTimeoutError
from .models import Task
from .statuses import LIFECYCLE, TaskStatus

if TYPE_CHECKING:
    from .client import TaskHandle, WiroClient

SOCKET = "socket"
POLL = "poll"

# The socket counts as lost after this long without a message, if Detail then shows that
# the task moved on without it. A task waiting in a queue may be quiet for longer.
SOCKET_SILENCE_SECONDS = 10.0
SOCKET_OPEN_TIMEOUT = 5.0
SOCKET_CLOSE_TIMEOUT = 1.0
# A blocked socket read wakes up this often to see whether the caller asked to stop.
STOP_CHECK_SECONDS = 0.1
# Polling Detail: a short first delay, growing after every look that shows no new status.
POLL_FIRST_DELAY = 0.1
POLL_BACKOFF_FACTOR = 1.5
POLL_MAX_DELAY = 2.0

# Rank of each status along the lifecycle; interim stderr events rank with their stdout twins.
_RANK = {status: n for n, status in enumerate(LIFECYCLE)}
_RANK[TaskStatus.ERROR] = _RANK[TaskStatus.OUTPUT]
_RANK[TaskStatus.ERROR_FULL] = _RANK[TaskStatus.OUTPUT_FULL]
_RANK[TaskStatus.CANCEL] = len(LIFECYCLE)
_LOG_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%\s*\|")


def poll_delay(attempt: int) -> float:
    """Seconds to wait after poll number `attempt` (0 = the first since the last change)."""
    return min(POLL_MAX_DELAY, POLL_FIRST_DELAY * POLL_BACKOFF_FACTOR ** max(0, attempt))


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

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def phase(self) -> str:
        return self.status.phase


class SocketRefused(Exception):
    """The socket answered the registration with result false (e.g. an unknown token)."""


def _percentage(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if 0.0 <= value <= 100.0 else None


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
    if status is TaskStatus.OUTPUT and isinstance(message, dict):
        percentage = _percentage(message.get("percentage"))
    return TaskEvent(status, percentage, message, SOCKET)


def event_from_task(task: Task, source: str = POLL) -> TaskEvent:
    """What a Detail answer says, as an event; the percentage comes from the model's log."""
    percentage = None
    if task.status is TaskStatus.OUTPUT:
        found = _LOG_PERCENT.findall(str(task.raw.get("debugoutput") or ""))
        percentage = _percentage(found[-1]) if found else None
    return TaskEvent(task.status, percentage, None, source, task)


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
            stop: threading.Event | None) -> Iterator[Any]:
    """Socket messages for one task as TaskEvents (and _SILENCE after each quiet spell);
    ends when the socket cannot be opened, is closed, or refuses the registration."""
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
            left = silence - (time.monotonic() - quiet_since)
            if left <= 0:
                yield _SILENCE
                quiet_since = time.monotonic()
                continue
            try:
                raw = ws.recv(timeout=left if stop is None else min(left, STOP_CHECK_SECONDS))
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


def follow(client: "WiroClient", handle: "TaskHandle", *, socket_url: str | None = None,
           use_socket: bool = True, socket_deadline: float = SOCKET_SILENCE_SECONDS,
           open_timeout: float = SOCKET_OPEN_TIMEOUT, timeout: float | None = None,
           on_event: Callable[[TaskEvent], None] | None = None,
           stop: threading.Event | None = None) -> Iterator[TaskEvent]:
    """Yield the task's events as they happen, ending with its terminal event (with `task`).

    The socket is `socket_url`, else the client's `socket_url`; with neither, or with
    `use_socket=False`, the task is polled from the start. `timeout` bounds the whole wait
    (WiroTimeoutError); setting `stop` ends the iterator early, without a terminal event.
    Transient Detail errors are retried a few times, then raised.
    """
    url = (socket_url or getattr(client, "socket_url", None)) if use_socket else None
    ends_at = None if timeout is None else time.monotonic() + timeout
    progress = _Progress()
    ended_by: TaskEvent | None = None  # the socket's terminal event, if it told us first

    def stopped() -> bool:
        if ends_at is not None and time.monotonic() >= ends_at:
            raise WiroTimeoutError(f"Task {handle.id} did not finish within {timeout:g} s.")
        return stop is not None and stop.is_set()

    def emit(event: TaskEvent) -> TaskEvent:
        if on_event is not None:
            on_event(event)
        return event

    feed = _listen(url, handle.token, socket_deadline, open_timeout, stop) if (
        url and handle.token) else None
    try:
        for item in feed or ():
            if stopped():
                return
            if item is _SILENCE:
                # Quiet: fine if the task is quiet too, lost if Detail shows it moved on.
                try:
                    event = event_from_task(client.detail(handle.id))
                except TRANSIENT_ERRORS:
                    break  # the polling below retries, and gives up if it must
                if event.is_terminal:
                    yield emit(event)
                    return
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

        # Polling: the fallback, and the one Detail call that fetches the finished task.
        attempt = failures = 0
        while not stopped():
            try:
                task = client.detail(handle.id)
                failures = 0
            except TRANSIENT_ERRORS:
                failures += 1
                if failures > MAX_TRANSIENT_POLL_ERRORS:
                    raise
            else:
                event = event_from_task(task)
                if event.is_terminal:
                    if ended_by is not None:
                        event = replace(event, message=ended_by.message, source=SOCKET)
                    yield emit(event)
                    return
                before = progress.status
                if progress.accept(event):
                    yield emit(event)
                    if event.status is not before:
                        attempt = 0  # a new status: more may follow soon
            delay = poll_delay(attempt)
            attempt += 1
            if stop is not None:
                stop.wait(delay)
            else:
                time.sleep(delay)
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

    def __init__(self, client: "WiroClient", handle: "TaskHandle", **follow_options: Any):
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.done = False
        self._thread = threading.Thread(
            target=self._run, args=(client, handle), kwargs=follow_options,
            name=f"wiro-follow-{handle.id}", daemon=True)

    def start(self) -> "FollowThread":
        self._thread.start()
        return self

    def _run(self, client: "WiroClient", handle: "TaskHandle", **options: Any) -> None:
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

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "FollowThread":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
