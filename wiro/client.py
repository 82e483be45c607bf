"""A thin, signed Wiro client for FLUX.2 [pro] built on one requests.Session.

Failures to connect are retried by urllib3 (nothing reached Wiro). Task/* and File/* calls
are idempotent and are also retried on 5xx, 429 (after Retry-After) and dropped
connections, here, each attempt with a fresh nonce and signature: a re-sent nonce is a
replay that Wiro may refuse. Run is only retried when the connection was never made,
because a Run that reached Wiro and is sent again is paid for twice.

Following a task lives in wiro.live (this module imports it, never the other way round).
"""
from __future__ import annotations

import contextlib
import email.utils
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import live, spec
from .errors import (
    TRANSIENT_ERRORS, AmbiguousStartError, DownloadError, NotFoundError, RateLimitedError,
    RunMaybeStartedError, TaskCancelledError, TaskFailedError, UnexpectedResponseError,
    WiroConnectionError, WiroError, WiroTimeoutError, api_error_from_response, retry_delay,
)
from .live import TaskEvent
from .models import StopOutcome, Task, TaskOutput
from .settings import DEFAULT_BASE_URL, DEFAULT_SOCKET_URL, Settings, load_settings
from .signing import NonceSource, auth_headers
from .statuses import TaskStatus
from .validation import ImageFile, ImageUrl, RunRequest, validate_inputs

RETRY_STATUSES = (500, 502, 503, 504)
RATE_LIMITED = 429
# urllib3 would re-send the same signed headers, so it only retries failed connects; the
# read, 5xx and 429 retries of Task/* happen in WiroClient._send with a new signature each.
IDEMPOTENT_RETRY = Retry(total=4, connect=4, read=0, status=0, other=0, redirect=0,
                         backoff_factor=0.2, allowed_methods=None, raise_on_status=False)
IDEMPOTENT_ATTEMPTS = 5
RETRY_BACKOFF = 0.2
# Only failures to connect: nothing reached the server, so nothing can be charged twice.
RUN_RETRY = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0,
                  backoff_factor=0.2, allowed_methods=None, raise_on_status=False)
CONNECT_TIMEOUT = 5.0
# How long Kill/Cancel are retried through transient trouble before the page has to say
# "may still be charged".
STOP_RETRY_SECONDS = 20.0
# Output links that may come good on a later try (a CDN that has not caught up yet).
DOWNLOAD_RETRY_STATUSES = frozenset({404, 408, 425, 429, 500, 502, 503, 504})
_RATE_LIMIT_WORDS = re.compile(r"rate.?limit|too many requests", re.I)

__all__ = ["TRANSIENT_ERRORS", "TaskHandle", "WiroClient"]


