"""Load: 50 concurrent sessions through gradio_client against `python app.py` on the
simulator (about 2 s per task), beside 1 session, in one run.

Goal: all 50 finish correctly with nothing lost, p95 ≤ 1.5× the single-session time, and the
app's memory stays bounded (outputs of ended sessions are cleaned up).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gradio_client import Client
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app_process import start_app  # noqa: E402
from wiro import spec  # noqa: E402

SESSIONS = 50
SINGLE_RUNS = 5
PACE = 0.36  # the simulator's ~5.6 s walk × 0.36 ≈ 2 s per task


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_session(url: str, seed: int) -> tuple[float, str, tuple[int, int]]:
    client = Client(url, verbose=False)
    values = {**spec.defaults(), spec.INPUT_IMAGE.name: [], spec.SEED.name: seed}
    started = time.perf_counter()
    image, details = client.predict(*[values[f.name] for f in spec.INPUTS], api_name="/generate")
    elapsed = time.perf_counter() - started
    with Image.open(image) as im:
        size = im.size
    return elapsed, details["task_id"], size


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = start_app(Path(tmp), {"WIRO_SIMULATOR_PACE": str(PACE), "WIRO_POLL_INTERVAL": "0.1",
                                    "APP_MAX_CONCURRENT_RUNS": str(SESSIONS + 4),
                                    "APP_RUNS_PER_CLIENT_PER_HOUR": "0"})
        try:
            one_session(app.url, 0)  # warm up
            rss_start = rss_mib(app.process.pid)
            single = [one_session(app.url, n)[0] for n in range(1, SINGLE_RUNS + 1)]
            with ThreadPoolExecutor(SESSIONS) as pool:
                results = list(pool.map(lambda n: one_session(app.url, 100 + n), range(SESSIONS)))
            rss_after_load = rss_mib(app.process.pid)
            with ThreadPoolExecutor(SESSIONS) as pool:
                list(pool.map(lambda n: one_session(app.url, 200 + n), range(SESSIONS)))
            rss_after_second = rss_mib(app.process.pid)
            leftovers = sum(1 for p in Path(tmp, "app-tmp").rglob("flux2pro-outputs-*/*/*")
                            if p.is_file())
        finally:
            app.terminate()
    times = [r[0] for r in results]
    ok = [r for r in results if r[2] == (spec.WIDTH.default, spec.HEIGHT.default)]
    base = statistics.median(single)
    print(f"{'':28}{'1 session':>12}{'50 sessions':>14}")
    print(f"{'median (s)':28}{base:12.2f}{statistics.median(times):14.2f}")
    print(f"{'p95 (s)':28}{pct(single, .95):12.2f}{pct(times, .95):14.2f}")
    print(f"{'p95 / single median':28}{'':12}{pct(times, .95) / base:13.2f}x   goal <= 1.5x")
    print(f"finished correctly: {len(ok)}/{SESSIONS}, distinct tasks: {len({r[1] for r in results})}")
    print(f"app RSS MiB: start {rss_start:.0f}, after 50 {rss_after_load:.0f}, "
          f"after another 50 {rss_after_second:.0f}; result files left in the app's store: "
          f"{leftovers}")


if __name__ == "__main__":
    main()
