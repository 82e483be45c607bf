"""How soon after a task ends does the client hold the finished task, and at what cost?

Starts the Wiro simulator on loopback in this process, at a pace where a task takes about
1.4 s, and follows TASKS tasks (run concurrently from a thread pool, each after a small
random delay so they do not all move in step) three ways:

  (a) naive:     Task/Detail every 3 s until a terminal status, the loop the docs suggest
                 for simple integrations;
  (b) polling:   wiro.live.follow without the socket: Detail with a growing delay
                 (0.1 s x 1.5 up to 2 s), the fallback on its own;
  (c) websocket: wiro.live.follow: the socket's events, then one Detail for the outputs.

Latency is the client's wall clock when it has the terminal Task, minus the time the
simulator's schedule puts task_postprocess_end at (both on this machine's clock). Requests
are Run plus the Detail calls the simulator counted for that task. Outputs are drawn small
(256 x 256 JPEG) so the simulator's image rendering adds little to any mode.

    python bench/latency.py [--tasks 30] [--workers 10] [--pace 0.25]
"""
from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wiro import Task, TaskHandle, WiroClient  # noqa: E402
from wiro.live import follow  # noqa: E402
from wiro.simulator import SimulatorServer, SimulatorState  # noqa: E402

NAIVE_INTERVAL = 3.0
START_JITTER = 0.5  # seconds; spreads the tasks' start times
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--pace", type=float, default=0.25)
    args = parser.parse_args(argv)

    key, secret = secrets.token_hex(8), secrets.token_hex(16)
    state = SimulatorState(key, secret, pace=args.pace)
    results: dict[str, tuple[list[float], list[int]]] = {}
    began = time.monotonic()
    with SimulatorServer(state) as sim:
        # One shared client, like the app's: one nonce sequence for the key, as Wiro needs.
        with WiroClient(key, secret, base_url=sim.base_url, socket_url=sim.socket_url) as client:
            for name, how in MODES:
                with ThreadPoolExecutor(args.workers) as pool:
                    futures = [pool.submit(one_task, client, state, how)
                               for _ in range(args.tasks)]
                    done = [f.result() for f in futures]
                results[name] = ([lat * 1000 for lat, _ in done], [req for _, req in done])
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
    for name, _ in MODES:
        latencies, requests = results[name]
        median, p95 = statistics.median(latencies), percentile(latencies, 0.95)
        print(f"{name:<24}{median:>10.1f}{p95:>9.1f}{max(latencies):>9.1f}"
              f"{statistics.mean(requests):>10.2f}{max(requests):>9d}"
              f"{base_median / median:>14.1f}x{base_p95 / p95:>11.1f}x")

    latencies, requests = results[MODES[2][0]]
    median, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    goals = [
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
