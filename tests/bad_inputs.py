"""The bad-input battery (issue 6): every case must be refused, by label, before any Run.

Each case: an id, a function of a temp folder giving the inputs that differ from the
defaults, and the words the message must contain (the field's label first).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from PIL import Image

from wiro import spec

Case = tuple[str, Callable[[Path], dict[str, Any]], tuple[str, ...]]


def _png(folder: Path, name: str = "ok.png", size=(64, 48)) -> str:
    path = folder / name
    Image.new("RGB", size, (20, 120, 200)).save(path)
    return str(path)


def _text_file(folder: Path) -> str:
    path = folder / "notes.png"  # an image's name, a text's content
    path.write_text("this is not an image")
    return str(path)


def _truncated(folder: Path) -> str:
    full = Path(_png(folder, "full.png", (256, 256)))
    Image.effect_noise((256, 256), 60).save(full)
    path = folder / "truncated.png"
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return str(path)


def _corrupt(folder: Path) -> str:
    path = folder / "corrupt.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50)
    return str(path)


def _bomb(folder: Path) -> str:
    # 100 MP of one-bit pixels: a few kB on disk, gigabytes once decoded.
    path = folder / "bomb.png"
    Image.new("1", (10_000, 10_000)).save(path, optimize=True)
    return str(path)


def _images(value: Any) -> Callable[[Path], dict[str, Any]]:
    return lambda folder: {spec.INPUT_IMAGE.name: value(folder) if callable(value) else value}


def _set(**values: Any) -> Callable[[Path], dict[str, Any]]:
    return lambda folder: values


# The labels' initials, for the table below.
W, H, S, SEED, F, P, I = (spec.WIDTH.label, spec.HEIGHT.label, spec.SAFETY_TOLERANCE.label,  # noqa: E741
                          spec.SEED.label, spec.OUTPUT_FORMAT.label, spec.PROMPT.label,
                          spec.INPUT_IMAGE.label)

CASES: list[Case] = [
    ("width-not-multiple", _set(width=1000), (W, "multiple of 16", "992 or 1008")),
    ("width-too-small", _set(width=32), (W, "between 64 and 2048")),
    ("width-too-big", _set(width=4096), (W, "between 64 and 2048")),
    ("width-negative", _set(width=-16), (W, "between 64 and 2048")),
    ("width-fraction", _set(width=1024.5), (W, "whole number")),
    ("width-nan", _set(width=math.nan), (W, "finite")),
    ("width-inf", _set(width=math.inf), (W, "finite")),
    ("width-text", _set(width="wide"), (W, "whole number")),
    ("width-empty", _set(width=None), (W, "empty")),
    ("width-bool", _set(width=True), (W, "whole number")),
    ("width-huge", _set(width=10**30), (W, "between 64 and 2048")),
    ("height-not-multiple", _set(height=1001), (H, "multiple of 16")),
    ("height-too-big", _set(height=3000), (H, "between 64 and 2048")),
    ("height-negative", _set(height=-1), (H, "between 64 and 2048")),
    ("height-nan", _set(height=math.nan), (H, "finite")),
    ("width-zero-no-image", _set(width=0, inputImage=[]), (W, "no input image")),
    ("height-zero-no-image", _set(height=0, inputImage=[]), (H, "no input image")),
    ("safety-too-high", _set(safetyTolerance=7), (S, "between 0 and 6")),
    ("safety-negative", _set(safetyTolerance=-1), (S, "between 0 and 6")),
    ("safety-fraction", _set(safetyTolerance=2.5), (S, "whole number")),
    ("safety-nan", _set(safetyTolerance=math.nan), (S, "finite")),
    ("safety-text", _set(safetyTolerance="high"), (S, "whole number")),
    ("seed-negative", _set(seed=-1), (SEED, "between 0 and")),
    ("seed-fraction", _set(seed=1.5), (SEED, "whole number")),
    ("seed-huge", _set(seed=2**40), (SEED, "between 0 and")),
    ("seed-inf", _set(seed=-math.inf), (SEED, "finite")),
    ("seed-text", _set(seed="lucky"), (SEED, "whole number")),
    ("format-gif", _set(outputFormat="gif"), (F, "JPEG or PNG")),
    ("format-empty", _set(outputFormat=""), (F, "JPEG or PNG")),
    ("format-none", _set(outputFormat=None), (F, "JPEG or PNG")),
    ("prompt-empty", _set(prompt=""), (P, "empty")),
    ("prompt-whitespace", _set(prompt="   \n\t  "), (P, "empty")),
    ("prompt-none", _set(prompt=None), (P, "empty")),
    ("prompt-too-long", _set(prompt="a" * (spec.MAX_PROMPT_CHARS + 1)), (P, "shorten")),
    ("nine-images", _images([f"https://example.com/{n}.jpg" for n in range(9)]),
     (I, "at most 8", "Remove 1")),
    ("not-an-image", _images(lambda d: [_text_file(d)]), (f"{I} 1", "not an image")),
    ("truncated-image", _images(lambda d: [_truncated(d)]), (f"{I} 1", "damaged")),
    ("corrupt-jpeg", _images(lambda d: [_corrupt(d)]), (f"{I} 1", "upload a PNG")),
    ("image-bomb", _images(lambda d: [_bomb(d)]), (f"{I} 1", "MP")),
    ("missing-upload", _images(lambda d: [str(d / "gone.png")]), (f"{I} 1", "upload it again")),
    ("folder-as-upload", _images(lambda d: [str(d)]), (f"{I} 1", "upload it again")),
    ("file-url", _images(["file:///etc/passwd"]), (f"{I} 1", "not a web address")),
    ("javascript-url", _images(["javascript:alert(1)"]), (f"{I} 1", "not a web address")),
    ("data-url", _images(["data:image/png;base64,iVBORw0KGgo="]), (f"{I} 1",
                                                                   "not a web address")),
    ("ftp-url", _images(["ftp://example.com/a.png"]), (f"{I} 1", "not a web address")),
    ("url-without-host", _images(["https://"]), (f"{I} 1", "not a web address")),
    ("second-of-three-bad", _images(lambda d: [_png(d), "gopher://x/y", _png(d, "b.png")]),
     (f"{I} 2", "not a web address")),
]

# Refused only when the app talks to the real Wiro, which cannot reach this machine.
LIVE_ONLY_CASES: list[Case] = [
    ("loopback-url", _images(["http://127.0.0.1:8080/a.png"]), (f"{I} 1", "local or private")),
    ("localhost-url", _images(["http://localhost/a.png"]), (f"{I} 1", "local or private")),
    ("private-10-url", _images(["https://10.0.0.5/a.png"]), (f"{I} 1", "local or private")),
    ("private-192-url", _images(["http://192.168.1.20/a.png"]), (f"{I} 1", "local or private")),
    ("ipv6-loopback-url", _images(["http://[::1]/a.png"]), (f"{I} 1", "local or private")),
    ("metadata-url", _images(["http://169.254.169.254/latest"]), (f"{I} 1",
                                                                  "local or private")),
]


def inputs_for(case: Case, folder: Path) -> dict[str, Any]:
    values = spec.defaults()
    values[spec.INPUT_IMAGE.name] = []
    values.update(case[1](folder))
    return values
