"""Side by side: the same inputs with 2–4 seeds. The seeds field and its confirmation, in
plain functions; the batch itself runs through the page's one path (`DemoPage.run` with
`seeds=`): admitted at once (one admission for the per-session cap, every seed a run for
the overall, hourly and spending caps), each seed its own task."""
from __future__ import annotations

import math
import re
from typing import Any

from wiro import spec

MIN_SEEDS, MAX_SEEDS = 2, 4


def parse_seeds(text: Any) -> tuple[list[int], list[str]]:
    """Seeds from "1, 2, 3" (commas or spaces): ([seeds], [problems])."""
    parts = [p for p in re.split(r"[\s,;]+", str(text or "").strip()) if p]
    seeds: list[int] = []
    problems: list[str] = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            problems.append(f"{part!r} is not a seed; use whole numbers.")
            continue
        if not math.isfinite(value) or value != int(value) or \
                not spec.SEED.minimum <= value <= spec.SEED.maximum:
            problems.append(f"{part} is not a seed; use whole numbers from {spec.SEED.minimum}"
                            f" to {spec.SEED.maximum}.")
            continue
        if int(value) in seeds:
            problems.append(f"Seed {int(value)} is listed twice; each run needs its own seed.")
            continue
        seeds.append(int(value))
    if not problems and not MIN_SEEDS <= len(seeds) <= MAX_SEEDS:
        problems.append(f"Give {MIN_SEEDS} to {MAX_SEEDS} seeds to compare (got {len(seeds)}).")
    return seeds, problems


def default_seeds(seed: Any, count: int = MIN_SEEDS) -> str:
    try:
        start = int(float(seed))
    except (TypeError, ValueError):
        start = spec.SEED.default
    start = min(max(start, spec.SEED.minimum), spec.SEED.maximum - count)
    return ", ".join(str(start + n) for n in range(count))


def confirm_label(runs: int, total_text: str = "", simulated: bool = False) -> str:
    runs = max(runs, MIN_SEEDS)
    extra = f" ({total_text})" if total_text else ""
    if simulated:  # the simulator charges nothing: no money is at stake
        return f"I understand this starts {runs} simulated runs (no charge){extra}"
    return f"I understand this starts {runs} paid runs{extra}"
