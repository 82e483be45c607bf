"""Generate and Stop: one run from the page, drawn where the image will appear.

`Generate.run` takes the form as one bundle and yields {component: value}: at once the
buttons flip (Generate off, Stop on); once the run is admitted the previous image and its
cost line go, and a progress frame of the result's shape takes their place; then each
RunUpdate is rendered (studio/status.py); at the end the image, its before/after
comparison when the run had a reference, and the estimate beside the charge."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterator

import gradio as gr

from wiro import spec

from .. import cost, results, status as run_status
from .. import history as hist
from ..page import DemoPage
from ..run import RunUpdate
from ..status import RunStatus
from .form import Form
from .references import ReferencePanel, first_size

STARTING = RunStatus("running", "Starting…", fraction=0.0, elapsed=0.0)


@dataclass
class ResultView:
    """What shows a run: status, image, comparison, download, details, cost, buttons."""

    status: gr.HTML
    image: gr.Image
    use_as_reference: gr.Button
    slider: gr.ImageSlider
    download: gr.File
    details: gr.JSON
    cost_line: gr.HTML
    generate: gr.Button
    stop: gr.Button

    @property
    def outputs(self) -> set:
        return set(vars(self).values())

    def idle_buttons(self) -> dict:
        return {self.generate: gr.Button(interactive=True), self.stop: gr.Button(interactive=False)}


def frame_of(values: dict[str, Any]) -> tuple[int, int] | None:
    """The result's expected shape, for the progress frame (None: unknown)."""
    try:
        width, height = int(values[spec.WIDTH.name]), int(values[spec.HEIGHT.name])
    except (TypeError, ValueError, KeyError):
        return None
    if not (width and height):
        first = first_size(list(values.get(spec.INPUT_IMAGE.name) or []))
        width, height = (width or (first or cost.UNKNOWN_OUTPUT)[0],
                         height or (first or cost.UNKNOWN_OUTPUT)[1])
    return width, height


def alt_text(values: dict[str, Any], update: RunUpdate) -> str:
    prompt = str(values.get(spec.PROMPT.name) or "").strip()
    short = prompt if len(prompt) <= 160 else prompt[:157] + "…"
    return f"Generated image, seed {update.seed}: {short}"


class Generate:
    def __init__(self, page: DemoPage, form: Form, refs: ReferencePanel, view: ResultView,
                 history: gr.State, history_html: gr.HTML):
        self.page, self.form, self.refs, self.view = page, form, refs, view
        self.history, self.history_html = history, history_html

    @property
    def inputs(self) -> set:
        return self.form.run | {self.history}

    @property
    def outputs(self) -> set:
        return self.view.outputs | {self.form.seed, self.history, self.history_html}

    def run(self, data: dict, request: gr.Request) -> Iterator[dict]:
        view, values = self.view, self.form.values(data)
        randomize = bool(data[self.form.randomize])
        frame = frame_of(values)
        inputs, estimate = hist.snapshot(values), cost.estimate(values)
        estimated = estimate.usd if estimate else None
        self.page.visitor_client(data[self.form.key], data[self.form.secret])  # asks for a key
        yield {view.generate: gr.Button(interactive=False), view.stop: gr.Button(interactive=True),
               view.status: run_status.to_html(STARTING, frame)}
        # The last result stays until this run is admitted: a refused Generate (inputs the
        # model would refuse, a cap) leaves it, its cost line and its download on screen.
        superseded = {view.image: gr.Image(value=None, visible=False), view.cost_line: "",
                      view.use_as_reference: gr.Button(visible=False),
                      view.slider: gr.ImageSlider(value=None, visible=False),
                      view.download: gr.File(value=None, visible=False)}
        entries = data[self.history]
        for update in self.page.run_once(request.session_hash, values, request, randomize,
                                         data[self.form.key], data[self.form.secret]):
            shown = {view.status: run_status.to_html(update.status, frame)}
            if superseded and update.status.kind not in ("invalid", "refused"):
                shown, superseded = {**superseded, **shown}, {}
            if randomize and update.seed is not None:
                shown[self.form.seed] = update.seed
            if update.image is not None and update.details:
                # The simulator's price is no charge: history and kept results say so.
                update = replace(update, details={"simulated": self.page.backend.is_simulator,
                                                  **update.details})
                # The image first, on its own: everything else can follow a moment later.
                yield {**shown, view.image: gr.Image(value=update.image, visible=True,
                                                     alt_text=alt_text(values, update))}
                entries = hist.add(entries, hist.entry(inputs, update.details, update.image,
                                                       estimated))
                results.keep(request.session_hash, inputs, update.details, update.image,
                             estimated)
                shown = self.finished(values, update, estimated, entries)
            if update.finished:
                shown.update(view.idle_buttons())
            yield shown

    def finished(self, values: dict, update: RunUpdate, estimated: float | None,
                 entries: list[dict]) -> dict:
        view = self.view
        images = list(values.get(spec.INPUT_IMAGE.name) or [])
        shown = {view.image: gr.Image(value=update.image, visible=True,
                                      alt_text=alt_text(values, update)),
                 view.download: gr.File(value=update.image, visible=True),
                 view.details: update.details,
                 view.use_as_reference: gr.Button(visible=True),
                 view.cost_line: cost.compare_html(estimated, update.details.get("cost_usd"),
                                                   simulated=self.page.backend.is_simulator),
                 self.history: entries, self.history_html: hist.render(entries)}
        if images:
            shown[view.slider] = gr.update(value=(images[0], update.image), visible=True)
        return shown

    def stop(self, request: gr.Request) -> dict:
        lines = self.page.stop_session(request.session_hash)
        if lines is None:
            status = RunStatus("stopped", "Nothing was running.")
        else:
            status = RunStatus("stopped", "Stopped.", "\n".join(lines))
        return {self.view.status: run_status.to_html(status), **self.view.idle_buttons()}

    def use_result(self, data: dict) -> dict:
        """The result joins the reference images, last."""
        item = hist.find(data[self.history], (data[self.view.details] or {}).get("task_id"))
        if item is None:
            return {self.refs.note: "That result is gone; run it again to use it."}
        entries, note = hist.use_as_reference(data[self.refs.entries], item)
        return self.refs.show(entries, note or f"The result is now image {len(entries)}.")

