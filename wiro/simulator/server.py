"""The simulator over HTTP: a thin FastAPI layer around SimulatorState, and a server
that runs it in a background thread on a free local port.

Injected faults are carried out here, at the ASGI level, before FastAPI sees the request:
that is the only place that can stall, garble or drop a connection.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from . import messages as msg
from .run_inputs import Field, UploadedFile
from .socket import SOCKET_PATH, add_socket_route
from .state import ERROR_CODE_FAULT, SimulatorState

# Path -> (the endpoint's name for injected faults, the state's handler).
ENDPOINTS = {"/v1/Task/Detail": ("detail", "detail"), "/v1/Task/Cancel": ("cancel", "cancel"),
             "/v1/Task/Kill": ("kill", "kill"), "/v1/Task/List": ("list", "list_tasks"),
             "/v1/Tool/Detail": ("tool", "tool_detail"), "/v1/File/Upload": ("upload", "upload")}
_TEXT, _JSON = b"text/plain; charset=utf-8", b"application/json"
# Fault kinds answered with fixed bytes: (HTTP status, body, content type).
CANNED_FAULTS = {
    "http500": (500, b"Internal Server Error", _TEXT),
    "http404": (404, b"Not Found", _TEXT),
    "http408": (408, b"Request Timeout", _TEXT),
    "malformed_json": (200, b'{"errors": [], "result": tr', _JSON),
    "empty_tasklist": (200, b'{"total": "0", "errors": [], "tasklist": [], "result": true}',
                       _JSON),
    "no_task": (200, b'{"errors": [], "result": true}', _JSON),
    "html": (200, b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
             b"text/html; charset=utf-8"),
}
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


# --- request bodies --------------------------------------------------------------------

def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)  # numbers keep their spelling; true/false fail number checks


def _json_fields(raw: bytes) -> list[Field] | None:
    if not raw.strip():
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    fields: list[Field] = []
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            fields.append((name, _json_text(item)))
    return fields


async def read_fields(request: Request) -> list[Field] | None:
    """The body as ordered (name, value) pairs; None if it cannot be read at all.

    Accepts JSON, real multipart, urlencoded, and the seed's own curl: a JSON body sent
    under `Content-Type: multipart/form-data` with no boundary.
    """
    raw = await request.body()  # cached, so form() below can still read it
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith("multipart/form-data") and "boundary=" in ctype:
        try:
            form = await request.form()
        except Exception:  # not really multipart: fall through to JSON
            pass
        else:
            fields: list[Field] = []
            for name, value in form.multi_items():
                if isinstance(value, str):
                    fields.append((name, value))
                else:
                    fields.append((name, UploadedFile(value.filename or "",
                                                      value.content_type or "",
                                                      await value.read())))
            await form.close()
            return fields
    if ctype.startswith("application/x-www-form-urlencoded") and not raw.lstrip().startswith(b"{"):
        return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return _json_fields(raw)


# --- faults ------------------------------------------------------------------------------

def fault_endpoint(scope: dict) -> str | None:
    if scope.get("type") != "http":
        return None
    path = scope.get("path", "")
    if path.startswith("/v1/Run/"):
        return "run"
    if path.startswith("/cdn/"):
        return "download"
    return ENDPOINTS.get(path, (None,))[0]


async def _read_body(receive: Any) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if message["type"] != "http.request" or not message.get("more_body"):
            return bytes(body)


def _replay(body: bytes) -> Any:
    """An ASGI receive that hands over an already-read body, then reports a disconnect."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}
    return receive


