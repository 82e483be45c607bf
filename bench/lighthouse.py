"""Lighthouse on the page, next to a plain Gradio page shaped like Hugging Face's FLUX.1-dev
Space (prompt, Run, result, an "Advanced Settings" accordion of sliders, examples).

Starts `python app.py` (keyless: the simulator) and the baseline below as subprocesses on free
loopback ports, then runs Lighthouse 12.2.3 (npm, installed on first use into
bench/.lighthouse/) with Debian's Chromium, mobile and desktop, alternating app and baseline
so that the machine's noise hits both. Prints the medians side by side, and the goals:
mobile performance at least the baseline's, layout shift <= 0.02, bytes <= 1.3 x the
baseline's, accessibility >= 95.

    python bench/lighthouse.py [-n 3] [--keep-json DIR]
    python bench/lighthouse.py --serve-baseline PORT    # the baseline page alone
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE_VERSION = "12.2.3"
TOOLS = ROOT / "bench" / ".lighthouse"
CHROMIUM = "/usr/bin/chromium"
GOALS = dict(bytes_ratio=1.3, cls=0.02, accessibility=95)


def baseline_demo():
    """The FLUX.1-dev Space's layout, on a placeholder image (no model, no network)."""
    import gradio as gr  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    def infer(prompt, seed=42, randomize_seed=False, width=1024, height=1024,
              guidance_scale=3.5, num_inference_steps=28):
        return Image.new("RGB", (int(width) // 4, int(height) // 4), (90, 120, 200)), seed

    examples = ["a tiny astronaut hatching from an egg on the moon",
                "a cat holding a sign that says hello world",
                "an anime illustration of a wiener schnitzel"]
    with gr.Blocks(css="#col-container { margin: 0 auto; max-width: 520px; }") as demo:
        with gr.Column(elem_id="col-container"):
            gr.Markdown("# FLUX.1 [dev]\n12B param rectified flow transformer guidance-"
                        "distilled from FLUX.1 [pro].")
            with gr.Row():
                prompt = gr.Text(label="Prompt", show_label=False, max_lines=1,
                                 placeholder="Enter your prompt", container=False)
                run_button = gr.Button("Run", scale=0)
            result = gr.Image(label="Result", show_label=False)
            with gr.Accordion("Advanced Settings", open=False):
                seed = gr.Slider(label="Seed", minimum=0, maximum=2**31 - 1, step=1, value=0)
                randomize_seed = gr.Checkbox(label="Randomize seed", value=True)
                with gr.Row():
                    width = gr.Slider(label="Width", minimum=256, maximum=2048, step=32,
                                      value=1024)
                    height = gr.Slider(label="Height", minimum=256, maximum=2048, step=32,
                                       value=1024)
                with gr.Row():
                    guidance = gr.Slider(label="Guidance Scale", minimum=1, maximum=15,
                                         step=0.1, value=3.5)
                    steps = gr.Slider(label="Number of inference steps", minimum=1,
                                      maximum=50, step=1, value=28)
            gr.Examples(examples=examples, fn=infer, inputs=[prompt], outputs=[result, seed],
                        cache_examples=False)
        gr.on([run_button.click, prompt.submit], infer,
              [prompt, seed, randomize_seed, width, height, guidance, steps], [result, seed])
    return demo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lighthouse_bin() -> Path:
    binary = TOOLS / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        TOOLS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund",
                        "-E", f"lighthouse@{LIGHTHOUSE_VERSION}"], check=True)
    return binary


