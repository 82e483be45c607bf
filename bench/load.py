"""Load: 50 concurrent sessions through gradio_client against `python app.py` on the
simulator (about 2 s per task), beside 1 session, in one run.

Goal: all 50 finish correctly with nothing lost, p95 ≤ 1.5× the single-session time, and the
app's memory stays bounded (outputs of ended sessions are cleaned up).

The 50 clients are spread over a few processes and connected before the clock starts, so
what is measured is the app, not one Python process juggling 50 clients.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import requests
from gradio_client import Client
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
from app_process import free_port, start_app  # noqa: E402
from wiro import spec  # noqa: E402
from wiro.simulator.images import render  # noqa: E402

SESSIONS = 50
CLIENT_PROCESSES = 5
SINGLE_RUNS = 5
PACE = 0.36  # the simulator's ~5.6 s walk × 0.36 ≈ 2 s per task


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def predict(client: Client, seed: int) -> tuple[float, str, tuple[int, int]]:
    values = {**spec.defaults(), spec.INPUT_IMAGE.name: [], spec.SEED.name: seed}
    started = time.perf_counter()
    image, details = client.predict(*[values[f.name] for f in spec.INPUTS], api_name="/generate")
    elapsed = time.perf_counter() - started
    with Image.open(image) as im:
        size = im.size
    return elapsed, details["task_id"], size


def client_batch(url: str, seeds: list[int], start_at: float, call=predict) -> list[tuple]:
    """One client process: connect its sessions, wait for the common start, run them."""
    clients = [Client(url, verbose=False) for _ in seeds]
    time.sleep(max(0.0, start_at - time.time()))
    with ThreadPoolExecutor(len(seeds)) as pool:
        return list(pool.map(call, clients, seeds))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wave(url: str, first_seed: int, call=predict) -> list[tuple]:
    seeds = list(range(first_seed, first_seed + SESSIONS))
    batches = [seeds[i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
    start_at = time.time() + 8  # time for every process to connect its clients
    with ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
        futures = [pool.submit(client_batch, url, b, start_at, call) for b in batches]
        return [r for f in futures for r in f.result()]


def start_simulator() -> tuple[subprocess.Popen, str]:
    """Wiro is remote in real use: the simulator gets a process of its own, like `python -m
    wiro.simulator` beside the app."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "wiro.simulator", "--port", str(port), "--pace", str(PACE),
         "--api-key", "load-key", "--api-secret", "load-secret"], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{base}/_sim/stats", timeout=1)
            return process, base
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("simulator did not start")


FLOOR_APP = """
import os, shutil, tempfile, time, gradio as gr
SECONDS = float(os.environ["FLOOR_SECONDS"])
IMAGE = os.environ["FLOOR_IMAGE"]
def generate(images, prompt, width, height, safety, seed, fmt):
    started = time.monotonic()
    while time.monotonic() - started < SECONDS:
        time.sleep(0.25)
        yield gr.skip(), gr.skip()
    copy = os.path.join(tempfile.mkdtemp(), f"{seed}.png")  # a file per run, as the app has
    shutil.copy(IMAGE, copy)
    yield copy, {"task_id": str(seed)}
with gr.Blocks() as demo:
    inputs = [gr.File(file_count="multiple"), gr.Textbox(), gr.Number(), gr.Number(),
              gr.Number(), gr.Number(), gr.Textbox()]
    gr.Button().click(generate, inputs, [gr.File(), gr.JSON()], api_name="generate",
                      concurrency_limit=None)
demo.queue(default_concurrency_limit=None)
demo.launch(max_threads=200)
"""


def floor_predict(client: Client, seed: int) -> tuple[float, str, tuple[int, int]]:
    started = time.perf_counter()
    image, _ = client.predict([], "x", 1024, 1024, 2, seed, "png", api_name="/generate")
    elapsed = time.perf_counter() - started
    with Image.open(image) as im:
        return elapsed, str(seed), im.size


