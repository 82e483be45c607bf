"""What does the page add on top of the bare client, end to end?

Starts app.py in this process, keyless (so on its built-in simulator) at pace 0 — a task is
finished the moment it is created — and times N calls two ways, interleaved so both see the
same machine:

- app:  gradio_client's `/generate` at the seed's defaults (1024 x 1024 PNG, no reference
        images): queue, validation, Run, following the task, download, saving the file,
        Gradio's post-processing, and gradio_client fetching the file;
- bare: WiroClient against the same simulator: run + wait + download of the same inputs;
- floor: for scale, gradio_client calling a do-nothing Gradio endpoint of the same shape
        (same inputs, returns an image file of the same size and a dict) in this process:
        what Gradio and gradio_client cost on their own.

Prints p50/p95 of each and the overhead (app - bare). Goal: overhead at p95 <= 0.3 s.
`--tick` / `--poll` override studio.run.TICK_SECONDS and the poll interval, to see how much
of the overhead those sleeps are.

    python bench/e2e.py [-n 30] [--warmup 3] [--tick 0.25] [--poll 0.05]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

GOAL_P95_OVERHEAD_S = 0.3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_app(poll: float):
    os.environ.update({
        "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1",
        "WIRO_API_KEY": "", "WIRO_API_SECRET": "", "APP_BRING_YOUR_OWN_KEY": "",
        "WIRO_SIMULATOR_PACE": "0", "WIRO_POLL_INTERVAL": str(poll),
        "APP_RUNS_PER_CLIENT_PER_HOUR": "0", "APP_DAILY_SPEND_CAP_USD": "",
        "GRADIO_MCP_SERVER": "False",  # not on the measured path
    })
    os.chdir(tempfile.mkdtemp(prefix="e2e-bench-"))  # no developer .env can switch to live
    import app  # noqa: PLC0415 — after the environment above

    assert app.backend.is_simulator, "the app must run on its simulator"
    port = free_port()
    options = app.launch_options() if hasattr(app, "launch_options") else dict(
        allowed_paths=[str(app.outputs.root)], show_error=True)
    options["mcp_server"] = False
    app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port,
                    quiet=True, **options)
    return app, f"http://127.0.0.1:{port}"


def start_floor(image: bytes):
    """A bare Gradio app whose endpoint has /generate's inputs and outputs and does nothing."""
    import gradio as gr  # noqa: PLC0415

    folder = tempfile.mkdtemp(prefix="e2e-floor-")
    counter = iter(range(10**9))

    def generate(images, prompt, width, height, safety, seed, output_format):
        path = os.path.join(folder, f"out{next(counter)}.png")
        with open(path, "wb") as f:
            f.write(image)
        return path, {"task_id": "1", "width": 1024, "bytes": len(image)}

    with gr.Blocks() as floor:
        inputs = [gr.File(file_count="multiple"), gr.Textbox(), gr.Number(), gr.Number(),
                  gr.Number(), gr.Number(), gr.Dropdown(choices=["png"])]
        gr.Button().click(generate, inputs, [gr.File(), gr.JSON()], api_name="generate")
    port = free_port()
    floor.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port,
                         quiet=True, allowed_paths=[folder])
    return floor, f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--iterations", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--tick", type=float, default=None,
                        help="override studio.run.TICK_SECONDS (default: as shipped)")
    parser.add_argument("--poll", type=float, default=0.05, help="WIRO_POLL_INTERVAL")
    args = parser.parse_args(argv)

    app, url = start_app(args.poll)
    import studio.run  # noqa: PLC0415
    from gradio_client import Client  # noqa: PLC0415
    from wiro import WiroClient, spec  # noqa: PLC0415

    if args.tick is not None:
        studio.run.TICK_SECONDS = args.tick
    values = spec.defaults()
    values[spec.INPUT_IMAGE.name] = []
    arguments = [values[i.name] for i in spec.INPUTS]
    gradio = Client(url, verbose=False, analytics_enabled=False)
    bare = WiroClient.from_settings(app.backend.settings)  # same simulator, same key

    def via_app() -> None:
        path, details = gradio.predict(*arguments, api_name="/generate")
        assert details["width"] == 1024 and os.path.getsize(path) == details["bytes"]

    def via_client() -> bytes:
        handle = bare.run(values)
        task = bare.result(handle.id)
        data = bare.download(task.outputs[0])
        assert data
        return data

    floor, floor_url = start_floor(via_client())
    floor_client = Client(floor_url, verbose=False, analytics_enabled=False)

    def via_floor() -> None:
        path, details = floor_client.predict(*arguments, api_name="/generate")
        assert os.path.getsize(path) == details["bytes"]

    times: dict[str, list[float]] = {"app": [], "bare": [], "floor": []}
    try:
        for i in range(args.warmup + args.iterations):
            for name, fn in (("app", via_app), ("bare", via_client), ("floor", via_floor)):
                start = time.perf_counter()
                fn()
                if i >= args.warmup:
                    times[name].append(time.perf_counter() - start)
    finally:
        gradio.close()
        floor_client.close()
        floor.close()
        bare.close()
        app.active_runs.stop_all()
        app.demo.close()

    tick = studio.run.TICK_SECONDS
    print(f"{args.iterations} runs each, pace 0, poll {args.poll:g} s, TICK_SECONDS {tick:g} s, "
          f"{os.cpu_count()} CPUs")
    print(f"{'':6} {'p50':>8} {'p95':>8} {'mean':>8}")
    for name, values_s in times.items():
        print(f"{name:6} {percentile(values_s, .5):8.3f} {percentile(values_s, .95):8.3f} "
              f"{statistics.fmean(values_s):8.3f}  s")
    p50 = percentile(times["app"], .5) - percentile(times["bare"], .5)
    p95 = percentile(times["app"], .95) - percentile(times["bare"], .95)
    floor50 = percentile(times["floor"], .5)
    verdict = "meets" if p95 <= GOAL_P95_OVERHEAD_S else "misses"
    print(f"overhead: p50 {p50:+.3f} s, p95 {p95:+.3f} s  ({verdict} the goal of "
          f"<= {GOAL_P95_OVERHEAD_S} s at p95)")
    own = p50 - floor50
    print(f"of which Gradio + gradio_client alone (floor, p50): {floor50:.3f} s; the page's "
          f"own part: {own:+.3f} s")


if __name__ == "__main__":
    main()
