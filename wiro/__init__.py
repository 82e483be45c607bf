"""A signed client and a local simulator for FLUX.2 [pro] on Wiro's API.

This package never imports Gradio: anyone can reuse it.
"""
# The app's version, in one place: requests to Wiro name it in their User-Agent.
__version__ = "1.1.0"

from .client import LostTaskSearch, TaskHandle, WiroClient  # noqa: E402
from .errors import (  # noqa: E402
    AmbiguousStartError, ApiError, AuthenticationError, DownloadError, RateLimitedError,
    TaskDeadlineError, TaskStalledError, ConcurrencyLimitError, InsufficientBalanceError,
    InvalidInputError, NotFoundError, RequestRejectedError, RunMaybeStartedError,
    SignInRequiredError, TaskCancelledError, TaskError, TaskFailedError, TokenInvalidError,
    UnexpectedResponseError, WiroConnectionError, WiroError, WiroTimeoutError,
)
from .models import ModelDetail, StopOutcome, Task, TaskList, TaskOutput  # noqa: E402
from .settings import Settings, load_settings  # noqa: E402
from .statuses import TaskStatus  # noqa: E402
from .validation import ImageFile, ImageUrl, RunRequest, validate_inputs  # noqa: E402

__all__ = [
    "AmbiguousStartError", "ApiError", "AuthenticationError", "ConcurrencyLimitError",
    "DownloadError", "ImageFile", "ImageUrl", "InsufficientBalanceError", "InvalidInputError",
    "LostTaskSearch", "ModelDetail", "NotFoundError", "RateLimitedError",
    "RequestRejectedError", "RunMaybeStartedError", "RunRequest", "Settings",
    "SignInRequiredError", "StopOutcome", "Task", "TaskCancelledError", "TaskDeadlineError",
    "TaskError", "TaskFailedError", "TaskHandle", "TaskList", "TaskOutput", "TaskStalledError",
    "TaskStatus", "TokenInvalidError", "UnexpectedResponseError", "WiroClient",
    "WiroConnectionError", "WiroError", "WiroTimeoutError", "load_settings", "validate_inputs",
]
