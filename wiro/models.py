"""Typed views of Wiro's task JSON, parsed in one place."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .statuses import TaskStatus


def _float(raw: Any, default: float = 0.0) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class TaskOutput:
    name: str
    url: str
    content_type: str
    size: int
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> "TaskOutput":
        return cls(
            name=str(data.get("name", "")),
            url=str(data.get("url", "")),
            content_type=str(data.get("contenttype", "")),
            size=int(_float(data.get("size"))),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Task:
    id: str
    token: str
    status: TaskStatus
    pexit: str | None
    outputs: tuple[TaskOutput, ...]
    total_cost: float
    elapsed_seconds: float
    debug_error: str
    parameters: dict = field(repr=False, compare=False, default_factory=dict)
    raw: dict = field(repr=False, compare=False, default_factory=dict)
    # Wiro's status word as sent: `status` maps one this client does not know to task_start.
    status_text: str = ""

    @classmethod
    def from_json(cls, data: dict) -> "Task":
        pexit = data.get("pexit")
        return cls(
            id=str(data.get("id", "")),
            token=str(data.get("socketaccesstoken", "")),
            status=TaskStatus.parse(str(data.get("status", ""))),
            pexit=None if pexit is None else str(pexit),
            outputs=tuple(TaskOutput.from_json(o) for o in data.get("outputs") or ()),
            total_cost=_float(data.get("totalcost")),
            elapsed_seconds=_float(data.get("elapsedseconds")),
            debug_error=str(data.get("debugerror") or ""),
            parameters=dict(data.get("parameters") or {}),
            raw=dict(data),
            status_text=str(data.get("status", "")),
        )

    @property
    def status_known(self) -> bool:
        return self.status.value == self.status_text

    @property
    def deliverable(self) -> bool:
        """Wiro's own test of success: pexit "0" with outputs, whatever the status says."""
        return self.pexit == "0" and bool(self.outputs)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def succeeded(self) -> bool:
        # Wiro: the status alone does not tell success; pexit "0" with outputs does.
        return self.status is TaskStatus.POSTPROCESS_END and self.deliverable

    @property
    def failed(self) -> bool:
        return self.status is TaskStatus.POSTPROCESS_END and not self.succeeded

    @property
    def cancelled(self) -> bool:
        return self.status is TaskStatus.CANCEL


@dataclass(frozen=True)
class StopOutcome:
    """What stopping a task did.

    action: "cancelled" (Cancel said yes), "killed" (Kill said yes), "already_ended" (it had
    ended on its own), or "unconfirmed" (neither call could be confirmed: it may still run,
    and be charged). `before` is the status it was last seen in; `task` the confirming
    Detail, None when that did not answer; `error` why an unconfirmed stop failed."""

    taskid: str
    action: str
    before: TaskStatus | None = None
    task: Task | None = field(default=None, repr=False)
    error: str = ""

    @property
    def confirmed(self) -> bool:
        return self.action != "unconfirmed"

    @property
    def cancelled(self) -> bool:
        return self.action in ("cancelled", "killed") or bool(self.task and self.task.cancelled)

    @property
    def succeeded(self) -> bool:
        """It had already finished with an image."""
        return bool(self.task and self.task.succeeded)
