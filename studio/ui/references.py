"""The reference images as a gallery: thumbnails in send order, captioned "image 1…", with
add (uploads, URLs), reorder and remove that keep the visitor's selection on the image they
chose. The list itself is a State of entries (studio/references.py); the gallery shows it.

The gallery is plain HTML, a button per thumbnail: Gradio's Gallery would bring a video
player (about 150 KB) into a page that shows no video."""
from __future__ import annotations

import html
from typing import Any

import gradio as gr

from wiro import spec

from .. import history, references, share_ui

# The gallery's own selection lives in the browser; read it at the moment of the click, so a
# quick "select, then move" never acts on a stale choice.
PICKED_JS = """(entries, picked) => {
  const items = [...document.querySelectorAll('#refs .thumbnail-item')];
  return [entries, items.findIndex((item) => item.classList.contains('selected'))];
}"""


KEEP: Any = object()  # leave the gallery's selection as the browser has it

# A click selects one thumbnail (a second click on it lets go); the selection outlives a
# redraw unless the server names one (data-selected: an index, -1 for none).
SELECT_JS = """
if (!element.dataset.wired) {  // Gradio may run this again for the same element
  element.dataset.wired = '1';
  element.dataset.selected = '-1';
  const apply = () => {
    const grid = element.querySelector('.ref-grid');
    if (!grid) return;
    if (grid.dataset.selected !== undefined) {
      element.dataset.selected = grid.dataset.selected;
      delete grid.dataset.selected;
    }
    const selected = Number(element.dataset.selected);
    grid.querySelectorAll('.thumbnail-item').forEach((item, index) => {
      const on = index === selected;  // only real changes: this runs on every mutation
      if (item.classList.contains('selected') !== on) item.classList.toggle('selected', on);
      if (item.getAttribute('aria-pressed') !== String(on))
        item.setAttribute('aria-pressed', String(on));
    });
  };
  element.addEventListener('click', (event) => {
    const item = event.target.closest('.thumbnail-item');
    if (!item || !element.contains(item)) return;
    const index = [...element.querySelectorAll('.thumbnail-item')].indexOf(item);
    element.dataset.selected = String(index === Number(element.dataset.selected) ? -1 : index);
    apply();
  });
  // Gradio redraws by patching the old markup in place (attributes included).
  new MutationObserver(apply).observe(element, {childList: true, subtree: true,
                                                attributes: true, characterData: true});
  apply();
}
"""


def thumbnail_src(entry: str) -> str:
    return entry if references.is_url(entry) else history.file_url(entry)


def gallery_html(entries: list[str], selected: int | None = KEEP) -> str:
    """A button per image, in send order, captioned with its number and name."""
    chosen = "" if selected is KEEP else f' data-selected="{-1 if selected is None else selected}"'
    items = []
    for number, entry in enumerate(entries, start=1):
        caption = html.escape(references.label(entries, number))
        items.append(
            f'<button type="button" class="thumbnail-item" aria-pressed="false" '
            f'title="{caption}"><img src="{html.escape(thumbnail_src(entry))}" alt="" '
            f'width="96" height="96" loading="lazy" onerror="this.style.visibility=\'hidden\'">'
            f'<span class="caption-label">{caption}</span></button>')
    return (f'<div class="ref-grid" role="group" aria-label="Reference images" '
            f'data-count="{len(entries)}"{chosen}>{"".join(items)}</div>')


def first_size(entries: list[str]) -> tuple[int, int] | None:
    """Image 1's size as it will be sent, None if it is a URL (or there is none)."""
    from wiro import uploads  # noqa: PLC0415 — reads headers only
    return uploads.sent_sizes(entries[:1])[0] if entries else None


