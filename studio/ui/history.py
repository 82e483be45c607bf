"""This session's finished runs, newest first: restore a run's inputs, or use its image as a
reference (the cards and their data live in studio/history.py)."""
from __future__ import annotations

import gradio as gr

from wiro import spec

from .. import history as hist
from .form import Form
from .references import ReferencePanel


class HistoryPanel:
    def __init__(self):
        gr.Markdown("## History (this session)\nEvery finished run, newest first. **Restore "
                    "inputs** puts all of that run's inputs back; **Use as reference** adds its "
                    "image to the reference images.")
        self.entries = gr.State([])
        self.note = gr.Markdown("", elem_id="history-note")
        self.html = gr.HTML(hist.render([]), js_on_load=hist.JS_ON_LOAD, elem_id="history")

    def action(self, form: Form, refs: ReferencePanel, restored=None):
        """The handler for a click on a card's button. `restored(values, text)`: what else
        shows a restore (the size presets, the status where the presenter looks)."""
        def history_action(data: dict, evt: gr.EventData) -> dict:
            clicked = getattr(evt, "_data", None) or {}
            item = hist.find(data[self.entries], clicked.get("task"))
            if item is None:
                return {self.note: "That run is no longer in the history."}
            if clicked.get("action") == "use":
                new_refs, note = hist.use_as_reference(data[refs.entries], item)
                return {**refs.show(new_refs, note), self.note: note or (
                    f"Task {item.task_id}'s image is now reference image {len(new_refs)}.")}
            values = item.values()
            text = (f"Restored every input of task {item.task_id}: nothing has run. Tweak "
                    "them and press Generate.")
            return {**form.fill(values), **refs.show(values[spec.INPUT_IMAGE.name]),
                    form.randomize: False, self.note: text,
                    **(restored(values, text) if restored else {})}
        return history_action
