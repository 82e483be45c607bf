"""The named `generate` endpoint (API and MCP): the seed's inputs in the seed's order,
each typed and described from wiro.spec, with an example that really runs."""
from __future__ import annotations

from typing import Any

import gradio as gr
from gradio_client import handle_file

from wiro import spec

from .. import apidoc
from ..gradio_patches import describe_parameter
from ..page import DemoPage
from .form import number_input

# The "Use via API" page shows this as the example call: one of Wiro's own sample inputs.
EXAMPLE_IMAGE = spec.sample_input_url("bfl-flux-2-pro-input-4.jpg")


def build(page: DemoPage, **events: Any) -> None:
    with gr.Column(visible=False):
        images = gr.File(label=spec.INPUT_IMAGE.label, file_count="multiple",
                         file_types=["image"])
        images.example_payload = lambda: [handle_file(EXAMPLE_IMAGE)]
        images.example_value = lambda: [EXAMPLE_IMAGE]
        prompt = gr.Textbox(label=spec.PROMPT.label, value=spec.PROMPT.default)
        numbers = [number_input(f) for f in spec.NUMBER_INPUTS]
        output_format = gr.Dropdown(label=spec.OUTPUT_FORMAT.label,
                                    value=spec.OUTPUT_FORMAT.default,
                                    choices=list(spec.OUTPUT_FORMAT.option_values),
                                    allow_custom_value=True)
        for component, field in zip([images, prompt, *numbers, output_format], spec.INPUTS):
            describe_parameter(component, apidoc.parameter_help(field))
        image = gr.File(label="Image")
        details = gr.JSON(label="Run details")
        # Named and described for API and MCP clients from wiro.spec (studio/apidoc.py).
        apidoc.describe_generate(DemoPage.run_from_api)
        gr.Button(visible=False).click(page.run_from_api,
                                       [images, prompt, *numbers, output_format],
                                       [image, details], api_name="generate", **events)
