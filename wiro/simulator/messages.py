"""Wiro's response texts and envelopes, kept in one place so the simulator says them alike."""
from __future__ import annotations

from typing import Any

# Authentication (HTTP 401, code 0)
KEY_NOT_FOUND = "Project authorization is not founded."
SIGNATURE_REQUIRED = ("Project requires signature authentication. x-signature and x-nonce "
                      "headers are required.")
SIGNATURE_INVALID = "Project authorization is not valid."
URL_NOT_FOUND = "Error parsing url."  # HTTP 404

# Run
PARAM_REQUIRED = "Request parameter [{name}] required"
PARAM_NOT_NUMBER = "Request parameter [{name}] must be integer or float"
PARAM_OUT_OF_RANGE = "Request parameter [{name}] must be between {min} and {max}"
# Wiro's documented list has no wording for these two; the simulator's own, same style.
PARAM_NOT_INTEGER = "Request parameter [{name}] must be integer"
PARAM_NOT_OPTION = "Request parameter [{name}] must be one of {options}"
TOO_MANY_FILES = "Request files [{name}] must be at most {max}"
PARAM_NOT_MULTIPLE = "Request parameter [{name}] must be a multiple of {step}"
BODY_INVALID = "Request parameters are invalid."
MODEL_NOT_FOUND = "slug-owner-project-not-exist"
CONCURRENCY_LIMIT = ("You have reached your concurrent task limit. With your current balance "
                     "of ${balance:.2f}, you can run up to {limit} tasks at the same time. Add "
                     "funds to increase your limit.")
INSUFFICIENT_BALANCE = "Insufficient balance"
SIGN_IN_REQUIRED = "sign in to run this model"
TOKEN_INVALID = "Authorization bearer token is invalid."
PERMISSION_DENIED = "You don't have any permission for this action."  # HTTP 403 here

# Task/*
TASK_KEYS_REQUIRED = "Request parameter [{keys}] required"
NO_TASK = "There is no task yet."
NOT_CANCELLABLE = "Task is not in a cancellable state."
KILL_FAILED = "Task could not be killed: {reason}"
KILL_QUEUED = "task is still queued (use Task/Cancel)"
KILL_ENDED = "task is not running"
SERVER_ERROR = "Simulated server error."
RATE_LIMITED = "Too many requests, please slow down."

# What an injected "error_code:<n>" says, per code, when the endpoint has no better text.
FAULT_MESSAGES = {
    0: SERVER_ERROR,
    1: NO_TASK,
    96: CONCURRENCY_LIMIT.format(balance=10.0, limit=1),
    97: INSUFFICIENT_BALANCE,
    98: SIGN_IN_REQUIRED,
    99: TOKEN_INVALID,
    429: RATE_LIMITED,
}


def error_body(code: int, message: str) -> dict[str, Any]:
    return {"result": False, "errors": [{"code": code, "message": message}]}


def fault_message(endpoint: str, code: int) -> str:
    if endpoint == "run" and code == 1:
        return MODEL_NOT_FOUND
    return FAULT_MESSAGES.get(code, SERVER_ERROR)


class WiroReply(Exception):
    """A finished answer raised from deep inside the state: (HTTP status, JSON body)."""

    def __init__(self, status: int, body: dict[str, Any]):
        super().__init__(status, body)
        self.status = status
        self.body = body

    @classmethod
    def error(cls, code: int, message: str, status: int = 200) -> WiroReply:
        return cls(status, error_body(code, message))
