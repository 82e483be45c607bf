"""A thin, signed Wiro client for FLUX.2 [pro] built on one requests.Session.

Every call goes through `WiroClient._call`: signed afresh (a re-sent nonce is a replay that
Wiro may refuse), its answer read by `wiro.errors.error_from_answer`, and repeated only as
the one request policy (wiro.policy) allows: Task/* and Tool/Detail through transient
trouble; Run only when the connection was never made, because a Run that reached Wiro and is
sent again is paid for twice; File/Upload never.

Following a task lives in wiro.live (this module imports it, never the other way round).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

import requests

from . import __version__, live, spec
from .errors import (
    AmbiguousStartError, DownloadError, NotFoundError, RunMaybeStartedError,
    TaskCancelledError, TaskFailedError, UnexpectedResponseError, WiroConnectionError,
    WiroError, error_from_answer,
)
from .live import TaskEvent
from .models import ModelDetail, StopOutcome, Task, TaskList, TaskOutput, parse_number
from .policy import REQUEST_POLICY, policy_for, retry_after, retrying, transport_error
from .settings import DEFAULT_BASE_URL, DEFAULT_SOCKET_URL, Settings, load_settings
from .signing import NonceSource, auth_headers
from .statuses import TaskStatus
from .validation import ImageFile, ImageUrl, RunRequest, validate_inputs

T = TypeVar("T")

# Who is calling, as Wiro's SDKs say it (WiroKit/<version>).
USER_AGENT = f"flux2pro-wiro-demo/{__version__} {requests.utils.default_user_agent()}"
CONNECT_TIMEOUT = 5.0
DEFAULT_POLL_INTERVAL = 2.0  # seconds between Detail polls, as Wiro-MCP's first pace
# How long one idempotent call rides out transient trouble before its error is raised.
RETRY_WINDOW = 5.0
# How long Kill/Cancel are retried through transient trouble before the page has to say
# "may still be charged".
STOP_RETRY_SECONDS = 20.0
# Output links that may come good on a later try (a CDN that has not caught up yet).
DOWNLOAD_RETRY_STATUSES = frozenset({404, 408, 425, 429, 500, 502, 503, 504})
# Finding the task of a Run whose answer was lost: Wiro's `createtime` is in whole seconds
# (up to 1 s early) and its clock is not ours; a task created this much before the Run was
# sent, or after its failure was seen, still counts as created in between.
LOST_TASK_CLOCK_SKEW = 5.0
LOST_TASK_PAGE = 20  # Wiro-MCP's default page

__all__ = ["LostTaskSearch", "TaskHandle", "WiroClient"]


def _socket_url_for(settings: Settings) -> str | None:
    """Wiro's own socket only knows tasks of Wiro's own API: a client aimed at another API
    (the simulator, a proxy) with no socket of its own follows its tasks by polling."""
    if (settings.socket_url == DEFAULT_SOCKET_URL
            and settings.base_url.rstrip("/") != DEFAULT_BASE_URL):
        return None
    return settings.socket_url


@dataclass(frozen=True)
class TaskHandle:
    """A Run that Wiro accepted: ask it for status, wait for it, or stop it."""

    client: WiroClient = field(repr=False, compare=False)
    id: str
    token: str

    def status(self) -> Task:
        return self.client.detail(self.id)

    def wait(self, **kwargs: Any) -> Task:
        return self.client.wait(self.id, **kwargs)

    def iter_events(self, **kwargs: Any) -> Iterator[TaskEvent]:
        """Follow the task live over the websocket, polling if it fails (wiro.live.follow)."""
        return live.follow(self.client, self, **kwargs)

    def result(self, **kwargs: Any) -> Task:
        return self.client.result(self.id, **kwargs)

    def cancel(self) -> Task | None:
        return self.client.cancel(self.id)

    def kill(self) -> Task | None:
        return self.client.kill(self.id)

    def stop(self, **kwargs: Any) -> StopOutcome:
        return self.client.stop(self.id, **kwargs)


@dataclass(frozen=True)
class LostTaskSearch:
    """What looking for a lost Run's task found: the task, or None and why not."""

    task: Task | None
    reason: str


