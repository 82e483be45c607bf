"""Wiro task statuses: which mean "keep waiting" and which mean "done"."""
from __future__ import annotations

from enum import Enum


class TaskStatus(str, Enum):
    QUEUE = "task_queue"
    ACCEPT = "task_accept"
    ASSIGN = "task_assign"
    PREPROCESS_START = "task_preprocess_start"
    PREPROCESS_END = "task_preprocess_end"
    START = "task_start"
    OUTPUT = "task_output"
    OUTPUT_FULL = "task_output_full"
    ERROR = "task_error"
    ERROR_FULL = "task_error_full"
    END = "task_end"
    POSTPROCESS_START = "task_postprocess_start"
    POSTPROCESS_END = "task_postprocess_end"
    CANCEL = "task_cancel"

    @property
    def is_terminal(self) -> bool:
        # task_end comes before post-processing: the outputs are not there yet. task_error is
        # not here: on the socket it is a line of stderr (Task.is_terminal reads Detail's).
        return self in TERMINAL

    @property
    def phase(self) -> str:
        """A word a person understands, for status lines."""
        return PHASES[self]

    @classmethod
    def parse(cls, raw: str) -> TaskStatus:
        try:
            return cls(raw)
        except ValueError:
            # An unknown status must not end polling early; treat it as still running.
            return cls.START


TERMINAL = frozenset({TaskStatus.POSTPROCESS_END, TaskStatus.CANCEL})

PHASES = {
    TaskStatus.QUEUE: "queued",
    TaskStatus.ACCEPT: "preparing",
    TaskStatus.ASSIGN: "preparing",
    TaskStatus.PREPROCESS_START: "preparing",
    TaskStatus.PREPROCESS_END: "preparing",
    TaskStatus.START: "generating",
    TaskStatus.OUTPUT: "generating",
    TaskStatus.ERROR: "generating",
    TaskStatus.OUTPUT_FULL: "finishing",
    TaskStatus.ERROR_FULL: "finishing",
    TaskStatus.END: "finishing",
    TaskStatus.POSTPROCESS_START: "finishing",
    TaskStatus.POSTPROCESS_END: "done",
    TaskStatus.CANCEL: "cancelled",
}

# The order a task walks through (tasks.md); the simulator follows it and the page uses
# it for a coarse progress figure when the model reports no percentage.
LIFECYCLE: tuple[TaskStatus, ...] = (
    TaskStatus.QUEUE,
    TaskStatus.ACCEPT,
    TaskStatus.PREPROCESS_START,
    TaskStatus.PREPROCESS_END,
    TaskStatus.ASSIGN,
    TaskStatus.START,
    TaskStatus.OUTPUT,
    TaskStatus.OUTPUT_FULL,
    TaskStatus.END,
    TaskStatus.POSTPROCESS_START,
    TaskStatus.POSTPROCESS_END,
)


def lifecycle_fraction(status: TaskStatus) -> float:
    if status in LIFECYCLE:
        return LIFECYCLE.index(status) / (len(LIFECYCLE) - 1)
    return LIFECYCLE.index(TaskStatus.OUTPUT) / (len(LIFECYCLE) - 1)
