"""What a run will cost, said before Generate: an ESTIMATE, from Wiro's own price list.

The price list is Tool/Detail's `dynamicprice`, read once at start (the owner's key; in
keyless mode the simulator's, which bills by the same list), kept in the data directory so a
restart or a Wiro hiccup keeps the last one, and read again once a day; any difference
between Wiro's inputs and wiro/spec.py is logged in one line. Without a readable list the
estimate uses Black Forest Labs' rates (wiro/pricing.py).

The output size comes from width and height (0: the first reference image's size, when it
is an upload). Reference images count at the size they will be sent at, after
`wiro.uploads` has shrunk them. A URL's size is unknown until Wiro fetches it: the estimate
assumes ASSUMED_URL_SIZE for it (as input, and as output for a 0 size matching it) and says
so; the simulator bills a URL the same way, so estimate and charge agree there. Wiro's
`totalcost` on the finished task is the real charge; `compare_html` puts the two side by side.
"""
from __future__ import annotations

import html
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from wiro import WiroError, pricing, spec, uploads
from wiro.models import ModelDetail

from . import sizes

log = logging.getLogger(__name__)

# --- Wiro's price list --------------------------------------------------------------------

FILE_NAME = "tool-detail.json"
REFRESH_SECONDS = 24 * 3600.0
ASK_SECONDS = 5.0  # a start never waits longer than this for Wiro's answer


