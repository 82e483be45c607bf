"""FLUX.2 [pro] on Wiro: a Gradio demo. Run `python app.py`; with no WIRO_API_KEY it uses
the built-in simulator. Every label, default, range and example comes from wiro.spec; what
the buttons do lives in studio/page.py and studio/page_extras.py."""
from __future__ import annotations

import atexit
import html
import os
import signal
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a demo
# The `generate` endpoint is also an MCP tool (/gradio_api/mcp/), however the app is launched;
# GRADIO_MCP_SERVER=False turns that off.
os.environ.setdefault("GRADIO_MCP_SERVER", "True")

import gradio as gr  # noqa: E402

from studio import apidoc, cost, mcp_compat, references, side_by_side, snippets  # noqa: E402
from studio import history as hist  # noqa: E402
from studio import share_ui  # noqa: E402
from studio.backend import SIMULATOR_NOTICE, AppSettings  # noqa: E402
from studio.guards import GuardSettings  # noqa: E402
from studio.page import IDLE_STATUS, DemoPage, refs_view  # noqa: E402
from studio.page_extras import SLOTS, PageExtras  # noqa: E402
from wiro import spec  # noqa: E402

HERE = Path(__file__).parent
APP_SETTINGS = AppSettings.load()
GUARD_SETTINGS = GuardSettings.load()
page = DemoPage(APP_SETTINGS, GUARD_SETTINGS)
extras = PageExtras(page)
backend, active_runs, outputs = page.backend, page.active_runs, page.outputs
BYOK = page.byok
atexit.register(active_runs.stop_all)  # Ctrl-C / SIGTERM: leave no paid task running
RUNS = dict(concurrency_id="runs", concurrency_limit=APP_SETTINGS.max_concurrent_runs)
PRIVATE = dict(api_visibility="private")  # page-only events: not callable as an API


def number_input(field: spec.ModelInput, **extra) -> gr.Number:
    """A number box that hands over exactly what it was given: Gradio's own preprocessing
    would round 1024.5 to 1024 without a word, or fail on "abc" with a message about
    "index 2"; wiro.validation names the field and says what to change instead. (An
    instance override, not a subclass: Gradio writes a .pyi stub beside every subclass.)"""
    box = gr.Number(label=field.label, info=field.help or None, value=field.default,
                    step=field.step, **extra)
    box.preprocess = lambda payload: payload
    return box


