"""How soon does the page show what is happening? Chromium against the simulator, two ways.

The app is launched twice as `python app.py` against a simulator in this process, once with
APP_PUSH_UPDATES=0 (the baseline: the run loop redraws on a 0.25 s tick) and once with
pushed updates (a redraw as soon as an event arrives; the default once issue 10's run loop
is merged; before that both launches behave alike and print alike). For each, RUNS runs in
one Chromium tab measure:

  click -> status:  Generate clicked -> the status area first shows the run (painted);
  event -> image:   the simulator's final task event (task_postprocess_end, on its
                    schedule) -> the result image decoded in the page.

Both ends of "event -> image" are this machine's wall clock (Python's time.time() and the
page's performance.timeOrigin + now()). Goals (issue 11): click -> status p95 <= 100 ms;
event -> image median <= 60 ms, p95 <= 120 ms.

    python bench/page_latency.py [--runs 20] [--pace 0.25]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.app_process import start_app  # noqa: E402
from wiro.simulator import SimulatorServer, SimulatorState  # noqa: E402

KEY, SECRET = "bench-key", "bench-secret"
CHROMIUM = "/usr/bin/chromium"
GOALS = {"click": (None, 100.0), "image": (60.0, 120.0)}  # (median, p95) in ms

# Watches the page: when the status first shows a run after a click, and when a new result
# image has been decoded. Times are epoch milliseconds, like the simulator's.
WATCH_JS = """() => {
  const now = () => performance.timeOrigin + performance.now();
  window.__bench = {click: 0, status: 0, image: 0, src: ''};
  const painted = (key) => requestAnimationFrame(() => { window.__bench[key] = now(); });
  new MutationObserver(() => {
    const b = window.__bench;
    const status = document.querySelector('#run-status-box .run-status');
    if (b.click && !b.status && status && status.dataset.kind === 'running') {
      b.status = -1; painted('status');
    }
    const img = document.querySelector('#result img');
    if (b.click && img && img.src && img.src !== b.src && !b.image) {
      b.src = img.src; b.image = -1;
      img.decode().then(() => { b.image = now(); }, () => { b.image = now(); });
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             characterData: true});
}"""
CLICK_JS = """() => {
  const b = window.__bench;
  const img = document.querySelector('#result img');
  Object.assign(b, {status: 0, image: 0, src: img ? img.src : ''});
  b.click = performance.timeOrigin + performance.now();
  document.querySelector('#generate').click();
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(browser, url: str, state: SimulatorState, runs: int) -> dict[str, list[float]]:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url
               else route.abort())
    page.goto(url, wait_until="load")
    page.wait_for_selector("#run-status-box .run-status[data-kind=idle]")
    page.click("#ref-clear")  # text to image: no CDN references to (not) load
    page.wait_for_selector("#refs", state="hidden")
    page.evaluate(WATCH_JS)
    found: dict[str, list[float]] = {"click": [], "image": []}
    for n in range(runs + 1):  # the first run warms up and is not counted
        before = {t["id"] for t in state.tasks()}
        page.evaluate(CLICK_JS)
        page.wait_for_function("() => window.__bench.status > 0 && window.__bench.image > 0",
                               timeout=60_000)
        page.wait_for_selector("#generate:not([disabled])")
        times = page.evaluate("() => window.__bench")
        [task] = [t for t in state.tasks() if t["id"] not in before]
        final = next(t for status, _, t in state.events(task["id"])
                     if status == "task_postprocess_end")
        if n:
            found["click"].append(times["status"] - times["click"])
            found["image"].append(times["image"] - final * 1000)
    page.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pace", type=float, default=0.25)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    state = SimulatorState(KEY, SECRET, pace=args.pace)
    modes = [("0.25 s tick (APP_PUSH_UPDATES=0)", "0"), ("pushed updates", "1")]
    results = {}
    with SimulatorServer(state) as sim, sync_playwright() as pw, \
            tempfile.TemporaryDirectory() as tmp:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-gpu"])
        for name, push in modes:
            folder = Path(tmp, push)
            folder.mkdir()
            app = start_app(folder, {
                "WIRO_API_KEY": KEY, "WIRO_API_SECRET": SECRET,
                "WIRO_API_BASE_URL": sim.base_url, "WIRO_SOCKET_URL": sim.socket_url,
                "WIRO_POLL_INTERVAL": "0.1", "APP_PUSH_UPDATES": push,
                "APP_RUNS_PER_CLIENT_PER_HOUR": "0", "APP_DATA_DIR": str(folder / "data"),
                "GRADIO_MCP_SERVER": "False"})
            try:
                results[name] = measure(browser, app.url, state, args.runs)
            finally:
                app.terminate()
        browser.close()

    print(f"Page latency in Chromium, {args.runs} runs per mode, simulator pace {args.pace:g}"
          " (ms; baseline first)")
    print(f"{'':34}{'click -> status':>22}{'final event -> image':>36}")
    print(f"{'':34}{'median':>11}{'p95':>11}{'median':>12}{'p95':>12}{'max':>12}")
    for name, found in results.items():
        click, image = found["click"], found["image"]
        print(f"{name:34}{statistics.median(click):11.0f}{pct(click, .95):11.0f}"
              f"{statistics.median(image):12.0f}{pct(image, .95):12.0f}{max(image):12.0f}")
    print(f"{'goal':34}{'':>11}{GOALS['click'][1]:11.0f}{GOALS['image'][0]:12.0f}"
          f"{GOALS['image'][1]:12.0f}")


if __name__ == "__main__":
    main()
