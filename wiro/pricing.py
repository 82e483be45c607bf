"""An ESTIMATE of what one FLUX.2 [pro] run costs: from Wiro's own price list when it can be
read, else from Black Forest Labs' published rule.

Both bill FLUX.2 [pro] by megapixel: a price for the first output megapixel, a lower price for
each further output megapixel, and a price per megapixel of reference (input) images, each
image's size rounded up to whole megapixels. Wiro publishes its prices in Tool/Detail's
`dynamicprice` (pricing.md): a `cp-pixel` entry is exactly that rule (`price` for the first
1024 x 1024 tier, `priceExtra` for each further tier, `priceInput` for each input tier); a
`cpr` entry is a flat price per run. The real charge is a finished task's `totalcost`:
treat these figures as an estimate and `totalcost` as the truth.

One megapixel here is 1024 x 1024 pixels (Wiro's "tier"; also the unit under which BFL's
advertised "from $0.03" buys the default 1024 x 1024 image).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

MEGAPIXEL = 1024 * 1024

# Pixel counts are exact multiples of MEGAPIXEL more often than floats suggest; without the
# slack, 1.0000000000000002 MP would be billed as 2.
_ROUNDING_SLACK = 1e-9


@dataclass(frozen=True)
class PixelPrice:
    """USD for the first output megapixel, each further one, and each input megapixel."""

    first: float
    extra: float = 0.0
    per_input: float = 0.0


BFL_PRICE = PixelPrice(first=0.03, extra=0.015, per_input=0.015)
FIRST_OUTPUT_MP_USD, EXTRA_OUTPUT_MP_USD, INPUT_MP_USD = \
    BFL_PRICE.first, BFL_PRICE.extra, BFL_PRICE.per_input


def billable_megapixels(width: int, height: int) -> int:
    """Whole megapixels, rounded up, at least one."""
    return max(1, math.ceil(width * height / MEGAPIXEL - _ROUNDING_SLACK))


def input_megapixels(sizes: Iterable[tuple[int, int]]) -> float:
    """Reference images' billable megapixels: each image rounded up on its own."""
    return float(sum(billable_megapixels(w, h) for w, h in sizes))


def estimate_cost(width: int, height: int, input_megapixels: float = 0.0,
                  price: PixelPrice = BFL_PRICE) -> float:
    """Estimated USD for one image of width x height made from `input_megapixels` of inputs.

    Pass the sum from `input_megapixels()` to round each reference image separately; a raw
    total is rounded up as a whole.
    """
    output_mp = billable_megapixels(width, height)
    inputs_mp = math.ceil(input_megapixels - _ROUNDING_SLACK) if input_megapixels > 0 else 0
    cost = price.first + price.extra * (output_mp - 1) + price.per_input * inputs_mp
    return round(cost, 6)


# --- Wiro's own price list ------------------------------------------------------------------


def parse_dynamic_price(raw: Any) -> list[dict] | None:
    """Tool/Detail's `dynamicprice` (a JSON string, as the docs show it, or a list) as its
    entries; None when absent or unreadable."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, list) or not raw or not all(isinstance(e, dict) for e in raw):
        return None
    return raw


def _matches(wanted: Any, inputs: Mapping[str, Any]) -> bool:
    """An entry's `inputs`: {} applies to every run; else every value must be the run's
    (a "QUANTITY:n" value: that many files in that input)."""
    if not isinstance(wanted, dict):
        return False
    for name, value in wanted.items():
        given = inputs.get(name)
        if isinstance(value, str) and value.upper().startswith("QUANTITY:"):
            count = len(given) if isinstance(given, (list, tuple)) else 0
            if value.split(":", 1)[1].strip() != str(count):
                return False
        elif str(given).strip().lower() != str(value).strip().lower():
            return False
    return True


def _usd(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


def price_from_dynamic(dynamicprice: Any,
                       inputs: Mapping[str, Any] | None = None) -> PixelPrice | None:
    """The rule Wiro's `dynamicprice` gives a run with these `inputs` (the Run's parameters,
    `inputImage` as a list), as a PixelPrice; None when there is no readable entry for it,
    or it bills in a way an estimate cannot follow (per second, per token, ...)."""
    entries = parse_dynamic_price(dynamicprice)
    for entry in entries or ():
        if not _matches(entry.get("inputs", {}), inputs or {}):
            continue
        method, first = entry.get("priceMethod"), _usd(entry.get("price"))
        if first is None:
            return None
        if method == "cp-pixel":
            extra, per_input = _usd(entry.get("priceExtra", 0)), _usd(entry.get("priceInput", 0))
            if extra is None or per_input is None:
                return None
            return PixelPrice(first, extra, per_input)
        return PixelPrice(first) if method == "cpr" else None
    return None


def estimate_from_dynamic_price(dynamicprice: Any, width: int, height: int,
                                input_megapixels: float = 0.0,
                                inputs: Mapping[str, Any] | None = None) -> float:
    """Estimated USD from Wiro's price list, falling back to BFL's rates when it is absent or
    cannot be read."""
    price = price_from_dynamic(dynamicprice, inputs) or BFL_PRICE
    return estimate_cost(width, height, input_megapixels, price)
