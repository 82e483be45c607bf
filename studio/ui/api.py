"""The named `generate` endpoint (API and MCP): every input of wiro.spec in the spec's order,
each typed and described from it, with an example that really runs. It runs through the
page's one path (`DemoPage.run`), like Generate."""
from __future__ import annotations

import inspect
import time
from typing import Any

import gradio as gr
from gradio_client import handle_file

from wiro import spec

from .. import apidoc
from ..gradio_patches import API_ONLY, as_sent, describe_parameter
from ..page import DemoPage

# The "Use via API" page shows this as the example call: one of Wiro's own sample inputs.
EXAMPLE_IMAGE = spec.sample_input_url("bfl-flux-2-pro-input-4.jpg")
# API callers see no progress; an occasional yield still lets Gradio stop the run (and its
# remote task) when the caller goes away.
HEARTBEAT_SECONDS = 1.0


def parameter(field: spec.ModelInput) -> Any:
    """One input of the endpoint: a component of the field's kind, described from the spec.
    Values are handed over as sent (a number as typed, any text for a choice), for
    wiro.validation to judge and name the field."""
    label = dict(label=field.label)
    if field.kind == "combinefileinput":
        box = gr.File(file_count="multiple", file_types=["image"], **label)
        box.example_payload = lambda: [handle_file(EXAMPLE_IMAGE)]
        box.example_value = lambda: [EXAMPLE_IMAGE]
    elif field.kind == "number":
        box = as_sent(gr.Number(value=field.default, precision=0, **label))
    elif field.kind == "select":
        box = gr.Dropdown(choices=list(field.option_values), value=field.default,
                          allow_custom_value=True, **label)
    else:
        box = as_sent(gr.Textbox(value=field.default, **label))
    return describe_parameter(box, apidoc.parameter_help(field))


def endpoint(page: DemoPage):
    """The function behind `generate`: one parameter per spec input, by name."""
    names = [f.name for f in spec.INPUTS]

    def generate(*args: Any):
        *given, request = args  # Gradio puts the request after the inputs (the signature)
        values = dict(zip(names, given))
        # An MCP call has its own session (studio/visitors.py).
        session = page.visitors.identify(request, f"api-{request.session_hash}").session
        headers = request.headers
        last, heartbeat = None, time.monotonic()
        try:
            for updates in page.run(session, values, request,
                                    api_key=headers.get("x-wiro-api-key") if page.byok else None,
                                    api_secret=headers.get("x-wiro-api-secret")
                                    if page.byok else None):
                last = updates[0] or last
                if not (last and last.finished) and \
                        time.monotonic() - heartbeat >= HEARTBEAT_SECONDS:
                    heartbeat = time.monotonic()
                    yield gr.skip(), gr.skip()
            if last is None or last.record is None:
                raise gr.Error(last.status.text() if last else "The run did not start.",
                               print_exception=False)  # admission logged one line
            yield last.record.image, last.record.details()
        finally:
            # Gradio has copied the file into its cache by now; ours would only pile up.
            page.outputs.drop(session)

    generate.__signature__ = inspect.Signature(
        [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                           default=None if f.kind == "combinefileinput" else f.default)
         for f in spec.INPUTS]
        + [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                             default=None, annotation=gr.Request)])
    generate.__annotations__ = {"request": gr.Request}
    return apidoc.describe_generate(generate)  # the MCP tool's name and descriptions


def build(page: DemoPage, **events: Any) -> None:
    # Never drawn: the page's config leaves this column out (gradio_patches.API_ONLY).
    with gr.Column(visible=False, elem_id=API_ONLY):
        inputs = [parameter(f) for f in spec.INPUTS]
        image = gr.File(label="Image")
        details = gr.JSON(label="Run details")
        gr.Button(visible=False).click(endpoint(page), inputs, [image, details],
                                       api_name="generate", **events)
