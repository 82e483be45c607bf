"""Every way a paid run was seen to go wrong (issue 10), injected into the simulator, and
how the page's run ends each time.

For each fault kind, RUNS runs go through the page's own path (studio.admission, then
studio.run.Runner.run)
against a simulator on loopback, one fresh simulator per kind, a task taking about 1.1 s.
The settings' windows are shrunk so the bench takes minutes, not hours: stall window 0.5 s
(30 s by default), settle 0.3 s (3 s), task deadline 4 s (600 s), Detail timeout 0.5 s (5 s),
download retries 3 s (60 s), Kill/Cancel retries 2 s (20 s).

Each run is counted once, as:
  image     it ended with the image delivered;
  clear     it ended with a clear failure (or a Stop) and no task of it left running;
  hung      the generator had not ended HANG_SECONDS after the deadline;
  twice     Run was sent more than once for it;
  bad       anything else: ended, but a task was left running, or the words were unclear.
The goal: every kind at 100 % image or clear, 0 hung, 0 twice. The kinds whose right
ending is a clear failure say so in "expected".

    python bench/faults.py [--runs 3] [--only detail_html,run_429]
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from studio import admission  # noqa: E402
from studio.active_runs import ActiveRuns  # noqa: E402
from studio.backend import Backend  # noqa: E402
from studio.config import Config  # noqa: E402
from studio.guards import Guard  # noqa: E402
from studio.outputs import OutputStore  # noqa: E402
from studio.run import Runner, RunUpdate  # noqa: E402
from studio.visitors import Visitor  # noqa: E402
from wiro import spec  # noqa: E402
from wiro.settings import Settings  # noqa: E402
from wiro.simulator import SimulatorServer, SimulatorState  # noqa: E402

PACE = 0.2
WINDOWS = dict(poll_interval=0.1, request_timeout=2.0, detail_timeout=0.5, stall_window=0.5,
               settle_window=0.3, task_timeout=4.0, download_window=3.0)
STOP_WINDOW = 2.0
HANG_SECONDS = 30.0
VALUES = {**spec.defaults(), spec.INPUT_IMAGE.name: [], "width": 256, "height": 256,
          "outputFormat": "jpeg"}
# No caps: the bench is about how a run ends, not whether it may start.
UNCAPPED = Config(runs_per_session=0, max_concurrent_runs=0, runs_per_client_per_hour=0)


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    expected: str  # "image" or "clear"
    setup: Callable[[SimulatorState], None]
    socket: bool = False
    press_stop: bool = False  # press Stop once the task is generating


def faults() -> list[Fault]:
    def knobs(**k):
        return lambda s: s.configure(**k)

    def inject(endpoint, kind, times, **k):
        def setup(s):
            s.configure(**k)
            s.inject_fault(endpoint, kind, times)
        return setup

    return [
        Fault("none", "nothing wrong (polling)", "image", knobs()),
        Fault("none_socket", "nothing wrong (websocket)", "image", knobs(), socket=True),
        Fault("held_task_end", "Detail stuck at task_end, image ready", "image",
              knobs(detail_status="task_end")),
        Fault("pre_exec_error", "task fails before the model runs (task_error)", "clear",
              knobs(fail_before_start=1)),
        Fault("held_unknown", "Detail stuck at task_failed (unknown)", "clear",
              knobs(detail_status="task_failed", hold_running=True)),
        Fault("never_ends", "task runs for ever (deadline)", "clear", knobs(hold_running=True)),
        Fault("detail_empty", "Detail: empty tasklist x8", "image",
              inject("detail", "empty_tasklist", 8)),
        Fault("detail_html", "Detail: an HTML page x8", "image", inject("detail", "html", 8)),
        Fault("detail_garbled", "Detail: cut-off JSON x8", "image",
              inject("detail", "malformed_json", 8)),
        Fault("detail_429", "Detail: 429 + Retry-After x3", "image",
              inject("detail", "http429", 3, retry_after_seconds=0.3)),
        Fault("detail_5xx", "Detail: HTTP 500 x12", "image", inject("detail", "http500", 12)),
        Fault("detail_408", "Detail: HTTP 408 x6", "image", inject("detail", "http408", 6)),
        Fault("detail_reset", "Detail: connection reset x6", "image",
              inject("detail", "reset", 6)),
        Fault("detail_slow", "Detail: one answer takes 3 s", "image",
              inject("detail", "timeout", 1, fault_timeout_seconds=3.0)),
        Fault("detail_dead", "Detail never answers, task never ends", "clear",
              inject("detail", "empty_tasklist", 100_000, hold_running=True)),
        Fault("output_404", "output link 404 x4", "image", inject("download", "http404", 4)),
        Fault("output_reset", "output download reset x2", "image",
              inject("download", "reset", 2)),
        Fault("output_expired", "output link always 404 (charged)", "clear",
              knobs(output_ttl_seconds=-1)),
        Fault("stop_no_tasklist", "Stop pressed; Kill answers without a task", "clear",
              knobs(hold_running=True, stop_without_tasklist=True), press_stop=True),
        Fault("kill_flaky", "deadline; Kill fails 3 times first", "clear",
              inject("kill", "http500", 3, hold_running=True)),
        Fault("socket_drop", "socket drops mid-task", "image",
              knobs(socket_mode="drop_mid_task"), socket=True),
        Fault("socket_silent", "socket silent, task fails before it runs", "clear",
              knobs(socket_mode="silent", fail_before_start=1), socket=True),
        Fault("socket_pre_exec", "task fails before it runs (websocket)", "clear",
              knobs(fail_before_start=1), socket=True),
        Fault("model_fails", "the model fails (pexit 1)", "clear", knobs(fail_next_tasks=1)),
        Fault("run_429", "Run: 429 + Retry-After", "clear", inject("run", "http429", 1)),
        Fault("run_no_task", "Run: result true, no task id", "clear",
              inject("run", "no_task", 1)),
        Fault("run_5xx", "Run: HTTP 500 (may have started)", "clear",
              inject("run", "http500", 1)),
        Fault("run_lost", "Run: task made, answer lost (found by Task/List)", "image",
              inject("run", "lost_response", 1)),
        Fault("run_never_answers", "Run: task made, no answer (found by Task/List)", "image",
              inject("run", "lost_after_create", 1, fault_timeout_seconds=3.0)),
        Fault("run_408", "Run: HTTP 408", "clear", inject("run", "http408", 1)),
        Fault("key_forbidden", "every call answers 403", "clear", knobs(forbidden=True)),
    ]


# Runs that ended "may have started", and for how many WiroClient.find_lost_task answered
# right: the task that Run made, or None when it made none (the page does not ask it yet).
LOST: dict[str, list[int]] = {}


def one_run(backend: Backend, state: SimulatorState, fault: Fault,
            store: OutputStore, n: int) -> str:
    registry = ActiveRuns()
    session = f"{fault.name}-{n}"
    calls_before, tasks_before = state.run_calls, {t["id"] for t in state.tasks()}
    result: list[RunUpdate] = []
    sent_at = time.time()

    def consume() -> None:
        jobs = admission.admit(Guard(UNCAPPED), Visitor("127.0.0.1", session),
                               dict(VALUES, seed=n), [n], own_key=False,
                               allow_private_urls=backend.allow_private_urls)
        assert not isinstance(jobs, admission.Refusal), jobs
        for update in Runner(backend, registry, store).run(session, jobs[0]):
            result.append(update)
            if (fault.press_stop and update.status.wiro_status == "task_output"
                    and registry.count(session)):
                registry.stop(session)

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    thread.join(WINDOWS["task_timeout"] + HANG_SECONDS)
    if thread.is_alive():
        return "hung"
    if state.run_calls - calls_before > 1:
        return "twice"
    last = result[-1] if result else None
    if last is None or not last.finished:
        return "bad"
    if last.record is not None:
        return "image"
    if "may have started" in last.status.text():
        # Tasks this app already knows are another run's: the page can name them too.
        found = backend.client().find_lost_task(sent_at, exclude=tasks_before)
        made = {t["id"] for t in state.tasks()} - tasks_before
        tally = LOST.setdefault(fault.name, [0, 0])
        tally[0] += 1
        tally[1] += found.id in made if found is not None else not made
    mine = [t for t in state.running_tasks() if t["id"] not in tasks_before]
    words = last.status.text()
    named = last.taskid is None or last.taskid in words  # failures after Run name the task
    if not mine and named and last.status.kind in ("error", "stopped"):
        return "clear"
    return "bad"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated fault names")
    args = parser.parse_args(argv)
    chosen = [f for f in faults() if not args.only or f.name in args.only.split(",")]

    rows = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for fault in chosen:
            key, secret = secrets.token_hex(8), secrets.token_hex(16)
            state = SimulatorState(key, secret, pace=PACE)
            fault.setup(state)
            with SimulatorServer(state) as sim:
                # No socket URL: the page polls, as it does against a Wiro without one.
                settings = Settings(api_key=key, api_secret=secret, base_url=sim.base_url,
                                    socket_url=sim.socket_url if fault.socket else "",
                                    **WINDOWS)
                backend = Backend(settings, simulator=sim)
                backend.client().stop_window = STOP_WINDOW
                store = OutputStore(os.path.join(tmp, fault.name))
                counts = {k: 0 for k in ("image", "clear", "hung", "twice", "bad")}
                started = time.monotonic()
                for n in range(args.runs):
                    # Faults queued for "x times" are per run: set them up again each time.
                    if n:
                        state.clear_faults()
                        fault.setup(state)
                    counts[one_run(backend, state, fault, store, n)] += 1
                seconds = (time.monotonic() - started) / args.runs
                backend.close()
            rows.append((fault, counts, seconds))

    took = time.monotonic() - began
    print(f"{args.runs} runs per fault kind, ~{5.6 * PACE:.1f} s per task, windows shrunk "
          f"(see the docstring); bench took {took:.0f} s on {os.cpu_count()} CPUs\n")
    header = (f"{'fault kind':<18}{'what was injected':<44}{'expected':>9}{'image':>7}"
              f"{'clear':>7}{'hung':>6}{'twice':>7}{'bad':>5}{'s/run':>7}")
    print(header)
    print("-" * len(header))
    total = {k: 0 for k in ("image", "clear", "hung", "twice", "bad")}
    for fault, counts, seconds in rows:
        for k, v in counts.items():
            total[k] += v
        print(f"{fault.name:<18}{fault.what:<44}{fault.expected:>9}{counts['image']:>7}"
              f"{counts['clear']:>7}{counts['hung']:>6}{counts['twice']:>7}{counts['bad']:>5}"
              f"{seconds:>7.1f}")
    runs = sum(total.values())
    good = total["image"] + total["clear"]
    print("-" * len(header))
    print(f"{'all':<18}{'':<44}{'':>9}{total['image']:>7}{total['clear']:>7}{total['hung']:>6}"
          f"{total['twice']:>7}{total['bad']:>5}")
    print(f"\nended with the image or a clear failure (task stopped): {good}/{runs} "
          f"({100 * good / max(1, runs):.0f} %); hung {total['hung']}; ran twice "
          f"{total['twice']}  (goal: 100 % / 0 / 0)")
    if LOST:
        print("after a Run that may have started, WiroClient.find_lost_task named its task (or "
              "none when it made none): "
              + ", ".join(f"{name} {right}/{runs}" for name, (runs, right) in LOST.items()))
    wrong = [f.name for f, c, _ in rows if c[f.expected] != sum(c.values())]
    if wrong:
        print("did not end as expected: " + ", ".join(wrong))
    return 0 if good == runs and not total["hung"] and not total["twice"] else 1


if __name__ == "__main__":
    sys.exit(main())
