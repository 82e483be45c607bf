"""Wiro's "parameter inspirations" as a table: each title beside thumbnails of the reference
images it uses. A click fills the prompt and the references; it never runs (a run costs
money). The thumbnails are plain <img> tags: a Gallery inside gr.Dataset would make the
server download every URL when the page is built."""
from __future__ import annotations

import html

import gradio as gr

from wiro import spec

from .. import status as run_status
from .references import ReferencePanel

# The table sits far below the prompt: the click brings the filled prompt and Generate into
# view (the status beside them says what was filled) and puts the keyboard in the prompt.
SHOW_FILLED_JS = """(index) => {
  const smooth = !matchMedia('(prefers-reduced-motion: reduce)').matches;
  const compose = document.querySelector('#compose');
  if (compose) {  // the page's top when prompt and Generate fit below the header, else them
    const box = compose.getBoundingClientRect();
    const top = box.bottom + scrollY <= innerHeight ? 0 : box.top + scrollY;
    scrollTo({top, behavior: smooth ? 'smooth' : 'auto'});
  }
  document.querySelector('#prompt textarea')?.focus({preventScroll: true});
  return index;
}"""


def thumbnails(urls: tuple[str, ...]) -> str:
    if not urls:
        return '<span class="insp-none">prompt only</span>'
    tags = "".join(f'<img class="insp-ref" src="{html.escape(url)}" alt="image {n}" '
                   f'title="image {n}" loading="lazy">' for n, url in enumerate(urls, start=1))
    return f'<span class="insp-refs" data-count="{len(urls)}">{tags}</span>'


class Inspirations:
    show_filled_js = SHOW_FILLED_JS

    def __init__(self):
        self.table = gr.Dataset(
            label="Inspirations — a click fills the inputs; Generate runs them",
            components=[gr.Textbox(label="Inspiration", render=False),
                        gr.HTML(label="Reference images", render=False)],
            samples=[[i.title, thumbnails(i.input_images)] for i in spec.INSPIRATIONS],
            type="index", layout="table", samples_per_page=len(spec.INSPIRATIONS),
            elem_id="inspirations")

    def fill(self, prompt: gr.Textbox, refs: ReferencePanel, status: gr.HTML):
        def fill_inspiration(data: dict) -> dict:
            chosen = spec.INSPIRATIONS[int(data[self.table])]
            count = len(chosen.input_images)
            images = (f" and its {count} reference image{'s' if count > 1 else ''}" if count
                      else " (prompt only: no reference images)")
            said = run_status.RunStatus(
                "idle", f"Filled in “{chosen.title}”: the prompt{images}.",
                "Nothing has run. Press Generate (or Ctrl/⌘+Enter) to make it.")
            return {prompt: chosen.prompt, **refs.show(list(chosen.input_images)),
                    status: run_status.to_html(said)}
        return fill_inspiration