class ReferencePanel:
    """Built in place inside the layout; `.entries` is what a run sends as inputImage."""

    def __init__(self, initial: list[str]):
        self.entries = gr.State(list(initial))
        gr.Markdown(f"**{spec.INPUT_IMAGE.label}s**, sent in this order (the prompt calls "
                    "them image 1, image 2, …); click one to move or remove it.",
                    elem_classes="refs-title")
        self.gallery = gr.HTML(gallery_html(initial), js_on_load=SELECT_JS,
                               visible=bool(initial), elem_id="refs")
        self.picked = gr.Number(-1, visible=False, elem_id="ref-picked")
        self.empty = gr.Markdown("No reference images: the prompt alone makes the image. Add "
                                 f"up to {references.MAX_ENTRIES} to edit or combine them.",
                                 visible=not initial, elem_id="refs-empty",
                                 elem_classes="refs-empty")
        with gr.Row(equal_height=True, elem_classes="ref-add-row"):
            self.upload = gr.UploadButton("Add images", file_count="multiple",
                                          file_types=["image"], size="md", min_width=120,
                                          elem_id="ref-upload")
            self.url = gr.Textbox(show_label=False, placeholder="…or paste an image URL, "
                                  "then Enter", scale=3, min_width=160, container=False,
                                  elem_id="ref-url")
            self.add_url = gr.Button("Add URL", size="md", min_width=90, elem_id="ref-add-url")
        with gr.Row(equal_height=True, elem_classes="ref-edit-row"):
            self.earlier = gr.Button("← Earlier", size="sm", min_width=80, elem_id="ref-up")
            self.later = gr.Button("Later →", size="sm", min_width=80, elem_id="ref-down")
            self.remove = gr.Button("Remove", size="sm", min_width=80, elem_id="ref-remove")
            self.clear = gr.Button("Clear all", size="sm", min_width=80, elem_id="ref-clear")
        self.note = gr.Markdown("", elem_id="refs-note")
        # Who will see an upload, said where it is made (studio/share_ui.py).
        self.privacy = gr.Markdown(share_ui.upload_note(), elem_id="upload-privacy")

    @property
    def outputs(self) -> set:
        return {self.entries, self.gallery, self.empty, self.note}

    def show(self, entries: list[str], note: str = "", selected: int | None = KEEP) -> dict:
        """Everything the panel shows for `entries`. `selected` (0-based) is the thumbnail to
        highlight; by default the browser keeps the one the visitor chose (adding images)."""
        return {self.entries: entries,
                self.gallery: gr.HTML(gallery_html(entries, selected), visible=bool(entries)),
                self.empty: gr.Markdown(visible=not entries), self.note: note}

    # --- handlers: each takes {component: value} and returns {component: value} ----------

    def _picked(self, data: dict) -> int | None:
        entries, picked = data[self.entries], data.get(self.picked)
        try:
            index = int(picked)
        except (TypeError, ValueError):
            return None
        return index if 0 <= index < len(entries) else None

    def move(self, delta: int):
        def move_picked(data: dict) -> dict:
            entries, index = data[self.entries], self._picked(data)
            if index is None:
                return {self.note: "Select an image first (click its thumbnail)."}
            moved = references.move(entries, index + 1, delta)
            return self.show(moved, selected=min(max(index + delta, 0), len(moved) - 1))
        move_picked.__name__ = "move_earlier" if delta < 0 else "move_later"
        return move_picked

    def remove_picked(self, data: dict) -> dict:
        entries, index = data[self.entries], self._picked(data)
        if index is None:
            return {self.note: "Select an image first (click its thumbnail)."}
        left = references.remove(entries, index + 1)
        return self.show(left, selected=min(index, len(left) - 1) if left else None)

    def clear_all(self, data: dict) -> dict:
        return self.show([], selected=None)

    def add_files(self, data: dict) -> dict:
        entries, note = references.add_files(data[self.entries], data[self.upload])
        return self.show(entries, note)

    def add_link(self, data: dict) -> dict:
        entries, note = references.add_url(data[self.entries], data[self.url])
        shown = self.show(entries, note)
        if not note:
            shown[self.url] = ""  # added: the box is ready for the next one
        return shown

    def wire(self, private: dict[str, Any]) -> None:
        picked = dict(inputs=[self.entries, self.picked], js=PICKED_JS, **private)
        outputs = list(self.outputs)
        self.earlier.click(lambda e, p: self.move(-1)({self.entries: e, self.picked: p}),
                           outputs=outputs, **picked)
        self.later.click(lambda e, p: self.move(+1)({self.entries: e, self.picked: p}),
                         outputs=outputs, **picked)
        self.remove.click(lambda e, p: self.remove_picked({self.entries: e, self.picked: p}),
                          outputs=outputs, **picked)
        self.clear.click(self.clear_all, {self.entries}, outputs, **private)
        self.upload.upload(self.add_files, {self.entries, self.upload}, outputs, **private)
        for event in (self.add_url.click, self.url.submit):
            event(self.add_link, {self.entries, self.url}, [*outputs, self.url], **private)
