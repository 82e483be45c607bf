"""The simulator's websocket at /v1, speaking Wiro's task-update protocol.

A client connects, registers with ``{"type": "task_info", "tasktoken": ...}``, and then gets
one message per step of that task: first everything that already happened, then each new
step as the task's schedule reaches it, until task_postprocess_end or task_cancel.
``SimulatorState.socket_mode`` makes it misbehave for tests (see SOCKET_MODES).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import FastAPI, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ..statuses import TaskStatus
from .state import SimulatorState

SOCKET_PATH = "/v1"
# A connection wakes up when its task's next step is due, and at least this often to see
# what the schedule cannot tell (a kill, a cancel, a release from a hold).
CHECK_SECONDS = 0.05
MIN_SLEEP = 0.001
REGISTER_SECONDS = 30.0  # how long a connection may stay open without registering
POLICY_VIOLATION = 1008  # close codes (RFC 6455)
SERVER_ERROR = 1011


def socket_message(status: str, taskid: str, token: str, message: Any) -> dict[str, Any]:
    """One message in the shape Wiro's websocket sends."""
    return {"type": status, "id": taskid, "tasktoken": token, "message": message,
            "result": True}


def _registered_token(raw: str) -> str | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "task_info":
        return None
    token = data.get("tasktoken")
    return token if isinstance(token, str) and token else None


async def _until_disconnected(ws: WebSocket) -> None:
    """Read (and ignore) whatever the client sends, until it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _close(ws: WebSocket, code: int = 1000) -> None:
    if ws.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await ws.close(code)


async def serve_task_socket(ws: WebSocket, state: SimulatorState) -> None:
    mode = state.socket_mode
    if mode == "refuse":
        await ws.close(POLICY_VIOLATION)  # before accept: the handshake gets HTTP 403
        return
    await ws.accept()
    try:
        raw = await asyncio.wait_for(ws.receive_text(), REGISTER_SECONDS)
    except (asyncio.TimeoutError, WebSocketDisconnect, RuntimeError, KeyError):
        return await _close(ws, POLICY_VIOLATION)
    token = _registered_token(raw)
    taskid = state.task_for_token(token) if token else None
    if taskid is None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await ws.send_json({"type": "task_info", "tasktoken": token, "result": False,
                                "message": "Task not found."})
        return await _close(ws, POLICY_VIOLATION)

    listener = asyncio.ensure_future(_until_disconnected(ws))
    try:
        if mode == "silent":
            await listener  # registered, and then nothing at all
            return
        await _stream(ws, state, taskid, token, listener, drop_after_start=(
            mode == "drop_mid_task"))
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def _stream(ws: WebSocket, state: SimulatorState, taskid: str, token: str,
                  listener: asyncio.Future, drop_after_start: bool) -> None:
    sent = 0
    while not listener.done():
        # A look is cheap once the output image is drawn; until then it may wait for the
        # drawing, which must not stall the event loop, so it goes to a worker thread.
        events, next_at, ended = state.stream(taskid) if state.output_drawn(taskid) else \
            await run_in_threadpool(state.stream, taskid)
        for status, message, _ in events[sent:]:
            try:
                await ws.send_json(socket_message(status, taskid, token, message))
            except (WebSocketDisconnect, RuntimeError, OSError):
                return
            sent += 1
            if drop_after_start and status == TaskStatus.START.value:
                return await _close(ws, SERVER_ERROR)
        if ended:  # its last word was sent: task_postprocess_end, task_cancel or task_error
            return await _close(ws)
        await asyncio.sleep(min(CHECK_SECONDS, max(MIN_SLEEP, next_at - state.now())))


def add_socket_route(app: FastAPI, state: SimulatorState) -> None:
    @app.websocket(SOCKET_PATH)
    async def task_socket(ws: WebSocket) -> None:
        await serve_task_socket(ws, state)
