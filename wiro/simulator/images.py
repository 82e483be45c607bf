"""The simulator's stand-in for a generated image.

A real picture file (so decoders, size checks and galleries are exercised) that nobody can
mistake for model output: a gradient coloured by a hash of seed and prompt, a large
"WIRO SIMULATOR" label, and the seed, size and start of the prompt written on it. It depends
only on (seed, prompt, width, height, format), so the same request gives the same bytes.
"""
from __future__ import annotations

import hashlib
import io
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

LABEL = "WIRO SIMULATOR"


def _palette(seed: int, prompt: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    digest = hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: fixed small font
        return ImageFont.load_default()


def _gradient(width: int, height: int, start: tuple, end: tuple) -> Image.Image:
    # Drawn small and scaled up: a 2048 x 2048 gradient costs the same as a 256 x 256 one.
    ramp = Image.linear_gradient("L")
    mask = Image.blend(ramp, ramp.rotate(90), 0.5).resize((width, height))  # diagonal
    return Image.composite(Image.new("RGB", (width, height), end),
                           Image.new("RGB", (width, height), start), mask)


def _ink(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on `colour`."""
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (0, 0, 0) if luma > 140 else (255, 255, 255)


def render(seed: int, prompt: str, width: int, height: int, fmt: str) -> bytes:
    """Encoded image bytes (fmt is "png" or "jpeg")."""
    start, end = _palette(seed, prompt)
    image = _gradient(width, height, start, end)
    draw = ImageDraw.Draw(image)
    mid = tuple((a + b) // 2 for a, b in zip(start, end))
    ink = _ink(mid)
    short = min(width, height)

    title = _font(max(8, width // (len(LABEL) - 2)))
    draw.text((width / 2, height / 2), LABEL, fill=ink, font=title, anchor="mm")
    body = _font(max(8, short // 24))
    line_height = max(10, short // 20)
    lines = [f"seed {seed}  |  {width} x {height}  |  {fmt}"]
    wrapped = textwrap.wrap(prompt, width=max(12, width // max(1, short // 40)))
    lines += wrapped[:3]
    if len(wrapped) > 3:
        lines[-1] += " …"
    for number, line in enumerate(lines):
        draw.text((short // 32, short // 32 + number * line_height), line, fill=ink, font=body)

    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(out, "JPEG", quality=90)
    else:
        image.save(out, "PNG", compress_level=6)
    return out.getvalue()


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an uploaded image, read from its header; None when unreadable."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # any undecodable upload is simply "not an image" here
        return None
