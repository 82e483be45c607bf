"""One exception tree for everything the client can raise.

`api_error_from_response` is the single factory from Wiro's error JSON to a class. No
message here ever includes a key, secret, nonce or signature: they are never passed in.
"""
from __future__ import annotations

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
    """HTTP 401: the key is unknown, the signature is wrong or missing."""

    meaning = "Wiro did not accept the API credentials."
    advice = ("Check WIRO_API_KEY and WIRO_API_SECRET (the secret is needed for projects that "
              "use signature authentication).")


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


def api_error_from_response(body: Any, http_status: int = 200) -> ApiError:
    """Build the right ApiError from Wiro's `{"result": false, "errors": [...]}`."""
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = str(first.get("message") or "no message")
    try:
        code = int(first.get("code"))
    except (TypeError, ValueError):
        code = 0
    if http_status == 401:
        cls: type[ApiError] = AuthenticationError
    elif http_status == 404 and code == 0:
        cls = EndpointNotFoundError
    else:
        cls = _BY_CODE.get(code, RequestRejectedError)
    return cls(message, code=code, http_status=http_status,
               errors=errors if isinstance(errors, list) else [])


# --- Errors about a task that was created ----------------------------------------------


class TaskError(WiroError):
    """Something happened to a task that Wiro accepted; carries the task."""

    def __init__(self, message: str, task: "Task"):
        self.task = task
        super().__init__(message)


class TaskFailedError(TaskError):
    advice = "Wiro did not charge for a failed task. Change the prompt or images and try again."

    def __init__(self, task: "Task"):
        detail = (task.debug_error or "").strip().splitlines()
        reason = f" The model said: {detail[-1][:300]}" if detail else ""
        super().__init__(
            f"The model could not produce an image (task {task.id}, exit code {task.pexit})."
            f"{reason}", task)


class TaskCancelledError(TaskError):
    advice = ""

    def __init__(self, task: "Task"):
        super().__init__(f"Task {task.id} was cancelled.", task)


# --- Errors on the way to Wiro ----------------------------------------------------------


class WiroConnectionError(WiroError):
    advice = "Check the network connection and WIRO_API_BASE_URL, then try again."


class RunMaybeStartedError(WiroConnectionError):
    """Run was sent but no answer came back: a task may exist and may be charged."""

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
    """Detail kept showing task_error, or a status this client does not know, for the
    whole stall window. `stopped` says what stopping the task did (set by the follower)."""

    advice = ""
    stopped: Any = None

    def __init__(self, task: "Task", window: float):
        self.window = window
        said = (task.debug_error or "").strip().splitlines()
        reason = f" Wiro said: {said[-1][:300]}" if said else " Wiro gave no error text."
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


# The one list of failures that a later attempt may get past. Task/* calls are ridden out
# on these until the run's deadline; Run never is (it may be paid twice).
TRANSIENT_ERRORS: tuple[type[WiroError], ...] = (
    WiroConnectionError, WiroTimeoutError, UnexpectedResponseError, RateLimitedError)
RETRY_FIRST_DELAY = 0.1
RETRY_MAX_DELAY = 1.0
# A Retry-After longer than this is not believed: the deadline still has to be kept.
RETRY_AFTER_CAP = 30.0


def retry_delay(exc: BaseException | None, attempt: int) -> float:
    """Seconds before trying again after `exc`, the `attempt`-th failure in a row (0-based):
    Wiro's Retry-After when it gave one, else a delay that doubles up to a cap."""
    after = getattr(exc, "retry_after", None)
    if after is not None:
        return max(0.0, min(float(after), RETRY_AFTER_CAP))
    return min(RETRY_MAX_DELAY, RETRY_FIRST_DELAY * 2 ** max(0, attempt))
