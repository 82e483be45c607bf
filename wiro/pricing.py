"""An ESTIMATE of what one FLUX.2 [pro] run costs, from Black Forest Labs' published rule.

BFL bills FLUX.2 [pro] by megapixel: a price for the first output megapixel, a lower price
for each further output megapixel, and a price per megapixel of reference (input) images,
each image's size rounded up to whole megapixels. Wiro resells the model and reports the
real charge in a finished task's `totalcost`; Wiro's own mark-up, if any, is not public,
so treat these figures as an estimate and `totalcost` as the truth.

One megapixel here is 1024 x 1024 pixels: that is the unit under which BFL's advertised
"from $0.03" buys the default 1024 x 1024 image, and the unit resellers of the model quote.
"""
from __future__ import annotations

import math
from typing import Iterable

MEGAPIXEL = 1024 * 1024
FIRST_OUTPUT_MP_USD = 0.03
EXTRA_OUTPUT_MP_USD = 0.015
INPUT_MP_USD = 0.015

# Pixel counts are exact multiples of MEGAPIXEL more often than floats suggest; without the
# slack, 1.0000000000000002 MP would be billed as 2.
_ROUNDING_SLACK = 1e-9


def megapixels(width: int, height: int) -> float:
    return width * height / MEGAPIXEL


def billable_megapixels(width: int, height: int) -> int:
    """Whole megapixels, rounded up, at least one."""
    return max(1, math.ceil(megapixels(width, height) - _ROUNDING_SLACK))


def input_megapixels(sizes: Iterable[tuple[int, int]]) -> float:
    """Reference images' billable megapixels: each image rounded up on its own."""
    return float(sum(billable_megapixels(w, h) for w, h in sizes))


def estimate_cost(width: int, height: int, input_megapixels: float = 0.0) -> float:
    """Estimated USD for one image of width x height made from `input_megapixels` of inputs.

    Pass the sum from `input_megapixels()` to round each reference image separately; a raw
    total is rounded up as a whole.
    """
    output_mp = billable_megapixels(width, height)
    inputs_mp = math.ceil(input_megapixels - _ROUNDING_SLACK) if input_megapixels > 0 else 0
    cost = (FIRST_OUTPUT_MP_USD + EXTRA_OUTPUT_MP_USD * (output_mp - 1)
            + INPUT_MP_USD * inputs_mp)
    return round(cost, 6)