async def _respond(send: Any, status: int, body: bytes, content_type: bytes,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


async def _drop_connection(send: Any) -> None:
    """Reset the TCP connection without a byte of response.

    uvicorn's `send` is a method of its per-request cycle, which holds the transport;
    ASGI itself has no way to say "hang up".
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("simulated dropped connection")
    sock = transport.get_extra_info("socket")
    if sock is not None:  # linger 0: the peer sees a reset, not a clean close
        with contextlib.suppress(OSError):  # the client may have hung up already
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    for _ in range(3):  # let uvicorn notice, so it does not try to answer
        await asyncio.sleep(0)


async def _discard(message: Any) -> None:
    return None


class SimulatorApp(FastAPI):
    """FastAPI app whose entry point first carries out any fault queued for the request."""

    sim_state: SimulatorState

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        endpoint = fault_endpoint(scope)
        kind = self.sim_state.take_fault(endpoint) if endpoint else None
        if kind is None:
            return await super().__call__(scope, receive, send)
        if endpoint == "run" and kind not in ("timeout", "lost_response", "lost_after_create"):
            self.sim_state.note_run_request()  # these never reach state.run
        # Read the body now: by the time a stalled request is handled its client is gone.
        body = await _read_body(receive)
        if kind == "timeout":
            await asyncio.sleep(self.sim_state.fault_timeout_seconds)
            return await super().__call__(scope, _replay(body), send)
        if kind in ("lost_response", "lost_after_create"):  # done; only the answer goes missing
            await super().__call__(scope, _replay(body), _discard)
            if kind == "lost_after_create":  # ... and is never sent: the client waits
                await asyncio.sleep(self.sim_state.fault_timeout_seconds)
            return await _drop_connection(send)
        if kind == "reset":
            await _drop_connection(send)
        elif kind in CANNED_FAULTS:
            await _respond(send, *CANNED_FAULTS[kind])
        elif kind == "http429":
            after = f"{self.sim_state.retry_after_seconds:g}".encode()
            await _respond(send, 429, json.dumps(msg.error_body(0, msg.RATE_LIMITED)).encode(),
                           _JSON, [(b"retry-after", after)])
        elif kind.startswith(ERROR_CODE_FAULT):
            status, body = self.sim_state.fault_reply(endpoint, kind)
            await _respond(send, status, json.dumps(body).encode(), _JSON)


# --- the app -----------------------------------------------------------------------------

def create_app(state: SimulatorState) -> FastAPI:
    app = SimulatorApp(title="Wiro simulator", docs_url=None, redoc_url=None,
                       openapi_url=None)
    app.sim_state = state

    async def reply(method: Any, *args: Any, **kwargs: Any) -> JSONResponse:
        # In a worker thread: drawing a large output image must not stall other requests.
        status, body = await run_in_threadpool(method, *args, **kwargs)
        return JSONResponse(body, status_code=status)

    @app.post("/v1/Run/{owner}/{project}")
    async def run(owner: str, project: str, request: Request) -> JSONResponse:
        fields = await read_fields(request)
        return await reply(state.run, request.headers, fields, slug=f"{owner}/{project}")

    for path, (_, handler) in ENDPOINTS.items():
        def make(method: Any):
            async def endpoint(request: Request) -> JSONResponse:
                return await reply(method, request.headers, await read_fields(request))
            return endpoint
        app.post(path)(make(getattr(state, handler)))

    def file_response(found: tuple[bytes, str] | None) -> Response:
        if found is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return Response(found[0], media_type=found[1])

    @app.get("/cdn/{rest:path}")
    async def cdn(rest: str) -> Response:
        return file_response(state.output_bytes(f"/cdn/{rest}"))

    @app.get("/v1/File/{rest:path}")
    async def uploaded_file(rest: str) -> Response:
        return file_response(state.input_file_bytes(f"/v1/File/{rest}"))

    # Test controls, so a test can steer a simulator running in another process.
    @app.get("/_sim/tasks")
    async def sim_tasks() -> dict:
        return {"tasks": state.tasks()}

    @app.get("/_sim/stats")
    async def sim_stats() -> dict:
        return state.stats()

    @app.get("/_sim/events/{taskid}")
    async def sim_events(taskid: str) -> Response:
        try:
            events = state.events(taskid)
        except KeyError:
            return JSONResponse({"error": "no such task"}, status_code=404)
        return JSONResponse({"events": [
            {"type": status, "message": message, "time": t} for status, message, t in events]})

    @app.post("/_sim/config")
    async def sim_config(request: Request) -> Response:
        try:
            state.configure(**await request.json())
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({name: getattr(state, name) for name in state.KNOBS})

    @app.post("/_sim/fault")
    async def sim_fault(request: Request) -> Response:
        data = await request.json()
        try:
            state.inject_fault(data["endpoint"], data["kind"], int(data.get("times", 1)))
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    @app.post("/_sim/release/{taskid}")
    async def sim_release(taskid: str) -> Response:
        try:
            return JSONResponse({"released": state.release(taskid)})
        except KeyError:
            return JSONResponse({"error": "no such task"}, status_code=404)

    add_socket_route(app, state)  # Wiro's task-update websocket, at ws://<host>/v1

    @app.api_route("/{rest:path}", methods=ALL_METHODS)
    async def unknown(rest: str) -> JSONResponse:
        return JSONResponse(msg.error_body(0, msg.URL_NOT_FOUND), status_code=404)

    return app


# --- running it ---------------------------------------------------------------------------

class SimulatorServer:
    """uvicorn in a daemon thread on a pre-bound socket; port 0 picks a free port."""

    def __init__(self, state: SimulatorState, host: str = "127.0.0.1", port: int = 0):
        self.state = state
        self.host = host
        # IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on connections accepted from a
        # socket that names its protocol, and without it every keep-alive response whose
        # headers and body are written separately waits ~40 ms (Nagle vs delayed ACK).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        if not state.public_base_url:
            state.public_base_url = self.root_url

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def socket_url(self) -> str:
        return f"ws://{self.host}:{self.port}{SOCKET_PATH}"

    def start(self, timeout: float = 10.0) -> SimulatorServer:
        """Start serving; returns once the server accepts connections."""
        if self._thread is not None:
            return self
        self._sock.listen(128)
        config = uvicorn.Config(create_app(self.state), log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2, access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]},
                                        name=f"wiro-simulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Wiro simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()
        self._server = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