# Gradio's own cache of served files is pruned hourly, so a long-lived Space stays bounded.
with gr.Blocks(title=f"{spec.MODEL_TITLE} on Wiro", delete_cache=(3600, 3600)) as demo:
    # --- layout: banner, prompt and run controls, inputs, result; then extras -------------
    gr.Markdown(f"# {spec.MODEL_TITLE} on Wiro\nBlack Forest Labs' image model: generate from "
                "a prompt, or edit and combine up to 8 reference images.")
    if backend.is_simulator:
        gr.HTML(f'<div class="mode-banner" id="mode-banner">{html.escape(SIMULATOR_NOTICE)}'
                "</div>")
    elif BYOK:
        gr.HTML('<div class="mode-banner live" id="mode-banner">Live, bring your own key: runs '
                "are charged to the Wiro key you paste below.</div>")
    else:
        gr.HTML('<div class="mode-banner live" id="mode-banner">Live: calls Wiro\'s API '
                "(each run is charged to the configured key).</div>")
    refs = gr.State(spec.default_reference_images())
    with gr.Row(visible=BYOK):
        # Password fields start empty: a secret used as a default would land in the page config.
        visitor_key = gr.Textbox(label="Your Wiro API key", type="password", elem_id="byok-key",
                                 info="Used for your runs only; never stored or shown.")
        visitor_secret = gr.Textbox(label="Your Wiro API secret (signature projects)",
                                type="password", elem_id="byok-secret")
    with gr.Row():
        with gr.Column(scale=5):
            prompt = gr.Textbox(label=spec.PROMPT.label, info=spec.PROMPT.help,
                                value=spec.PROMPT.default, lines=4, elem_id="prompt")
            with gr.Row():
                run_button = gr.Button("Generate", variant="primary", elem_id="generate")
                stop_button = gr.Button("Stop", variant="stop", elem_id="stop")
                with gr.Column(scale=2, min_width=220):  # the cost, estimated and charged
                    cost_box = gr.HTML(cost.estimate_html(cost.estimate(spec.defaults())),
                                       elem_id="cost-estimate")
                    cost_compare = gr.HTML("", elem_id="cost-compare")
            status = gr.HTML(IDLE_STATUS, elem_id="run-status-box")
            gr.Markdown("**Inspirations** — a click fills the inputs; Generate runs them.")
            with gr.Row():
                examples = [gr.Button(inspiration.title, size="sm", elem_id=f"example-{n}")
                            for n, inspiration in enumerate(spec.INSPIRATIONS, start=1)]
            with gr.Accordion(f"{spec.INPUT_IMAGE.label}: reference images, sent in this order "
                              "(prompts call them image 1, image 2, …)", open=True):
                refs_html = gr.HTML(references.render(spec.default_reference_images()),
                                    elem_id="refs")
                refs_note = gr.Markdown("", elem_id="refs-note")
                upload = gr.File(label="Add images", file_count="multiple", file_types=["image"],
                                 height=130, elem_id="ref-upload")
                with gr.Row():
                    ref_url = gr.Textbox(label="Or add an image URL", placeholder="https://…",
                                         scale=4, elem_id="ref-url")
                    add_url = gr.Button("Add URL", scale=1, elem_id="ref-add-url")
                with gr.Row():
                    selected = gr.Dropdown(label="Selected image", scale=3, elem_id="ref-select",
                                           choices=references.choices(
                                               spec.default_reference_images()))
                    up = gr.Button("↑ Earlier", scale=1, elem_id="ref-up")
                    down = gr.Button("↓ Later", scale=1, elem_id="ref-down")
                    remove = gr.Button("Remove", scale=1, elem_id="ref-remove")
                    clear = gr.Button("Clear all", scale=1, elem_id="ref-clear")
            with gr.Accordion("Advanced settings", open=False):
                gr.Markdown("Width and height: multiples of 16 from 64 to 2048, or **0 to match "
                            "the first input image**.")
                with gr.Row():
                    width = number_input(spec.WIDTH, elem_id="width")
                    height = number_input(spec.HEIGHT, elem_id="height")
                safety = gr.Slider(label=spec.SAFETY_TOLERANCE.label,
                                   info=spec.SAFETY_TOLERANCE.help,
                                   minimum=spec.SAFETY_TOLERANCE.minimum,
                                   maximum=spec.SAFETY_TOLERANCE.maximum,
                                   step=spec.SAFETY_TOLERANCE.step,
                                   value=spec.SAFETY_TOLERANCE.default, elem_id="safety")
                with gr.Row():
                    seed = number_input(spec.SEED, elem_id="seed")
                    randomize = gr.Checkbox(label="Randomize seed", value=False,
                                            elem_id="randomize")
                output_format = gr.Radio(label=spec.OUTPUT_FORMAT.label,
                                         info=spec.OUTPUT_FORMAT.help,
                                         choices=[(o.label, o.value)
                                                  for o in spec.OUTPUT_FORMAT.options],
                                         value=spec.OUTPUT_FORMAT.default, elem_id="format")
            # The Run these inputs make, as code (updated on every input change).
            with gr.Accordion("Request as code", open=False, elem_id="request-as-code"):
                gr.Markdown("The exact Run request for the inputs above, signed like Wiro's "
                            "docs. Your key and secret come from `$WIRO_API_KEY` / "
                            "`$WIRO_API_SECRET`; they are never shown here.")
                code_curl = gr.Code(snippets.curl(spec.defaults()), language="shell",
                                    label="curl", interactive=False, elem_id="code-curl")
                code_python = gr.Code(snippets.python(spec.defaults()), language="python",
                                      label="Python (requests)", interactive=False,
                                      elem_id="code-python")
        with gr.Column(scale=4):
            result = gr.Image(label="Result", type="filepath", interactive=False,
                              elem_id="result", buttons=["fullscreen"])
            download = gr.File(label="Download (the exact file Wiro returned)", visible=False,
                               elem_id="download", interactive=False)
            details = gr.JSON(label="Run details", elem_id="details")
            keep = share_ui.build()  # Share, Delete, Download this session (issue 13)
    # --- extras: side by side, then this session's history ---------------------------------
    with gr.Accordion("Side by side: the same inputs with 2–4 seeds", open=False,
                      elem_id="side-by-side"):
        with gr.Row():
            sbs_seeds = gr.Textbox(label="Seeds to compare (2–4, commas between)",
                                   value=side_by_side.default_seeds(spec.SEED.default),
                                   scale=3, elem_id="sbs-seeds")
            with gr.Column(scale=3):
                sbs_cost = gr.HTML(cost.estimate_html(cost.estimate(spec.defaults()),
                                                      side_by_side.MIN_SEEDS),
                                   elem_id="sbs-cost")
                sbs_confirm = gr.Checkbox(label=side_by_side.confirm_label(side_by_side.MIN_SEEDS),
                                          value=False, elem_id="sbs-confirm")
            sbs_run = gr.Button("Compare seeds", variant="primary", scale=2, elem_id="sbs-run")
        sbs_runs_shown = gr.State(side_by_side.MIN_SEEDS)  # the N the checkbox's label states
        sbs_status = gr.HTML("", elem_id="sbs-status")
        sbs_compare = gr.HTML("", elem_id="sbs-cost-compare")
        sbs_columns, sbs_images, sbs_statuses, sbs_stops = [], [], [], []
        with gr.Row(equal_height=False, elem_id="sbs-row"):
            for slot in range(1, SLOTS + 1):
                with gr.Column(visible=False, min_width=200,
                               elem_id=f"sbs-slot-{slot}") as column:
                    sbs_columns.append(column)
                    sbs_images.append(gr.Image(label=f"Run {slot}", type="filepath",
                                               interactive=False, buttons=["fullscreen"],
                                               elem_id=f"sbs-image-{slot}"))
                    sbs_statuses.append(gr.HTML("", elem_id=f"sbs-status-{slot}"))
                    sbs_stops.append(gr.Button(f"Stop run {slot}", variant="stop", size="sm",
                                               elem_id=f"sbs-stop-{slot}"))
    gr.Markdown("### History (this session)\nEvery finished run, newest first. **Restore "
                "inputs** puts all of that run's inputs back; **Use as reference** adds its "
                "image to the reference images.")
    history = gr.State([])
    history_note = gr.Markdown("", elem_id="history-note")
    history_html = gr.HTML(hist.render([]), js_on_load=hist.JS_ON_LOAD, elem_id="history")

    # --- wiring ----------------------------------------------------------------------------
    model_inputs = [refs, prompt, width, height, safety, seed, randomize, output_format,
                    visitor_key, visitor_secret]
    run_event = run_button.click(extras.run_and_record, [history, *model_inputs],
                                 [status, result, download, details, seed,
                                  history, history_html, cost_compare], **PRIVATE, **RUNS)
    stop_button.click(page.stop_from_page, None, status, cancels=[run_event], **PRIVATE,
                      concurrency_limit=None)
    demo.unload(page.end_session)

    ref_outputs = [refs, refs_html, selected, refs_note]
    for button, inspiration in zip(examples, spec.INSPIRATIONS):
        button.click(lambda i=inspiration: (i.prompt, *refs_view(list(i.input_images))),
                     outputs=[prompt, *ref_outputs], **PRIVATE)
    upload.upload(lambda e, f: (*refs_view(*references.add_files(e, f)), None),
                  [refs, upload], [*ref_outputs, upload], **PRIVATE)
    add_url.click(lambda e, u: (*refs_view(*references.add_url(e, u)), ""),
                  [refs, ref_url], [*ref_outputs, ref_url], **PRIVATE)
    up.click(lambda e, n: refs_view(references.move(e, n, -1)), [refs, selected], ref_outputs,
             **PRIVATE)
    down.click(lambda e, n: refs_view(references.move(e, n, +1)), [refs, selected], ref_outputs,
               **PRIVATE)
    remove.click(lambda e, n: refs_view(references.remove(e, n)), [refs, selected], ref_outputs,
                 **PRIVATE)
    clear.click(lambda: refs_view([]), None, ref_outputs, **PRIVATE)

    value_inputs = [refs, prompt, width, height, safety, seed, output_format]
    gr.on([c.change for c in (*value_inputs, sbs_seeds)], extras.inputs_changed,
          [*value_inputs, sbs_seeds], [cost_box, code_curl, code_python, sbs_cost],
          trigger_mode="always_last", show_progress="hidden", concurrency_limit=None,
          **PRIVATE)
    sbs_seeds.change(extras.seeds_changed, [sbs_seeds, sbs_runs_shown],
                     [sbs_confirm, sbs_runs_shown], show_progress="hidden",
                     concurrency_limit=None, **PRIVATE)
    history_html.click(extras.history_action, [history, refs],
                       [prompt, *ref_outputs, width, height, safety, seed, output_format,
                        randomize, history_note], concurrency_limit=None, **PRIVATE)
    sbs_event = sbs_run.click(extras.compare,
                  [history, refs, prompt, width, height, safety, output_format, sbs_seeds,
                   sbs_confirm, visitor_key, visitor_secret],
                  [sbs_status, *sbs_columns, *sbs_images, *sbs_statuses, history, history_html,
                   sbs_confirm, sbs_compare], **PRIVATE, **RUNS)
    keep.wire(demo, [run_event, sbs_event],  # kept results: list, share, restore, download
              [prompt, *ref_outputs, width, height, safety, seed, output_format, randomize],
              outputs)
    for slot, button in enumerate(sbs_stops):
        button.click(extras.slot_stop(slot), None, None, concurrency_limit=None, **PRIVATE)

    with gr.Column(visible=False):  # the named API endpoint: the seed's inputs, in its order
        api_images = gr.File(label=spec.INPUT_IMAGE.label, file_count="multiple")
        api_prompt = gr.Textbox(label=spec.PROMPT.label, value=spec.PROMPT.default)
        api_numbers = [number_input(f) for f in spec.NUMBER_INPUTS]
        api_format = gr.Dropdown(label=spec.OUTPUT_FORMAT.label, value=spec.OUTPUT_FORMAT.default,
                                 choices=list(spec.OUTPUT_FORMAT.option_values),
                                 allow_custom_value=True)
        api_file = gr.File(label="Image")
        api_details = gr.JSON(label="Run details")
        # Named and described for API and MCP clients from wiro.spec (studio/apidoc.py).
        apidoc.describe_generate(DemoPage.run_from_api)
        gr.Button(visible=False).click(
            page.run_from_api, [api_images, api_prompt, *api_numbers, api_format],
            [api_file, api_details], api_name="generate", **RUNS)
    # Gradio's MCP server needs a fix for a list of reference images (studio/mcp_compat.py).
    mcp_compat.install()

demo.queue(default_concurrency_limit=APP_SETTINGS.max_concurrent_runs)


def launch_options() -> dict:
    """demo.launch() arguments, shared by `python app.py` and the tests' in-process launch."""
    return dict(
        css_paths=[HERE / "assets" / "style.css"], allowed_paths=[str(outputs.root)],
        show_error=True,
        # Every run holds a worker thread while it waits on Wiro; Gradio's default of 40
        # would queue runs below the configured concurrency.
        max_threads=max(40, 2 * APP_SETTINGS.max_concurrent_runs + 8),
        # `generate` as an MCP tool; GRADIO_MCP_SERVER=False turns it off.
        mcp_server=os.environ.get("GRADIO_MCP_SERVER", "True").lower() != "false",
        app_kwargs=share_ui.app_kwargs())  # /share/<token>: kept results' read-only links


def _exit_on_sigterm(*_):
    # Stop paid tasks first (Gradio's own shutdown can take seconds), then leave as Ctrl-C.
    active_runs.stop_all()
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    demo.launch(**launch_options())
