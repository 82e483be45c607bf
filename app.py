"""FLUX.2 [pro] on Wiro: a Gradio demo. Run `python app.py`; with no WIRO_API_KEY it uses
the built-in simulator. This file is the page's layout and wiring; every label, default and
range comes from wiro.spec, and the handlers live in studio/ui/ (one feature a module)."""
from __future__ import annotations

import atexit
import os
import signal
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a demo

import gradio as gr  # noqa: E402

from studio import cost, gradio_patches, share_ui  # noqa: E402
from studio import status as run_status  # noqa: E402
from studio.config import Config  # noqa: E402
from studio.page import DemoPage  # noqa: E402
from studio.ui import api, chrome  # noqa: E402
from studio.ui.compare import SideBySide  # noqa: E402
from studio.ui.follow import Followers  # noqa: E402
from studio.ui.form import (AdvancedInputs, Form, SizeInputs, code_panel,  # noqa: E402
                             prompt_input)
from studio.ui.generate import Generate, ResultView  # noqa: E402
from studio.ui.history import HistoryPanel  # noqa: E402
from studio.ui.inspirations import Inspirations  # noqa: E402
from studio.ui.references import ReferencePanel, first_size  # noqa: E402
from studio.ui.slider import UrlImageSlider  # noqa: E402
from wiro import spec  # noqa: E402

HERE = Path(__file__).parent
CONFIG = Config.load()  # every setting, read once
page = DemoPage(CONFIG)
backend, active_runs, outputs = page.backend, page.active_runs, page.outputs
BYOK = page.byok
atexit.register(active_runs.stop_all)  # Ctrl-C / SIGTERM: leave no paid task running
RUNS = dict(concurrency_id="runs", concurrency_limit=CONFIG.max_concurrent_runs)
PRIVATE = dict(api_visibility="private")  # page-only events: not callable as an API


def end_session(request: gr.Request) -> None:
    page.end_session(request.session_hash)


QUIET = dict(show_progress="hidden", concurrency_limit=None, **PRIVATE)  # instant UI changes

