"""Bounds on what a visitor can make the app spend (disk, memory, the log) and on who may
call it from a browser. Every bound has its setting (studio/config.py, 0 = no cap).

The middleware, installed in front of Gradio by studio/gradio_patches.py (outermost first):

- `OriginGate`: a browser may call the app only from the app's own origin (or one listed in
  APP_ALLOWED_ORIGINS); a request carrying another `Origin` is answered 403 before anything
  runs, so a page on another site cannot start a paid run from a visitor's browser. Clients
  that send no Origin (gradio_client, curl, MCP clients) are not affected.
- `QuietRoutes`: Gradio's deep links are closed (they write every value of a session's
  components, a typed key included, to a file), and a queue stream that Gradio ends by
  raising (an unknown or evicted session) ends without a traceback.
- `UploadGate`: a request's body is counted as it streams and refused once over its bound:
  APP_MAX_REQUEST_MB for uploads and MCP calls (2 MB for anything else), and
  APP_UPLOAD_MB_PER_CLIENT_PER_HOUR for all a visitor sends. An upload waits for room in
  the temporary files (APP_TEMP_MB; the least recently written go first) and is refused when
  there is none; one from a visitor whose runs are used up is refused before Gradio reads it.
  Each file is held to APP_MAX_UPLOAD_MB by Gradio itself (`max_file_size`, launch_options).

`VisitorLog` holds each visitor to APP_LOG_LINES_PER_CLIENT_PER_HOUR refusal lines.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException
from starlette.responses import PlainTextResponse

from wiro import uploads

from .config import Config

log = logging.getLogger("studio.bounds")

MB = 1024 * 1024
# Anything but an upload or an MCP call is a small JSON body (the page never sends files
# inline); FastAPI reads a JSON body whole into memory.
OTHER_REQUEST_BYTES = 2 * MB
TEMP_FULL = ("The demo's temporary space is full right now; try again in a few minutes. "
             "Nothing was stored or charged.")
NOT_SAME_SITE = ("Cross-site requests are not accepted: call this app from its own page, or "
                 "without an Origin header (gradio_client, curl).")
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


# --- counting --------------------------------------------------------------------------------

class HourlyTotals:
    """Amounts per key over a rolling hour, in one-minute buckets (a key's total never needs
    more than 60 of them however many requests it makes)."""

    WINDOW, BUCKET, MAX_KEYS = 3600.0, 60.0, 20_000

    def __init__(self) -> None:
        self._buckets: OrderedDict[str, list[list[float]]] = OrderedDict()
        self._lock = threading.Lock()

    def _current(self, key: str) -> list[list[float]]:
        now = time.monotonic()
        buckets = [b for b in self._buckets.get(key, []) if now - b[0] < self.WINDOW]
        self._buckets[key] = buckets
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.MAX_KEYS:
            self._buckets.popitem(last=False)
        return buckets

    def add(self, key: str, amount: float) -> float:
        """Count `amount` for `key`; returns the key's total for the last hour."""
        with self._lock:
            buckets = self._current(key)
            now = time.monotonic()
            if buckets and now - buckets[-1][0] < self.BUCKET:
                buckets[-1][1] += amount
            else:
                buckets.append([now, amount])
            return sum(b[1] for b in buckets)

    def total(self, key: str) -> float:
        with self._lock:
            return sum(b[1] for b in self._current(key))


class VisitorLog:
    """Refusal lines, at most `lines_per_hour` per visitor (then one line says the rest go
    unlogged): a flood of refused requests cannot fill the log."""

    def __init__(self, lines_per_hour: int):
        self.cap, self.lines = lines_per_hour, HourlyTotals()

    def warning(self, logger: logging.Logger, address: str, message: str, *args: Any) -> None:
        if self.cap:
            count = self.lines.add(address, 1)
            if count > self.cap + 1:
                return
            if count == self.cap + 1:
                logger.warning("More refused requests from %s this hour are not logged "
                               "(APP_LOG_LINES_PER_CLIENT_PER_HOUR=%d).", address, self.cap)
                return
        logger.warning(message, *args)


