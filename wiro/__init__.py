"""A signed client and a local simulator for FLUX.2 [pro] on Wiro's API.

This package never imports Gradio: anyone can reuse it.
"""
from .client import TaskHandle, WiroClient
from .errors import (
    AmbiguousStartError, ApiError, AuthenticationError, DownloadError, RateLimitedError,
    TaskDeadlineError, TaskStalledError, ConcurrencyLimitError, InsufficientBalanceError,
    InvalidInputError, NotFoundError, RequestRejectedError, RunMaybeStartedError,
    SignInRequiredError, TaskCancelledError, TaskError, TaskFailedError, TokenInvalidError,
    UnexpectedResponseError, WiroConnectionError, WiroError, WiroTimeoutError,
)
from .models import StopOutcome, Task, TaskOutput
from .settings import Settings, load_settings
from .statuses import TaskStatus
from .validation import ImageFile, ImageUrl, RunRequest, validate_inputs

__all__ = [name for name in dir() if not name.startswith("_")]