def _cached(path: Path) -> tuple[ModelDetail | None, float]:
    """The kept description and when it was read (0 when there is none)."""
    try:
        kept = json.loads(path.read_text())
        return ModelDetail.from_json(kept["tool"]), float(kept["read_at"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, 0.0


def read_detail(client: Any, data_dir: Path, now: float | None = None) -> ModelDetail | None:
    """The model as Wiro describes it: the kept copy while it is under a day old, else asked
    of Wiro (and kept); on failure the last kept copy, or None."""
    now = time.time() if now is None else now
    path = Path(data_dir) / FILE_NAME
    detail, read_at = _cached(path)
    if detail is not None and now - read_at < REFRESH_SECONDS:
        return detail
    if client is None:
        return detail
    try:
        fresh = client.tool_detail(within=ASK_SECONDS)
    except WiroError as exc:
        log.warning("Wiro's price list was not read (%s); %s", exc,
                    "using the copy from " + time.strftime("%Y-%m-%d", time.gmtime(read_at))
                    if detail else "estimating with Black Forest Labs' rates")
        return detail
    try:
        path.write_text(json.dumps({"read_at": now, "tool": fresh.raw}))
    except OSError as exc:
        log.warning("Wiro's price list was not kept (%s)", exc)
    drift = fresh.drift()
    if drift:
        log.warning("Wiro's description of the model differs from wiro/spec.py: %s",
                    "; ".join(drift))
    return fresh


class PriceList:
    """Tool/Detail's `dynamicprice` entries as the estimate reads them, kept up to date."""

    entries: list[dict] | None = None

    def keep_fresh(self, client: Any, data_dir: Path) -> None:
        """Read now, then again each day (in the background)."""
        detail = read_detail(client, data_dir)
        if detail is not None and detail.dynamic_price:
            self.entries = detail.dynamic_price
        timer = threading.Timer(REFRESH_SECONDS, self.keep_fresh, (client, data_dir))
        timer.daemon = True
        timer.start()


PRICES = PriceList()  # the app's, read by `estimate`


# --- the estimate -------------------------------------------------------------------------

# What a URL reference is taken to measure (wiro/simulator/task.py bills it so too).
ASSUMED_URL_SIZE = (spec.WIDTH.default, spec.HEIGHT.default)
UNKNOWN_OUTPUT = ASSUMED_URL_SIZE


@dataclass(frozen=True)
class Estimate:
    usd: float  # one run
    output_size: tuple[int, int]
    output_known: bool  # False: width/height 0 and image 1 is a URL (assumed default size)
    counted: int  # references counted (uploads and URLs)
    input_mp: float  # their billable megapixels
    urls: int  # URL references, counted at ASSUMED_URL_SIZE

    def total(self, runs: int = 1) -> float:
        return round(self.usd * max(1, runs), 6)


def _size(raw: Any, field: spec.ModelInput) -> int | None:
    """A width or height the model accepts (0 included), else None: no estimate for inputs
    that validation will refuse anyway."""
    return None if sizes.field_problem(field, raw) else int(float(raw))


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
    counted = [s or ASSUMED_URL_SIZE for s, i in zip(sizes, images) if s or uploads.is_url(i)]
    input_mp = pricing.input_megapixels(counted)
    return Estimate(
        usd=pricing.estimate_from_dynamic_price(PRICES.entries, width, height, input_mp,
                                                {**values, spec.INPUT_IMAGE.name: images}),
        output_size=(width, height), output_known=known, counted=len(counted),
        input_mp=input_mp, urls=sum(1 for i in images if uploads.is_url(i)))


SIMULATED = "simulated — no charge"


def money(usd: float) -> str:
    return f"${usd:.3f}" if round(usd, 3) == round(usd, 6) else f"${usd:.4f}"


def spent_text(usd: float | None, simulated: bool = False) -> str:
    """A finished run's cost: what Wiro charged, or the simulator's price, which is not
    money spent and says so."""
    if not isinstance(usd, (int, float)):
        return "—"
    return f"{money(usd)} {SIMULATED}" if simulated else money(usd)


def size_problem(values: Mapping[str, Any]) -> str:
    """Why there is no estimate: the size field to fix (the field itself says how)."""
    bad = [f.label.lower() for f in (spec.WIDTH, spec.HEIGHT)
           if _size(values.get(f.name, f.default), f) is None]
    return f"fix the {' and '.join(bad)} first" if bad else "enter a width and height"


def estimate_text(est: Estimate | None, runs: int = 1, missing: str = "",
                  simulated: bool = False) -> str:
    """`simulated`: the price the run would have on Wiro; the simulator charges nothing."""
    label = "Price on Wiro" if simulated else "Estimated cost"
    if est is None:
        return f"{label}: {missing or 'enter a width and height'}."
    w, h = est.output_size
    out_mp = pricing.billable_megapixels(w, h)
    parts = [f"{out_mp} MP out ({w}×{h}{'' if est.output_known else ', assumed'})"]
    if est.counted:
        uploaded = est.counted - est.urls
        kinds = [f"{n} {word}{'s' if n > 1 else ''}"
                 for n, word in ((uploaded, "upload"), (est.urls, "URL image")) if n]
        parts.append(f"{est.input_mp:g} MP in ({', '.join(kinds)})")
    text = f"{label}: {money(est.total(runs))}"
    if runs > 1:
        text += f" ({runs} runs × {money(est.usd)})"
    if simulated:
        text += f" ({SIMULATED})"
    text += " · " + " + ".join(parts)
    if est.urls:
        w, h = ASSUMED_URL_SIZE
        text += f" · URL images assumed {w}×{h} (their size is known once Wiro fetches them)"
    return text


def estimate_html(est: Estimate | None, runs: int = 1, missing: str = "",
                  simulated: bool = False) -> str:
    usd = "" if est is None else f"{est.total(runs):.6f}"
    return (f'<div class="cost-estimate" data-usd="{usd}" data-runs="{runs}" '
            f'data-simulated="{str(simulated).lower()}" '
            f'title="An estimate from Black Forest Labs\' published per-megapixel rates; '
            f'Wiro reports the real charge when the run ends.">'
            f"{html.escape(estimate_text(est, runs, missing, simulated))}</div>")


def compare_text(estimated: float | None, charged: float | None,
                 simulated: bool = False) -> str:
    if charged is None:
        return ""
    if simulated:
        return spent_text(charged, simulated=True)
    if estimated is None:
        return f"charged {money(charged)}"
    return f"estimated {money(estimated)}, charged {money(charged)}"


def compare_html(estimated: float | None, charged: float | None, label: str = "Last run",
                 simulated: bool = False) -> str:
    text = compare_text(estimated, charged, simulated)
    if not text:
        return ""
    shown = "" if estimated is None else estimated
    return (f'<div class="cost-compare" data-estimated="{shown}" data-charged="{charged}" '
            f'data-simulated="{str(simulated).lower()}">'
            f"{html.escape(label)}: {html.escape(text)}</div>")
