"""What follows every input change: the estimate beside Generate, the marks on a size or
seed the model would refuse, the request as code, the side-by-side estimate, and the status,
where a refusal of inputs since changed would be stale."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from wiro import spec

from .. import cost
from .. import status as run_status
from .compare import SideBySide, runs_for
from .form import CodePanel, Form, field_marks


@dataclass
class Followers:
    form: Form
    estimate: gr.HTML
    size_marks: gr.HTML
    seed_marks: gr.HTML
    code: CodePanel
    compare: SideBySide
    status: gr.HTML

    @property
    def inputs(self) -> set:
        return self.form.model | {self.compare.seeds, self.code.open, self.status}

    @property
    def outputs(self) -> set:
        return {self.estimate, self.size_marks, self.seed_marks, self.code.curl,
                self.code.python, self.compare.cost, self.status}

    def changed(self, data: dict) -> dict:
        values = self.form.values(data)
        estimate = cost.estimate(values)
        missing = cost.size_problem(values) if estimate is None else ""
        simulated = self.compare.page.backend.is_simulator
        return {self.estimate: cost.estimate_html(estimate, missing=missing, simulated=simulated),
                self.size_marks: field_marks(width=values[spec.WIDTH.name],
                                             height=values[spec.HEIGHT.name]),
                self.seed_marks: field_marks(seed=values[spec.SEED.name]),
                # A refusal spoke of the inputs as they were: once changed, it is stale.
                self.status: run_status.to_html(run_status.IDLE)
                if run_status.kind_of(data[self.status]) in ("invalid", "refused")
                else gr.skip(),
                **(self.code.blocks(values) if data[self.code.open] else
                   {self.code.curl: gr.skip(), self.code.python: gr.skip()}),
                self.compare.cost: cost.estimate_html(estimate, runs_for(data[self.compare.seeds]),
                                                      missing, simulated)}