class TempSpace:
    """The app's temporary files (Gradio's cache of uploads and served files, result files,
    shrunk references), held to a number of bytes: room is made by deleting the least
    recently written, never one written in the last GRACE_SECONDS (a run may be reading it)."""

    GRACE_SECONDS = 60.0
    RESCAN_SECONDS = 30.0  # between full scans the bytes let in are added up

    def __init__(self, cap_bytes: int, folders: Callable[[], list[Path]]):
        self.cap, self.folders = cap_bytes, folders
        self._known, self._scanned = 0, -math.inf
        self._lock = threading.Lock()

    def make_room(self, needed: int) -> bool:
        """True (and `needed` counted in) if `needed` more bytes fit, after pruning if need
        be. Scans folders: call it off the event loop."""
        if not self.cap:
            return True
        with self._lock:
            folders = [f for f in self.folders() if f.is_dir()]
            stale = time.monotonic() - self._scanned > self.RESCAN_SECONDS
            if stale or self._known + needed > self.cap:
                self._known = uploads.prune_oldest(folders, max_bytes=math.inf)
                self._scanned = time.monotonic()
            if self._known + needed > self.cap:
                self._known = uploads.prune_oldest(folders, max_bytes=self.cap - needed,
                                                   min_age_seconds=self.GRACE_SECONDS)
            if self._known + needed > self.cap:
                return False
            self._known += needed
            return True


@dataclass
class Bounds:
    config: Config
    folders: Callable[[], list[Path]] = list

    def __post_init__(self) -> None:
        self.log = VisitorLog(self.config.log_lines_per_client_per_hour)
        self.sent = HourlyTotals()
        self.temp = TempSpace(int(self.config.temp_mb * MB), self.folders)


_current: list[Bounds] = []


def configure(config: Config, folders: Callable[[], list[Path]] = list) -> Bounds:
    """The process's bounds (gradio_patches.install calls this for the page)."""
    _current[:] = [Bounds(config, folders)]
    return _current[0]


def current() -> Bounds:
    if not _current:
        configure(Config())
    return _current[0]


# --- middleware --------------------------------------------------------------------------------

def _page() -> Any:
    from .gradio_patches import current_page  # noqa: PLC0415 — gradio_patches imports us

    return current_page()


def visitor_address(scope: dict, headers: Headers) -> str:
    """Who sent a request, as the caps count them (an MCP caller as itself)."""
    from .visitors import MCP_HEADER, read_mcp_caller  # noqa: PLC0415

    vouched = read_mcp_caller(headers.get(MCP_HEADER))
    if vouched:
        return vouched[0]
    peer = (scope.get("client") or (None,))[0]
    return _page().visitors.address(peer, headers)


