"""No orphan tasks, timed: how long after Stop, closing the tab, reloading it, or stopping
the app server until the simulator shows 0 tasks running. One run, each case N times.

Goals: Stop ≤ 1 s to cancel/kill; closing the tab ≤ 5 s; every case ends at 0 running.
Runs `python app.py` (live mode) against a simulator in this process, driven by Chromium.
"""
from __future__ import annotations

import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
from app_process import start_app  # noqa: E402
from gradio_client import Client  # noqa: E402
from wiro import spec  # noqa: E402
from wiro.simulator import SimulatorServer, SimulatorState  # noqa: E402

N = 5
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def until(condition, timeout=30.0, start: float | None = None) -> float:
    """Seconds from `start` (default: now) until `condition()` holds; inf on timeout."""
    start = time.perf_counter() if start is None else start
    while time.perf_counter() - start < timeout:
        if condition():
            return time.perf_counter() - start
        time.sleep(0.01)
    return float("inf")


def main() -> None:
    state = SimulatorState("bench-key", "bench-secret", pace=1.0)
    results: dict[str, list[float]] = {"Stop while queued": [], "Stop while running": [],
                                       "close the tab": [], "reload the tab": [],
                                       "SIGTERM the server": []}
    with SimulatorServer(state) as sim, tempfile.TemporaryDirectory() as tmp, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        env = {"WIRO_API_KEY": "bench-key", "WIRO_API_SECRET": "bench-secret",
               "WIRO_API_BASE_URL": sim.base_url, "WIRO_POLL_INTERVAL": "0.2",
               "APP_RUNS_PER_CLIENT_PER_HOUR": "0"}
        app = start_app(Path(tmp), env)

        def start_run(page, queued: bool):
            state.hold_in_queue, state.hold_running = queued, not queued
            page.goto(app.url, wait_until="load")
            page.wait_for_selector("#generate")
            page.click("#ref-clear")
            page.wait_for_selector(".refs-empty")
            before = state.tasks_created
            page.click("#generate")
            until(lambda: state.tasks_created > before and state.running_tasks())
            wanted = "task_queue" if queued else "task_output"
            waited = until(lambda: state.running_tasks()
                           and state.running_tasks()[0]["status"] == wanted)
            assert waited < 30, f"the run never reached {wanted}: {state.tasks()[-1:]}"

        try:
            for _ in range(N):
                for queued, name in ((True, "Stop while queued"), (False, "Stop while running")):
                    page = browser.new_page()
                    start_run(page, queued)
                    clicked = time.perf_counter()  # timed from before the click is sent
                    page.click("#stop")
                    results[name].append(until(lambda: not state.running_tasks(),
                                               start=clicked))
                    page.close()
                for name in ("close the tab", "reload the tab"):
                    page = browser.new_page()
                    start_run(page, False)
                    acted = time.perf_counter()
                    if name == "close the tab":
                        page.close()
                    else:
                        page.reload(wait_until="commit")
                    results[name].append(until(lambda: not state.running_tasks(), start=acted))
                    if not page.is_closed():
                        page.close()
        finally:
            browser.close()
        for _ in range(2):
            app = start_app(Path(tempfile.mkdtemp(dir=tmp)), env)
            values = {**spec.defaults(), spec.INPUT_IMAGE.name: []}
            state.hold_in_queue, state.hold_running = False, True
            Client(app.url, verbose=False).submit(*[values[f.name] for f in spec.INPUTS],
                                                  api_name="/generate")
            assert until(lambda: state.running_tasks()) < 30
            signalled = time.perf_counter()
            app.process.send_signal(signal.SIGTERM)
            results["SIGTERM the server"].append(until(lambda: not state.running_tasks(),
                                                       start=signalled))
            app.terminate()
    print(f"{'case':24}{'median s':>10}{'max s':>8}{'goal':>8}  running after")
    goals = {"Stop while queued": 1, "Stop while running": 1, "close the tab": 5}
    for name, times in results.items():
        goal = f"≤ {goals[name]} s" if name in goals else "-"
        print(f"{name:24}{statistics.median(times):10.2f}{max(times):8.2f}{goal:>8}  "
              f"{len(state.running_tasks())}")
    print(f"tasks created: {state.tasks_created}, still running: {len(state.running_tasks())}")


if __name__ == "__main__":
    main()
