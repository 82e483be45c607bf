"""Output sizes people think in: an aspect ratio and a megapixel budget, turned into a width
and height the model accepts (multiples of 16, 64 to 2048), and a plain sentence for a size
it does not accept. Pure functions; the page shows the sentence right under the field."""
from __future__ import annotations

import math
from typing import Any

from wiro import pricing, spec

MATCH = "match"
RATIOS: dict[str, tuple[int, int]] = {"1:1": (1, 1), "4:3": (4, 3), "3:2": (3, 2),
                                      "16:9": (16, 9), "9:16": (9, 16)}
RATIO_CHOICES = [*((r, r) for r in RATIOS), ("Match image 1", MATCH)]
MEGAPIXELS = (0.25, 0.5, 1.0, 2.0, 4.0)
MEGAPIXEL_CHOICES = [(f"{mp:g} MP", mp) for mp in MEGAPIXELS]
DEFAULT_RATIO, DEFAULT_MEGAPIXELS = "1:1", 1.0


def _snap(pixels: float, field: spec.ModelInput) -> int:
    step = spec.SIZE_MULTIPLE
    return int(min(field.maximum, max(field.minimum, round(pixels / step) * step)))


def size_for(ratio: tuple[float, float], megapixels: float) -> tuple[int, int]:
    """Width and height near `megapixels` (1 MP = 1024×1024, the unit the price uses) with
    the given aspect ratio, scaled down as a whole if a side would pass 2048."""
    rw, rh = ratio
    area = megapixels * pricing.MEGAPIXEL
    width, height = math.sqrt(area * rw / rh), math.sqrt(area * rh / rw)
    shrink = min(1.0, spec.WIDTH.maximum / width, spec.HEIGHT.maximum / height)
    return _snap(width * shrink, spec.WIDTH), _snap(height * shrink, spec.HEIGHT)


def preset(ratio_key: str, megapixels: Any, first_image: tuple[int, int] | None
           ) -> tuple[int, int]:
    """The size a preset stands for. "Match image 1" keeps image 1's shape when its size is
    known (an upload) and is 0×0 otherwise: Wiro then matches the image itself."""
    try:
        mp = float(megapixels)
    except (TypeError, ValueError):
        mp = DEFAULT_MEGAPIXELS
    if ratio_key == MATCH:
        return size_for(first_image, mp) if first_image else (0, 0)
    return size_for(RATIOS.get(ratio_key, RATIOS[DEFAULT_RATIO]), mp)


def presets_of(width: Any, height: Any) -> tuple[str | None, float | None]:
    """The aspect ratio and megapixels that stand for a width and height, for a restored run:
    (None, None) where no preset gives that size (the fields still hold it). 0 is "match
    image 1", whose megapixels are whatever the picker said."""
    try:
        w, h = int(width), int(height)
    except (TypeError, ValueError):
        return None, None
    if w == 0 or h == 0:
        return MATCH, None
    for key, ratio in RATIOS.items():
        for mp in MEGAPIXELS:
            if size_for(ratio, mp) == (w, h):
                return key, mp
    return None, None


def field_problem(field: spec.ModelInput, raw: Any) -> str:
    """What to change in one width/height/seed field, or "" if the model accepts it."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return f"Enter a whole number from {field.minimum} to {field.maximum}."
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return f"{raw!r} is not a number; enter a whole number."
    if not math.isfinite(value):
        return "Enter a finite whole number."
    if value != int(value):
        return f"Use a whole number, e.g. {math.floor(value)} or {math.ceil(value)}."
    value = int(value)
    if value == 0 and field.zero_means_match_input:
        return ""
    if not field.minimum <= value <= field.maximum:
        zero = " (or 0 to match image 1)" if field.zero_means_match_input else ""
        return f"Use {field.minimum} to {field.maximum}{zero}; {value} is out of range."
    step = field.step or 1
    if value % step:
        below = max(field.minimum, value - value % step)
        above = min(field.maximum, below + step)
        return f"Use a multiple of {step}: {below} or {above}."
    return ""