async def _refuse(scope: dict, receive: Any, send: Any, status: int, text: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await PlainTextResponse(text, status_code=status)(scope, receive, send)


def _hosts(headers: Headers, trust_proxy: bool) -> list[str]:
    hosts = [headers.get("host", "")]
    if trust_proxy:  # behind a proxy the page's own host may be in X-Forwarded-Host
        hosts += [h for v in headers.getlist("x-forwarded-host") for h in v.split(",")]
    return [h.strip().lower() for h in hosts if h.strip()]


def same_site(origin: str, hosts: list[str]) -> bool:
    """True if `origin` (scheme://host[:port]) names one of `hosts` (Host header values).
    Schemes are not compared: behind a TLS proxy the app sees http for an https page."""
    try:
        parsed = urlsplit(origin)
        port = parsed.port
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    for host in hosts:
        try:
            own = urlsplit("//" + host)
            own_port = own.port
        except ValueError:
            continue
        if own.hostname == parsed.hostname and (
                own_port == port or (own_port in (80, 443, None) and port is None)):
            return True
    return False


class _Middleware:
    def __init__(self, app: Any):
        self.app = app


class OriginGate(_Middleware):
    """ASGI middleware: a request from a browser page of another origin is refused (403)."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and not self.allowed(origin.strip().lower(), headers):
                address = visitor_address(scope, headers)
                current().log.warning(log, address, "Request refused (cross-site, Origin %s) "
                                      "for %s: %s %s", origin[:100], address,
                                      scope.get("method", "WS"), scope.get("path", "")[:100])
                await _refuse(scope, receive, send, 403, NOT_SAME_SITE)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def allowed(origin: str, headers: Headers) -> bool:
        config = current().config
        return origin.rstrip("/") in config.allowed_origins or same_site(
            origin, _hosts(headers, config.trust_proxy_headers))


class QuietRoutes(_Middleware):
    """ASGI middleware: deep links closed; a queue stream Gradio ends by raising ends quietly
    (Gradio has already sent the client its "session not found" message)."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "").rstrip("/") if scope["type"] == "http" else ""
        if path.endswith("/gradio_api/deep_link"):
            await _refuse(scope, receive, send, 404, "Not Found")
            return
        if not path.endswith("/queue/data"):
            await self.app(scope, receive, send)
            return
        sent = _Tracked(send)
        try:
            await self.app(scope, receive, sent)
        except Exception:
            if not sent.started:
                raise
            await send({"type": "http.response.body", "body": b"", "more_body": False})


class _Tracked:
    """`send`, noting whether the response has started (after that it cannot be replaced)."""

    def __init__(self, send: Any):
        self.send, self.started = send, False

    async def __call__(self, message: dict) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


class TooLarge(MultiPartException):
    """Raised from `receive` when a body passes its bound: Gradio's upload route then deletes
    the partial files and answers 413 (it looks for "maximum allowed size")."""


def _is_upload(path: str) -> bool:
    return path.rstrip("/").endswith(("/upload", "/process_recording")) or "/mcp" in path


class UploadGate(_Middleware):
    """ASGI middleware: bodies bounded and counted per visitor before Gradio stores them."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        import anyio  # noqa: PLC0415

        bounds, headers = current(), Headers(scope=scope)
        address = visitor_address(scope, headers)
        upload = _is_upload(scope.get("path", ""))
        limit = int(bounds.config.max_request_mb * MB) if upload else OTHER_REQUEST_BYTES
        hourly = int(bounds.config.upload_mb_per_client_per_hour * MB)
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = 0
        refusal = None
        if upload and scope["path"].rstrip("/").endswith("/upload") and not _page().byok:
            # With visitors' own keys the owner's budgets do not apply (their page uploads
            # carry no key to tell them apart, so none is held back).
            # The ledger is in SQLite: never read it on the event loop.
            reason = await anyio.to_thread.run_sync(_page().guard.budget_refusal, address)
            refusal = (429, reason) if reason else None
        if not refusal and limit and length > limit:
            refusal = (413, f"Request exceeded maximum allowed size of {limit:,} bytes "
                            f"({length:,} sent).")
        if not refusal and hourly and bounds.sent.total(address) + length > hourly:
            refusal = (429, f"This visitor has sent the hour's {hourly // MB} MB; try again "
                            "later.")
        if not refusal and upload and not await anyio.to_thread.run_sync(
                bounds.temp.make_room, length):
            refusal = (507, TEMP_FULL)
        if refusal:
            bounds.log.warning(log, address, "Upload refused (%d) for %s: %s", refusal[0],
                               address, refusal[1][:300])
            await _refuse(scope, receive, send, *refusal)
            return

        counted = 0

        async def counting() -> dict:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                size = len(message.get("body") or b"")
                counted += size
                total = bounds.sent.add(address, size)
                over = (f"of {limit:,} bytes" if limit and counted > limit else
                        f"for a visitor ({hourly // MB} MB an hour)" if hourly and total > hourly
                        else "")
                if over:
                    bounds.log.warning(log, address, "Upload refused (413) for %s: over the "
                                       "maximum allowed size %s", address, over)
                    raise TooLarge(f"Request exceeded maximum allowed size {over}.")
            return message

        sent = _Tracked(send)
        try:
            await self.app(scope, counting, sent)
        except TooLarge as exc:  # raised outside Gradio's upload route (which answers itself)
            if not sent.started:
                await _refuse(scope, receive, send, 413, exc.message)
