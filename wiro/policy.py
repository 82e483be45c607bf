"""The one request policy: which calls may be sent again, on which answers, after how long.

In the spirit of replicate-python's retry transport, and of Wiro's own SDKs (WiroKit for
Swift, Kotlin and React Native: Run and File/Upload are never retried; everything else is,
on 408, 429, 500, 502, 503, 504 and network failures, with a capped exponential backoff).

- A call kind is repeated only as REQUEST_POLICY says: Task/* and Tool/Detail are idempotent
  (AGAIN); Run is repeated only when the connection was never made (IF_UNSENT): once it may
  have reached Wiro a second Run may be a second charge; File/Upload is sent once (ONCE).
- The answers a later attempt may get past are TRANSIENT_ERRORS (wiro.errors): connection
  failures, timeouts, 408/429/5xx, a non-JSON page, a Detail with an empty tasklist.
- `backoff` is the only delay between attempts, for every call and for output downloads.
- Every attempt is built afresh by the caller, so each is signed with a new nonce.
"""
from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

import requests

from .errors import (
    TRANSIENT_ERRORS, RunMaybeStartedError, WiroConnectionError, WiroError, WiroTimeoutError,
)

T = TypeVar("T")

AGAIN, IF_UNSENT, ONCE = "again", "if-unsent", "once"


@dataclass(frozen=True)
class CallPolicy:
    repeat: str  # AGAIN, IF_UNSENT or ONCE
    quick: bool = False  # answered within the client's detail_timeout (a task's own calls)
    attempts: int | None = None  # at most this many, whatever the time window allows

    def may_repeat(self, exc: WiroError) -> bool:
        if not isinstance(exc, TRANSIENT_ERRORS):
            return False
        if self.repeat == AGAIN:
            return True
        return self.repeat == IF_UNSENT and getattr(exc, "never_sent", False)


REQUEST_POLICY: dict[str, CallPolicy] = {
    "Run": CallPolicy(IF_UNSENT, attempts=3),
    "File/Upload": CallPolicy(ONCE),  # a second upload would store a second file
    "Task/Detail": CallPolicy(AGAIN, quick=True),
    # Kill and Cancel are idempotent: a repeat of one that went through is refused, harmlessly.
    "Task/Kill": CallPolicy(AGAIN, quick=True),
    "Task/Cancel": CallPolicy(AGAIN, quick=True),
    "Task/List": CallPolicy(AGAIN),
    "Tool/Detail": CallPolicy(AGAIN),
    "output": CallPolicy(AGAIN),  # a finished task's file on the CDN (unsigned GET)
}

RETRY_FIRST_DELAY = 0.1
# The default poll interval: trouble never makes the client ask more often than polling does.
RETRY_MAX_DELAY = 2.0
# A Retry-After longer than this is not believed: the run's deadline still has to be kept.
RETRY_AFTER_CAP = 30.0
RETRY_JITTER = 0.1  # +-10 %, so clients that failed together do not retry in step


def policy_for(call: str) -> CallPolicy:
    """The policy of an endpoint path such as "Run/<owner>/<project>" or "Task/Detail"."""
    return REQUEST_POLICY["Run" if call.startswith("Run/") else call]


def backoff(failures: int, retry_after: float | None = None) -> float:
    """Seconds to wait after `failures` failed attempts in a row (1 = the first failure):
    the server's Retry-After when it sent one (up to RETRY_AFTER_CAP), else a delay that
    doubles from RETRY_FIRST_DELAY up to RETRY_MAX_DELAY."""
    if retry_after is not None:
        return min(max(0.0, retry_after), RETRY_AFTER_CAP)
    delay = min(RETRY_MAX_DELAY, RETRY_FIRST_DELAY * 2 ** max(0, failures - 1))
    return delay * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)


def retry_after(response: requests.Response) -> float | None:
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


def connection_never_made(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the server: the connection failed."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return isinstance(exc, requests.ConnectionError) and (
        "NewConnectionError" in text or "NameResolutionError" in text
        or "Connection refused" in text)


def transport_error(call: str, exc: requests.RequestException, base_url: str) -> WiroError:
    """A failure with no answer, as the error it means for this call."""
    name = type(exc).__name__
    if connection_never_made(exc):
        return WiroConnectionError(f"Could not reach Wiro at {base_url} ({name}).",
                                   never_sent=True)
    if call.startswith("Run/"):
        return RunMaybeStartedError(
            f"The Run request was sent but no answer came back ({name}).")
    if isinstance(exc, requests.Timeout):
        return WiroTimeoutError(f"Wiro did not answer {call} in time.")
    return WiroConnectionError(f"The connection to Wiro at {base_url} broke during {call} "
                               f"({name}).")


def retrying(attempt: Callable[[], T], policy: CallPolicy, within: float,
             stop: threading.Event | None = None) -> T:
    """`attempt()` until it returns, its error may not be repeated under `policy`, or the next
    try would start more than `within` seconds after the first (0: one try). Setting `stop`
    ends the wait early; the last error is raised."""
    ends = time.monotonic() + within
    failures = 0
    while True:
        try:
            return attempt()
        except WiroError as exc:
            failures += 1
            delay = backoff(failures, getattr(exc, "retry_after", None))
            if (not policy.may_repeat(exc) or failures == policy.attempts
                    or time.monotonic() + delay > ends):
                raise
            if stop is None:
                time.sleep(delay)
            elif stop.wait(delay):
                raise
