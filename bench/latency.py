"""How soon after a task ends does the client hold the finished task, and at what cost?

Starts the Wiro simulator on loopback in this process, at a pace where a task takes about
1.4 s (--pace 1: 5.6 s), and follows TASKS tasks (run concurrently from a
thread pool, each after a small random delay so they do not all move in step) four ways:

  (a)  naive:       Task/Detail every 3 s until a terminal status, the loop the docs suggest
                    for simple integrations;
  (b0) before:      the earlier wiro.live.follow without the socket (0.1 s growing x1.5 to
                    2 s, back to 0.1 s at every new status), run from `git archive BEFORE
                    wiro` (--before, default the last commit before the SDKs' pace) in a
                    child process against its own simulator, with the same tasks and pace;
  (b)  polling:     this tree's follow without the socket: Detail every WIRO_POLL_INTERVAL
                    (2 s) once a worker has the task, the SDKs' pace;
  (c)  websocket:   wiro.live.follow: the socket's events, then one Detail for the outputs.

Latency is the client's wall clock when it has the terminal Task, minus the time the
simulator's schedule puts task_postprocess_end at (both on this machine's clock). Requests
are Run plus the Detail calls the simulator counted for that task. Outputs are drawn small
(256 x 256 JPEG) so the simulator's image rendering adds little to any mode.

    python bench/latency.py [--tasks 30] [--workers 10] [--pace 0.25]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wiro import Task, TaskHandle, WiroClient  # noqa: E402
from wiro.live import follow  # noqa: E402
from wiro.simulator import SimulatorServer, SimulatorState  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAIVE_INTERVAL = 3.0
START_JITTER = 0.5  # seconds; spreads the tasks' start times
SLACK = 0.5  # seconds a polled result may come after one interval (requests, a busy CPU)
# main before the request policy and the SDKs' polling pace came in (its 0.1 s loop).
BEFORE = "837614c"
INPUTS = {"prompt": "a lighthouse on a cliff at dusk", "width": 256, "height": 256,
          "outputFormat": "jpeg"}
GOAL_MEDIAN_MS, GOAL_P95_MS, GOAL_RATIO, GOAL_REQUESTS = 50.0, 150.0, 10.0, 2.0


def naive(client: WiroClient, handle: TaskHandle) -> Task:
    while True:
        task = client.detail(handle.id)
        if task.is_terminal:
            return task
        time.sleep(NAIVE_INTERVAL)


def polling(client: WiroClient, handle: TaskHandle) -> Task:
    *_, last = follow(client, handle, use_socket=False)
    return last.task


def websocket(client: WiroClient, handle: TaskHandle) -> Task:
    *_, last = follow(client, handle)
    return last.task


MODES: list[tuple[str, Callable[[WiroClient, TaskHandle], Task]]] = [
    ("(a) naive 3 s polling", naive),
    ("(b) fallback polling", polling),
    ("(c) websocket", websocket),
]
BEFORE_POLLING = "(b0) polling before"


def one_task(client: WiroClient, state: SimulatorState,
             how: Callable[[WiroClient, TaskHandle], Task]) -> tuple[float, int]:
    time.sleep(random.uniform(0, START_JITTER))
    handle = client.run(INPUTS)
    task = how(client, handle)
    returned = time.time()
    assert task.succeeded, task
    return returned - state.finish_time(handle.id), 1 + state.detail_calls[handle.id]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(modes: list[tuple[str, Callable[[WiroClient, TaskHandle], Task]]],
            args: argparse.Namespace) -> dict[str, tuple[list[float], list[int]]]:
    key, secret = secrets.token_hex(8), secrets.token_hex(16)
    state = SimulatorState(key, secret, pace=args.pace)
    results: dict[str, tuple[list[float], list[int]]] = {}
    with SimulatorServer(state) as sim:
        # One shared client, like the app's: one nonce sequence for the key, as Wiro needs.
        with WiroClient(key, secret, base_url=sim.base_url, socket_url=sim.socket_url) as client:
            for name, how in modes:
                with ThreadPoolExecutor(args.workers) as pool:
                    futures = [pool.submit(one_task, client, state, how)
                               for _ in range(args.tasks)]
                    done = [f.result() for f in futures]
                results[name] = ([lat * 1000 for lat, _ in done], [req for _, req in done])
    return results


def polling_before(args: argparse.Namespace) -> tuple[list[float], list[int]] | None:
    """Mode (b) with the earlier wiro/: this script, run from a copy of that package."""
    try:
        archive = subprocess.run(["git", "-C", ROOT, "archive", args.before, "wiro"],
                                 capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"polling before not measured: {exc}", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        os.makedirs(os.path.join(tmp, "bench"))
        script = shutil.copy(os.path.abspath(__file__), os.path.join(tmp, "bench"))
        child = subprocess.run([sys.executable, script, "--polling-only", "--tasks",
                                str(args.tasks), "--workers", str(args.workers), "--pace",
                                str(args.pace)], capture_output=True, text=True, cwd=tmp)
    if child.returncode:
        print(f"polling before failed:\n{child.stderr}", file=sys.stderr)
        return None
    data = json.loads(child.stdout.strip().splitlines()[-1])
    return data["latencies"], data["requests"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--pace", type=float, default=0.25)
    parser.add_argument("--before", default=BEFORE, help="git revision for mode (b0)")
    parser.add_argument("--polling-only", action="store_true",
                        help="measure mode (b) only and print it as JSON (for mode b0)")
    args = parser.parse_args(argv)
    if args.polling_only:
        latencies, requests = measure([MODES[1]], args)[MODES[1][0]]
        print(json.dumps({"latencies": latencies, "requests": requests}))
        return 0

    began = time.monotonic()
    results = {}
    before = polling_before(args)
    if before is not None:
        results[BEFORE_POLLING] = before
    results.update(measure(MODES, args))
    took = time.monotonic() - began

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.tasks} tasks per mode, {args.workers} at a time, ~{5.6 * args.pace:.1f} s "
          f"each; bench took {took:.0f} s on {os.cpu_count()} CPUs, load average {load:.1f}\n")
    header = (f"{'mode':<24}{'median ms':>10}{'p95 ms':>9}{'max ms':>9}{'req/task':>10}"
              f"{'max req':>9}{'median vs (a)':>15}{'p95 vs (a)':>12}")
    print(header)
    print("-" * len(header))
    base_median = statistics.median(results[MODES[0][0]][0])
    base_p95 = percentile(results[MODES[0][0]][0], 0.95)
    for name in [MODES[0][0], BEFORE_POLLING, *[n for n, _ in MODES[1:]]]:
        if name not in results:
            continue
        latencies, requests = results[name]
        median, p95 = statistics.median(latencies), percentile(latencies, 0.95)
        print(f"{name:<24}{median:>10.1f}{p95:>9.1f}{max(latencies):>9.1f}"
              f"{statistics.mean(requests):>10.2f}{max(requests):>9d}"
              f"{base_median / median:>14.1f}x{base_p95 / p95:>11.1f}x")

    from wiro.client import DEFAULT_POLL_INTERVAL as interval

    polled, polled_requests = results[MODES[1][0]]
    details_now = statistics.mean(polled_requests) - 1  # Run is not a Detail
    details_before = statistics.mean(results[BEFORE_POLLING][1]) - 1 \
        if BEFORE_POLLING in results else float("nan")
    print(f"\nDetail calls per polled task: before ({args.before}) {details_before:.1f} -> "
          f"now {details_now:.1f}")
    latencies, requests = results[MODES[2][0]]
    median, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    goals = [
        (f"polling: a finished task's result within one interval ({interval:g} s, "
         f"+{SLACK:g} s slack)", max(polled) <= (interval + SLACK) * 1000),
        ("polling: fewer Detail calls per task than before", details_now < details_before),
        (f"websocket median <= {GOAL_MEDIAN_MS:g} ms", median <= GOAL_MEDIAN_MS),
        (f"websocket p95 <= {GOAL_P95_MS:g} ms", p95 <= GOAL_P95_MS),
        (f"websocket >= {GOAL_RATIO:g}x better than (a) (median)",
         base_median / median >= GOAL_RATIO),
        (f"websocket <= {GOAL_REQUESTS:g} requests per task (Run + one Detail)",
         max(requests) <= GOAL_REQUESTS),
    ]
    print()
    for text, met in goals:
        print(f"  [{'met' if met else 'MISSED'}] {text}")
    return 0 if all(met for _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
