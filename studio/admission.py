"""Admission before work: a request is checked against the caps, then by its files'
headers, and only an admitted run has its uploads decoded and shrunk.

A refused request therefore costs a few milliseconds (no image is decoded: sizes come from
headers) however heavy its uploads, and a flood of them leaves the admitted runs alone.
The page calls `run` (one run) or `admit` (side by side); both log one line per refusal.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterator

from wiro import InvalidInputError, uploads, validate_inputs

from . import cost
from .guards import Guard, RunRefused, Ticket
from .run import ActiveRuns, RunUpdate, generate
from .status import RunStatus
from .visitors import Visitor

log = logging.getLogger("studio.admission")

REFUSED_TITLE = "Not run — nothing was charged."
INVALID_TITLE = "Nothing was sent — fix these first:"


@dataclass
class Admission:
    """An admitted request (its inputs, uploads shrunk, and one ticket per run), or the
    update that says why it was not admitted."""

    values: dict[str, Any]
    tickets: list[Ticket] = field(default_factory=list)
    refusal: RunUpdate | None = None

    def release(self) -> None:
        """Give back what a run did not use (a no-op for tickets their run released)."""
        for ticket in self.tickets:
            ticket.release()


def _log_refusal(visitor: Visitor, status: RunStatus) -> None:
    reason = " ".join([status.detail, *status.problems]).replace("\n", " ").strip()
    log.warning("Run refused (%s) for %s%s: %s", status.kind, visitor.address,
                " via MCP" if visitor.via_mcp else "", reason[:300])


def _refused(visitor: Visitor, status: RunStatus) -> Admission:
    _log_refusal(visitor, status)
    return Admission({}, refusal=RunUpdate(status, finished=True))


def admit(guard: Guard, visitor: Visitor, values: dict[str, Any], count: int = 1, *,
          allow_private_urls: bool = True, own_key: bool = False) -> Admission:
    """Caps first (nothing read), then the inputs by their headers, then reserve `count`
    runs at the estimated price, and only then shrink the uploads (bounded decoding)."""
    try:
        guard.check(visitor.session, visitor.address, count, own_key=own_key, estimate_usd=0)
    except RunRefused as exc:
        return _refused(visitor, RunStatus("refused", REFUSED_TITLE, str(exc)))
    try:
        validate_inputs(values, allow_private_urls=allow_private_urls, decode=False)
    except InvalidInputError as exc:
        return _refused(visitor, RunStatus("invalid", INVALID_TITLE, problems=exc.problems))
    estimate = cost.estimate(values)
    try:
        tickets = guard.admit_batch(visitor.session, visitor.address, count, own_key=own_key,
                                    estimate_usd=estimate.usd if estimate else None)
    except RunRefused as exc:
        return _refused(visitor, RunStatus("refused", REFUSED_TITLE, str(exc)))
    try:
        prepared = uploads.prepare_inputs(values)
    except BaseException:
        for ticket in tickets:
            ticket.release()
        raise
    return Admission(prepared, tickets)


def run(guard: Guard, backend: Any, registry: ActiveRuns, store: Any, session: str,
        visitor: Visitor, values: dict[str, Any], *, randomize_seed: bool = False,
        client: Any = None) -> Iterator[RunUpdate]:
    """One run for the page or the API: `studio.run.generate`, admitted first."""
    admission = admit(guard, visitor, values, allow_private_urls=backend.allow_private_urls,
                      own_key=client is not None)
    if admission.refusal:
        yield admission.refusal
        return
    [ticket] = admission.tickets
    try:
        for update in generate(backend, registry, store, session, admission.values,
                               randomize_seed=randomize_seed, client=client,
                               admit=lambda: ticket):
            if update.finished and update.status.kind in ("invalid", "refused"):
                _log_refusal(visitor, update.status)
            yield update
    finally:
        admission.release()


# --- before Gradio reads an upload ----------------------------------------------------------

class UploadGate:
    """ASGI middleware: an upload from a visitor whose runs are used up (the hour, or the
    day's spending) is answered 429 before Gradio parses and stores its files — the larger
    part of what a refused heavy call costs. In bring-your-own-key mode it lets everything
    through (the owner's budgets are not the visitors')."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (scope.get("type") == "http" and scope.get("method") == "POST"
                and scope.get("path", "").rstrip("/").endswith("/gradio_api/upload")):
            from starlette.datastructures import Headers
            from starlette.responses import PlainTextResponse

            from .gradio_patches import current_page

            page = current_page()
            headers = Headers(scope=scope)
            # With visitors' own keys the owner's budgets do not apply; their page uploads
            # carry no key to tell them apart, so none is held back.
            if not page.byok:
                peer = (scope.get("client") or (None,))[0]
                visitor = Visitor(page.visitors.address(peer, headers), "")
                reason = page.guard.budget_refusal(visitor.address)
                if reason:
                    _log_refusal(visitor, RunStatus("refused", "Upload refused", reason))
                    await PlainTextResponse(reason, status_code=429)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

