"""Side by side: the same inputs with 2-4 seeds, each its own task, shown in a row.

Each seed is one `studio.run.generate`, each in its own thread; `run_together` merges them
into one generator that yields every slot's latest update every TICK_SECONDS, so Gradio
can stream the row and stop it. Every task is registered in the page's `ActiveRuns` under
the browser session, so Stop, a closed tab and shutdown end them like any run; a
`SlotRegistry` also remembers which task each slot has, for that slot's own Stop.

The guard admits the batch at once (`Guard.admit_batch`): one admission for the
per-session cap, but every seed counts as a run against the overall, hourly and spend caps.
"""
from __future__ import annotations

import math
import re
import threading
import time
from typing import Any, Callable, Iterator, Sequence

from wiro import InvalidInputError, WiroClient, spec, validate_inputs

from .guards import RunRefused, Ticket
from .run import TICK_SECONDS, ActiveRuns, RunUpdate, generate
from .status import RunStatus

MIN_SEEDS, MAX_SEEDS = 2, 4
JOIN_SECONDS = 20.0


def parse_seeds(text: Any) -> tuple[list[int], list[str]]:
    """Seeds from "1, 2, 3" (commas or spaces): ([seeds], [problems])."""
    parts = [p for p in re.split(r"[\s,;]+", str(text or "").strip()) if p]
    seeds: list[int] = []
    problems: list[str] = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            problems.append(f"{part!r} is not a seed; use whole numbers.")
            continue
        if not math.isfinite(value) or value != int(value) or \
                not spec.SEED.minimum <= value <= spec.SEED.maximum:
            problems.append(f"{part} is not a seed; use whole numbers from {spec.SEED.minimum}"
                            f" to {spec.SEED.maximum}.")
            continue
        if int(value) in seeds:
            problems.append(f"Seed {int(value)} is listed twice; each run needs its own seed.")
            continue
        seeds.append(int(value))
    if not problems and not MIN_SEEDS <= len(seeds) <= MAX_SEEDS:
        problems.append(f"Give {MIN_SEEDS} to {MAX_SEEDS} seeds to compare (got {len(seeds)}).")
    return seeds, problems


def default_seeds(seed: Any, count: int = MIN_SEEDS) -> str:
    try:
        start = int(float(seed))
    except (TypeError, ValueError):
        start = spec.SEED.default
    start = min(max(start, spec.SEED.minimum), spec.SEED.maximum - count)
    return ", ".join(str(start + n) for n in range(count))


def confirm_label(runs: int, total_text: str = "", simulated: bool = False) -> str:
    runs = max(runs, MIN_SEEDS)
    extra = f" ({total_text})" if total_text else ""
    if simulated:  # the simulator charges nothing: no money is at stake
        return f"I understand this starts {runs} simulated runs (no charge){extra}"
    return f"I understand this starts {runs} paid runs{extra}"


class SlotRegistry:
    """Passes a slot's task on to the page's ActiveRuns and remembers its id."""

    def __init__(self, registry: ActiveRuns, on_task: Callable[[str], None]):
        self.registry = registry
        self.on_task = on_task

    def add(self, session: str, client: WiroClient, taskid: str) -> None:
        self.registry.add(session, client, taskid)
        self.on_task(taskid)

    def discard(self, session: str, taskid: str) -> None:
        self.registry.discard(session, taskid)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.registry, name)  # everything else is the page's ActiveRuns


class SlotTasks:
    """Which task each side-by-side slot of each session is following (for its Stop)."""

    def __init__(self) -> None:
        self._tasks: dict[str, dict[int, str]] = {}
        self._lock = threading.Lock()

    def set(self, session: str, slot: int, taskid: str) -> None:
        with self._lock:
            self._tasks.setdefault(session, {})[slot] = taskid

    def get(self, session: str, slot: int) -> str | None:
        with self._lock:
            return self._tasks.get(session, {}).get(slot)

    def clear(self, session: str) -> None:
        with self._lock:
            self._tasks.pop(session, None)


def stop_slot(registry: ActiveRuns, slots: SlotTasks, session: str, slot: int) -> str:
    taskid = slots.get(session, slot)
    line = registry.stop_task(session, taskid) if taskid else None
    return line or f"Run {slot + 1} is not running."


def run_together(runs: Sequence[Iterator[RunUpdate]], tick: float = TICK_SECONDS,
                 join_seconds: float = JOIN_SECONDS) -> Iterator[list[RunUpdate | None]]:
    """Drive each run in its own thread; yield all their latest updates every `tick` until
    every run has finished. Closing this generator makes each thread close its run, whose
    own `finally` stops its task; it waits up to `join_seconds` for that."""
    latest: list[RunUpdate | None] = [None] * len(runs)
    done = [threading.Event() for _ in runs]
    stop = threading.Event()

    def pump(index: int, run: Iterator[RunUpdate]) -> None:
        try:
            for update in run:
                latest[index] = update
                if stop.is_set():
                    break
        except Exception as exc:  # noqa: BLE001 — shown in the slot, never lost
            latest[index] = RunUpdate(RunStatus("error", "This run failed.", str(exc)),
                                       finished=True)
        finally:
            close = getattr(run, "close", None)
            if close:
                close()  # in this thread: a generator is closed where it runs
            done[index].set()

    threads = [threading.Thread(target=pump, args=(i, run), daemon=True,
                                name=f"side-by-side-{i + 1}") for i, run in enumerate(runs)]
    for thread in threads:
        thread.start()
    try:
        while True:
            finished = all(d.is_set() for d in done)
            yield list(latest)
            if finished:
                return
            time.sleep(tick)
    finally:
        stop.set()
        deadline = time.monotonic() + join_seconds
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def compare(backend: Any, registry: ActiveRuns, store: Any, session: str,
            values: dict[str, Any], seeds: Sequence[int], *, slots: SlotTasks,
            admit_batch: Callable[[int], list[Ticket]],
            client: WiroClient | None = None) -> Iterator[list[RunUpdate | None]]:
    """Run `values` once per seed, side by side. Yields a list with one entry per seed
    (None until that run has news). The inputs are checked once, then the batch is
    admitted as a whole, before any paid call."""
    count = len(seeds)
    try:
        validate_inputs({**values, spec.SEED.name: seeds[0]},
                        allow_private_urls=backend.allow_private_urls)
    except InvalidInputError as exc:
        invalid = RunUpdate(RunStatus("invalid", "Nothing was sent — fix these first:",
                                      problems=exc.problems), finished=True)
        yield [invalid] * count
        return
    try:
        tickets = admit_batch(count)
    except RunRefused as exc:
        refused = RunUpdate(RunStatus("refused", "Not run — nothing was charged.", str(exc)),
                            finished=True)
        yield [refused] * count
        return
    slots.clear(session)
    runs = []
    for index, (seed, ticket) in enumerate(zip(seeds, tickets)):
        def remember(taskid: str, index: int = index) -> None:
            slots.set(session, index, taskid)
        runs.append(generate(backend, SlotRegistry(registry, remember), store, session,
                             {**values, spec.SEED.name: seed}, client=client,
                             admit=lambda ticket=ticket: ticket))
    try:
        yield from run_together(runs)
    finally:
        for ticket in tickets:
            ticket.release()  # a no-op for the runs that released their own, with the cost
        slots.clear(session)
