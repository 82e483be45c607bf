"""Kept results: time to save a result and to open a shared link with 1,000 results stored,
and the data directory's size against its cap. Goal: both medians under 50 ms.

In a temporary data directory, fills a ResultStore to 1,000 results (the simulator's
~50 KB PNG each), with the caps set to 1,000 results and 150 MB so every further save also
prunes the oldest, as on a long-running Space. Then, in one run:

- open: GET /share/<token> and its image from a real server on loopback (uvicorn, the
  app's own routes), beside the same server answering a fixed page of the same size;
- save: `ResultStore.keep` for three kinds of run — the simulator's image; a 1 MP
  photo-like PNG (about what FLUX.2 returns); and that plus a 12 MP JPEG upload as reference
  image (the 4 MP copy sent to Wiro is kept, with its thumbnail, made once per copy; the
  thumbnail is also timed apart) — beside a bare `shutil.copyfile` of the same image (the
  floor: what any keeping must do);
- size: the data directory on disk (SQLite included) against APP_KEEP_RESULTS_MB.

    python bench/store.py [--runs 40]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402  (Gradio's dependency)
import requests  # noqa: E402
import uvicorn  # noqa: E402  (Gradio's dependency)
from PIL import Image  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import HTMLResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from studio import result_views, results, share_ui  # noqa: E402
from studio.config import Config  # noqa: E402
from studio.datadir import Database  # noqa: E402
from studio.record import RunRecord, references_of  # noqa: E402
from studio.results import ResultStore, make_thumbnail  # noqa: E402
from wiro import spec, uploads  # noqa: E402
from wiro.simulator.images import render  # noqa: E402

STORED = 1000
CAP_MB = 150.0
GOAL_MS = 50.0


def photo(path: Path, width: int, height: int, fmt: str, seed: int = 3) -> Path:
    """Smooth colour fields under noise: compresses like a photo, not like a flat test card."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([120 + 80 * np.sin(x / 97 + c) * np.cos(y / 131 - c) for c in range(3)], -1)
    base += rng.normal(0, 6, base.shape).astype(np.float32)
    Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB").save(
        path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return path


def run(task: int, prompt: str, image: Path, refs=(), sent=()) -> RunRecord:
    """The RunRecord of a finished run (`sent`: the copies sent for `refs`)."""
    inputs = {**spec.defaults(), spec.PROMPT.name: prompt, spec.SEED.name: task}
    inputs.pop(spec.INPUT_IMAGE.name, None)
    return RunRecord(task_id=str(task), inputs=inputs,
                     references=references_of(list(refs), list(sent)), image=str(image),
                     width=1024, height=1024, format="png", bytes=image.stat().st_size,
                     cost_usd=0.03, estimate_usd=None, simulated=True, wiro_seconds=8.0,
                     total_seconds=9.5)


