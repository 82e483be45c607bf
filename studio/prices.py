"""Wiro's own description of the model (Tool/Detail): its price list for the estimate, and
its inputs, held against wiro/spec.py.

Read once at start (the owner's key; in keyless mode the simulator's, which bills by the same
list), kept in the data directory so a restart or a Wiro hiccup keeps the last one, and read
again once a day. Any difference between Wiro's inputs and wiro/spec.py is logged in one
line. Without a readable price list the estimate uses Black Forest Labs' rates
(wiro/pricing.py).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from wiro import WiroError
from wiro.models import ModelDetail

log = logging.getLogger(__name__)

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


def read(client: Any, data_dir: Path, now: float | None = None) -> ModelDetail | None:
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

    def __init__(self) -> None:
        self.entries: list[dict] | None = None
        self._timer: threading.Timer | None = None

    def refresh(self, client: Any, data_dir: Path) -> None:
        detail = read(client, data_dir)
        if detail is not None and detail.dynamic_price:
            self.entries = detail.dynamic_price

    def keep_fresh(self, client: Any, data_dir: Path) -> None:
        """Read now, then again each day (in the background)."""
        self.refresh(client, data_dir)
        self._timer = threading.Timer(REFRESH_SECONDS, self.keep_fresh, (client, data_dir))
        self._timer.daemon = True
        self._timer.start()


PRICES = PriceList()  # the app's: studio/cost.py estimates with it
