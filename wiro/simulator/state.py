"""The simulated Wiro: tasks, auth, validation and knobs, with no HTTP in sight.

Every request method takes headers and the body's ordered fields and returns
(http_status, json_body), so tests can drive it directly and the HTTP layer stays thin.
"""
from __future__ import annotations

import hmac
import itertools
import math
import secrets
import string
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from functools import wraps
from typing import Any, Callable, Mapping, Sequence

from .. import pricing, spec
from ..signing import signature
from ..statuses import TaskStatus
from . import images
from . import messages as msg
from .messages import WiroReply
from .run_inputs import Field, InputImage, RunInputs, UploadedFile, parse_run
from .task import Output, SimTask
from .tool import DYNAMIC_PRICE, tool_json

Reply = tuple[int, dict[str, Any]]

FAULT_ENDPOINTS = ("run", "detail", "cancel", "kill", "list", "tool", "download", "upload")
# Transport faults, plus what a proxy or a busy Wiro answers: 200 with an empty tasklist, an
# HTML page, 429 with Retry-After (``retry_after_seconds``), 408, a 404 (an output not there
# yet), and Run's `{"result": true}` that names no task ("no_task"). "lost_response": the
# request is carried out, then the connection is reset; "lost_after_create": it is carried
# out (on Run: the task is made and runs), then no answer comes for
# ``fault_timeout_seconds`` and the connection drops.
FAULT_KINDS = ("http500", "reset", "timeout", "malformed_json", "lost_response",
               "lost_after_create", "empty_tasklist", "html", "http429", "http408", "http404",
               "no_task")
# Which key names the task on each Task/* call, as the seed and Wiro's own SDKs use them;
# anything else is refused, as Wiro refuses it.
TASK_KEYS = {"detail": ("taskid", "tasktoken"), "kill": ("taskid", "socketaccesstoken"),
             "cancel": ("taskid",)}
ERROR_CODE_FAULT = "error_code:"
MIN_BALANCE_USD = 0.50  # Wiro's minimum to run a (non-training) model
UNLIMITED_ABOVE_USD = 250.0  # above this balance Wiro applies no concurrency limit
FIRST_TASK_ID = 100_001
PRE_EXECUTION_FAILURE = "Simulated pre-execution failure: the worker could not start the model."
FAILURE_TEXT = "Simulated model failure: the model exited without producing an image."
# How the websocket at /v1 behaves: as documented; reject the handshake; close the
# connection right after task_start; or accept the registration and never say a word.
SOCKET_MODES = ("normal", "refuse", "drop_mid_task", "silent")

_ALNUM = string.ascii_letters + string.digits


def _token(length: int = 30) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _readable(fields: Sequence[Field] | None) -> Sequence[Field]:
    """None stands for a body that could not be parsed at all."""
    if fields is None:
        raise WiroReply.error(0, msg.BODY_INVALID)
    return fields


def _texts(fields: Sequence[Field] | None) -> dict[str, str]:
    """Each text field's first non-blank value, stripped."""
    values: dict[str, str] = {}
    for name, value in _readable(fields):
        if isinstance(value, str) and value.strip():
            values.setdefault(name, value.strip())
    return values


def _answers(method: Callable[..., Reply]) -> Callable[..., Reply]:
    """Run under the lock; a WiroReply raised anywhere inside becomes the answer."""
    @wraps(method)
    def wrapper(self: SimulatorState, *args: Any, **kwargs: Any) -> Reply:
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except WiroReply as reply:
                return reply.status, reply.body
    return wrapper


