"""Side by side: the same inputs with 2–4 seeds, one row of results captioned by seed.

A slot shows its image (labelled with its seed), its status and, only while its run is
going, its own Stop. A refusal of the whole batch (bad seeds, not confirmed, bad inputs, a
cap) is said once, above the row, and the row stays hidden."""
from __future__ import annotations

from typing import Iterator

import gradio as gr

from wiro import spec

from .. import admission, cost, side_by_side
from .. import history as hist
from ..page import DemoPage
from ..status import RunStatus, to_html
from .form import Form

SLOTS = side_by_side.MAX_SEEDS
NOT_RUN = ("invalid", "refused")


def runs_for(seeds_text: str) -> int:
    seeds, problems = side_by_side.parse_seeds(seeds_text)
    return side_by_side.MIN_SEEDS if problems else len(seeds)


class SideBySide:
    def __init__(self, page: DemoPage, form: Form, estimate: dict):
        self.page, self.form = page, form
        with gr.Row(equal_height=True):
            self.seeds = gr.Textbox(label="Seeds to compare (2–4, commas between)",
                                    value=side_by_side.default_seeds(spec.SEED.default),
                                    scale=3, elem_id="sbs-seeds")
            with gr.Column(scale=3):
                self.cost = gr.HTML(cost.estimate_html(cost.estimate(estimate),
                                                       side_by_side.MIN_SEEDS,
                                                       simulated=self.simulated),
                                    elem_id="sbs-cost")
                self.confirm = gr.Checkbox(label=self.confirm_label(side_by_side.MIN_SEEDS),
                                           value=False, elem_id="sbs-confirm")
            self.run_button = gr.Button("Compare seeds", variant="primary", scale=2,
                                        elem_id="sbs-run")
        self.runs_shown = gr.State(side_by_side.MIN_SEEDS)  # the N the checkbox's label states
        self.status = gr.HTML("", elem_id="sbs-status")
        self.cost_line = gr.HTML("", elem_id="sbs-cost-compare")
        self.columns, self.images, self.statuses, self.stops = [], [], [], []
        with gr.Row(equal_height=False, elem_id="sbs-row"):
            for slot in range(1, SLOTS + 1):
                with gr.Column(visible=False, min_width=160, elem_id=f"sbs-slot-{slot}") as col:
                    self.columns.append(col)
                    self.images.append(gr.Image(label=f"Run {slot}", type="filepath",
                                                interactive=False, buttons=["fullscreen"],
                                                elem_id=f"sbs-image-{slot}"))
                    self.statuses.append(gr.HTML("", elem_id=f"sbs-status-{slot}"))
                    self.stops.append(gr.Button(f"Stop seed {slot}", size="sm", visible=False,
                                                elem_id=f"sbs-stop-{slot}"))

    @property
    def simulated(self) -> bool:
        return self.page.backend.is_simulator

    def confirm_label(self, runs: int) -> str:
        return side_by_side.confirm_label(runs, simulated=self.simulated)

    @property
    def outputs(self) -> set:
        return {self.status, self.cost_line, self.confirm, self.run_button, *self.columns,
                *self.images, *self.statuses, *self.stops}

    def seeds_changed(self, data: dict) -> dict:
        """A new number of runs needs a new confirmation; the same number keeps it."""
        runs = runs_for(data[self.seeds])
        if runs == data[self.runs_shown]:
            # Explicit skips: Gradio reads an empty dict as one (missing) output value.
            return {self.confirm: gr.skip(), self.runs_shown: gr.skip()}
        return {self.confirm: gr.Checkbox(label=self.confirm_label(runs), value=False),
                self.runs_shown: runs}

    def said_once(self, status: RunStatus) -> dict:
        return {self.status: to_html(status), self.run_button: gr.Button(interactive=True),
                **{column: gr.Column(visible=False) for column in self.columns}}

    def slot_view(self, index: int, seed: int, update) -> dict:
        status = update.status if update else RunStatus("running", "Waiting to start…",
                                                        fraction=0.0)
        head = f'<div class="sbs-seed" data-seed="{seed}">Seed {seed}</div>'
        return {self.statuses[index]: head + to_html(status),
                self.stops[index]: gr.Button(visible=not (update and update.finished))}

    def attach_history(self, history: gr.State, history_html: gr.HTML) -> None:
        """The session's history (laid out below this panel) records every finished run."""
        self.history, self.history_html = history, history_html

    @property
    def inputs(self) -> set:
        return self.form.model | {self.form.key, self.form.secret, self.seeds, self.confirm,
                                  self.history}

    def run(self, data: dict, request: gr.Request) -> Iterator[dict]:
        session, history, history_html = request.session_hash, self.history, self.history_html
        seeds, problems = side_by_side.parse_seeds(data[self.seeds])
        if problems:
            yield self.said_once(admission.invalid(problems).status)
            return
        if not data[self.confirm]:
            yield self.said_once(admission.refused(
                f"Tick “{self.confirm_label(len(seeds))}” first.").status)
            return
        values = self.form.values(data)
        entries = data[history]
        recorded: set[int] = set()
        charged: list[float] = []
        estimated: float | None = None
        first = True
        for latest in self.page.run(session, values, request, seeds=seeds,
                                    api_key=data[self.form.key],
                                    api_secret=data[self.form.secret]):
            if first and latest and all(u and u.finished and u.status.kind in NOT_RUN
                                        for u in latest):
                yield self.said_once(latest[0].status)  # refused as a whole: said once
                return
            shown: dict = {}
            if first:
                shown[self.confirm] = False  # each batch asks again
                shown[self.run_button] = gr.Button(interactive=False)
                shown[self.status] = to_html(RunStatus(
                    "running", f"Running {len(seeds)} seeds side by side…"))
                shown[self.cost_line] = ""
                for i, column in enumerate(self.columns):
                    shown[column] = gr.Column(visible=i < len(seeds))
                    shown[self.images[i]] = gr.Image(value=None, label=f"Seed {seeds[i]}"
                                                     if i < len(seeds) else "")
                first = False
            for index, update in enumerate(latest):
                shown.update(self.slot_view(index, seeds[index], update))
                record = update.record if update else None
                if record is not None and index not in recorded:
                    recorded.add(index)
                    charged.append(record.cost_usd)
                    estimated = record.estimate_usd
                    shown[self.images[index]] = record.image
                    entries = self.page.keep(session, record, entries)
                    shown[history], shown[history_html] = entries, hist.render(entries)
            if all(u is not None and u.finished for u in latest):
                shown[self.run_button] = gr.Button(interactive=True)
                shown[self.status] = to_html(RunStatus(
                    "done" if recorded else "stopped",
                    f"{len(recorded)} of {len(seeds)} runs produced an image."))
                if charged:
                    shown[self.cost_line] = cost.compare_html(
                        estimated * len(seeds) if estimated is not None else None,
                        round(sum(charged), 6),
                        f"Side by side ({len(charged)} {'' if self.simulated else 'charged '}"
                        f"run{'s' if len(charged) > 1 else ''})", simulated=self.simulated)
            yield shown

    def slot_stop(self, index: int):
        def stop_slot(request: gr.Request) -> None:
            self.page.stop_slot(request.session_hash, index)
        stop_slot.__name__ = f"stop_slot_{index + 1}"
        return stop_slot
