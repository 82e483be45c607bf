"""Generate and Stop: one run from the page, drawn where the image will appear.

`Generate.run` takes the form as one bundle and yields {component: value}. A refused run
says why and leaves the last result where it was. An admitted one flips the buttons
(Generate off, Stop on) and replaces the previous image and its cost line with a progress
frame of the result's shape; then each RunUpdate is rendered (studio/status.py); at the end
the image, its before/after comparison when the run had a reference, and the estimate
beside the charge."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import gradio as gr

from wiro import spec

from .. import cost
from .. import history as hist
from .. import status as run_status
from ..page import DemoPage
from ..record import RunRecord
from ..status import RunStatus
from .form import Form
from .references import ReferencePanel, first_size

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


def alt_text(record: RunRecord) -> str:
    prompt = record.prompt
    short = prompt if len(prompt) <= 160 else prompt[:157] + "…"
    return f"Generated image, seed {record.seed}: {short}"


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
        entries = data[self.history]
        started = False
        previous = None
        for updates in self.page.run(request.session_hash, values, request,
                                     randomize=randomize, api_key=data[self.form.key],
                                     api_secret=data[self.form.secret]):
            update = updates[0]
            if update is None or update is previous:
                continue  # a heartbeat: nothing new to show
            previous = update
            shown = {view.status: run_status.to_html(update.status, frame)}
            if not started and update.finished:  # refused: the last result stays as it was
                yield {**shown, **view.idle_buttons()}
                return
            if not started:  # the old image and its cost line go; the progress frame shows
                started = True
                shown.update({view.generate: gr.Button(interactive=False),
                              view.stop: gr.Button(interactive=True),
                              view.image: gr.Image(value=None, visible=False),
                              view.cost_line: "", view.use_as_reference: gr.Button(visible=False),
                              view.slider: gr.ImageSlider(value=None, visible=False),
                              view.download: gr.File(value=None, visible=False)})
            if randomize and update.seed is not None:
                shown[self.form.seed] = update.seed
            record = update.record
            if record is not None:
                # The image first, on its own: everything else can follow a moment later.
                yield {**shown, view.image: gr.Image(value=record.image, visible=True,
                                                     alt_text=alt_text(record))}
                entries = self.page.keep(request.session_hash, record, entries)
                shown = self.finished(values, record, entries)
            if update.finished:
                shown.update(view.idle_buttons())
            yield shown

    def finished(self, values: dict, record: RunRecord, entries: list) -> dict:
        view = self.view
        images = list(values.get(spec.INPUT_IMAGE.name) or [])
        shown = {view.image: gr.Image(value=record.image, visible=True,
                                      alt_text=alt_text(record)),
                 view.download: gr.File(value=record.image, visible=True),
                 view.details: gr.JSON(value=record.details(), visible=True),
                 view.use_as_reference: gr.Button(visible=True),
                 view.cost_line: cost.compare_html(record.estimate_usd, record.cost_usd,
                                                   simulated=record.simulated),
                 self.history: entries, self.history_html: hist.render(entries)}
        if images:
            shown[view.slider] = gr.update(value=(images[0], record.image), visible=True)
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