def timed(action, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return times


def row(label: str, times: list[float], baseline: list[float] | None = None) -> str:
    median, p90 = statistics.median(times), sorted(times)[int(len(times) * 0.9) - 1]
    text = f"  {label:<44} median {median:7.2f} ms   p90 {p90:7.2f} ms"
    if baseline:
        text += f"   (floor ×{median / statistics.median(baseline):.1f})"
    return text + ("" if median < GOAL_MS or baseline is None else "   ABOVE GOAL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app) -> tuple[str, uvicorn.Server]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", server


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    try:
        sim_png = work / "simulator.png"
        sim_png.write_bytes(render(1, "A kept result", 1024, 1024, "png"))
        flux_png = photo(work / "flux.png", 1024, 1024, "PNG")
        upload = photo(work / "upload.jpg", 4000, 3000, "JPEG")
        [sent] = uploads.prepare_references([str(upload)], cache_dir=work / "sent")
        data = work / "data"
        # A public gallery, so the bench can list what it kept.
        store = ResultStore(data, Config(keep_results=STORED, keep_results_mb=CAP_MB,
                                         public_gallery=True), database=Database(data))
        results._store = store  # the share routes read the process's store

        started = time.perf_counter()
        task = iter(range(1, 10**9))
        for n in range(STORED):
            store.keep(f"tab-{n % 50}", run(next(task), f"Result {n}: " + "word " * 30,
                                            sim_png))
        fill = time.perf_counter() - started
        count, _ = store.usage()
        print(f"{spec.MODEL_TITLE} kept results: {count} stored (filled in {fill:.1f} s), "
              f"caps {STORED} results / {CAP_MB:g} MB, {args.runs} runs each\n")
        print(f"image sizes: simulator PNG {sim_png.stat().st_size / 1024:.0f} KB, 1 MP photo "
              f"PNG {flux_png.stat().st_size / 1024:.0f} KB, reference upload 12 MP JPEG "
              f"{upload.stat().st_size / 1024:.0f} KB\n")

        print("open a shared link (HTTP on loopback, uvicorn)")
        kept = random.Random(1).sample(store.visible_to("", "x", limit=STORED), 20)
        tokens = [store.share(r) for r in kept]
        fixed = result_views.share_page(kept[0], tokens[0])
        floor_app = Starlette(routes=[Route("/fixed", lambda request: HTMLResponse(fixed))])
        floor_url, floor_server = serve(floor_app)
        url, server = serve(Starlette(routes=share_ui.app_kwargs()["routes"]))
        session = requests.Session()
        picks = iter(tokens * (args.runs // len(tokens) + 2))
        for _ in range(5):  # warm both servers' connections
            session.get(f"{floor_url}/fixed").raise_for_status()
            session.get(f"{url}/share/{tokens[0]}").raise_for_status()
        floor = timed(lambda: session.get(f"{floor_url}/fixed").raise_for_status(), args.runs)
        print(row("floor: a fixed page of the same size", floor))
        print(row("GET /share/<token> (the page)", timed(
            lambda: session.get(f"{url}/share/{next(picks)}").raise_for_status(), args.runs),
            floor))
        print(row("GET /share/<token>/image (its image)", timed(
            lambda: session.get(f"{url}/share/{next(picks)}/image").raise_for_status(),
            args.runs), floor))
        missing = timed(lambda: session.get(f"{url}/share/{'A' * 22}"), args.runs)
        print(row("GET a guessed link (404)", missing, floor))
        server.should_exit = floor_server.should_exit = True


        print("\nsave a finished run (keep: copy, record, prune the oldest), 1,000 stored at "
              "the start")
        floor = timed(lambda: shutil.copyfile(flux_png, work / "copy.png"), args.runs)
        print(row("floor: shutil.copyfile of the 1 MP PNG", floor))
        for label, image, refs in [("simulator PNG, text to image", sim_png, []),
                                   ("1 MP photo PNG, text to image", flux_png, []),
                                   ("1 MP photo PNG + 12 MP JPEG reference", flux_png,
                                    [str(upload)])]:
            times = timed(lambda label=label, image=image, refs=refs: store.keep(
                "bench", run(next(task), label, image, refs, [sent] * len(refs))), args.runs)
            print(row(label, times, floor))
        thumbs = timed(lambda: make_thumbnail(sent), args.runs)
        print(row("its thumbnail from the 4 MP copy sent (once)", thumbs))

        print("\ndata directory against its cap")
        count, recorded = store.usage()
        on_disk = disk_bytes(data)
        mib = 1024 * 1024
        print(f"  results kept:         {count} (cap {STORED})")
        print(f"  result files:         {recorded / mib:7.1f} MB (cap {CAP_MB:.1f} MB, "
              f"{recorded / (CAP_MB * mib):.0%} of it)")
        print(f"  data directory total: {on_disk / mib:7.1f} MB on disk, of which SQLite "
              f"{(on_disk - disk_bytes(store.root)) / mib:.1f} MB (outside the cap)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
