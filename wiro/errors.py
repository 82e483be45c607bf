"""One exception tree for everything the client can raise.

`error_from_answer` is the single factory from an answer (HTTP status and JSON) to an error.
No message here ever includes a key, secret, nonce or signature: they are never passed in.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Task


class WiroError(Exception):
    """Base of every error this package raises."""

    #: What the person using the app should do about it, in plain words.
    advice: str = "Try again in a moment."

    def __str__(self) -> str:  # the message a user sees
        base = super().__str__()
        return f"{base} {self.advice}".strip() if self.advice else base


class InvalidInputError(WiroError, ValueError):
    """The inputs break one or more of the model's rules; nothing was sent."""

    advice = ""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# --- Errors Wiro reported -------------------------------------------------------------


class ApiError(WiroError):
    code: int | None = None
    meaning = "Wiro reported an error."

    def __init__(self, message: str, *, code: int | None = None, http_status: int = 200,
                 errors: list[dict] | None = None):
        self.message = message
        if code is not None:
            self.code = code
        self.http_status = http_status
        self.errors = errors or []
        super().__init__(f"{self.meaning} Wiro said: \"{message}\" (code {self.code}).")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class RequestRejectedError(ApiError):
    """Code 0: a validation failure, a missing parameter, or a server-side error."""

    code = 0
    meaning = "Wiro rejected the request."
    advice = "Check the inputs named in the message and try again."


class AuthenticationError(RequestRejectedError):
    """HTTP 401 or 403: the key is unknown or lacks permission, or the signature is wrong.

    Wiro refuses these before doing anything, so a refused Run started nothing."""

    meaning = "Wiro did not accept the API credentials."
    advice = ("Check WIRO_API_KEY and WIRO_API_SECRET (the secret is needed for projects that "
              "use signature authentication).")

    def __init__(self, message: str, *, run: bool = False, **details: Any):
        if details.get("http_status") == 403:
            self.meaning = "Wiro refused this API key (HTTP 403): it lacks permission for this."
        if run:
            self.advice = f"{type(self).advice} Nothing was started or charged."
        super().__init__(message, **details)


class EndpointNotFoundError(RequestRejectedError):
    meaning = "Wiro does not know this endpoint."
    advice = "Check WIRO_API_BASE_URL."


class NotFoundError(ApiError):
    code = 1
    meaning = "Wiro could not find that model or task, or it is not in a state that allows this."
    advice = "Check the model slug or task id."


class ConcurrencyLimitError(ApiError):
    code = 96
    meaning = "Your Wiro account is already running as many tasks as its balance allows."
    advice = "Wait for a running task to finish, or add funds to raise the limit."


class InsufficientBalanceError(ApiError):
    code = 97
    meaning = "Your Wiro balance is too low to run this model."
    advice = "Add funds in the Wiro dashboard (billing), then run again."


class SignInRequiredError(ApiError):
    code = 98
    meaning = "This model needs a signed-in, registered Wiro account."
    advice = "Use the API key of a registered Wiro project."


class TokenInvalidError(ApiError):
    code = 99
    meaning = "Wiro's bearer token is missing, invalid or expired."
    advice = "Check your API key, or sign in again to get a fresh token."


_BY_CODE: dict[int, type[ApiError]] = {
    cls.code: cls
    for cls in (RequestRejectedError, NotFoundError, ConcurrencyLimitError,
                InsufficientBalanceError, SignInRequiredError, TokenInvalidError)
}


_RATE_LIMIT_WORDS = re.compile(r"rate.?limit|too many requests", re.I)
# Answers a later attempt may get past: a proxy or a busy Wiro, not a refusal.
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _says_rate_limited(errors: Any) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (str(e.get("code")) == "429"
                                 or _RATE_LIMIT_WORDS.search(str(e.get("message") or "")))
        for e in errors)


def error_from_answer(call: str, http_status: int, body: Any,
                      retry_after: float | None = None) -> WiroError | None:
    """What one answer from Wiro means: None for `{"result": true}`, else the error.

    `call` is the endpoint ("Run/<owner>/<project>", "Task/Detail", ...). The one place an
    answer becomes an error, so every call reads status codes and Wiro's JSON alike. On Run,
    anything but a readable refusal may mean a task was started (RunMaybeStartedError)."""
    run = call.startswith("Run/")
    errors = body.get("errors") if isinstance(body, dict) else None
    if http_status == 429 or _says_rate_limited(errors):
        return RateLimitedError(call, retry_after)  # refused before anything was started
    if http_status in (401, 403):
        return _api_error(body, http_status, AuthenticationError, run=run)
    if isinstance(body, dict) and body.get("result") is True and http_status < 300:
        return None
    readable_refusal = isinstance(body, dict) and body.get("result") is False
    if readable_refusal and http_status not in TRANSIENT_STATUSES:
        return _api_error(body, http_status)
    if run:
        return RunMaybeStartedError(
            f"Wiro answered Run with HTTP {http_status} and no readable result.")
    return UnexpectedResponseError(f"Wiro answered {call} with HTTP {http_status}"
                                   + ("." if isinstance(body, dict) else " and no readable JSON."))


