"""What follows every input change: the estimate beside Generate, the marks on a size or
seed the model would refuse, the request as code, and the side-by-side estimate."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from wiro import spec

from .. import cost, snippets
from .compare import SideBySide, runs_for
from .form import Form, field_marks


@dataclass
class Followers:
    form: Form
    estimate: gr.HTML
    size_marks: gr.HTML
    seed_marks: gr.HTML
    curl: gr.Code
    python: gr.Code
    compare: SideBySide

    @property
    def inputs(self) -> set:
        return self.form.model | {self.compare.seeds}

    @property
    def outputs(self) -> set:
        return {self.estimate, self.size_marks, self.seed_marks, self.curl, self.python,
                self.compare.cost}

    def changed(self, data: dict) -> dict:
        values = self.form.values(data)
        estimate = cost.estimate(values)
        missing = cost.size_problem(values) if estimate is None else ""
        simulated = self.compare.page.backend.is_simulator
        return {self.estimate: cost.estimate_html(estimate, missing=missing, simulated=simulated),
                self.size_marks: field_marks(width=values[spec.WIDTH.name],
                                             height=values[spec.HEIGHT.name]),
                self.seed_marks: field_marks(seed=values[spec.SEED.name]),
                self.curl: snippets.curl(values), self.python: snippets.python(values),
                self.compare.cost: cost.estimate_html(estimate, runs_for(data[self.compare.seeds]),
                                                      missing, simulated)}
