"""Wiro's "parameter inspirations" as a table: each title beside thumbnails of the reference
images it uses. A click fills the prompt and the references; it never runs (a run costs
money). The thumbnails are plain <img> tags: a Gallery inside gr.Dataset would make the
server download every URL when the page is built."""
from __future__ import annotations

import html

import gradio as gr

from wiro import spec

from .references import ReferencePanel


def thumbnails(urls: tuple[str, ...]) -> str:
    if not urls:
        return '<span class="insp-none">prompt only</span>'
    tags = "".join(f'<img class="insp-ref" src="{html.escape(url)}" alt="image {n}" '
                   f'title="image {n}" loading="lazy">' for n, url in enumerate(urls, start=1))
    return f'<span class="insp-refs" data-count="{len(urls)}">{tags}</span>'


class Inspirations:
    def __init__(self):
        self.table = gr.Dataset(
            label="Inspirations — a click fills the inputs; Generate runs them",
            components=[gr.Textbox(label="Inspiration", render=False),
                        gr.HTML(label="Reference images", render=False)],
            samples=[[i.title, thumbnails(i.input_images)] for i in spec.INSPIRATIONS],
            type="index", layout="table", samples_per_page=len(spec.INSPIRATIONS),
            elem_id="inspirations")

    def fill(self, prompt: gr.Textbox, refs: ReferencePanel):
        def fill_inspiration(data: dict) -> dict:
            chosen = spec.INSPIRATIONS[int(data[self.table])]
            return {prompt: chosen.prompt, **refs.show(list(chosen.input_images))}
        return fill_inspiration