def _api_error(body: Any, http_status: int, cls: type[ApiError] | None = None,
               **extra: Any) -> ApiError:
    """The ApiError for Wiro's `{"result": false, "errors": [{"code", "message"}]}`."""
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = str(first.get("message") or "no message")
    try:
        code = int(first.get("code"))
    except (TypeError, ValueError):
        code = 0
    if cls is None:
        cls = EndpointNotFoundError if http_status == 404 and code == 0 else \
            _BY_CODE.get(code, RequestRejectedError)
    return cls(message, code=code, http_status=http_status,
               errors=errors if isinstance(errors, list) else [], **extra)


# --- Errors about a task that was created ----------------------------------------------


class TaskError(WiroError):
    """Something happened to a task that Wiro accepted; carries the task."""

    def __init__(self, message: str, task: Task):
        self.task = task
        super().__init__(message)


def _last_words(task: Task) -> str:
    """The last line of the task's error text (where a model's traceback says why)."""
    lines = (task.debug_error or "").strip().splitlines()
    return lines[-1][:300] if lines else ""


class TaskFailedError(TaskError):
    advice = "Wiro did not charge for a failed task. Change the prompt or images and try again."

    def __init__(self, task: Task):
        said = _last_words(task)
        if task.status_text == "task_error":  # Wiro's record of a failure before the model ran
            text = (f"Task {task.id} failed before the model ran (Wiro reported task_error). "
                    f"Wiro said: {said or 'nothing more'}")
        else:
            text = (f"The model could not produce an image (task {task.id}, exit code "
                    f"{task.pexit or 'none'}).{f' The model said: {said}' if said else ''}")
        super().__init__(text, task)


class TaskCancelledError(TaskError):
    advice = ""

    def __init__(self, task: Task):
        super().__init__(f"Task {task.id} was cancelled.", task)


# --- Errors on the way to Wiro ----------------------------------------------------------


class WiroConnectionError(WiroError):
    advice = "Check the network connection and WIRO_API_BASE_URL, then try again."

    def __init__(self, message: str, *, never_sent: bool = False):
        #: True when no connection was ever made: nothing reached Wiro.
        self.never_sent = never_sent
        super().__init__(message)


class RunMaybeStartedError(WiroConnectionError):
    """Run was sent but no answer came back: a task may exist and may be charged.
    `sent_at` (unix time the Run went out) is what WiroClient.find_lost_task needs."""

    sent_at: float | None = None

    advice = ("The run may have started and may be charged: check your Wiro dashboard before "
              "running again. It was not re-sent automatically, to avoid paying twice.")


class WiroTimeoutError(WiroError):
    advice = "Wiro is slow to answer; try again in a moment."


class UnexpectedResponseError(WiroError):
    """Wiro answered with something that is not the JSON it documents."""

    advice = "Wiro may be having trouble; try again in a moment."


class RateLimitedError(WiroError):
    """HTTP 429 (or Wiro's JSON saying the same): too many requests for this key.

    On Task/* calls it is transient and retried after `retry_after`; on Run it means
    nothing was started."""

    advice = ""

    def __init__(self, path: str, retry_after: float | None):
        self.path = path
        self.retry_after = retry_after
        wait = f"{retry_after:.0f} s" if retry_after is not None else "a moment"
        if path.startswith("Run/"):
            text = f"Wiro is rate limiting this key; try again in {wait} — nothing was started."
        else:
            text = f"Wiro is rate limiting this key ({path}); retrying in {wait}."
        super().__init__(text)


class AmbiguousStartError(RunMaybeStartedError):
    """Run answered result true but named no task: something may have started."""

    advice = ("A task may have started and may be charged, but Wiro did not say which: check "
              "your Wiro dashboard before running again. It was not re-sent automatically.")


class TaskStalledError(TaskError):
    """Detail kept showing a status this client does not know for the whole stall window.
    `stopped` says what stopping the task did (set by the follower)."""

    advice = ""
    stopped: Any = None

    def __init__(self, task: Task, window: float):
        self.window = window
        said = _last_words(task)
        reason = f" Wiro said: {said}" if said else " Wiro gave no error text."
        super().__init__(f"Task {task.id} failed: Wiro reported status {task.status_text!r} "
                         f"and nothing changed for {window:g} s.{reason}", task)


class TaskDeadlineError(WiroError):
    """The task did not end within the run's deadline (WIRO_TASK_TIMEOUT)."""

    advice = ""
    stopped: Any = None

    def __init__(self, taskid: str, timeout: float):
        self.taskid = taskid
        self.timeout = timeout
        super().__init__(f"Task {taskid} did not finish within {timeout:g} s "
                         "(WIRO_TASK_TIMEOUT).")


class DownloadError(WiroError):
    """A finished task's output could not be fetched, even after retries."""

    advice = ""

    def __init__(self, name: str, url: str, reason: str, tried_for: float):
        self.name = name
        self.url = url
        self.reason = reason
        super().__init__(f"Downloading {name} failed ({reason}), retried for {tried_for:.0f} s "
                         "(Wiro's result links expire after a few minutes).")


# The failures a later attempt may get past. Whether a call is tried again on them is the
# client's request policy (Run, for one, is not: it may be paid twice).
TRANSIENT_ERRORS: tuple[type[WiroError], ...] = (
    WiroConnectionError, WiroTimeoutError, UnexpectedResponseError, RateLimitedError)