# Gradio's own cache of served files is pruned hourly, so a long-lived Space stays bounded.
with gr.Blocks(title=f"{spec.MODEL_TITLE} on Wiro", delete_cache=(3600, 3600)) as demo:
    with gr.Row(visible=BYOK):
        # Password fields start empty: a secret used as a default would land in the page config.
        key = gr.Textbox(label="Your Wiro API key", type="password", elem_id="byok-key",
                         info="Used for your runs only; never stored or shown.")
        secret = gr.Textbox(label="Your Wiro API secret (signature projects)", type="password",
                            elem_id="byok-secret")
    # Desktop: compose (top left) and settings (below it) beside the sticky result; on a
    # phone the three stack in this order, so the result comes right after Generate.
    with gr.Column(elem_id="main"):
        with gr.Column(elem_id="compose"):
            prompt = prompt_input()
            with gr.Row(equal_height=True, elem_id="run-row"):
                run_button = gr.Button("Generate", variant="primary", scale=3, elem_id="generate")
                stop_button = gr.Button("Stop", interactive=False, scale=1, elem_id="stop")
            estimate = gr.HTML(cost.estimate_html(cost.estimate(spec.defaults()),
                                                 simulated=backend.is_simulator),
                               elem_id="cost-estimate")
        with gr.Column(elem_id="result-col"):
            status = gr.HTML(run_status.to_html(run_status.IDLE), elem_id="run-status-box",
                             js_on_load=chrome.LIVE_REGION)
            result = gr.Image(label="Result", type="filepath", interactive=False,
                              buttons=["download", "fullscreen"], elem_id="result")
            cost_line = gr.HTML("", elem_id="cost-compare")
            use_ref = gr.Button("Use as reference", visible=False, size="md",
                                elem_id="use-as-reference")
            slider = UrlImageSlider(label="Before / after: image 1 and the result",
                                    type="filepath", visible=False, elem_id="before-after")
            download = gr.File(label="Download (the exact file Wiro returned)", visible=False,
                               interactive=False, elem_id="download")
            with gr.Accordion("Run details", open=False, elem_id="details-box"):
                # Shown with the first result: until then the page need not load a JSON viewer.
                details = gr.JSON(show_label=False, visible=False, elem_id="details")
            keep = share_ui.build()  # kept results: Share, Delete, Download this session
        with gr.Column(elem_id="settings"):
            refs = ReferencePanel(spec.default_reference_images())
            sizes = SizeInputs()
            advanced = AdvancedInputs()
            inspirations = Inspirations()
    code = code_panel()
    form = Form({spec.INPUT_IMAGE.name: refs.entries, spec.PROMPT.name: prompt,
                 spec.WIDTH.name: sizes.width, spec.HEIGHT.name: sizes.height,
                 spec.SEED.name: advanced.seed, **advanced.controls},
                advanced.randomize, key, secret)
    with gr.Accordion("Side by side: the same inputs with 2–4 seeds", open=False,
                      elem_id="side-by-side"):
        compare = SideBySide(page, form, spec.defaults())
    history = HistoryPanel()
    compare.attach_history(history.entries, history.html)
    view = ResultView(status, result, use_ref, slider, download, details, cost_line,
                      run_button, stop_button)
    generate = Generate(page, form, refs, view, history.entries, history.html)
    follow = Followers(form, estimate, sizes.marks, advanced.seed_marks, code, compare, status)

    # --- wiring ----------------------------------------------------------------------------
    run_event = run_button.click(generate.run, generate.inputs, generate.outputs,
                                 js=chrome.STARTING_JS, show_progress="hidden", **PRIVATE,
                                 **RUNS)
    run_event.then(view.idle_buttons, None, [run_button, stop_button], **QUIET)
    stop_button.click(generate.stop, None, [status, run_button, stop_button],
                      cancels=[run_event], **QUIET)
    demo.unload(end_session)
    use_ref.click(generate.use_result, {history.entries, details, refs.entries}, refs.outputs,
                  **QUIET)
    refs.wire(QUIET)
    code.wire(form, QUIET)
    inspirations.table.click(inspirations.fill(prompt, refs, status), {inspirations.table},
                             {prompt, status} | refs.outputs, js=inspirations.show_filled_js,
                             **QUIET)
    gr.on([sizes.ratio.input, sizes.megapixels.input],
          lambda data: sizes.apply(data, first_size(data[refs.entries])),
          {sizes.ratio, sizes.megapixels, refs.entries}, [sizes.width, sizes.height],
          show_progress="hidden", concurrency_id="sizes", concurrency_limit=1, **PRIVATE)
    gr.on([c.change for c in (*form.model, compare.seeds)], follow.changed, follow.inputs,
          follow.outputs, trigger_mode="always_last", **QUIET)
    compare.seeds.change(compare.seeds_changed, {compare.seeds, compare.runs_shown},
                         [compare.confirm, compare.runs_shown], **QUIET)

    def restored(values: dict, text: str) -> dict:
        """A restore shows its size's presets, and says what it did in the status."""
        return {**sizes.restored(values[spec.WIDTH.name], values[spec.HEIGHT.name]),
                status: run_status.to_html(run_status.RunStatus("idle", text))}

    history.html.click(history.action(form, refs, restored), {history.entries, refs.entries},
                       {*form.fill(spec.defaults()), *refs.outputs, form.randomize,
                        history.note, *restored(spec.defaults(), "")},
                       **QUIET)
    compare_event = compare.run_button.click(
        compare.run, compare.inputs, compare.outputs | {history.entries, history.html},
        show_progress="hidden", **PRIVATE, **RUNS)
    compare_event.then(lambda: gr.Button(interactive=True), None, compare.run_button, **QUIET)
    keep.wire(demo, [run_event, compare_event], form, refs, restored)
    for slot, button in enumerate(compare.stops):
        button.click(compare.slot_stop(slot), None, None, **QUIET)
    api.build(page, **RUNS)
    # Every change to Gradio's own behaviour; the header is drawn before Gradio builds the page.
    gradio_patches.install(page, header=chrome.header(backend.is_simulator, BYOK))

demo.queue(default_concurrency_limit=CONFIG.max_concurrent_runs)


def launch_options() -> dict:
    """demo.launch() arguments, shared by `python app.py` and the tests' in-process launch."""
    return dict(
        css_paths=[HERE / "assets" / "style.css"], head=chrome.HEAD, theme=chrome.THEME,
        allowed_paths=[str(outputs.root), str(HERE / "assets")], show_error=True,
        # Gradio refuses a bigger file while it streams in (the rest: studio/bounds.py).
        max_file_size=int(CONFIG.max_upload_mb * 1024 * 1024) or None,
        # Every run holds a worker thread while it waits on Wiro; Gradio's default of 40
        # would queue runs below the configured concurrency.
        max_threads=max(40, 2 * CONFIG.max_concurrent_runs + 8),
        # `generate` as an MCP tool; GRADIO_MCP_SERVER=False turns it off.
        mcp_server=CONFIG.mcp_server,
        app_kwargs=share_ui.app_kwargs())  # /share/<token>: kept results' read-only links


def _exit_on_sigterm(*_):
    # Stop paid tasks first (Gradio's own shutdown can take seconds), then leave as Ctrl-C.
    active_runs.stop_all()
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    demo.launch(**launch_options())