def floor_ratio(seconds: float) -> tuple[float, float]:
    """The same 50-session wave against a bare Gradio endpoint of the same shape (seven
    inputs; a PNG file and a dict out) that only waits `seconds`: what Gradio and
    gradio_client alone cost on this machine."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "floor_app.py")
        script.write_text(FLOOR_APP)
        port = free_port()
        image = Path(tmp, "result.png")  # the very image the simulator makes for the app
        image.write_bytes(render(0, spec.PROMPT.default, spec.WIDTH.default,
                                 spec.HEIGHT.default, spec.OUTPUT_FORMAT.default))
        env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "FLOOR_SECONDS": str(seconds),
               "FLOOR_IMAGE": str(image), "GRADIO_ANALYTICS_ENABLED": "False"}
        process = subprocess.Popen([sys.executable, str(script)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/"
        try:
            for _ in range(300):
                try:
                    requests.get(url, timeout=1)
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            client = Client(url, verbose=False)
            single = statistics.median(floor_predict(client, n)[0] for n in range(3))
            times = [r[0] for r in wave(url, 0, floor_predict)]
            return single, pct(times, .95)
        finally:
            process.terminate()
            process.wait()


def main() -> None:
    simulator, sim_root = start_simulator()
    with tempfile.TemporaryDirectory() as tmp:
        app = start_app(Path(tmp), {"WIRO_API_KEY": "load-key", "WIRO_API_SECRET": "load-secret",
                                    "WIRO_API_BASE_URL": f"{sim_root}/v1",
                                    "WIRO_SOCKET_URL": f"ws{sim_root[4:]}/v1",
                                    "WIRO_POLL_INTERVAL": "0.1",
                                    "APP_MAX_CONCURRENT_RUNS": str(SESSIONS + 4),
                                    "APP_RUNS_PER_CLIENT_PER_HOUR": "0"})
        try:
            client = Client(app.url, verbose=False)
            predict(client, 0)  # warm up
            rss_start = rss_mib(app.process.pid)
            single = [predict(client, n)[0] for n in range(1, SINGLE_RUNS + 1)]
            cpu_before = cpu_seconds(app.process.pid)
            results = wave(app.url, 100)
            cpu_load = cpu_seconds(app.process.pid) - cpu_before
            rss_after_load = rss_mib(app.process.pid)
            wave(app.url, 200)
            rss_after_second = rss_mib(app.process.pid)
            leftovers = sum(1 for p in Path(tmp, "app-tmp").rglob("flux2pro-outputs-*/*/*")
                            if p.is_file())
        finally:
            app.terminate()
            simulator.terminate()
    times = [r[0] for r in results]
    ok = [r for r in results if r[2] == (spec.WIDTH.default, spec.HEIGHT.default)]
    base = statistics.median(single)
    floor_single, floor_p95 = floor_ratio(base)
    print(f"{'':28}{'1 session':>12}{'50 sessions':>14}")
    print(f"{'median (s)':28}{base:12.2f}{statistics.median(times):14.2f}")
    print(f"{'p95 (s)':28}{pct(single, .95):12.2f}{pct(times, .95):14.2f}")
    print(f"{'p95 / single median':28}{'':12}{pct(times, .95) / base:13.2f}x   goal <= 1.5x")
    print(f"{'bare Gradio, same shape':28}{floor_single:12.2f}{floor_p95:14.2f}"
          f"   p95/single {floor_p95 / floor_single:.2f}x (Gradio + gradio_client alone)")
    print(f"finished correctly: {len(ok)}/{SESSIONS}, distinct tasks: "
          f"{len({r[1] for r in results})}")
    print(f"app CPU for the 50: {cpu_load:.1f} s ({1000 * cpu_load / SESSIONS:.0f} ms per run), "
          f"machine cores: {os.cpu_count()}")
    print(f"app RSS MiB: start {rss_start:.0f}, after 50 {rss_after_load:.0f}, "
          f"after another 50 {rss_after_second:.0f}; result files left in the app's store: "
          f"{leftovers}")


if __name__ == "__main__":
    main()
