"""A run's status as data, and its two renderings: HTML for the page, text for API callers.

Everything that reports on a run builds a `RunStatus`; only this module turns one into
markup, so the page and the API always say the same words.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

# idle: nothing yet · running: under way · done: image delivered · stopped: Stop / cancel ·
# invalid: refused by validation (nothing sent) · refused: a cap said no (nothing sent) ·
# error: failed (the detail says whether anything was charged and what was stopped)
KINDS = ("idle", "running", "done", "stopped", "invalid", "refused", "error")


@dataclass(frozen=True)
class RunStatus:
    kind: str
    title: str
    detail: str = ""  # plain text; one line per "\n"
    problems: tuple[str, ...] = field(default=())  # a bulleted list (what to fix)
    fraction: float | None = None  # 0..1 for a progress bar; None: no bar
    wiro_status: str = ""  # Wiro's own status word, e.g. task_postprocess_end
    elapsed: float | None = None  # seconds since Generate

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown status kind {self.kind!r}")
        object.__setattr__(self, "problems", tuple(self.problems))

    def text(self) -> str:
        """Plain words for API callers and logs: title, detail, then one problem a line."""
        lines = [self.title, *self.detail.splitlines(), *(f"- {p}" for p in self.problems)]
        return "\n".join(line.strip() for line in lines if line.strip())


# A sign beside the title, so a status never depends on colour alone.
_SIGNS = {"idle": "", "running": "", "done": "✓", "stopped": "■", "invalid": "!",
          "refused": "!", "error": "✕"}


def to_html(status: RunStatus, frame: tuple[int, int] | None = None) -> str:
    """The status area: a title, elapsed time, a bar while running, the detail, problems.

    `frame` (width, height): while running, the bar sits in a box of the result's shape,
    where the image will appear. Colours come from the stylesheet (theme variables)."""
    kind = status.kind
    parts = [f'<div class="run-status run-{kind}" data-kind="{kind}" '
             f'data-status="{html.escape(status.wiro_status)}">']
    sign = _SIGNS.get(kind, "")
    parts.append('<div class="run-title">')
    if sign:
        parts.append(f'<span class="run-sign" aria-hidden="true">{sign}</span> ')
    parts.append(html.escape(status.title))
    if status.elapsed is not None:
        parts.append(f' <span class="run-elapsed">{status.elapsed:.1f} s</span>')
    parts.append("</div>")
    if status.fraction is not None:
        pct = round(max(0.0, min(status.fraction, 1.0)) * 100)
        bar = (f'<div class="run-bar" role="progressbar" aria-valuenow="{pct}" '
               f'aria-valuemin="0" aria-valuemax="100" aria-label="Progress">'
               f'<div style="width:{pct}%"></div></div>')
        if kind == "running" and frame and all(frame):
            ratio = f"{int(frame[0])}/{int(frame[1])}"
            bar = (f'<div class="run-frame" style="aspect-ratio:{ratio}">'
                   '<div class="run-frame-inner"><span class="run-frame-note">The image will '
                   f"appear here</span>{bar}</div></div>")
        parts.append(bar)
    if status.detail:
        body = "<br>".join(html.escape(line) for line in status.detail.splitlines())
        parts.append(f'<div class="run-body">{body}</div>')
    if status.problems:
        items = "".join(f"<li>{html.escape(p)}</li>" for p in status.problems)
        parts.append(f'<div class="run-body"><ul>{items}</ul></div>')
    parts.append("</div>")
    return "".join(parts)


IDLE = RunStatus("idle", "Ready. Press Generate.")
_KIND = re.compile(r'data-kind="([a-z]+)"')


def kind_of(markup: str | None) -> str:
    """The kind of status a rendering shows ("" if none)."""
    found = _KIND.search(markup or "")
    return found.group(1) if found else ""
