"""A run's life after admission: send Run, follow the task, download the image.

`Runner.run` is a generator of `RunUpdate`s for one admitted `Job` (studio/admission.py); it
neither validates nor admits. Everything after Run is sent sits in one guarded block whose
`finally` holds, whatever raised (a locked database, a full disk, a closed tab, a bug):
the task is stopped unless Wiro says it has ended; the ledger keeps whatever Wiro may have
charged; the run slot is given back. Bookkeeping writes (ledger, journal) go through
`datadir.safely`, so storage trouble costs a log line, never the run.

`Runner.together` drives several runs (side by side, or one) in their own threads and
yields all their latest updates: as soon as one has news (APP_PUSH_UPDATES=1), or on a
TICK_SECONDS tick. Closing it closes every run where it runs, so each stops its own task.
"""
from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from wiro import Task, TaskHandle, WiroClient, WiroError
from wiro.errors import (
    AmbiguousStartError, DownloadError, RateLimitedError, RunMaybeStartedError,
    TaskDeadlineError, TaskFailedError, TaskStalledError,
)
from wiro.live import FollowThread, TaskEvent
from wiro.statuses import TaskStatus, lifecycle_fraction

from .active_runs import ActiveRuns, stop_line
from .admission import Job
from .backend import Backend
from .datadir import safely
from .outputs import OutputStore
from .record import RunRecord
from .status import RunStatus

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
# A lost Run's task is looked for twice, this far apart at most (the poll interval).
LOST_LOOK_AGAIN_SECONDS = 2.0
# How long closing a batch waits for its runs to stop their tasks.
JOIN_SECONDS = 20.0


@dataclass(frozen=True)
class RunUpdate:
    status: RunStatus
    seed: int | None = None
    finished: bool = False
    taskid: str | None = None  # once Wiro has named the task
    record: RunRecord | None = None  # the delivered run (its image on this server)


# Where the model's own percentage moves the bar: from task_start to task_output_full.
GENERATING_BAND = (lifecycle_fraction(TaskStatus.START),
                   lifecycle_fraction(TaskStatus.OUTPUT_FULL))


def progress_fraction(event: TaskEvent | None) -> float:
    """The bar: the lifecycle stage, and within generating the model's own percentage."""
    if event is None:
        return 0.0
    if event.status in (TaskStatus.OUTPUT, TaskStatus.ERROR):
        low, high = GENERATING_BAND
        return low + (high - low) * (event.percentage or 0.0) / 100.0
    return lifecycle_fraction(event.status)