def start(args: list[str], scratch: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIRO_", "APP_"))}
    env.update({"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1",
                "APP_DATA_DIR": str(scratch / "data"), "PYTHONUNBUFFERED": "1"})
    # cwd: a scratch folder, so no developer .env is read (keyless means the simulator).
    process = subprocess.Popen([sys.executable, *args], cwd=scratch, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{args} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{args} did not start")


def audit(binary: Path, url: str, desktop: bool, keep: Path | None, name: str) -> dict:
    command = [str(binary), url, "--output=json", "--output-path=stdout", "--quiet",
               "--only-categories=performance,accessibility",
               "--chrome-flags=--headless=new --no-sandbox --disable-gpu "
               "--disable-background-networking --disable-component-update"]
    if desktop:
        command.append("--preset=desktop")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CHROME_PATH": CHROMIUM})
    report = json.loads(done.stdout)
    if keep:
        (keep / f"{name}.json").write_text(done.stdout)
    audits, categories = report["audits"], report["categories"]
    document = next((r for r in audits["network-requests"]["details"]["items"]
                     if r.get("resourceType") == "Document"), {})
    return {
        "performance": round(100 * (categories["performance"]["score"] or 0)),
        "accessibility": round(100 * (categories["accessibility"]["score"] or 0)),
        "fcp_s": audits["first-contentful-paint"]["numericValue"] / 1000,
        "lcp_s": audits["largest-contentful-paint"]["numericValue"] / 1000,
        "tbt_ms": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "kib": audits["total-byte-weight"]["numericValue"] / 1024,
        "html_kib": (document.get("transferSize") or 0) / 1024,
        "requests": len(audits["network-requests"]["details"]["items"]),
    }


ROWS = [("performance", "Performance", "{:.0f}"), ("accessibility", "Accessibility", "{:.0f}"),
        ("fcp_s", "First contentful paint (s)", "{:.2f}"),
        ("lcp_s", "Largest contentful paint (s)", "{:.2f}"),
        ("tbt_ms", "Total blocking time (ms)", "{:.0f}"), ("cls", "Layout shift", "{:.3f}"),
        ("kib", "Bytes transferred (KiB)", "{:.0f}"), ("html_kib", "  of which the HTML (KiB)",
                                                       "{:.0f}"),
        ("requests", "Requests", "{:.0f}")]


def report(results: dict) -> None:
    for form in ("mobile", "desktop"):
        ours, base = results[("app", form)], results[("baseline", form)]
        print(f"\n{form} (median of {len(ours)}; every run: app | baseline)")
        print(f"{'':30} {'app':>9} {'baseline':>9}   runs")
        medians = {}
        for key, label, fmt in ROWS:
            a = statistics.median(r[key] for r in ours)
            b = statistics.median(r[key] for r in base)
            medians[key] = (a, b)
            runs = " ".join(fmt.format(r[key]) for r in ours) + " | " + \
                " ".join(fmt.format(r[key]) for r in base)
            print(f"{label:30} {fmt.format(a):>9} {fmt.format(b):>9}   {runs}")
        (perf, perf_base), (cls, _), (kib, kib_base), (acc, _) = (
            medians["performance"], medians["cls"], medians["kib"], medians["accessibility"])
        checks = [(f"performance {perf:.0f} >= baseline {perf_base:.0f}", perf >= perf_base),
                  (f"layout shift {cls:.3f} <= {GOALS['cls']}", cls <= GOALS["cls"]),
                  (f"bytes {kib / kib_base:.2f} x baseline <= {GOALS['bytes_ratio']}",
                   kib <= GOALS["bytes_ratio"] * kib_base),
                  (f"accessibility {acc:.0f} >= {GOALS['accessibility']}",
                   acc >= GOALS["accessibility"])]
        for text, ok in checks:
            print(f"  {'met ' if ok else 'MISSED'} {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=3, help="runs of each page and form factor")
    parser.add_argument("--keep-json", type=Path, help="save every Lighthouse report here")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        baseline_demo().launch(server_name="127.0.0.1", server_port=args.serve_baseline)
        return
    binary = lighthouse_bin()
    if args.keep_json:
        args.keep_json.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="lighthouse-bench-"))
    processes = []
    try:
        pages = {}
        for name, command in (("app", [str(ROOT / "app.py")]),
                              ("baseline", [str(Path(__file__).resolve()),
                                            "--serve-baseline"])):
            port = free_port()
            folder = scratch / name
            folder.mkdir()
            argv = command + ([str(port)] if name == "baseline" else [])
            processes.append(start(argv, folder, port))
            pages[name] = f"http://127.0.0.1:{port}/"
        results: dict = {(p, f): [] for p in pages for f in ("mobile", "desktop")}
        for run in range(1, args.n + 1):
            for form in ("mobile", "desktop"):
                for name, url in pages.items():  # interleaved: app, baseline, app, ...
                    results[(name, form)].append(
                        audit(binary, url, form == "desktop", args.keep_json,
                              f"{name}-{form}-{run}"))
                    print(f"run {run} {form:7} {name:8} "
                          f"perf {results[(name, form)][-1]['performance']}", file=sys.stderr)
        report(results)
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
