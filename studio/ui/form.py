"""The model's inputs as one named bundle (`Form`), built from wiro.spec, plus the size
presets that set width and height, and the marks that say on a field what to change."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import gradio as gr

from wiro import spec

from .. import sizes, snippets
from ..gradio_patches import as_sent


def number_input(field: spec.ModelInput, **extra) -> gr.Number:
    """A whole-number box (typed "integer" for API callers) that hands over what was typed,
    for wiro.validation to judge (studio/gradio_patches.as_sent)."""
    return as_sent(gr.Number(label=field.label, value=field.default, step=field.step,
                                precision=0, **extra))


def field_marks(data: dict[str, Any] | None = None, **raw: Any) -> str:
    """One line per size/seed field the model would refuse, right under the fields; the
    stylesheet also outlines the field itself (the line names it by data-field)."""
    lines = []
    for field in (spec.WIDTH, spec.HEIGHT, spec.SEED):
        if field.name not in raw:
            continue
        problem = sizes.field_problem(field, raw[field.name])
        if problem:
            lines.append(f'<div class="field-problem" data-field="{field.name}" role="alert">'
                         f"<b>{field.label}:</b> {html.escape(problem)}</div>")
    return "".join(lines)


@dataclass
class Form:
    """The components that make one Run, by spec name, and the run-only extras."""

    inputs: dict[str, Any]  # every model input by spec name (inputImage: the references' State)
    randomize: gr.Checkbox
    key: gr.Textbox
    secret: gr.Textbox

    @property
    def seed(self) -> gr.Number:
        return self.inputs[spec.SEED.name]

    @property
    def model(self) -> set:
        """Every model input."""
        return set(self.inputs.values())

    @property
    def run(self) -> set:
        """What Generate needs: the model inputs, randomize, and a visitor's own key."""
        return self.model | {self.randomize, self.key, self.secret}

    def values(self, data: dict) -> dict[str, Any]:
        """The model inputs by spec name, from a handler's bundle."""
        return {name: data[component] for name, component in self.inputs.items()}

    def fill(self, values: dict[str, Any]) -> dict:
        """{component: value} putting `values` (spec names) back; the references aside."""
        return {component: values[name] for name, component in self.inputs.items()
                if name in values and name != spec.INPUT_IMAGE.name}


# Inputs with controls of their own (the references, the prompt, the size presets, the seed
# with "Randomize"); every other input of wiro.spec gets `control_for` in Advanced settings.
OWN_CONTROLS = {spec.INPUT_IMAGE.name, spec.PROMPT.name, spec.WIDTH.name, spec.HEIGHT.name,
                spec.SEED.name}
# Element ids the stylesheet and tests know; any other input is `input-<name>`.
ELEM_IDS = {spec.SAFETY_TOLERANCE.name: "safety", spec.OUTPUT_FORMAT.name: "format"}
SLIDER_MAX_STEPS = 20  # a number with this few steps is a slider


def control_for(field: spec.ModelInput) -> Any:
    """A control for any input of wiro.spec, by its kind: label, help, range or choices."""
    common = dict(label=field.label, info=field.help or None,
                  elem_id=ELEM_IDS.get(field.name, f"input-{field.name}"))
    if field.kind == "number":
        steps = (field.maximum - field.minimum) / (field.step or 1)
        if steps <= SLIDER_MAX_STEPS:
            return gr.Slider(minimum=field.minimum, maximum=field.maximum,
                             step=field.step or 1, value=field.default, **common)
        return number_input(field, **common)
    if field.kind == "select":
        return gr.Radio(choices=[(o.label, o.value) for o in field.options],
                        value=field.default, **common)
    return gr.Textbox(value=field.default, lines=3 if field.kind == "textarea" else 1,
                      **common)


def prompt_input() -> gr.Textbox:
    return gr.Textbox(label=spec.PROMPT.label, value=spec.PROMPT.default, lines=3, max_lines=12,
                      placeholder="Describe the image, or the edit (Ctrl/⌘+Enter runs)",
                      info="Refer to reference images as image 1, image 2, … · "
                           "Ctrl/⌘+Enter generates.", elem_id="prompt")


