"""Typed views of Wiro's JSON (tasks, a stop's outcome, the model's own description),
parsed in one place."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import pricing, spec
from .errors import UnexpectedResponseError
from .statuses import TaskStatus


def parse_number(raw: Any) -> float | None:
    """A number Wiro sent (as a string or not); None when it is not one."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return None if value != value else value


def _model_of(data: dict) -> str:
    owner, project = (str(data.get(k) or "").strip().lower()
                      for k in ("modelslugowner", "modelslugproject"))
    return f"{owner}/{project}" if owner and project else ""


@dataclass(frozen=True)
class TaskOutput:
    name: str
    url: str
    content_type: str
    size: int
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> TaskOutput:
        return cls(
            name=str(data.get("name", "")),
            url=str(data.get("url", "")),
            content_type=str(data.get("contenttype", "")),
            size=int(parse_number(data.get("size")) or 0),
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
    created_at: float | None = None  # `createtime`, unix seconds (whole seconds at Wiro)
    model: str = ""  # "owner/project" from `modelslugowner`/`modelslugproject`, "" if absent

    @classmethod
    def from_json(cls, data: dict) -> Task:
        pexit = data.get("pexit")
        return cls(
            id=str(data.get("id", "")),
            token=str(data.get("socketaccesstoken", "")),
            status=TaskStatus.parse(str(data.get("status", ""))),
            pexit=None if pexit is None else str(pexit),
            outputs=tuple(TaskOutput.from_json(o) for o in data.get("outputs") or ()),
            total_cost=parse_number(data.get("totalcost")) or 0.0,
            elapsed_seconds=parse_number(data.get("elapsedseconds")) or 0.0,
            debug_error=str(data.get("debugerror") or ""),
            parameters=dict(data.get("parameters") or {}),
            raw=dict(data),
            status_text=str(data.get("status", "")),
            created_at=parse_number(data.get("createtime")) or None,
            model=_model_of(data),
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
        # On Detail, task_error is Wiro's record of a task that failed before the model ran
        # (Wiro-MCP treats it as final); on the socket the same word is an interim stderr line.
        return self.status.is_terminal or self.status is TaskStatus.ERROR

    @property
    def reported_cost(self) -> float | None:
        """`totalcost` as Wiro reported it; None when the answer carried no readable one."""
        cost = parse_number(self.raw.get("totalcost"))
        return None if cost is None or cost < 0 else cost

    @property
    def succeeded(self) -> bool:
        # Wiro: the status alone does not tell success; pexit "0" with outputs does.
        return self.status is TaskStatus.POSTPROCESS_END and self.deliverable

    @property
    def failed(self) -> bool:
        return (self.status is TaskStatus.POSTPROCESS_END and not self.succeeded
                or self.status is TaskStatus.ERROR)

    @property
    def cancelled(self) -> bool:
        return self.status is TaskStatus.CANCEL


@dataclass(frozen=True)
class StopOutcome:
    """What stopping a task did.

    action: "cancelled" (Cancel said yes), "killed" (Kill said yes), "already_ended" (it had
    ended on its own), or "unconfirmed" (neither call could be confirmed: it may still run,
    and be charged). `before` is the status it was last seen in; `task` the confirming
    Detail (else the task Kill/Cancel answered with), None when neither came; `error` why an
    unconfirmed stop failed. `charged_usd` is what Wiro says the task cost: a killed task
    that had started may be charged in part (the seed's Kill answer shows a totalcost);
    None when Wiro did not say, 0.0 when it says nothing was charged."""

    taskid: str
    action: str
    before: TaskStatus | None = None
    task: Task | None = field(default=None, repr=False)
    error: str = ""
    charged_usd: float | None = None

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


def _listed_task(entry: Any) -> Task | None:
    """A Task/List entry as a Task, only if it has what this client relies on: an id, a
    socket token, a status word and a creation time."""
    if not isinstance(entry, dict):
        return None
    taskid, token, status = entry.get("id"), entry.get("socketaccesstoken"), entry.get("status")
    created = parse_number(entry.get("createtime"))
    if (not isinstance(taskid, (str, int)) or isinstance(taskid, bool) or not str(taskid).strip()
            or not isinstance(token, str) or not token.strip()
            or not isinstance(status, str) or not status
            or created is None or created <= 0):
        return None
    return Task.from_json(entry)


@dataclass(frozen=True)
class TaskList:
    """One page of POST /Task/List (shaped like Detail's answer): the entries that read as
    tasks, newest first; the ones that did not, as sent; Wiro's `total` (None if unreadable)."""

    tasks: tuple[Task, ...]
    unreadable: tuple[Any, ...] = ()
    total: int | None = None

    @classmethod
    def from_json(cls, data: dict) -> TaskList:
        entries = data.get("tasklist")
        if not isinstance(entries, list):
            raise UnexpectedResponseError("Wiro's Task/List answer has no tasklist.")
        read = [(entry, _listed_task(entry)) for entry in entries]
        total = parse_number(data.get("total"))
        return cls(tasks=tuple(t for _, t in read if t is not None),
                   unreadable=tuple(e for e, t in read if t is None),
                   total=int(total) if total is not None and total >= 0 else None)


@dataclass(frozen=True)
class ModelDetail:
    """The model as Wiro describes it (POST /Tool/Detail): its inputs, its "inspirations"
    and its price list. `raw` is Wiro's tool object as sent (JSON, to keep and re-read with
    `from_json`); `dynamic_price` its `dynamicprice` entries, None when absent or unreadable."""

    slug: str
    parameters: list | None = field(repr=False)
    inspire: list = field(repr=False)
    dynamic_price: list[dict] | None
    raw: dict = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, tool: dict) -> ModelDetail:
        owner = tool.get("cleanslugowner") or tool.get("slugowner") or ""
        project = tool.get("cleanslugproject") or tool.get("slugproject") or ""
        parameters = tool.get("parameters")
        inspire = tool.get("inspire")
        return cls(slug=f"{owner}/{project}".lower(),
                   parameters=parameters if isinstance(parameters, list) else None,
                   inspire=inspire if isinstance(inspire, list) else [],
                   dynamic_price=pricing.parse_dynamic_price(tool.get("dynamicprice")),
                   raw=dict(tool))

    def drift(self) -> list[str]:
        return parameter_drift(self.parameters)


# Wiro's parameter types that mean the same as the seed's: the seed's model page says
# "number" where Tool/Detail's schema says "range" (a numeric field with min/max/step).
_SAME_TYPE = {"range": "number"}
_FILE_TYPES = {"fileinput", "multifileinput", "combinefileinput"}


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    number = parse_number(value)
    if number is not None and number == int(number):
        return str(int(number))
    return str(value)


def _same(ours: Any, theirs: Any) -> bool:
    a, b = parse_number(ours), parse_number(theirs)
    if a is not None and b is not None:
        return a == b
    return str(ours).strip() == str(theirs).strip()


def parameter_drift(parameters: Any) -> list[str]:
    """How Tool/Detail's `parameters` (groups of items: id, type, default, options, min,
    max) differ from wiro/spec.py's INPUTS, as short lines; [] when they agree.

    Names, types, defaults, ranges and options are compared; labels and help texts are not
    (wording), nor the defaults of file inputs (sample files, named differently)."""
    if not isinstance(parameters, list):
        return ["Tool/Detail lists no parameters to compare"]
    items: dict[str, dict] = {}
    for group in parameters:
        for item in (group.get("items") if isinstance(group, dict) else None) or ():
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
                items[item["id"]] = item
    drift = []
    for ours in spec.INPUTS:
        theirs = items.pop(ours.name, None)
        if theirs is None:
            drift.append(f"{ours.name}: not listed by Wiro")
            continue
        kind = str(theirs.get("type") or "")
        if _SAME_TYPE.get(kind, kind) != ours.kind:
            drift.append(f"{ours.name}: type {ours.kind} here, {kind or 'none'} at Wiro")
        default = theirs.get("default")
        if (ours.kind not in _FILE_TYPES and default not in (None, "")
                and not _same(ours.default, default)):
            drift.append(f"{ours.name}: default {_shown(ours.default)} here, "
                         f"{_shown(default)} at Wiro")
        low, high = parse_number(theirs.get("min")), parse_number(theirs.get("max"))
        if (low is not None and low != ours.minimum) or (high is not None and high != ours.maximum):
            drift.append(f"{ours.name}: range {_shown(ours.minimum)}–{_shown(ours.maximum)} "
                         f"here, {_shown(theirs.get('min'))}–{_shown(theirs.get('max'))} at Wiro")
        options = theirs.get("options")
        if isinstance(options, list) and options:
            values = sorted(str(o.get("value")) for o in options if isinstance(o, dict))
            if values != sorted(ours.option_values):
                drift.append(f"{ours.name}: options {', '.join(sorted(ours.option_values))} "
                             f"here, {', '.join(values)} at Wiro")
    drift += [f"{name}: new at Wiro ({item.get('type') or 'no type'})"
              for name, item in items.items()]
    return drift