class WiroClient:
    def __init__(self, api_key: str, api_secret: str | None = None, *,
                 base_url: str = DEFAULT_BASE_URL, poll_interval: float = DEFAULT_POLL_INTERVAL,
                 request_timeout: float = 30.0, session: requests.Session | None = None,
                 socket_url: str | None = None, detail_timeout: float = 5.0,
                 stall_window: float = 30.0, settle_window: float = 3.0,
                 task_timeout: float = 600.0, download_window: float = 60.0,
                 stop_window: float = STOP_RETRY_SECONDS, retry_window: float = RETRY_WINDOW,
                 file_input: str = "upload"):
        if not api_key:
            raise ValueError("An API key is needed (WIRO_API_KEY).")
        if file_input not in ("upload", "multipart"):
            raise ValueError("file_input must be 'upload' or 'multipart'.")
        self._api_key = api_key
        self._api_secret = api_secret or None
        self.base_url = base_url.rstrip("/")
        # Wiro's task-update websocket (wiro.live); None means follow tasks by polling only.
        self.socket_url = socket_url.rstrip("/") if socket_url else None
        # The pace of polling Detail when there is no socket (wiro.live.poll_delay).
        self.poll_interval = poll_interval
        self.timeout = (CONNECT_TIMEOUT, request_timeout)
        self.detail_timeout = (CONNECT_TIMEOUT, detail_timeout)
        self.stall_window = stall_window
        self.settle_window = settle_window
        self.task_timeout = task_timeout
        self.download_window = download_window
        self.stop_window = stop_window
        self.retry_window = retry_window
        self.file_input = file_input
        self._nonce = NonceSource()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> WiroClient:
        settings = settings or load_settings()
        options = {name: getattr(settings, name) for name in (
            "api_key", "api_secret", "base_url", "poll_interval", "request_timeout",
            "detail_timeout", "stall_window", "settle_window", "task_timeout", "download_window",
            "file_input")}
        options["socket_url"] = _socket_url_for(settings)
        options.update(overrides)
        return cls(options.pop("api_key"), **options)

    def __repr__(self) -> str:
        return f"WiroClient(base_url={self.base_url!r}, signed={self._api_secret is not None})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> WiroClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- HTTP ---------------------------------------------------------------------------

    def _call(self, call: str, parse: Callable[[dict], T], *, within: float | None = None,
              stop: Any = None, **body: Any) -> T:
        """POST `call` (e.g. "Task/Detail") and `parse` the answer, under the call's policy.

        `within`: seconds during which a transient failure may be tried again (default
        `stop_window` for Kill/Cancel, else `retry_window`; 0 means one try); `stop`, a
        threading.Event, cuts the waiting short."""
        policy = policy_for(call)
        url = f"{self.base_url}/{call}"
        timeout = self.detail_timeout if policy.quick else self.timeout

        def attempt() -> T:
            headers = auth_headers(self._api_key, self._api_secret, self._nonce())
            try:
                response = self.session.post(url, headers=headers, timeout=timeout, **body)
            except requests.RequestException as exc:
                raise transport_error(call, exc, self.base_url) from None
            with response:
                try:
                    data = response.json()
                except ValueError:
                    data = None
                error = error_from_answer(call, response.status_code, data,
                                          retry_after(response))
            if error is not None:
                raise error
            return parse(data)

        if within is None:
            within = self.stop_window if call in ("Task/Kill", "Task/Cancel") else \
                self.retry_window
        return retrying(attempt, policy, within, stop)

    # --- Run ----------------------------------------------------------------------------

    @staticmethod
    def run_body(request: RunRequest) -> dict[str, Any]:
        """requests keyword arguments for Run: JSON without files, multipart with them.

        Files are read into memory, so a Run re-sent after a failed connection carries them
        whole again."""
        if not request.has_files:
            body = dict(request.params)
            if request.images:
                body[spec.INPUT_IMAGE.name] = [i.url for i in request.images]
            return {"json": body}
        parts: list[tuple[str, Any]] = []
        for image in request.images:  # one repeated field each, in the user's order
            if isinstance(image, ImageUrl):
                parts.append((spec.INPUT_IMAGE.name, (None, image.url)))
            else:
                parts.append((spec.INPUT_IMAGE.name, (image.filename,
                                                      Path(image.path).read_bytes(),
                                                      image.content_type)))
        parts += [(name, (None, str(value))) for name, value in request.params.items()]
        return {"files": parts}

    def upload(self, image: ImageFile) -> str:
        """POST /File/Upload (one multipart part named `file`); returns the file's URL.
        Sent once: like Wiro's SDKs, a failed upload is not re-sent (it may store twice)."""
        data = Path(image.path).read_bytes()
        return self._call("File/Upload", _uploaded_url,
                          files={"file": (image.filename, data, image.content_type)})

    def run(self, inputs: RunRequest | Mapping[str, Any]) -> TaskHandle:
        """Start a task. A RunMaybeStartedError carries `sent_at` (time.time() when the Run
        went out), for `find_lost_task`."""
        request = inputs if isinstance(inputs, RunRequest) else validate_inputs(inputs)
        if self.file_input == "upload" and request.has_files:
            # Every local file replaced by its uploaded URL, in order; nothing is started yet.
            request = RunRequest(params=dict(request.params), images=tuple(
                ImageUrl(self.upload(i)) if isinstance(i, ImageFile) else i
                for i in request.images))
        sent_at = time.time()
        try:
            return self._call(f"Run/{spec.MODEL_SLUG}", self._handle, **self.run_body(request))
        except RunMaybeStartedError as exc:
            exc.sent_at = sent_at
            raise

    def _handle(self, data: dict) -> TaskHandle:
        taskid = str(data.get("taskid") or "").strip()
        if not taskid:
            raise AmbiguousStartError("Wiro answered Run with result true but named no task.")
        return TaskHandle(self, taskid, str(data.get("socketaccesstoken") or ""))

    # --- Tasks --------------------------------------------------------------------------

    def detail(self, taskid: str | None = None, *, token: str | None = None,
               within: float | None = None, stop: Any = None) -> Task:
        if bool(taskid) == bool(token):
            raise ValueError("Give exactly one of taskid or token.")
        body = {"taskid": taskid} if taskid else {"tasktoken": token}
        return self._call("Task/Detail", _first_task, within=within, stop=stop, json=body)

    def cancel(self, taskid: str, *, within: float | None = None) -> Task | None:
        """Cancel a task that is still queued. The task, if Wiro's answer carries it."""
        return self._call("Task/Cancel", _maybe_task, within=within, json={"taskid": taskid})

    def kill(self, taskid: str, *, within: float | None = None) -> Task | None:
        """Kill a task that a worker has. The task, if Wiro's answer carries it."""
        return self._call("Task/Kill", _maybe_task, within=within, json={"taskid": taskid})

    def _glance(self, taskid: str) -> Task | None:
        """One quick Detail that may fail: nothing that matters waits on it."""
        try:
            return self.detail(taskid, within=0)
        except WiroError:
            return None

    def stop(self, taskid: str, *, status: TaskStatus | None = None) -> StopOutcome:
        """End a task whatever its stage: Cancel while queued, Kill once a worker has it.

        Never depends on Detail answering: `status` (the last one seen) or one quick Detail
        picks the call to try first (the other follows if Wiro refuses it); each call rides
        out transient trouble for `stop_window` s; `result: true` is success, confirmed by one
        Detail whose failure does not undo it. When nothing worked: "unconfirmed"."""
        before = status
        if before is None:
            seen = self._glance(taskid)
            if seen is not None and seen.is_terminal:
                return StopOutcome(taskid, "already_ended", seen.status, seen,
                                   charged_usd=seen.reported_cost)
            before = seen.status if seen is not None else None
        calls = [("cancelled", self.cancel), ("killed", self.kill)]
        if before is not TaskStatus.QUEUE:
            calls.reverse()
        problem: WiroError | None = None
        for action, call in calls:
            try:
                answered = call(taskid)
            except NotFoundError as exc:  # not in a state that allows it: try the other
                problem = exc
                continue
            except WiroError as exc:
                problem = exc
                break
            confirmed = self._glance(taskid)
            return StopOutcome(taskid, action, before, confirmed or answered,
                               charged_usd=_charge(confirmed, answered))
        # Neither call worked: perhaps the task ended on its own just before.
        try:
            task = self.detail(taskid, within=min(self.stop_window, 5.0))
        except WiroError:
            task = None
        if task is not None and task.is_terminal:
            return StopOutcome(taskid, "already_ended", before, task,
                               charged_usd=task.reported_cost)
        return StopOutcome(taskid, "unconfirmed", before, task, error=str(problem or ""))

    def list_tasks(self, *, model: str | None = None, start: int = 0, limit: int = 20,
                   within: float | None = None) -> TaskList:
        """POST /Task/List as Wiro-MCP's listTasks sends it: the key's (with a team key, the
        team's) tasks, newest first; `model` is sent as `modelName`. Entries that do not read
        as tasks are set aside in `unreadable`, never guessed at."""
        body = {"type": "model", "sort": "id", "order": "DESC", "start": str(start),
                "limit": str(limit)}
        if model:
            body["modelName"] = model
        return self._call("Task/List", TaskList.from_json, within=within, json=body)

    def search_lost_task(self, sent_at: float, *, until: float | None = None,
                         request: RunRequest | Mapping[str, Any] | None = None,
                         exclude: Iterable[str] = ()) -> LostTaskSearch:
        """After a Run whose answer was lost: the task it made, found in Task/List, or None
        and why. Never raises, never sends a Run.

        A task counts only if it is of this model (modelslugowner/modelslugproject), was
        created between `sent_at` and `until` (default now), give or take LOST_TASK_CLOCK_SKEW,
        is not in `exclude` (tasks known to be other runs') and does not contradict `request`'s
        prompt or seed (Detail's `parameters` may be empty: they only ever rule a task out).
        With a team key the list holds teammates' tasks: when more than one task fits, or one
        that cannot be read might, it answers None rather than guess."""
        low = sent_at - LOST_TASK_CLOCK_SKEW
        high = (time.time() if until is None else until) + LOST_TASK_CLOCK_SKEW
        try:
            page = self.list_tasks(limit=LOST_TASK_PAGE)
        except WiroError as exc:
            return LostTaskSearch(None, f"Task/List failed: {exc}")
        excluded = set(exclude)
        params = request.params if isinstance(request, RunRequest) else (request or {})
        fitting, unsure = [], 0
        for task in page.tasks:
            if task.id in excluded or not low <= (task.created_at or 0) <= high:
                continue
            if not task.model:
                unsure += 1  # in the window, but of which model?
            elif task.model == spec.MODEL_SLUG and not _contradicts(task.parameters, params):
                fitting.append(task)
        for entry in page.unreadable:
            created = parse_number(entry.get("createtime")) if isinstance(entry, dict) else None
            if created is None or low <= created <= high:
                unsure += 1
        listed = len(page.tasks) + len(page.unreadable)
        complete = page.total is not None and page.total <= listed
        if not complete and not any((t.created_at or high) < low for t in page.tasks):
            return LostTaskSearch(None, f"the newest {listed} tasks do not reach back to when "
                                        "the Run was sent")
        if unsure:
            return LostTaskSearch(None, f"{unsure} listed task(s) from that moment could not "
                                        "be read well enough to rule out; not guessing")
        if len(fitting) > 1:
            return LostTaskSearch(None, f"{len(fitting)} tasks of {spec.MODEL_SLUG} were "
                                        "created while the Run was on its way (a team key lists "
                                        "teammates' tasks too); not guessing")
        if not fitting:
            return LostTaskSearch(None, f"no task of {spec.MODEL_SLUG} was created while the "
                                        "Run was on its way")
        task = fitting[0]
        return LostTaskSearch(task, f"task {task.id} was created "
                                    f"{(task.created_at or sent_at) - sent_at:+.0f} s after the "
                                    "Run was sent")

    def find_lost_task(self, sent_at: float, **options: Any) -> Task | None:
        """`search_lost_task(...).task`: the lost Run's task, or None."""
        return self.search_lost_task(sent_at, **options).task

    def tool_detail(self, slug: str = spec.MODEL_SLUG, *,
                    within: float | None = None) -> ModelDetail:
        """POST /Tool/Detail: the model as Wiro describes it (inputs, examples, prices)."""
        owner, _, project = slug.partition("/")
        return self._call("Tool/Detail", _model_detail, within=within,
                          json={"slugowner": owner, "slugproject": project})

    # --- following ----------------------------------------------------------------------

    def wait(self, taskid: str, *, timeout: float | None = None,
             on_update: Callable[[Task], None] | None = None) -> Task:
        """Poll Detail (wiro.live.follow without the socket) until the task has ended and
        return it, whatever its outcome; `on_update` hears every task seen on the way."""
        task = None
        for event in live.follow(self, TaskHandle(self, taskid, ""), use_socket=False,
                                 timeout=timeout):
            if event.task is not None:
                task = event.task
                if on_update:
                    on_update(task)
        assert task is not None
        return task

    def result(self, taskid: str, **kwargs: Any) -> Task:
        """Wait, then return the task if it produced outputs, or raise why not."""
        task = self.wait(taskid, **kwargs)
        if task.cancelled:
            raise TaskCancelledError(task)
        if not task.deliverable:
            raise TaskFailedError(task)
        return task

    def download(self, output: TaskOutput, *, window: float | None = None) -> bytes:
        """Fetch an output's bytes, retrying a link that is not there yet (404, 5xx, a
        reset) for `window` s (download_window). No credentials go to the CDN."""
        began = time.monotonic()

        def attempt() -> bytes:
            try:
                response = self.session.get(output.url, timeout=self.timeout)
            except requests.RequestException as exc:
                raise WiroConnectionError(type(exc).__name__) from None
            with response:
                if response.status_code == 200:
                    return response.content
                reason = f"HTTP {response.status_code}"
                if response.status_code not in DOWNLOAD_RETRY_STATUSES:
                    raise DownloadError(output.name, output.url, reason,
                                        time.monotonic() - began)
                trouble = UnexpectedResponseError(reason)
                trouble.retry_after = retry_after(response)
                raise trouble

        try:
            return retrying(attempt, REQUEST_POLICY["output"],
                            self.download_window if window is None else window)
        except DownloadError:
            raise
        except WiroError as exc:
            raise DownloadError(output.name, output.url, exc.args[0],
                                time.monotonic() - began) from None


