"""A thin, signed Wiro client for FLUX.2 [pro] built on one requests.Session.

Failures to connect are retried by urllib3 (nothing reached Wiro). Task/* calls are
idempotent and are also retried on 5xx and dropped connections, here, each attempt with a
fresh nonce and signature: a re-sent nonce is a replay that Wiro may refuse. Run is only
retried when the connection was never made, because a Run that reached Wiro and is sent
again is paid for twice.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import spec
from .errors import (
    NotFoundError, RunMaybeStartedError, TaskCancelledError, TaskFailedError,
    UnexpectedResponseError, WiroConnectionError, WiroError, WiroTimeoutError,
    api_error_from_response,
)
from .models import Task, TaskOutput
from .settings import DEFAULT_BASE_URL, DEFAULT_SOCKET_URL, Settings, load_settings
from .signing import NonceSource, auth_headers
from .validation import ImageFile, ImageUrl, RunRequest, validate_inputs

if TYPE_CHECKING:
    from .live import TaskEvent

RETRY_STATUSES = (500, 502, 503, 504)
# urllib3 would re-send the same signed headers, so it only retries failed connects; the
# read and 5xx retries of Task/* happen in WiroClient._send with a new signature each time.
IDEMPOTENT_RETRY = Retry(total=4, connect=4, read=0, status=0, other=0, redirect=0,
                         backoff_factor=0.2, allowed_methods=None, raise_on_status=False)
IDEMPOTENT_ATTEMPTS = 5
RETRY_BACKOFF = 0.2
# Only failures to connect: nothing reached the server, so nothing can be charged twice.
RUN_RETRY = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0,
                  backoff_factor=0.2, allowed_methods=None, raise_on_status=False)
CONNECT_TIMEOUT = 5.0
# Errors during wait() that a later poll may get past.
TRANSIENT_ERRORS = (WiroConnectionError, WiroTimeoutError, UnexpectedResponseError)
MAX_TRANSIENT_POLL_ERRORS = 5


def _connection_never_made(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return isinstance(exc, requests.ConnectionError) and (
        "NewConnectionError" in text or "NameResolutionError" in text
        or "Connection refused" in text)


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

    def iter_events(self, **kwargs: Any) -> Iterator["TaskEvent"]:
        """Follow the task live over the websocket, polling if it fails (wiro.live.follow)."""
        from .live import follow
        return follow(self.client, self, **kwargs)

    def result(self, **kwargs: Any) -> Task:
        return self.client.result(self.id, **kwargs)

    def cancel(self) -> Task:
        return self.client.cancel(self.id)

    def kill(self) -> Task:
        return self.client.kill(self.id)

    def stop(self) -> Task:
        return self.client.stop(self.id)


class WiroClient:
    def __init__(self, api_key: str, api_secret: str | None = None, *,
                 base_url: str = DEFAULT_BASE_URL, poll_interval: float = 1.0,
                 request_timeout: float = 30.0, session: requests.Session | None = None,
                 socket_url: str | None = None):
        if not api_key:
            raise ValueError("An API key is needed (WIRO_API_KEY).")
        self._api_key = api_key
        self._api_secret = api_secret or None
        self.base_url = base_url.rstrip("/")
        # Wiro's task-update websocket (wiro.live); None means follow tasks by polling only.
        self.socket_url = socket_url.rstrip("/") if socket_url else None
        self.poll_interval = poll_interval
        self.timeout = (CONNECT_TIMEOUT, request_timeout)
        self._nonce = NonceSource()
        self.session = session or requests.Session()
        downloads = HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0.2,
                                                  status_forcelist=RETRY_STATUSES))
        self.session.mount("http://", downloads)
        self.session.mount("https://", downloads)
        self.session.mount(f"{self.base_url}/Task/", HTTPAdapter(max_retries=IDEMPOTENT_RETRY))
        self.session.mount(f"{self.base_url}/Run/", HTTPAdapter(max_retries=RUN_RETRY))

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> "WiroClient":
        settings = settings or load_settings()
        options = dict(api_key=settings.api_key, api_secret=settings.api_secret,
                       base_url=settings.base_url, poll_interval=settings.poll_interval,
                       request_timeout=settings.request_timeout,
                       socket_url=_socket_url_for(settings))
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

    def _send(self, url: str, is_run: bool, body: dict[str, Any]) -> requests.Response:
        """POST, signed afresh for every attempt; only Task/* calls get more than one."""
        attempts = 1 if is_run else IDEMPOTENT_ATTEMPTS
        for attempt in range(attempts):
            if attempt:
                time.sleep(RETRY_BACKOFF * 2 ** (attempt - 1))
            last = attempt + 1 == attempts
            headers = auth_headers(self._api_key, self._api_secret, self._nonce())
            try:
                response = self.session.post(url, headers=headers, timeout=self.timeout, **body)
            except requests.RequestException as exc:
                # urllib3 has already retried connects that failed; those are final.
                if last or _connection_never_made(exc):
                    raise
                continue
            if last or response.status_code not in RETRY_STATUSES:
                return response
            response.close()
        raise AssertionError("unreachable")

    def _post(self, path: str, *, is_run: bool = False, **body: Any) -> dict:
        url = f"{self.base_url}/{path}"
        try:
            response = self._send(url, is_run, body)
        except requests.RequestException as exc:
            if is_run and not _connection_never_made(exc):
                raise RunMaybeStartedError(
                    f"The Run request was sent but no answer came back ({type(exc).__name__})."
                ) from None
            if isinstance(exc, requests.Timeout):
                raise WiroTimeoutError(f"Wiro did not answer {path} in time.") from None
            raise WiroConnectionError(f"Could not reach Wiro at {self.base_url} "
                                      f"({type(exc).__name__}).") from None
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

    def run(self, inputs: RunRequest | Mapping[str, Any]) -> TaskHandle:
        request = inputs if isinstance(inputs, RunRequest) else validate_inputs(inputs)
        with contextlib.ExitStack() as files:
            data = self._post(f"Run/{spec.MODEL_SLUG}", is_run=True,
                              **self.run_body(request, files))
        return TaskHandle(self, str(data.get("taskid", "")), str(data.get("socketaccesstoken", "")))

    # --- Tasks --------------------------------------------------------------------------

    @staticmethod
    def _task_from(data: dict) -> Task:
        tasks = data.get("tasklist")
        if not isinstance(tasks, list) or not tasks or not isinstance(tasks[0], dict):
            raise UnexpectedResponseError("Wiro's answer named no task.")
        return Task.from_json(tasks[0])

    def detail(self, taskid: str | None = None, *, token: str | None = None) -> Task:
        if bool(taskid) == bool(token):
            raise ValueError("Give exactly one of taskid or token.")
        body = {"taskid": taskid} if taskid else {"tasktoken": token}
        return self._task_from(self._post("Task/Detail", json=body))

    def cancel(self, taskid: str) -> Task:
        """Cancel a task that is still queued."""
        return self._task_from(self._post("Task/Cancel", json={"taskid": taskid}))

    def kill(self, taskid: str) -> Task:
        """Kill a task that a worker is running."""
        return self._task_from(self._post("Task/Kill", json={"taskid": taskid}))

    def stop(self, taskid: str) -> Task:
        """End a task whatever its stage: cancel while queued, kill once running."""
        task = self.detail(taskid)
        if task.is_terminal:
            return task
        if task.status.is_queued:
            try:
                return self.cancel(taskid)
            except NotFoundError:
                pass  # a worker took it in the meantime: kill it instead
        try:
            return self.kill(taskid)
        except NotFoundError:
            task = self.detail(taskid)  # it ended on its own just before the kill
            if task.is_terminal:
                return task
            raise

    def iter_updates(self, taskid: str, *, timeout: float | None = None,
                     poll_interval: float | None = None) -> Iterator[Task]:
        """Poll Detail, yielding the task after every poll, until it is terminal."""
        interval = self.poll_interval if poll_interval is None else poll_interval
        deadline = None if timeout is None else time.monotonic() + timeout
        failures = 0
        while True:
            try:
                task = self.detail(taskid)
                failures = 0
            except TRANSIENT_ERRORS:
                failures += 1
                if failures > MAX_TRANSIENT_POLL_ERRORS:
                    raise
            else:
                yield task
                if task.is_terminal:
                    return
            if deadline is not None and time.monotonic() >= deadline:
                raise WiroTimeoutError(f"Task {taskid} did not finish within {timeout:g} s.")
            time.sleep(interval)

    def wait(self, taskid: str, *, timeout: float | None = None,
             on_update: Callable[[Task], None] | None = None, **kwargs: Any) -> Task:
        """Wait for a terminal status and return the task, whatever its outcome."""
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
        if not task.succeeded:
            raise TaskFailedError(task)
        return task

    def download(self, output: TaskOutput) -> bytes:
        """Fetch an output's bytes. No credentials go to the CDN."""
        try:
            response = self.session.get(output.url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise WiroConnectionError(f"Could not download {output.name} "
                                      f"({type(exc).__name__}).") from None
        if response.status_code != 200:
            raise WiroError(f"Downloading {output.name} failed with HTTP {response.status_code}"
                            " (Wiro's result links expire after a few minutes).")
        return response.content

