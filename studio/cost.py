"""What a run will cost, said before Generate: an ESTIMATE from wiro.pricing's rule.

The output size comes from width and height (0: the first reference image's size, when it
is an upload; a URL's size is unknown until Wiro fetches it). Reference images count at
the size they will be sent at, after `wiro.uploads` has shrunk them; URL references are
not counted, and the estimate says so. Wiro's `totalcost` on the finished task is the
real charge; `compare_html` puts the two side by side.
"""
from __future__ import annotations

import math

import html
from dataclasses import dataclass
from typing import Any, Mapping

from wiro import pricing, spec, uploads

UNKNOWN_OUTPUT = (spec.WIDTH.default, spec.HEIGHT.default)


@dataclass(frozen=True)
class Estimate:
    usd: float  # one run
    output_size: tuple[int, int]
    output_known: bool  # False: width/height 0 and image 1 is a URL (assumed default size)
    counted: int  # uploaded references counted
    input_mp: float  # their billable megapixels
    urls: int  # URL references, not counted

    def total(self, runs: int = 1) -> float:
        return round(self.usd * max(1, runs), 6)


def _size(raw: Any, field: spec.ModelInput) -> int | None:
    """A width or height the model accepts (0 included), else None: no estimate for inputs
    that validation will refuse anyway."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value != int(value):
        return None
    value = int(value)
    valid = field.minimum <= value <= field.maximum and not value % (field.step or 1)
    return value if value == 0 or valid else None


def match_input_size(first: tuple[int, int]) -> tuple[int, int]:
    """The size a 0 width/height gives: image 1's, snapped down to a multiple of 16 and kept
    within the model's range (what the simulator does; Wiro does not document it)."""
    size = []
    for field, pixels in zip((spec.WIDTH, spec.HEIGHT), first):
        snapped = pixels // spec.SIZE_MULTIPLE * spec.SIZE_MULTIPLE
        size.append(min(field.maximum, max(field.minimum, snapped)))
    return size[0], size[1]


def estimate(values: Mapping[str, Any]) -> Estimate | None:
    """The estimate for one run of `values` (spec names), or None if width/height are not
    numbers yet."""
    images = values.get(spec.INPUT_IMAGE.name) or []
    if not isinstance(images, (list, tuple)):
        images = [images]
    images = [i for i in images if i not in (None, "")]
    sizes = uploads.sent_sizes(images)
    width = _size(values.get(spec.WIDTH.name, spec.WIDTH.default), spec.WIDTH)
    height = _size(values.get(spec.HEIGHT.name, spec.HEIGHT.default), spec.HEIGHT)
    if width is None or height is None:
        return None
    known = True
    if width == 0 or height == 0:
        first = sizes[0] if sizes else None
        if first is None:
            known = False
            matched = UNKNOWN_OUTPUT
        else:
            matched = match_input_size(first)
        width, height = width or matched[0], height or matched[1]
    counted = [s for s in sizes if s]
    input_mp = pricing.input_megapixels(counted)
    return Estimate(
        usd=pricing.estimate_cost(width, height, input_mp),
        output_size=(width, height), output_known=known, counted=len(counted),
        input_mp=input_mp, urls=sum(1 for i in images if uploads.is_url(i)))


def money(usd: float) -> str:
    return f"${usd:.3f}" if round(usd, 3) == round(usd, 6) else f"${usd:.4f}"


def estimate_text(est: Estimate | None, runs: int = 1) -> str:
    if est is None:
        return "Estimated cost: enter a width and height."
    w, h = est.output_size
    out_mp = pricing.billable_megapixels(w, h)
    parts = [f"{out_mp} MP out ({w}×{h}{'' if est.output_known else ', assumed'})"]
    if est.counted:
        plural = "s" if est.counted > 1 else ""
        parts.append(f"{est.input_mp:g} MP in ({est.counted} upload{plural})")
    text = f"Estimated cost: {money(est.total(runs))}"
    if runs > 1:
        text += f" ({runs} runs × {money(est.usd)})"
    text += " · " + " + ".join(parts)
    if est.urls:
        text += " + URL images not counted"
    return text


def estimate_html(est: Estimate | None, runs: int = 1) -> str:
    usd = "" if est is None else f"{est.total(runs):.6f}"
    return (f'<div class="cost-estimate" data-usd="{usd}" data-runs="{runs}" '
            f'title="An estimate from Black Forest Labs\' published per-megapixel rates; '
            f'Wiro reports the real charge when the run ends.">'
            f"{html.escape(estimate_text(est, runs))}</div>")


def compare_text(estimated: float | None, charged: float | None) -> str:
    if charged is None:
        return ""
    if estimated is None:
        return f"charged {money(charged)}"
    return f"estimated {money(estimated)}, charged {money(charged)}"


def compare_html(estimated: float | None, charged: float | None, label: str = "Last run") -> str:
    text = compare_text(estimated, charged)
    if not text:
        return ""
    shown = "" if estimated is None else estimated
    return (f'<div class="cost-compare" data-estimated="{shown}" data-charged="{charged}">'
            f"{html.escape(label)}: {html.escape(text)}</div>")
