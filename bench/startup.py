"""How long does `python app.py` take to serve its page, next to a bare Gradio hello-world?

Starts each as a subprocess (keyless, so app.py also starts its built-in simulator) on a free
port via GRADIO_SERVER_PORT, and times from the spawn until GET / answers 200. Runs
alternate (app, hello, app, hello, ...) so both see the same machine. Prints the medians
and their ratio. Goal: app <= 1.3 x hello-world.

    python bench/startup.py [-n 5] [--no-mcp]

By default GRADIO_MCP_SERVER is left as app.py sets it (on); --no-mcp turns it off for
the app to show what the MCP tool costs at startup.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
GOAL_RATIO = 1.3
HELLO = '''import gradio as gr

with gr.Blocks() as demo:
    gr.Textbox(label="Name")

demo.launch()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_200(script: Path, workdir: Path, extra_env: dict[str, str],
                timeout: float = 120.0) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIRO_", "APP_"))}
    env.update({"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1",
                "PYTHONUNBUFFERED": "1", **extra_env})
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    # cwd: a scratch folder, so no developer .env is read (keyless means the simulator).
    process = subprocess.Popen([sys.executable, str(script)], cwd=workdir, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{script.name} exited with {process.returncode}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return time.perf_counter() - start
            except requests.RequestException:
                pass
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"{script.name} did not answer within {timeout:g} s")
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--no-mcp", action="store_true", help="GRADIO_MCP_SERVER=False for app.py")
    args = parser.parse_args(argv)

    app_env = {"GRADIO_MCP_SERVER": "False"} if args.no_mcp else {}
    times: dict[str, list[float]] = {"app.py": [], "hello-world": []}
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as scratch:
        workdir = Path(scratch)
        hello = workdir / "hello.py"
        hello.write_text(HELLO)
        # One untimed start each, so both find Python's and Gradio's files in the page cache.
        time_to_200(ROOT / "app.py", workdir, app_env)
        time_to_200(hello, workdir, {})
        for _ in range(args.runs):
            times["app.py"].append(time_to_200(ROOT / "app.py", workdir, app_env))
            times["hello-world"].append(time_to_200(hello, workdir, {}))

    mcp = "off" if args.no_mcp else "as app.py sets it (on)"
    print(f"{args.runs} starts each, time from spawn to HTTP 200 on /, MCP {mcp}, "
          f"{os.cpu_count()} CPUs")
    for name, values in times.items():
        print(f"{name:12} median {statistics.median(values):6.2f} s   "
              f"(min {min(values):.2f}, max {max(values):.2f})")
    ratio = statistics.median(times["app.py"]) / statistics.median(times["hello-world"])
    verdict = "meets" if ratio <= GOAL_RATIO else "misses"
    print(f"ratio app.py / hello-world: {ratio:.2f}x  ({verdict} the goal of <= {GOAL_RATIO}x)")


if __name__ == "__main__":
    main()