def status_title(taskid: str, event: TaskEvent | None) -> str:
    status = event.status if event else TaskStatus.QUEUE
    title = f"Task {taskid}: {status.phase}"
    if event is not None and event.percentage is not None and not status.is_terminal:
        title += f" {event.percentage:.0f}%"
    return title


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
    list at least every TICK_SECONDS either way (the heartbeat a closing caller needs)."""
    next_tick = time.monotonic() + TICK_SECONDS
    while not follower.done:
        if push:
            yield follower.take(timeout=TICK_SECONDS)
            continue
        time.sleep(max(0.0, next_tick - time.monotonic()))
        next_tick = max(next_tick + TICK_SECONDS, time.monotonic())
        yield follower.take(timeout=0)


@dataclass
class Runner:
    """What every run uses: the backend (owner's client, journal, simulator), the page's
    registry of running tasks, and the folder results are saved to."""

    backend: Backend
    registry: ActiveRuns
    outputs: OutputStore

    def run(self, session: str, job: Job, client: WiroClient | None = None
            ) -> Iterator[RunUpdate]:
        """One admitted run. `client` is a visitor's own (else the owner's)."""
        key_kind = "visitor" if client is not None else "owner"
        client = client or self.backend.client()
        journal, seed, began = self.backend.journal, job.seed, time.monotonic()
        handle = None
        ended = False  # Wiro says the task has ended: nothing to stop
        charge: float | None = None  # Wiro's totalcost, once known
        outcome = "stopped"  # for the journal
        try:
            yield RunUpdate(RunStatus("running", "Sending to Wiro…", fraction=0.0,
                                      elapsed=0.0), seed)
            job.ticket.sending()  # from here Wiro may charge, whatever happens next
            placeholder = safely("a Run on its way", journal.sending, key_kind,
                                 client.base_url) if journal else None
            self.registry.starting(session)
            sent_at, found = time.time(), ""
            try:
                handle = client.run(job.request)
            except RunMaybeStartedError as exc:  # never sent again: looked for instead
                handle, found = self._find_lost(client, job, sent_at)
                if handle is None:  # the journal row stays: a restart looks again
                    yield RunUpdate(RunStatus("error", _start_failure(exc),
                                              f"{exc}\n{found}"), seed, finished=True)
                    return
            except WiroError as exc:
                job.ticket.not_sent()
                if journal and placeholder:
                    safely("a refused Run", journal.not_started, placeholder)
                yield RunUpdate(RunStatus("error", _start_failure(exc), str(exc)), seed,
                                finished=True)
                return
            finally:
                if handle is not None:  # before `started`: stop_all waits for it
                    self.registry.add(session, client, handle.id, job.slot)
                self.registry.started(session)
            if journal:
                safely("a started task", journal.started, handle.id, handle.token, key_kind,
                       client.base_url, placeholder)
            job.ticket.sending(handle.id)
            try:
                task = yield from self._follow(client, handle, seed, began, found)
            except (TaskStalledError, TaskDeadlineError) as exc:
                stopped = exc.stopped  # the follower has already tried to stop it
                ended, charge = stopped.confirmed, stopped.charged_usd
                if not (stopped.action == "already_ended" and stopped.task is not None):
                    title = ("The run took too long." if isinstance(exc, TaskDeadlineError)
                             else "The run failed.")
                    said = exc.task.status_text if getattr(exc, "task", None) else ""
                    yield RunUpdate(RunStatus(
                        "error", title, f"{exc}\n{stop_line(stopped, self.backend.is_simulator)}",
                        wiro_status=said), seed, True, handle.id)
                    return
                task = stopped.task  # it ended after all: deliver what it made
            except WiroError as exc:
                yield RunUpdate(RunStatus("error", f"Task {handle.id} did not finish.",
                                          str(exc)), seed, True, handle.id)
                return  # the finally stops the task and says nothing more
            if task is None:
                return  # the follower was stopped: the finally stops the task
            ended, charge = True, task.total_cost
            outcome = "cancelled" if task.cancelled else "done" if task.deliverable else "failed"
            yield self._finish(session, client, task, job, time.monotonic() - began, found)
        finally:
            try:
                if handle is not None:
                    self.registry.discard(session, handle.id)
                    if not ended:  # a closed tab, an error, anything: nobody will see it
                        stopped = client.stop(handle.id)
                        ended = stopped.confirmed
                        charge = stopped.charged_usd if stopped.charged_usd is not None \
                            else charge
            finally:
                job.ticket.release(charge)  # the slot first, then Wiro's charge on the ledger
            if journal and handle is not None and ended:  # unconfirmed: retried at next start
                safely("the end of a task", journal.ended, handle.id, outcome, charge)

    def _find_lost(self, client: WiroClient, job: Job, sent_at: float
                   ) -> tuple[TaskHandle | None, str]:
        """Run's answer was lost: look for the task it may have made (Task/List), never a
        second Run. Tasks this app already knows of are other runs', never adopted."""
        journal = self.backend.journal
        known = set(self.registry.task_ids())
        if journal:
            known |= safely("the journal's tasks", journal.task_ids) or set()
        search = client.search_lost_task(sent_at, request=job.request, exclude=known)
        if search.task is None:  # Wiro may list a task a moment after making it
            time.sleep(min(client.poll_interval, LOST_LOOK_AGAIN_SECONDS))
            search = client.search_lost_task(sent_at, request=job.request, exclude=known)
        if search.task is None:
            return None, f"Looked for it with Task/List: {search.reason}."
        task = search.task
        return (TaskHandle(client, task.id, task.token),
                f"Wiro's answer to Run was lost; Task/List showed task {task.id}, made as "
                "the Run went out, and this page followed it (the Run was not sent again).")

    def _follow(self, client: WiroClient, handle: Any, seed: int, began: float,
                found: str = ""):
        """Progress updates while the task runs; returns the finished Task (None if the
        follower was stopped first). The follower's failures are raised here."""
        follower = FollowThread(client, handle).start()
        latest: TaskEvent | None = None
        try:
            for events in _updates(follower, self.backend.push_updates):
                latest = events[-1] if events else latest
                if latest is not None and latest.is_terminal:
                    return latest.task
                status = latest.status if latest else TaskStatus.QUEUE
                yield RunUpdate(RunStatus(
                    "running", status_title(handle.id, latest), found,
                    fraction=progress_fraction(latest), wiro_status=status.value,
                    elapsed=time.monotonic() - began), seed, taskid=handle.id)
            return latest.task if latest is not None and latest.is_terminal else None
        finally:
            follower.stop()

    def _finish(self, session: str, client: WiroClient, task: Task, job: Job,
                wall: float, found: str = "") -> RunUpdate:
        seed, said = job.seed, task.status_text

        def ended(kind: str, title: str, detail: str) -> RunUpdate:
            return RunUpdate(RunStatus(kind, title, detail, wiro_status=said), seed, True,
                             task.id)

        if task.cancelled:  # the same words as the Stop button's answer, when it was that
            line = self.registry.stop_outcome(task.id)
            return ended("stopped", "Stopped.",
                         line or f"Task {task.id} was cancelled outside this page.")
        if not task.deliverable:
            return ended("error", "The model did not produce an image.",
                         str(TaskFailedError(task)))
        output = task.outputs[0]
        # The simulator's price is not money spent, and is never said to be.
        price = (f"${task.total_cost:.4f} simulated — no charge" if self.backend.is_simulator
                 else f"${task.total_cost:.4f}")
        charged = (f"Task {task.id} finished ({price})" if self.backend.is_simulator
                   else f"Task {task.id} finished and was charged {price}")
        try:
            data = client.download(output)
        except DownloadError as exc:  # charged all the same; the link may still work later
            return ended("error", "The image could not be downloaded.",
                         f"{charged}, but its image could not be fetched: {exc}\nLink: {exc.url}")
        try:  # a file that is not an image gets plain words, not Pillow's repr
            with Image.open(io.BytesIO(data)) as im:
                width, height, fmt = im.width, im.height, (im.format or "").lower()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            return ended("error", "Wiro's output is not an image this page can show.",
                         f"{charged}, but its output file {output.name or '(unnamed)'} "
                         f"({len(data):,} bytes) is not a PNG, JPEG or WebP image.")
        extension = output.name.rsplit(".", 1)[-1] if "." in output.name else fmt
        try:
            path = self.outputs.save(session, f"flux2pro-task{task.id}-seed{seed}.{extension}",
                                     data)
        except OSError as exc:  # a full disk: the image is still the visitor's, at Wiro's link
            log.warning("task %s's image was not saved (%s)", task.id, exc)
            return ended("error", "The image is ready, but this server could not save it.",
                         f"{charged}. Open it from Wiro's link within a few minutes: {output.url}")
        record = RunRecord(
            task_id=task.id, inputs=dict(job.request.params), references=job.references,
            image=str(path), width=width, height=height, format=fmt, bytes=len(data),
            cost_usd=task.total_cost, estimate_usd=job.estimate_usd,
            simulated=self.backend.is_simulator, wiro_seconds=task.elapsed_seconds,
            total_seconds=round(wall, 2))
        summary = (f"Task {task.id} · seed {seed} · {width}×{height} {fmt.upper()} · "
                   f"{wall:.1f} s · {price}" + (f"\n{found}" if found else ""))
        return RunUpdate(RunStatus("done", "Done.", summary, fraction=1.0, wiro_status=said),
                         seed, True, task.id, record)

    def together(self, session: str, jobs: Sequence[Job], client: WiroClient | None = None,
                 *, tick: float = TICK_SECONDS, join_seconds: float = JOIN_SECONDS
                 ) -> Iterator[list[RunUpdate | None]]:
        """Run the jobs at once, each in its own thread; yield all their latest updates
        (None until a run has news) until every one has finished."""
        runs = [self.run(session, job, client) for job in jobs]
        latest: list[RunUpdate | None] = [None] * len(runs)
        done = [False] * len(runs)
        changed = threading.Condition()
        stop = threading.Event()

        def pump(index: int, run: Iterator[RunUpdate]) -> None:
            try:
                for update in run:
                    with changed:
                        latest[index] = update
                        changed.notify_all()
                    if stop.is_set():
                        break
            except Exception as exc:  # shown in its slot, never lost; the run's finally ran
                log.exception("a run failed")
                with changed:
                    latest[index] = RunUpdate(RunStatus("error", "This run failed.", str(exc)),
                                              finished=True)
            finally:
                run.close()  # in this thread: a generator is closed where it runs
                with changed:
                    done[index] = True
                    changed.notify_all()

        threads = [threading.Thread(target=pump, args=(i, run), daemon=True,
                                    name=f"run-{session[:8]}-{i + 1}")
                   for i, run in enumerate(runs)]
        for thread in threads:
            thread.start()
        push = self.backend.push_updates
        try:
            seen: list[RunUpdate | None] = []
            while True:
                with changed:
                    if push:
                        changed.wait_for(lambda seen=seen: latest != seen or all(done), tick)
                    else:
                        changed.wait(tick)
                    seen, finished = list(latest), all(done)
                yield seen
                if finished:
                    return
        finally:
            stop.set()
            deadline = time.monotonic() + join_seconds
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