class SimulatorState:
    """A Wiro project running FLUX.2 [pro], simulated in memory.

    Its knobs are the plain attributes below, also settable with `configure(**knobs)`.
    ``detail_calls`` counts the Task/Detail requests answered for each task id;
    ``list_calls`` the Task/List requests. Faults: ``inject_fault(endpoint, kind, times)``
    queues transport failures that the HTTP layer carries out; see FAULT_ENDPOINTS and
    FAULT_KINDS (plus "error_code:<n>").
    """

    # Seconds of the ~5.6 s status walk per real second of schedule; 0 finishes a task the
    # moment it is created. Each task keeps the pace it was created with.
    pace: float = 1.0
    hold_in_queue = False  # new tasks stay in task_queue until release(taskid)
    hold_running = False  # new tasks stop at their last task_output until release(taskid)
    # Run answers code 96 while this many tasks are not terminal. When None and `balance` is
    # set, Wiro's rule applies (10 % of a balance up to $250).
    concurrency_limit: int | None = None
    balance: float | None = None  # USD; below $0.50 Run answers code 97. None means plenty.
    require_sign_in = False  # Run answers code 98
    # Substrings (case-insensitive); a prompt containing one makes a task that ends
    # task_postprocess_end with pexit "1", no outputs and totalcost "0".
    fail_prompts: tuple[str, ...] = ()
    fail_next_tasks = 0  # that many of the next tasks fail the same way
    # That many of the next tasks fail while being prepared: they end at task_error with
    # PRE_EXECUTION_FAILURE as debugerror, pexit "", no charge.
    fail_before_start = 0
    fault_timeout_seconds = 5.0  # how long a "timeout" fault stalls before answering
    output_ttl_seconds = 600.0  # after this long an output's CDN URL answers 404
    socket_mode = "normal"  # how the websocket behaves, one of SOCKET_MODES (socket.py)
    # A status word Detail reports instead of the real one (e.g. task_error, task_end,
    # task_failed) for every task that was not cancelled; outputs, pexit and cost stay the
    # real ones. None: the truth.
    detail_status: str | None = None
    stop_without_tasklist = False  # Kill and Cancel answer {"result": true} and no task
    retry_after_seconds = 1.0  # the Retry-After an "http429" fault sends
    forbidden = False  # every call answers HTTP 403 (a key without permission for them)
    # Tool/Detail's `dynamicprice` entries (set per instance); new tasks are billed by them
    # (wiro.pricing), so the estimate from Tool/Detail and the charge agree.
    dynamic_price: list[dict]
    # Slugs of other models this project also runs (a team key's list holds them too): Run
    # accepts them, their tasks name their own model.
    other_models: tuple[str, ...] = ()

    KNOBS = ("pace", "hold_in_queue", "hold_running", "concurrency_limit", "balance",
             "require_sign_in", "fail_prompts", "fail_next_tasks", "fault_timeout_seconds",
             "output_ttl_seconds", "socket_mode", "detail_status", "stop_without_tasklist",
             "retry_after_seconds", "fail_before_start", "forbidden", "dynamic_price",
             "other_models")

    def __init__(self, api_key: str, api_secret: str | None = None, pace: float = 1.0,
                 clock: Callable[[], float] = time.time, public_base_url: str = ""):
        self.api_key = api_key
        self.api_secret = api_secret or None
        self.clock = clock
        self.public_base_url = public_base_url
        self.pace = pace
        self.dynamic_price = [dict(e) for e in DYNAMIC_PRICE]
        self.uploads = 0  # files received by File/Upload
        self.list_calls = 0
        self.detail_calls: Counter[str] = Counter()  # task id -> Task/Detail requests
        self.run_calls = 0  # every Run request received, rejected or not
        self.tasks_created = 0
        self._lock = threading.RLock()
        self._tasks: dict[str, SimTask] = {}
        self._files: dict[str, InputImage] = {}  # served path -> uploaded reference image
        self._outputs: dict[str, str] = {}  # served path -> task id
        self._nonces: set[str] = set()
        self._faults: dict[str, deque[str]] = {e: deque() for e in FAULT_ENDPOINTS}
        self._ids = itertools.count(FIRST_TASK_ID)
        self._uploads = itertools.count(6_000_001)
        # Output images are drawn in the background from the moment a task is created, so
        # neither the lock nor an event loop ever waits on Pillow.
        self._renderer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sim-render")
        self._renders: dict[str, Future] = {}

    def __repr__(self) -> str:  # never shows the key or secret
        return (f"SimulatorState(tasks={len(self._tasks)}, signed={self.api_secret is not None},"
                f" pace={self.pace})")

    def now(self) -> float:
        return self.clock()

    def configure(self, **knobs: Any) -> None:
        unknown = set(knobs) - set(self.KNOBS)
        if unknown:
            raise ValueError(f"unknown simulator knob(s): {', '.join(sorted(unknown))}")
        if knobs.get("socket_mode", "normal") not in SOCKET_MODES:
            raise ValueError(f"socket_mode must be one of {', '.join(SOCKET_MODES)}")
        with self._lock:
            for name, value in knobs.items():
                if name in ("fail_prompts", "other_models"):
                    value = (value,) if isinstance(value, str) else tuple(value)
                setattr(self, name, value)

    # --- auth ------------------------------------------------------------------------

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        h = {k.lower(): v for k, v in headers.items()}
        if not hmac.compare_digest(h.get("x-api-key", ""), self.api_key):
            raise WiroReply.error(0, msg.KEY_NOT_FOUND, status=401)
        if not self.api_secret:
            return  # an "API key only" project
        nonce, given = h.get("x-nonce", ""), h.get("x-signature", "")
        if not nonce or not given:
            raise WiroReply.error(0, msg.SIGNATURE_REQUIRED, status=401)
        expected = signature(self.api_key, self.api_secret, nonce)
        # A nonce seen before is a replayed request, however good its signature.
        if not hmac.compare_digest(given.lower(), expected) or nonce in self._nonces:
            raise WiroReply.error(0, msg.SIGNATURE_INVALID, status=401)
        self._nonces.add(nonce)
        if self.forbidden:
            raise WiroReply.error(0, msg.PERMISSION_DENIED, status=403)

    # --- Run -------------------------------------------------------------------------

    def _effective_concurrency_limit(self) -> int | None:
        if self.concurrency_limit is not None:
            return self.concurrency_limit
        if self.balance is not None and self.balance <= UNLIMITED_ABOVE_USD:
            return max(1, math.floor(self.balance * 0.10))
        return None

    def _new_file_path(self, ext: str) -> str:
        return f"/v1/File/{_token()}/{spec.INPUT_IMAGE.name}-{next(self._uploads)}.{ext}"

    @staticmethod
    def _output_size(inputs: RunInputs) -> tuple[int, int]:
        """Width and height, with 0 replaced by the first reference image's size."""
        first = inputs.images[0].size if inputs.images else None
        size = []
        for axis, (inp, asked) in enumerate(((spec.WIDTH, inputs.width),
                                             (spec.HEIGHT, inputs.height))):
            if asked:
                size.append(asked)
            elif first is None:  # nothing to match, or a URL the simulator does not fetch
                size.append(inp.default)
            else:  # a size the model can produce: in range, a multiple of 16
                snapped = first[axis] // spec.SIZE_MULTIPLE * spec.SIZE_MULTIPLE
                size.append(min(inp.maximum, max(inp.minimum, snapped)))
        return size[0], size[1]

    def _failure(self, inputs: RunInputs) -> str | None:
        if self.fail_before_start > 0:
            return PRE_EXECUTION_FAILURE
        for number, image in enumerate(inputs.images, start=1):
            if image.kind == "file" and (image.size is None or
                                         image.size[0] * image.size[1] > spec.MAX_UPLOAD_PIXELS):
                return f"Error: input image {number} ({image.source}) could not be read."
        if self.fail_next_tasks > 0:
            self.fail_next_tasks -= 1
            return FAILURE_TEXT
        prompt = inputs.prompt.lower()
        if any(s and s.lower() in prompt for s in self.fail_prompts):
            return FAILURE_TEXT
        return None

    @_answers
    def run(self, headers: Mapping[str, str], fields: Sequence[Field] | None,
            slug: str = spec.MODEL_SLUG) -> Reply:
        self.run_calls += 1
        self._authenticate(headers)
        if slug != spec.MODEL_SLUG and slug not in self.other_models:
            raise WiroReply.error(1, msg.MODEL_NOT_FOUND)
        if self.require_sign_in:
            raise WiroReply.error(98, msg.SIGN_IN_REQUIRED)
        inputs = parse_run(_readable(fields), self._new_file_path, self._uploaded)
        if self.balance is not None and self.balance < MIN_BALANCE_USD:
            raise WiroReply.error(97, msg.INSUFFICIENT_BALANCE)
        limit = self._effective_concurrency_limit()
        if limit is not None and len(self._running()) >= limit:
            balance = self.balance if self.balance is not None else limit * 10.0
            raise WiroReply.error(96, msg.CONCURRENCY_LIMIT.format(balance=balance, limit=limit))

        width, height = self._output_size(inputs)
        before_start = self.fail_before_start > 0
        failure = self._failure(inputs)
        self.fail_before_start -= before_start
        task = SimTask(id=str(next(self._ids)), uuid=str(uuid.uuid4()), token=_token(),
                       inputs=inputs, created=self.now(), pace=self.pace, width=width,
                       height=height, fail_reason=failure, fails_before_start=before_start,
                       slug=slug, price=self._price(inputs),
                       hold_in_queue=self.hold_in_queue, hold_running=self.hold_running)
        self._tasks[task.id] = task
        if task.fail_reason is None:
            self._renders[task.id] = self._renderer.submit(
                images.render, inputs.seed, inputs.prompt, width, height, inputs.output_format)
        for image in inputs.images:
            if image.kind == "file":
                self._files[image.url] = image
        self.tasks_created += 1
        return 200, {"errors": [], "taskid": task.id, "socketaccesstoken": task.token,
                     "result": True}

    def _price(self, inputs: RunInputs) -> pricing.PixelPrice:
        """The price list's rule for this run, as wiro.pricing reads it for an estimate."""
        given = {**inputs.parameters,
                 spec.INPUT_IMAGE.name: [image.url for image in inputs.images]}
        return pricing.price_from_dynamic(self.dynamic_price, given) or pricing.BFL_PRICE

    # --- File/Upload ------------------------------------------------------------------

    def _uploaded(self, url: str) -> InputImage | None:
        """A reference image sent to Run as the URL File/Upload gave it."""
        base = self.public_base_url
        if not base or not url.startswith(base):
            return None
        return self._files.get(url[len(base):])

    @_answers
    def upload(self, headers: Mapping[str, str], fields: Sequence[Field] | None) -> Reply:
        self._authenticate(headers)
        files = [v for n, v in _readable(fields) if n == "file" and isinstance(v, UploadedFile)]
        if len(files) != 1:
            raise WiroReply.error(0, msg.PARAM_REQUIRED.format(name="file"))
        (found,) = parse_run([(spec.PROMPT.name, "upload"), (spec.INPUT_IMAGE.name, files[0])],
                             self._new_file_path).images
        self._files[found.url] = found
        self.uploads += 1
        return 200, {"result": True, "errors": [], "list": [{
            "id": secrets.token_hex(16), "name": found.source,
            "contenttype": found.content_type, "size": str(len(found.data or b"")),
            "parentid": secrets.token_hex(16), "url": self.public_base_url + found.url,
            "addedtime": str(int(self.now())), "accesskey": _token()}]}

    # --- Task/* ----------------------------------------------------------------------

    def _find(self, fields: Sequence[Field] | None, call: str) -> SimTask:
        keys, values = TASK_KEYS[call], _texts(fields)
        given = [k for k in keys if values.get(k)]
        if not given:
            raise WiroReply.error(0, msg.TASK_KEYS_REQUIRED.format(keys=" or ".join(keys)))
        key = given[0]
        if key == "taskid":
            task = self._tasks.get(values[key])
        else:
            task = next((t for t in self._tasks.values() if t.token == values[key]), None)
        if task is None:
            raise WiroReply.error(1, msg.NO_TASK)
        return task

    def _stop_answer(self, task: SimTask, now: float) -> Reply:
        if self.stop_without_tasklist:
            return 200, {"errors": [], "result": True}
        return 200, {"errors": [], "tasklist": [self._task_json(task, now)], "result": True}

    def _materialize(self, task: SimTask, now: float) -> None:
        """Make the output image once the task has finished successfully."""
        if task.output is not None or not task.succeeded(now):
            return
        fmt = task.inputs.output_format
        data = self._renders.pop(task.id).result()
        folder = "-".join(secrets.token_hex(4) for _ in range(8))
        path = f"/cdn/{folder}/0.{fmt}"
        task.output = Output(id=secrets.token_hex(16), parentid=secrets.token_hex(16),
                             accesskey=_token(), path=path, name=f"0.{fmt}",
                             content_type=spec.OUTPUT_CONTENT_TYPES[fmt], data=data,
                             added=task.time_of(TaskStatus.OUTPUT_FULL, now) or now)
        self._outputs[path] = task.id

    def _task_json(self, task: SimTask, now: float) -> dict[str, Any]:
        self._materialize(task, now)
        return task.to_json(now, self.public_base_url)

    @_answers
    def detail(self, headers: Mapping[str, str], fields: Sequence[Field] | None) -> Reply:
        self._authenticate(headers)
        task, now = self._find(fields, "detail"), self.now()
        self.detail_calls[task.id] += 1
        shown = self._task_json(task, now)
        if self.detail_status and task.status(now) is not TaskStatus.CANCEL:
            shown["status"] = self.detail_status
            if self.detail_status == TaskStatus.ERROR.value and not shown["debugerror"]:
                shown["debugerror"] = PRE_EXECUTION_FAILURE
        return 200, {"total": "1", "errors": [], "tasklist": [shown], "result": True}

    @_answers
    def cancel(self, headers: Mapping[str, str], fields: Sequence[Field] | None) -> Reply:
        self._authenticate(headers)
        task, now = self._find(fields, "cancel"), self.now()
        if task.status(now) is not TaskStatus.QUEUE:
            raise WiroReply.error(1, msg.NOT_CANCELLABLE)
        task.cancelled_at = now
        return self._stop_answer(task, now)

    @_answers
    def kill(self, headers: Mapping[str, str], fields: Sequence[Field] | None) -> Reply:
        """Kill takes a task a worker has (tasks.md: any status after the queue); a queued
        one is Cancel's, as the SDKs' live tests use them (Kill only once assigned)."""
        self._authenticate(headers)
        task, now = self._find(fields, "kill"), self.now()
        if task.ended(now):
            raise WiroReply.error(1, msg.KILL_FAILED.format(reason=msg.KILL_ENDED))
        if task.status(now) is TaskStatus.QUEUE:
            raise WiroReply.error(1, msg.KILL_FAILED.format(reason=msg.KILL_QUEUED))
        task.cancelled_at = now
        return self._stop_answer(task, now)

    @_answers
    def list_tasks(self, headers: Mapping[str, str], fields: Sequence[Field] | None) -> Reply:
        """Task/List as Wiro-MCP sends it (type, sort, order, start, limit, modelName): this
        project's tasks, by id, shaped like Detail's answer."""
        self._authenticate(headers)
        values, page = _texts(fields), {}
        for name, default in (("start", 0), ("limit", 20)):
            raw = values.get(name) or str(default)
            if not raw.isdigit():
                raise WiroReply.error(0, msg.PARAM_NOT_NUMBER.format(name=name))
            page[name] = int(raw)
        self.list_calls += 1
        now, wanted = self.now(), values.get("modelName", "").lower()
        tasks = sorted(self._tasks.values(), key=lambda t: int(t.id),
                       reverse=values.get("order", "DESC").upper() != "ASC")
        tasks = [t for t in tasks if wanted in t.slug.lower()]
        shown = tasks[page["start"]:page["start"] + page["limit"]]
        return 200, {"total": str(len(tasks)), "errors": [],
                     "tasklist": [self._task_json(t, now) for t in shown], "result": True}

    @_answers
    def tool_detail(self, headers: Mapping[str, str], fields: Sequence[Field] | None) -> Reply:
        """Tool/Detail in the docs' shape, from wiro/spec.py, with this state's price list."""
        self._authenticate(headers)
        values = _texts(fields)
        for name in ("slugowner", "slugproject"):
            if not values.get(name):
                raise WiroReply.error(0, msg.PARAM_REQUIRED.format(name=name))
        if f"{values['slugowner']}/{values['slugproject']}".lower() != spec.MODEL_SLUG:
            raise WiroReply.error(1, msg.MODEL_NOT_FOUND)
        return 200, {"result": True, "errors": [], "tool": [tool_json(self.dynamic_price)]}

    # --- test controls and inspection ------------------------------------------------

    def release(self, taskid: str) -> bool:
        """Let a held task go on from where it waits; False if it was not being held."""
        with self._lock:
            task, now = self._tasks[taskid], self.now()
            status = task.status(now)
            if task.hold_in_queue and task.queue_released is None and status is TaskStatus.QUEUE:
                task.queue_released = now
                return True
            if (task.hold_running and task.running_released is None
                    and not task.ended(now) and status is not TaskStatus.QUEUE):
                task.running_released = now
                return True
            return False

    def _running(self) -> list[SimTask]:
        now = self.now()
        return [t for t in self._tasks.values() if not t.ended(now)]

    def _snapshot(self, task: SimTask, now: float) -> dict[str, Any]:
        base = self.public_base_url
        return {
            "id": task.id, "token": task.token, "status": task.status(now).value,
            "created": task.created, "prompt": task.inputs.prompt, "seed": task.inputs.seed,
            "width": task.width, "height": task.height,
            "output_format": task.inputs.output_format, "failing": task.failed,
            "parameters": task.parameters_json(base),
            "inputs": [image.describe(base) for image in task.inputs.images],
        }

    def tasks(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self.now()
            return [self._snapshot(t, now) for t in self._tasks.values()]

    def running_tasks(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self.now()
            return [self._snapshot(t, now) for t in self._running()]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"run_calls": self.run_calls, "tasks_created": self.tasks_created,
                    "running": len(self._running())}

    def events(self, taskid: str) -> list[tuple[str, Any, float]]:
        """(status, websocket-style message, unix time) for each step so far, in order."""
        with self._lock:
            task, now = self._tasks[taskid], self.now()
            self._materialize(task, now)
            return task.events(now, self.public_base_url)

    def output_drawn(self, taskid: str) -> bool:
        """True unless the task's image is still being drawn (reading events then may wait)."""
        render = self._renders.get(taskid)
        return render is None or render.done()

    def stream(self, taskid: str) -> tuple[list[tuple[str, Any, float]], float, bool]:
        """For the websocket, all as of one moment: the task's events so far, when its next
        step is due (inf once it ended or while a hold keeps it), and whether it has ended."""
        with self._lock:
            task, now = self._tasks[taskid], self.now()
            self._materialize(task, now)
            events = task.events(now, self.public_base_url)
            if task.ended(now):
                return events, math.inf, True
            done = len(task.reached(now))
            due = task.step_time(task.steps[done]) if done < len(task.steps) else math.inf
            return events, due, False

    def task_for_token(self, token: str) -> str | None:
        """The id of the task with this socket access token, if there is one."""
        with self._lock:
            return next((t.id for t in self._tasks.values() if t.token == token), None)

    def finish_time(self, taskid: str) -> float:
        """When the task reaches (or reached) its terminal status: the scheduled time of
        task_postprocess_end, or the cancel time; inf while a hold keeps it waiting."""
        with self._lock:
            task = self._tasks[taskid]
            if task.cancelled_at is not None:
                return task.cancelled_at
            return task.step_time(task.steps[-1])

    def output_bytes(self, path: str) -> tuple[bytes, str] | None:
        """An output file by its URL path, or None if unknown or expired."""
        with self._lock:
            task = self._tasks.get(self._outputs.get(path, ""))
            if task is None or task.output is None:
                return None
            now = self.now()
            finished = task.time_of(TaskStatus.POSTPROCESS_END, now)
            if finished is None or now - finished > self.output_ttl_seconds:
                return None
            return task.output.data, task.output.content_type

    def input_file_bytes(self, path: str) -> tuple[bytes, str] | None:
        """An uploaded reference image by its /v1/File/... path."""
        with self._lock:
            image = self._files.get(path)
            if image is None or image.data is None:
                return None
            return image.data, image.content_type or "application/octet-stream"

    # --- faults ----------------------------------------------------------------------

    def inject_fault(self, endpoint: str, kind: str, times: int = 1) -> None:
        if endpoint not in FAULT_ENDPOINTS:
            raise ValueError(f"endpoint must be one of {', '.join(FAULT_ENDPOINTS)}")
        if kind.startswith(ERROR_CODE_FAULT):
            int(kind[len(ERROR_CODE_FAULT):])  # must name a number
        elif kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)} or error_code:<n>")
        with self._lock:
            self._faults[endpoint].extend([kind] * times)

    def take_fault(self, endpoint: str) -> str | None:
        with self._lock:
            queue = self._faults.get(endpoint)
            return queue.popleft() if queue else None

    def clear_faults(self) -> None:
        with self._lock:
            for queue in self._faults.values():
                queue.clear()

    def note_run_request(self) -> None:
        """Count a Run request that a fault answered before it reached `run`."""
        with self._lock:
            self.run_calls += 1

    def fault_reply(self, endpoint: str, kind: str) -> Reply:
        """The answer for an "error_code:<n>" fault."""
        code = int(kind[len(ERROR_CODE_FAULT):])
        return 200, msg.error_body(code, msg.fault_message(endpoint, code))