# --- reading answers ---------------------------------------------------------------------


def _first_task(data: dict) -> Task:
    tasks = data.get("tasklist")
    if not isinstance(tasks, list) or not tasks or not isinstance(tasks[0], dict):
        raise UnexpectedResponseError("Wiro's answer named no task.")
    return Task.from_json(tasks[0])


def _maybe_task(data: dict) -> Task | None:
    """Kill and Cancel: Wiro's SDKs read only `result`; a task in the answer is a bonus."""
    try:
        return _first_task(data)
    except UnexpectedResponseError:
        return None


def _uploaded_url(data: dict) -> str:
    listed = data.get("list")
    first = listed[0] if isinstance(listed, list) and listed else None
    url = first.get("url") if isinstance(first, dict) else None
    if not isinstance(url, str) or not url:
        raise UnexpectedResponseError("Wiro's File/Upload answer named no file URL.")
    return url


def _model_detail(data: dict) -> ModelDetail:
    tools = data.get("tool")
    if not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
        raise NotFoundError("Wiro's Tool/Detail answer named no model.", code=1)
    return ModelDetail.from_json(tools[0])


def _charge(*tasks: Task | None) -> float | None:
    """What Wiro says a stopped task cost: the first of these that shows it ended."""
    for task in tasks:
        if task is not None and task.is_terminal and task.reported_cost is not None:
            return task.reported_cost
    return None


def _contradicts(listed: Mapping[str, Any], ours: Mapping[str, Any]) -> bool:
    """True when a listed task's parameters show another prompt or seed than ours."""
    prompt, seed = listed.get(spec.PROMPT.name), listed.get(spec.SEED.name)
    if prompt not in (None, "") and spec.PROMPT.name in ours and \
            str(prompt).strip() != str(ours[spec.PROMPT.name]).strip():
        return True
    if seed not in (None, "") and spec.SEED.name in ours:
        a, b = parse_number(seed), parse_number(ours[spec.SEED.name])
        return a is not None and b is not None and a != b
    return False