class SizeInputs:
    """Aspect ratio and megapixels that fill width and height; the fields stay editable."""

    def __init__(self):
        with gr.Row(equal_height=True, elem_id="size-presets"):
            self.ratio = gr.Radio(sizes.RATIO_CHOICES, value=sizes.DEFAULT_RATIO,
                                  label="Aspect ratio", scale=3, elem_id="ratio")
            self.megapixels = gr.Dropdown(sizes.MEGAPIXEL_CHOICES, value=sizes.DEFAULT_MEGAPIXELS,
                                          label="Size", scale=1, min_width=110,
                                          elem_id="megapixels")
        with gr.Row(equal_height=True, elem_id="size-fields"):
            self.width = number_input(spec.WIDTH, elem_id="width")
            self.height = number_input(spec.HEIGHT, elem_id="height")
        self.marks = gr.HTML("", elem_id="size-marks")
        gr.Markdown("Multiples of 16 from 64 to 2048, or 0 to match image 1. "
                    "1 MP ≈ 1024×1024.", elem_classes="field-help")

    def restored(self, width: Any, height: Any) -> dict:
        """The presets showing a restored size (none picked when no preset makes it)."""
        ratio, megapixels = sizes.presets_of(width, height)
        return {self.ratio: ratio, self.megapixels: megapixels if megapixels is not None
                else gr.skip()}

    def apply(self, data: dict, first_image: tuple[int, int] | None) -> dict:
        width, height = sizes.preset(data[self.ratio], data[self.megapixels], first_image)
        return {self.width: width, self.height: height}


class AdvancedInputs:
    """The seed (with its mark and "Randomize"), then every input without a control of its
    own, in the spec's order, in a closed accordion."""

    def __init__(self):
        with gr.Accordion("Advanced settings", open=False, elem_id="advanced"):
            self.controls = {f.name: control_for(f) for f in spec.INPUTS
                             if f.name not in OWN_CONTROLS}
            with gr.Row(equal_height=True):
                self.seed = number_input(spec.SEED, info=spec.SEED.help, elem_id="seed")
                self.randomize = gr.Checkbox(label="Randomize seed", value=False,
                                             elem_id="randomize")
            self.seed_marks = gr.HTML("", elem_id="seed-marks")


# A code block's Copy button (the block is plain HTML: no editor to download for it).
COPY_JS = """
element.addEventListener('click', async (event) => {
  const button = event.target.closest('button.code-copy');
  if (!button) return;
  const code = element.querySelector('pre');
  try {
    await navigator.clipboard.writeText(code ? code.innerText : '');
    button.textContent = 'Copied';
  } catch (error) {
    button.textContent = 'Select the text to copy';
  }
  setTimeout(() => { button.textContent = 'Copy'; }, 2000);
});
"""


def code_block(title: str, code: str) -> str:
    return (f'<div class="code-block"><div class="code-head"><span>{html.escape(title)}</span>'
            '<button type="button" class="code-copy">Copy</button></div>'
            f'<pre tabindex="0" aria-label="{html.escape(title)}"><code>{html.escape(code)}'
            "</code></pre></div>")


@dataclass
class CodePanel:
    """Request as code, full width: curl beside a whole Python script. Built closed and
    empty; filled when opened and kept up to date only while open (nothing to send, and no
    code editor to load, for visitors who never open it)."""

    accordion: gr.Accordion
    curl: gr.HTML
    python: gr.HTML
    open: gr.State

    def blocks(self, values: dict[str, Any]) -> dict:
        return {self.curl: code_block("curl", snippets.curl(values)),
                self.python: code_block("Python (requests): run, follow, download",
                                        snippets.python(values))}

    def wire(self, form: Form, events: dict[str, Any]) -> None:
        def opened(data: dict) -> dict:
            return {**self.blocks(form.values(data)), self.open: True}
        self.accordion.expand(opened, form.model, [self.curl, self.python, self.open],
                              **events)
        self.accordion.collapse(lambda: False, None, [self.open], **events)


def code_panel() -> CodePanel:
    with gr.Accordion("Request as code", open=False, elem_id="request-as-code") as accordion:
        gr.Markdown("The exact Run request for the inputs above, signed like Wiro's docs; the "
                    "Python script also follows the task and downloads the image. Your key and "
                    "secret come from `$WIRO_API_KEY` / `$WIRO_API_SECRET`; never shown here.")
        with gr.Row(equal_height=False):
            curl = gr.HTML("", js_on_load=COPY_JS, elem_id="code-curl")
            python = gr.HTML("", js_on_load=COPY_JS, elem_id="code-python")
    return CodePanel(accordion, curl, python, gr.State(False))
