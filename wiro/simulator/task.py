"""One simulated task: its schedule, the status it has at a given time, and its JSON.

Nothing here runs in the background. A task stores when it was created and when anything
was done to it (released from a hold, cancelled); its status at any moment is computed
from those and a fixed schedule, so a fake clock gives exactly repeatable walks.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .. import pricing, spec
from ..statuses import TaskStatus
from .run_inputs import RunInputs

S = TaskStatus
PROGRESS_STEPS_TOTAL = 28  # sampler steps the fake progress reports count through
OUTPUT_TICKS = 6  # task_output events: 0 %, 20 %, ... 100 %

# Model metadata Wiro repeats on every task (categories as the seed lists them).
CATEGORIES = json.dumps(["tool", "bfl", "text-to-image", "partner", "flux-2-pro",
                         "image-to-image", "image-editing"], separators=(",", ":"))
PROJECT_ID = "1001"
MODEL_ID = "2001"
MODEL_DESCRIPTION = "Flux 2 Pro model"
# A task killed while it runs is charged by the second, as the seed's Kill answer shows
# (cps 0.000585 x 6 s = totalcost 0.00351), never more than the whole run would cost.
KILL_CPS = 0.000585

# Stages: 0 = queued; 1 = a worker has it, up to the last task_output; 2 = after that.
# hold_in_queue stretches the gap before stage 1, hold_running the gap before stage 2.
QUEUED, WORKING, FINISHING = 0, 1, 2


@dataclass(frozen=True)
class Step:
    status: TaskStatus
    offset: float  # seconds after creation at pace 1.0
    stage: int
    percentage: int | None = None  # task_output progress


def build_steps(failing: bool, before_start: bool = False) -> tuple[Step, ...]:
    """About 5.6 s end to end at pace 1.0, in LIFECYCLE order, like the seed's timestamps.
    `before_start`: the task fails while being prepared and ends at task_error, the status
    Wiro records for a failure before the model runs (Wiro-MCP)."""
    if before_start:
        return (Step(S.QUEUE, 0.0, QUEUED), Step(S.ACCEPT, 0.4, WORKING),
                Step(S.PREPROCESS_START, 0.6, WORKING), Step(S.ERROR, 0.9, WORKING))
    steps = [
        Step(S.QUEUE, 0.0, QUEUED),
        Step(S.ACCEPT, 0.4, WORKING),
        Step(S.PREPROCESS_START, 0.6, WORKING),
        Step(S.PREPROCESS_END, 0.9, WORKING),
        Step(S.ASSIGN, 1.2, WORKING),
        Step(S.START, 2.0, WORKING),
    ]
    ticks = OUTPUT_TICKS // 2 if failing else OUTPUT_TICKS  # a failing model stops halfway
    for n in range(ticks):
        steps.append(Step(S.OUTPUT, 2.2 + 0.4 * n, WORKING,
                          percentage=round(100 * n / (OUTPUT_TICKS - 1))))
    if failing:
        steps.append(Step(S.ERROR, 2.2 + 0.4 * ticks, WORKING))
    steps.append(Step(S.OUTPUT_FULL, 4.5, FINISHING))
    if failing:
        steps.append(Step(S.ERROR_FULL, 4.5, FINISHING))
    steps += [
        Step(S.END, 4.7, FINISHING),
        Step(S.POSTPROCESS_START, 5.0, FINISHING),
        Step(S.POSTPROCESS_END, 5.6, FINISHING),
    ]
    return tuple(steps)


@dataclass
class Output:
    id: str
    parentid: str
    accesskey: str
    path: str  # /cdn/<id>/0.<ext>
    name: str
    content_type: str
    data: bytes = field(repr=False)
    added: float

    def to_json(self, task_uuid: str, base_url: str) -> dict[str, Any]:
        stamp = _stamp(self.added)
        return {
            "id": self.id, "name": self.name, "contenttype": self.content_type,
            "parentid": self.parentid, "uuid": task_uuid, "size": str(len(self.data)),
            "addedtime": stamp, "modifiedtime": stamp, "accesskey": self.accesskey,
            "foldercount": "0", "filecount": "0", "ispublic": 0, "expiretime": None,
            "url": base_url + self.path,
        }


def _stamp(t: float | None) -> str:
    return "0" if t is None or math.isinf(t) else str(int(t))


def _progress_message(percentage: int, elapsed: float) -> dict[str, str]:
    current = round(PROGRESS_STEPS_TOTAL * percentage / 100)
    remaining = elapsed * (100 - percentage) / percentage if percentage else 0.0
    return {
        "type": "progressGenerate", "task": "Generate", "percentage": str(percentage),
        "stepCurrent": str(current), "stepTotal": str(PROGRESS_STEPS_TOTAL),
        "speed": "", "speedType": "it/s",
        "elapsedTime": f"{elapsed:.0f}s", "remainingTime": f"{remaining:.0f}s",
    }


def _log_line(percentage: int) -> str:
    current = round(PROGRESS_STEPS_TOTAL * percentage / 100)
    return f"{percentage:3d}%| {current}/{PROGRESS_STEPS_TOTAL}"


@dataclass
class SimTask:
    id: str
    uuid: str
    token: str
    inputs: RunInputs
    created: float
    pace: float
    width: int  # output size, "match the input" already resolved
    height: int
    fail_reason: str | None = None
    fails_before_start: bool = False  # fail_reason is then a failure before the model ran
    slug: str = spec.MODEL_SLUG
    price: pricing.PixelPrice = pricing.BFL_PRICE  # the price list's rule when it was made
    hold_in_queue: bool = False
    hold_running: bool = False
    queue_released: float | None = None
    running_released: float | None = None
    cancelled_at: float | None = None
    output: Output | None = None
    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        self.steps = build_steps(self.fail_reason is not None, self.fails_before_start)

    # --- time line ------------------------------------------------------------------

    def _first(self, stage: int) -> Step | None:
        return next((s for s in self.steps if s.stage == stage), None)

    def _nominal(self, step: Step) -> float:
        return self.created + step.offset * self.pace

    def _delays(self) -> tuple[float, float]:
        """Extra seconds before stage 1 and before stage 2 that holds have added."""
        queue_delay = 0.0
        if self.hold_in_queue:
            released = self.queue_released
            queue_delay = math.inf if released is None else max(
                0.0, released - self._nominal(self._first(WORKING)))
        running_delay = 0.0
        if self.hold_running and self._first(FINISHING) is not None:
            released = self.running_released
            running_delay = math.inf if released is None else max(
                0.0, released - self._nominal(self._first(FINISHING)) - queue_delay)
        return queue_delay, running_delay

    def step_time(self, step: Step) -> float:
        queue_delay, running_delay = self._delays()
        return (self._nominal(step) + (queue_delay if step.stage >= WORKING else 0.0)
                + (running_delay if step.stage >= FINISHING else 0.0))

    def reached(self, now: float) -> list[tuple[Step, float]]:
        """Steps that have happened by `now`, with their times, oldest first."""
        limit = now if self.cancelled_at is None else min(now, self.cancelled_at)
        done = []
        for step in self.steps:
            t = self.step_time(step)
            if t > limit:
                break  # times never decrease along the schedule
            done.append((step, t))
        return done

    def status(self, now: float) -> TaskStatus:
        """The status Wiro records (Detail's): the model's stderr lines, task_error and
        task_error_full, are socket events only; Detail's task_error is the end of a task that
        failed before the model ran (Wiro-MCP)."""
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return S.CANCEL
        done = [step for step, _ in self.reached(now)
                if self.fails_before_start or step.status not in (S.ERROR, S.ERROR_FULL)]
        return done[-1].status if done else S.QUEUE

    def time_of(self, status: TaskStatus, now: float) -> float | None:
        for step, t in self.reached(now):
            if step.status is status:
                return t
        return None

    @property
    def failed(self) -> bool:
        return self.fail_reason is not None

    def succeeded(self, now: float) -> bool:
        return not self.failed and self.status(now) is S.POSTPROCESS_END

    def ended(self, now: float) -> bool:
        status = self.status(now)
        return status.is_terminal or (self.fails_before_start and status is S.ERROR)

    # --- money ---------------------------------------------------------------------------

    def input_sizes(self) -> list[tuple[int, int]]:
        # A URL is never fetched; bill it as a default-sized image.
        fallback = (spec.WIDTH.default, spec.HEIGHT.default)
        return [image.size or fallback for image in self.inputs.images]

    def cost(self) -> float:
        """What a whole run costs under the price list (the Tool/Detail the simulator serves)."""
        return pricing.estimate_cost(self.width, self.height,
                                     pricing.input_megapixels(self.input_sizes()), self.price)

    def charge(self, now: float, elapsed: float) -> tuple[float, float]:
        """(totalcost, cps) now: a finished image costs the whole run; a task killed while
        the model ran, KILL_CPS per second it ran; anything else, nothing."""
        if self.succeeded(now):
            cost = self.cost()
            return cost, (cost / elapsed if elapsed else 0.0)
        if self.status(now) is S.CANCEL and self.time_of(S.START, now) is not None:
            return min(self.cost(), KILL_CPS * elapsed), KILL_CPS
        return 0.0, 0.0

    # --- what Wiro shows -----------------------------------------------------------------

    def log(self, now: float) -> str:
        return "\n".join(_log_line(step.percentage) for step, _ in self.reached(now)
                         if step.percentage is not None)

    def events(self, now: float, base_url: str) -> list[tuple[str, Any, float]]:
        """(status, websocket message, time) for everything the task went through."""
        events: list[tuple[str, Any, float]] = []
        started = self.time_of(S.START, now)
        for step, t in self.reached(now):
            message: Any = None
            if step.percentage is not None:
                message = _progress_message(step.percentage, t - (started or t))
            elif step.status is S.ERROR:  # the model's stderr, or the failure before it ran
                message = self.fail_reason
            elif step.status is S.OUTPUT_FULL:
                message = {"raw": self.log(now)}
            elif step.status is S.ERROR_FULL:
                message = {"raw": self.fail_reason}
            elif step.status is S.POSTPROCESS_END:
                message = self.outputs_json(now, base_url)
            events.append((step.status.value, message, t))
        if self.cancelled_at is not None and now >= self.cancelled_at:
            events.append((S.CANCEL.value, None, self.cancelled_at))
        return events

    def outputs_json(self, now: float, base_url: str) -> list[dict[str, Any]]:
        if self.output is None or not self.succeeded(now):
            return []
        return [self.output.to_json(self.uuid, base_url)]

    def parameters_json(self, base_url: str) -> dict[str, str]:
        parameters = dict(self.inputs.parameters)
        if self.inputs.images:
            parameters[spec.INPUT_IMAGE.name] = ",".join(
                image.public_url(base_url) for image in self.inputs.images)
        return parameters

    def to_json(self, now: float, base_url: str) -> dict[str, Any]:
        """Every field of the seed's task objects, values as strings like Wiro's."""
        status = self.status(now)
        at = {step.status: t for step, t in self.reached(now)}
        start, end = at.get(S.START), at.get(S.END)
        stop = end if end is not None else (self.cancelled_at or now)
        elapsed = max(0.0, stop - start) if start is not None else 0.0
        cost, cps = self.charge(now, elapsed)
        outputs = self.outputs_json(now, base_url)
        # No exit code until the model process has exited (Wiro-MCP's fixtures: "").
        pexit = "" if end is None else "1" if self.failed else "0"
        owner, _, project = self.slug.partition("/")
        return {
            "id": self.id,
            "uuid": self.uuid,
            "name": "",
            "socketaccesstoken": self.token,
            "parameters": self.parameters_json(base_url),
            "debugoutput": self.log(now),
            "debugerror": (self.fail_reason or "") if S.ERROR in at else "",
            "starttime": _stamp(start),
            "endtime": _stamp(end),
            "elapsedseconds": f"{elapsed:.4f}",
            "status": status.value,
            "cps": f"{cps:.12f}" if cps else "0",
            "totalcost": f"{cost:.12f}" if cost else "0",
            "guestid": None,
            "projectid": PROJECT_ID,
            "modelid": MODEL_ID,
            "description": "",
            "basemodelid": "0",
            "runtype": "model",
            "modelfolderid": "",
            "modelfileid": "",
            "callbackurl": self.inputs.callback_url,
            "marketplaceid": None,
            "createtime": _stamp(self.created),
            "canceltime": _stamp(self.cancelled_at if status is S.CANCEL else None),
            "assigntime": _stamp(at.get(S.ASSIGN)),
            "accepttime": _stamp(at.get(S.ACCEPT)),
            "preprocessstarttime": _stamp(at.get(S.PREPROCESS_START)),
            "preprocessendtime": _stamp(at.get(S.PREPROCESS_END)),
            "postprocessstarttime": _stamp(at.get(S.POSTPROCESS_START)),
            "postprocessendtime": _stamp(at.get(S.POSTPROCESS_END)),
            "pexit": pexit,
            "categories": CATEGORIES,
            "modeldescription": MODEL_DESCRIPTION,
            "modelslugowner": owner,
            "modelslugproject": project,
            "outputs": outputs,
            "size": str(sum(int(o["size"]) for o in outputs)),
        }
