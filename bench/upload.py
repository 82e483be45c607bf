"""Lighter uploads: what shrinking a big reference photo saves, original vs downscaled.

Makes a synthetic 24 MP photo-like JPEG (6000×4000: smooth gradients and blobs under
sensor-like noise, so it does not compress trivially), starts the Wiro simulator (pace 0)
on loopback in this process, and sends one Run with it as the reference image two ways:

- original:   the file as it is (built as a RunRequest directly: validation would refuse
              24 MP, since FLUX.2 [pro] takes at most 9 MP of input);
- downscaled: through wiro.uploads.prepare_references first (≤ 4 MP, JPEG quality 90).

Prints the request body's bytes and the time until Run was accepted for each, side by
side, with the ratio. One run each: the point is the size, which does not vary.

    python bench/upload.py [--keep]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402  (Gradio's dependency)
import requests  # noqa: E402
from PIL import Image  # noqa: E402

from wiro import spec, uploads  # noqa: E402
from wiro.client import WiroClient  # noqa: E402
from wiro.simulator import SimulatorServer, SimulatorState  # noqa: E402
from wiro.validation import ImageFile, RunRequest, validate_inputs  # noqa: E402

KEY, SECRET = "bench-key", "bench-secret"
WIDTH, HEIGHT = 6000, 4000
PARAMS = {"prompt": "Turn the scene into a watercolour.", "width": 1024, "height": 1024,
          "safetyTolerance": 2, "seed": 1, "outputFormat": "jpeg"}


def synthetic_photo(path: Path, seed: int = 7) -> None:
    """Gradients, a few soft blobs and per-pixel noise: about what a camera JPEG holds."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    x /= WIDTH
    y /= HEIGHT
    channels = []
    for c in range(3):
        base = 60 + 120 * (0.6 * x + 0.4 * y if c == 0 else 0.5 * (1 - x) + 0.5 * y
                           if c == 1 else 0.3 + 0.4 * np.sin(3 * x + 2 * y + c))
        for _ in range(6):
            cx, cy, r = rng.random(), rng.random(), 0.05 + 0.2 * rng.random()
            base += 50 * rng.standard_normal() * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / r**2)
        channels.append(base)
    image = np.stack(channels, axis=-1)
    image += rng.normal(0, 9, image.shape).astype(np.float32)  # sensor noise
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB").save(
        path, "JPEG", quality=92)


def body_bytes(client: WiroClient, request: RunRequest) -> int:
    """The exact multipart body WiroClient sends for this request."""
    prepared = requests.Request("POST", f"{client.base_url}/Run/{spec.MODEL_SLUG}",
                                **client.run_body(request)).prepare()
    return len(prepared.body)


def timed_run(client: WiroClient, request: RunRequest) -> tuple[float, str]:
    started = time.perf_counter()
    handle = client.run(request)
    return time.perf_counter() - started, handle.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary files")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    photo = work / "holiday-24mp.jpg"
    synthetic_photo(photo)

    state = SimulatorState(KEY, SECRET, pace=0)
    with SimulatorServer(state) as server, WiroClient(KEY, SECRET,
                                                      base_url=server.base_url) as client:
        original = RunRequest(params=dict(PARAMS),
                              images=(ImageFile(str(photo), WIDTH, HEIGHT, "JPEG"),))
        started = time.perf_counter()
        [small] = uploads.prepare_references([str(photo)], cache_dir=work / "shrunk")
        prepare_s = time.perf_counter() - started
        shrunk = validate_inputs({**PARAMS, spec.INPUT_IMAGE.name: [small]})

        rows = {}
        for name, request, prep in (("original", original, 0.0),
                                    ("downscaled", shrunk, prepare_s)):
            run_s, taskid = timed_run(client, request)
            received = next(t for t in state.tasks() if t["id"] == taskid)["inputs"][0]
            rows[name] = {
                "size": f"{received['width']}×{received['height']}",
                "mp": received["width"] * received["height"] / 1e6,
                "file": os.path.getsize(request.images[0].path),
                "body": body_bytes(client, request),
                "prepare": prep, "run": run_s, "total": prep + run_s,
            }
    o, d = rows["original"], rows["downscaled"]
    print(f"Reference photo: synthetic {WIDTH}×{HEIGHT} JPEG; one Run each against the "
          "simulator (loopback)\n")
    print(f"{'':28}{'original':>16}{'downscaled':>16}{'ratio':>10}")
    print(f"{'image sent':28}{o['size']:>16}{d['size']:>16}")
    print(f"{'megapixels':28}{o['mp']:>16.1f}{d['mp']:>16.1f}{o['mp'] / d['mp']:>9.1f}×")
    print(f"{'file bytes':28}{o['file']:>16,}{d['file']:>16,}{o['file'] / d['file']:>9.1f}×")
    print(f"{'request body bytes (sent)':28}{o['body']:>16,}{d['body']:>16,}"
          f"{o['body'] / d['body']:>9.1f}×")
    print(f"{'downscale time (s)':28}{o['prepare']:>16.3f}{d['prepare']:>16.3f}")
    print(f"{'time to Run accepted (s)':28}{o['run']:>16.3f}{d['run']:>16.3f}"
          f"{o['run'] / d['run']:>9.1f}×")
    print(f"{'downscale + Run (s)':28}{o['total']:>16.3f}{d['total']:>16.3f}"
          f"{o['total'] / d['total']:>9.1f}×")
    goal = o["body"] / d["body"] >= 3
    print(f"\nGoal ≥ 3× fewer bytes: {'met' if goal else 'NOT met'} "
          f"({o['body'] / d['body']:.1f}×). On loopback the time is mostly encoding and "
          "parsing; over a real uplink the bytes dominate (at 10 Mbit/s: "
          f"{o['body'] * 8 / 10e6:.1f} s vs {d['body'] * 8 / 10e6:.1f} s).")
    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"files kept in {work}")


if __name__ == "__main__":
    main()