def _connection_never_made(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return isinstance(exc, requests.ConnectionError) and (
        "NewConnectionError" in text or "NameResolutionError" in text
        or "Connection refused" in text)


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    raw = (response.headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _says_rate_limited(data: dict) -> bool:
    errors = data.get("errors")
    if not isinstance(errors, list):
        return False
    return any(isinstance(e, dict) and (str(e.get("code")) == "429" or _RATE_LIMIT_WORDS.search(
        str(e.get("message") or ""))) for e in errors)


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

    client: "WiroClient" = field(repr=False, compare=False)
    id: str
    token: str

    def status(self) -> Task:
        return self.client.detail(self.id)

    def iter_updates(self, **kwargs: Any) -> Iterator[Task]:
        return self.client.iter_updates(self.id, **kwargs)

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


class WiroClient:
    def __init__(self, api_key: str, api_secret: str | None = None, *,
                 base_url: str = DEFAULT_BASE_URL, poll_interval: float = 1.0,
                 request_timeout: float = 30.0, session: requests.Session | None = None,
                 socket_url: str | None = None, detail_timeout: float = 5.0,
                 stall_window: float = 30.0, settle_window: float = 3.0,
                 task_timeout: float = 600.0, download_window: float = 60.0,
                 stop_window: float = STOP_RETRY_SECONDS, file_input: str = "upload"):
        if not api_key:
            raise ValueError("An API key is needed (WIRO_API_KEY).")
        if file_input not in ("upload", "multipart"):
            raise ValueError("file_input must be 'upload' or 'multipart'.")
        self._api_key = api_key
        self._api_secret = api_secret or None
        self.base_url = base_url.rstrip("/")
        # Wiro's task-update websocket (wiro.live); None means follow tasks by polling only.
        self.socket_url = socket_url.rstrip("/") if socket_url else None
        self.poll_interval = poll_interval
        self.timeout = (CONNECT_TIMEOUT, request_timeout)
        self.detail_timeout = (CONNECT_TIMEOUT, detail_timeout)
        self.stall_window = stall_window
        self.settle_window = settle_window
        self.task_timeout = task_timeout
        self.download_window = download_window
        self.stop_window = stop_window
        self.file_input = file_input
        self._nonce = NonceSource()
        self.session = session or requests.Session()
        downloads = HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0.2,
                                                  status_forcelist=RETRY_STATUSES))
        self.session.mount("http://", downloads)
        self.session.mount("https://", downloads)
        self.session.mount(f"{self.base_url}/Task/", HTTPAdapter(max_retries=IDEMPOTENT_RETRY))
        self.session.mount(f"{self.base_url}/File/", HTTPAdapter(max_retries=IDEMPOTENT_RETRY))
        self.session.mount(f"{self.base_url}/Run/", HTTPAdapter(max_retries=RUN_RETRY))

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> "WiroClient":
        settings = settings or load_settings()
        options = dict(api_key=settings.api_key, api_secret=settings.api_secret,
                       base_url=settings.base_url, poll_interval=settings.poll_interval,
                       request_timeout=settings.request_timeout,
                       socket_url=_socket_url_for(settings),
                       detail_timeout=settings.detail_timeout,
                       stall_window=settings.stall_window, settle_window=settings.settle_window,
                       task_timeout=settings.task_timeout,
                       download_window=settings.download_window,
                       file_input=settings.file_input)
        options.update(overrides)
        return cls(options.pop("api_key"), **options)

    def __repr__(self) -> str:
        return f"WiroClient(base_url={self.base_url!r}, signed={self._api_secret is not None})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "WiroClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- HTTP ---------------------------------------------------------------------------

    def _send(self, url: str, attempts: int, timeout: tuple[float, float],
              body: dict[str, Any]) -> requests.Response:
        """POST, signed afresh for every attempt."""
        for attempt in range(attempts):
            last = attempt + 1 == attempts
            headers = auth_headers(self._api_key, self._api_secret, self._nonce())
            try:
                response = self.session.post(url, headers=headers, timeout=timeout, **body)
            except requests.RequestException as exc:
                # urllib3 has already retried connects that failed; those are final.
                if last or _connection_never_made(exc):
                    raise
                time.sleep(RETRY_BACKOFF * 2 ** attempt)
                continue
            status = response.status_code
            if last or status not in RETRY_STATUSES and status != RATE_LIMITED:
                return response
            delay = (_retry_after(response) if status == RATE_LIMITED else None)
            response.close()
            time.sleep(retry_delay(None, attempt) if delay is None
                       else retry_delay(RateLimitedError("", delay), attempt))
        raise AssertionError("unreachable")

    def _post(self, path: str, *, is_run: bool = False, attempts: int | None = None,
              **body: Any) -> dict:
        url = f"{self.base_url}/{path}"
        if attempts is None:
            attempts = 1 if is_run else IDEMPOTENT_ATTEMPTS
        timeout = self.detail_timeout if path.startswith("Task/") else self.timeout
        try:
            response = self._send(url, attempts, timeout, body)
        except requests.RequestException as exc:
            if is_run and not _connection_never_made(exc):
                raise RunMaybeStartedError(
                    f"The Run request was sent but no answer came back ({type(exc).__name__})."
                ) from None
            if isinstance(exc, requests.Timeout):
                raise WiroTimeoutError(f"Wiro did not answer {path} in time.") from None
            raise WiroConnectionError(f"Could not reach Wiro at {self.base_url} "
                                      f"({type(exc).__name__}).") from None
        if response.status_code == RATE_LIMITED:
            # Nothing was done: Wiro refuses before it starts anything.
            raise RateLimitedError(path, _retry_after(response))
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            if is_run:
                raise RunMaybeStartedError(
                    f"Wiro answered Run with HTTP {response.status_code} and no readable result.")
            raise UnexpectedResponseError(
                f"Wiro answered {path} with HTTP {response.status_code} and no readable JSON.")
        if data.get("result") is not True:
            if _says_rate_limited(data):
                raise RateLimitedError(path, _retry_after(response))
            if response.status_code >= 500 and not is_run:
                raise UnexpectedResponseError(
                    f"Wiro answered {path} with HTTP {response.status_code}.")
            raise api_error_from_response(data, response.status_code)
        return data

    # --- Run ----------------------------------------------------------------------------

    @staticmethod
    def run_body(request: RunRequest, files: contextlib.ExitStack) -> dict[str, Any]:
        """requests keyword arguments for Run: JSON without files, multipart with them.

        Uploaded files are opened on `files`, which closes them once the request is sent.
        """
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
                handle = files.enter_context(open(image.path, "rb"))
                parts.append((spec.INPUT_IMAGE.name,
                              (image.filename, handle, image.content_type)))
        parts += [(name, (None, str(value))) for name, value in request.params.items()]
        return {"files": parts}

    def upload(self, image: ImageFile) -> str:
        """POST /File/Upload (one multipart part named `file`); returns the file's URL.

        Read into memory first so a retried attempt sends the whole file again."""
        with open(image.path, "rb") as handle:
            data = handle.read()
        answer = self._post("File/Upload",
                            files={"file": (image.filename, data, image.content_type)})
        listed = answer.get("list")
        first = listed[0] if isinstance(listed, list) and listed else None
        url = first.get("url") if isinstance(first, dict) else None
        if not isinstance(url, str) or not url:
            raise UnexpectedResponseError("Wiro's File/Upload answer named no file URL.")
        return url

    def with_uploaded_files(self, request: RunRequest) -> RunRequest:
        """The same request with every local file replaced by its uploaded URL, in order."""
        if not request.has_files:
            return request
        images = tuple(ImageUrl(self.upload(i)) if isinstance(i, ImageFile) else i
                       for i in request.images)
        return RunRequest(params=dict(request.params), images=images)

    def run(self, inputs: RunRequest | Mapping[str, Any]) -> TaskHandle:
        request = inputs if isinstance(inputs, RunRequest) else validate_inputs(inputs)
        if self.file_input == "upload":
            request = self.with_uploaded_files(request)  # nothing is started before this
        with contextlib.ExitStack() as files:
            data = self._post(f"Run/{spec.MODEL_SLUG}", is_run=True,
                              **self.run_body(request, files))
        taskid = str(data.get("taskid") or "").strip()
        if not taskid:
            raise AmbiguousStartError("Wiro answered Run with result true but named no task.")
        return TaskHandle(self, taskid, str(data.get("socketaccesstoken") or ""))

    # --- Tasks --------------------------------------------------------------------------

    @staticmethod
    def _task_from(data: dict) -> Task:
        tasks = data.get("tasklist")
        if not isinstance(tasks, list) or not tasks or not isinstance(tasks[0], dict):
            raise UnexpectedResponseError("Wiro's answer named no task.")
        return Task.from_json(tasks[0])

    @staticmethod
    def _maybe_task(data: dict) -> Task | None:
        """Kill and Cancel: Wiro's SDKs read only `result`; a task in the answer is a bonus."""
        try:
            return WiroClient._task_from(data)
        except UnexpectedResponseError:
            return None

    def detail(self, taskid: str | None = None, *, token: str | None = None,
               attempts: int | None = None) -> Task:
        if bool(taskid) == bool(token):
            raise ValueError("Give exactly one of taskid or token.")
        body = {"taskid": taskid} if taskid else {"tasktoken": token}
        return self._task_from(self._post("Task/Detail", attempts=attempts, json=body))

    def cancel(self, taskid: str) -> Task | None:
        """Cancel a task that is still queued. The task, if Wiro's answer carries it."""
        return self._maybe_task(self._post("Task/Cancel", json={"taskid": taskid}))

    def kill(self, taskid: str) -> Task | None:
        """Kill a task that a worker is running. The task, if Wiro's answer carries it."""
        return self._maybe_task(self._post("Task/Kill", json={"taskid": taskid}))

    def _through_transients(self, call: Callable[[], Any], window: float) -> Any:
        ends = time.monotonic() + window
        failures = 0
        while True:
            try:
                return call()
            except TRANSIENT_ERRORS as exc:
                delay = retry_delay(exc, failures)
                failures += 1
                if time.monotonic() + delay > ends:
                    raise
                time.sleep(delay)

    def _glance(self, taskid: str) -> Task | None:
        """One quick Detail that may fail: nothing that matters waits on it."""
        try:
            return self.detail(taskid, attempts=1)
        except WiroError:
            return None

    def stop(self, taskid: str, *, status: TaskStatus | None = None) -> StopOutcome:
        """End a task whatever its stage: Cancel while queued, Kill once running.

        Never depends on Detail answering: `status` (the last one seen) or one quick Detail
        picks the call to try first; each call is retried through transient trouble for
        `stop_window` s; `result: true` is success, confirmed by one Detail whose failure
        does not undo it. When nothing worked the outcome is "unconfirmed"."""
        before = status
        if before is None:
            seen = self._glance(taskid)
            if seen is not None and seen.is_terminal:
                return StopOutcome(taskid, "already_ended", seen.status, seen)
            before = seen.status if seen is not None else None
        calls = [("cancelled", self.cancel), ("killed", self.kill)]
        if before is not TaskStatus.QUEUE:
            calls.reverse()
        problem: WiroError | None = None
        for action, call in calls:
            try:
                self._through_transients(lambda: call(taskid), self.stop_window)
            except NotFoundError as exc:  # not in a state that allows it: try the other
                problem = exc
                continue
            except WiroError as exc:
                problem = exc
                break
            return StopOutcome(taskid, action, before, self._glance(taskid))
        # Neither call worked: perhaps the task ended on its own just before.
        try:
            task = self._through_transients(lambda: self.detail(taskid, attempts=1),
                                            min(self.stop_window, 5.0))
        except WiroError:
            task = None
        if task is not None and task.is_terminal:
            return StopOutcome(taskid, "already_ended", before, task)
        return StopOutcome(taskid, "unconfirmed", before, task, error=str(problem or ""))

    # --- following ----------------------------------------------------------------------

    def iter_updates(self, taskid: str, *, timeout: float | None = None,
                     poll_interval: float | None = None) -> Iterator[Task]:
        """Poll Detail (wiro.live.follow without the socket), yielding the task whenever it
        moves on, until it has ended."""
        handle = TaskHandle(self, taskid, "")
        for event in live.follow(self, handle, use_socket=False, timeout=timeout):
            if event.task is not None:
                yield event.task

    def wait(self, taskid: str, *, timeout: float | None = None,
             on_update: Callable[[Task], None] | None = None, **kwargs: Any) -> Task:
        """Wait for the task to end and return it, whatever its outcome."""
        task = None
        for task in self.iter_updates(taskid, timeout=timeout, **kwargs):
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
        ends = began + (self.download_window if window is None else window)
        attempt = 0
        while True:
            try:
                response = self.session.get(output.url, timeout=self.timeout)
            except requests.RequestException as exc:
                reason, again = type(exc).__name__, True
            else:
                if response.status_code == 200:
                    return response.content
                reason = f"HTTP {response.status_code}"
                again = response.status_code in DOWNLOAD_RETRY_STATUSES
            delay = retry_delay(None, attempt)
            attempt += 1
            if not again or time.monotonic() + delay > ends:
                raise DownloadError(output.name, output.url, reason, time.monotonic() - began)
            time.sleep(delay)
