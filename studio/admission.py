"""Admission: everything a run goes through before anything is paid, and every refusal's words.

`admit` takes the inputs and the seeds to run (one for Generate, the API and MCP; 2–4 side
by side) and returns one `Job` per seed, or a `Refusal`. In this order:

1. the caps (nothing of the request read yet: a refused flood costs milliseconds);
2. the inputs, validated once (`wiro.validation`; image files by their headers only);
3. the estimate reserved against the day's spending, one ticket per run;
4. the uploads decoded and shrunk (`wiro.uploads.prepare`), bounded.

A refusal is logged in one line and worded here alone: `refused` (a cap, a missing key, an
unticked confirmation) and `invalid` (inputs to fix). The run itself (studio/run.py) neither
validates nor admits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Iterable

from wiro import InvalidInputError, RunRequest, spec, uploads, validate_inputs

from . import bounds, cost
from .guards import Guard, RunRefused, Ticket
from .record import Reference, references_of
from .status import RunStatus
from .visitors import Visitor

log = logging.getLogger("studio.admission")

REFUSED_TITLE = "Not run — nothing was charged."
INVALID_TITLE = "Nothing was sent — fix these first:"
NEEDS_KEY = ("Paste your Wiro API key (and secret, for signature projects) first. They are "
             "used for your runs only and never stored.")


@dataclass(frozen=True)
class Job:
    """One admitted run: the request to send (validated, uploads shrunk, its seed set), the
    references as the visitor gave them, the estimate, and its ticket under the caps."""

    request: RunRequest
    seed: int
    references: tuple[Reference, ...]
    estimate_usd: float | None
    ticket: Ticket
    slot: int = 0  # its place in a side-by-side row


@dataclass(frozen=True)
class Refusal:
    status: RunStatus


def refused(detail: str, visitor: Visitor | None = None) -> Refusal:
    return _logged(RunStatus("refused", REFUSED_TITLE, detail), visitor)


def invalid(problems: Iterable[str], visitor: Visitor | None = None) -> Refusal:
    return _logged(RunStatus("invalid", INVALID_TITLE, problems=tuple(problems)), visitor)


def _logged(status: RunStatus, visitor: Visitor | None) -> Refusal:
    if visitor is not None:
        reason = " ".join([status.detail, *status.problems]).replace("\n", " ").strip()
        # At most APP_LOG_LINES_PER_CLIENT_PER_HOUR lines per visitor (studio/bounds.py).
        bounds.current().log.warning(log, visitor.address, "Run refused (%s) for %s%s: %s",
                                     status.kind, visitor.address,
                                     " via MCP" if visitor.via_mcp else "", reason[:300])
    return Refusal(status)


def admit(guard: Guard, visitor: Visitor, values: dict[str, Any], seeds: list[int], *,
          own_key: bool, allow_private_urls: bool) -> list[Job] | Refusal:
    """One Job per seed, all admitted together, or the Refusal that says why not."""
    count = len(seeds)
    try:  # 1. the caps, before anything of the request is read
        guard.check(visitor.session, visitor.address, count, own_key=own_key)
    except RunRefused as exc:
        return refused(str(exc), visitor)
    values = {**values, spec.SEED.name: seeds[0]}
    try:  # 2. validated once
        request = validate_inputs(values, allow_private_urls=allow_private_urls)
    except InvalidInputError as exc:
        return invalid(exc.problems, visitor)
    estimate = cost.estimate(values)
    try:  # 3. reserved
        tickets = guard.admit(visitor.session, visitor.address, count, own_key=own_key,
                              estimate_usd=estimate.usd if estimate else None)
    except RunRefused as exc:
        return refused(str(exc), visitor)
    try:  # 4. decoded and shrunk, bounded
        request = uploads.prepare(request)
    except InvalidInputError as exc:
        for ticket in tickets:
            ticket.release()
        return invalid(exc.problems, visitor)
    except BaseException:
        for ticket in tickets:
            ticket.release()
        raise
    given = _entries(values.get(spec.INPUT_IMAGE.name))
    references = references_of(given, [getattr(i, "path", None) or getattr(i, "url", "")
                                       for i in request.images])
    return [Job(replace(request, params={**request.params, spec.SEED.name: seed}), seed,
                references, estimate.usd if estimate else None, ticket, slot)
            for slot, (seed, ticket) in enumerate(zip(seeds, tickets))]


def _entries(raw: Any) -> list[Any]:
    """The page's reference entries as validation read them (paths, URLs, file dicts)."""
    if raw is None:
        return []
    entries = raw if isinstance(raw, (list, tuple)) else [raw]
    found = []
    for entry in entries:
        if entry in (None, ""):
            continue
        if isinstance(entry, dict):
            entry = entry.get("path") or entry.get("url") or entry.get("name")
        elif not isinstance(entry, str):
            entry = getattr(entry, "path", None) or str(entry)
        found.append(str(entry).strip())
    return found
