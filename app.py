"""FLUX.2 [pro] on Wiro: a Gradio demo. Run `python app.py`; with no WIRO_API_KEY it uses
the built-in simulator. Every label, default, range and example comes from wiro.spec."""
from __future__ import annotations

import atexit
import html
import os
import re
import signal
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a demo
# The `generate` endpoint is also an MCP tool (/gradio_api/mcp/), however the app is launched;
# GRADIO_MCP_SERVER=False turns that off.
os.environ.setdefault("GRADIO_MCP_SERVER", "True")

import gradio as gr  # noqa: E402

from studio import references  # noqa: E402
from studio.backend import SIMULATOR_NOTICE, AppSettings, start_backend
from studio.guards import Guard, GuardSettings
from studio.outputs import OutputStore
from studio.run import ActiveRuns, RunUpdate, generate, status_html
from wiro import WiroClient, spec
# Issue 7: history, request as code, cost estimate, lighter uploads, side by side, MCP.
from studio import apidoc, cost, mcp_compat, side_by_side, snippets  # noqa: E402
from studio import history as hist  # noqa: E402
from wiro import uploads  # noqa: E402

HERE = Path(__file__).parent
APP_SETTINGS = AppSettings.load()
GUARD_SETTINGS = GuardSettings.load()
backend = start_backend(app_settings=APP_SETTINGS,
                        bring_your_own_key=GUARD_SETTINGS.bring_your_own_key)
active_runs = ActiveRuns()
outputs = OutputStore()
guard = Guard(GUARD_SETTINGS)
atexit.register(active_runs.stop_all)  # Ctrl-C / SIGTERM: leave no paid task running
BYOK = GUARD_SETTINGS.bring_your_own_key

API_HEARTBEAT_SECONDS = 1.0
IDLE = status_html("idle", "Ready. Press Generate.")


def number_input(field: spec.ModelInput, **extra) -> gr.Number:
    # Bounds are checked by wiro.validation (one message per problem, by label), not by Gradio.
    return gr.Number(label=field.label, info=field.help or None, value=field.default,
                     precision=0, step=field.step, **extra)


def model_values(images, prompt, width, height, safety, seed, output_format) -> dict:
    names = [f.name for f in spec.INPUTS]
    return dict(zip(names, (images, prompt, width, height, safety, seed, output_format)))


def client_id(request: gr.Request) -> str:
    """Who to count for the hourly cap: behind a Space's proxy, the first forwarded address."""
    if APP_SETTINGS.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        if forwarded:
            return forwarded
    return getattr(request.client, "host", None) or "unknown"


def visitor_client(api_key: str | None, api_secret: str | None) -> WiroClient | None:
    """Bring-your-own-key mode: a client for this run only; the key is never stored."""
    if not BYOK:
        return None
    if not (api_key or "").strip():
        raise gr.Error("Paste your Wiro API key (and secret, for signature projects) first. "
                       "They are used for your runs only and never stored.", print_exception=False)
    return WiroClient(api_key.strip(), (api_secret or "").strip() or None,
                      base_url=backend.settings.base_url,
                      poll_interval=backend.settings.poll_interval,
                      request_timeout=backend.settings.request_timeout)


def run_once(session, values, request, randomize=False, api_key=None, api_secret=None):
    client = visitor_client(api_key, api_secret)
    values = uploads.prepare_inputs(values)  # shrink big references before validation's 9 MP check
    try:
        yield from generate(backend, active_runs, outputs, session, values,
                            randomize_seed=randomize, client=client,
                            admit=lambda: guard.admit(session, client_id(request),
                                                      own_key=client is not None))
    finally:
        if client is not None:
            client.close()


def run_from_page(images, prompt, width, height, safety, seed, randomize, output_format,
                  api_key, api_secret, request: gr.Request):
    values = model_values(images, prompt, width, height, safety, seed, output_format)
    for update in run_once(request.session_hash, values, request, bool(randomize),
                           api_key, api_secret):
        yield page_outputs(update, randomize)


def page_outputs(update: RunUpdate, randomize: bool):
    done = update.image is not None
    return (update.status,
            update.image if done else gr.skip(),
            gr.update(value=update.image, visible=True) if done else gr.skip(),
            update.details if done else gr.skip(),
            update.seed if randomize and update.seed is not None else gr.skip())


def run_from_api(inputImage, prompt, width, height, safetyTolerance, seed, outputFormat,
                 request: gr.Request):
    """Generate one image with FLUX.2 [pro] on Wiro and return it with the run's details."""
    values = model_values(inputImage, prompt, width, height, safetyTolerance, seed, outputFormat)
    session = f"api-{request.session_hash}"
    last = None
    api_key = request.headers.get("x-wiro-api-key") if BYOK else None
    api_secret = request.headers.get("x-wiro-api-secret") if BYOK else None
    heartbeat = 0.0
    for last in run_once(session, values, request, api_key=api_key, api_secret=api_secret):
        # API callers see no progress; an occasional yield still lets Gradio stop the run
        # (and its remote task) when the caller goes away.
        if not last.finished and time.monotonic() - heartbeat >= API_HEARTBEAT_SECONDS:
            heartbeat = time.monotonic()
            yield gr.skip(), gr.skip()
    if last is None or last.image is None:
        raise gr.Error(_plain(last.status if last else "The run did not start."))
    yield last.image, last.details
    # Gradio has copied the file into its cache by now; ours would only pile up.
    outputs.drop(session)


def _plain(status: str) -> str:
    """The status area's HTML as text, for API callers."""
    text = re.sub(r"</?(li|br)[^>]*>", "\n", status)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def stop_from_page(request: gr.Request):
    lines = active_runs.stop(request.session_hash)
    # The run's generator may still send an update; answer after it, so Stop's is the last.
    active_runs.wait_until_ended(request.session_hash)
    if not lines:
        return status_html("stopped", "Nothing was running.")
    return status_html("stopped", "Stopped.", "<br>".join(html.escape(line) for line in lines))


def end_session(request: gr.Request):
    active_runs.stop(request.session_hash)
    outputs.drop(request.session_hash)


def refs_view(entries, note=""):
    choices = references.choices(entries)
    return (entries, references.render(entries),
            gr.update(choices=choices, value=choices[-1][1] if choices else None), note)


# --- Issue 7: history, request as code, cost estimate, side by side ----------------------
# The logic lives in studio/history.py, snippets.py, cost.py and side_by_side.py; these
# functions only map it onto the page's components.

SLOTS = side_by_side.MAX_SEEDS
slot_tasks = side_by_side.SlotTasks()


def inputs_changed(images, prompt, width, height, safety, seed, output_format, seeds_text):
    """The estimate beside Generate, the request as code, and the side-by-side estimate."""
    values = model_values(images, prompt, width, height, safety, seed, output_format)
    estimate = cost.estimate(values)
    seeds, problems = side_by_side.parse_seeds(seeds_text)
    runs = side_by_side.MIN_SEEDS if problems else len(seeds)
    return (cost.estimate_html(estimate), snippets.curl(values), snippets.python(values),
            cost.estimate_html(estimate, runs))


def seeds_changed(seeds_text, shown_runs):
    """A new number of runs needs a new confirmation; the same number keeps it."""
    seeds, problems = side_by_side.parse_seeds(seeds_text)
    runs = side_by_side.MIN_SEEDS if problems else len(seeds)
    if runs == shown_runs:
        return gr.skip(), gr.skip()
    return gr.update(label=side_by_side.confirm_label(runs), value=False), runs


def run_from_page_recorded(entries, images, prompt, width, height, safety, seed, randomize,
                           output_format, api_key, api_secret, request: gr.Request):
    """run_from_page, plus the finished run in the session's history and the estimate next
    to what Wiro charged."""
    values = model_values(images, prompt, width, height, safety, seed, output_format)
    inputs, estimate = hist.snapshot(values), cost.estimate(values)
    estimated = estimate.usd if estimate else None
    for out in run_from_page(images, prompt, width, height, safety, seed, randomize,
                             output_format, api_key, api_secret, request):
        run_details = out[3]  # the run's details once it made an image, else gr.skip()
        if isinstance(run_details, dict) and "task_id" in run_details:
            entries = hist.add(entries, hist.entry(inputs, run_details, out[1], estimated))
            yield (*out, entries, hist.render(entries),
                   cost.compare_html(estimated, run_details.get("cost_usd")))
        else:
            yield (*out, gr.skip(), gr.skip(), gr.skip())


def history_action(entries, refs_now, evt: gr.EventData):
    """A click on a history card's button: restore that run's inputs, or use its image."""
    data = getattr(evt, "_data", None) or {}
    item = hist.find(entries, data.get("task"))
    keep = (gr.skip(),) * 11
    if item is None:
        return (*keep, "That run is no longer in the history.")
    if data.get("action") == "use":
        new_refs, note = hist.use_as_reference(refs_now, item)
        refs_out = refs_view(new_refs, note)
        return (gr.skip(), *refs_out, *(gr.skip(),) * 6,
                note or f"Task {item['task_id']}'s image is now reference image {len(new_refs)}.")
    restored = hist.restore(item)
    return (restored[spec.PROMPT.name], *refs_view(restored[spec.INPUT_IMAGE.name]),
            restored[spec.WIDTH.name], restored[spec.HEIGHT.name],
            restored[spec.SAFETY_TOLERANCE.name], restored[spec.SEED.name],
            restored[spec.OUTPUT_FORMAT.name], False,
            f"Restored every input of task {item['task_id']}: tweak them and press Generate.")


def compare_from_page(entries, images, prompt, width, height, safety, output_format,
                      seeds_text, confirmed, api_key, api_secret, request: gr.Request):
    """Side by side: one run per seed, streamed into the row of slots."""
    session = request.session_hash
    seeds, problems = side_by_side.parse_seeds(seeds_text)
    hidden = [gr.update(visible=i < len(seeds)) for i in range(SLOTS)]
    skip_slots = [gr.skip()] * (2 * SLOTS)

    def note(kind, title, body=""):
        return (status_html(kind, title, body), *[gr.skip()] * SLOTS, *skip_slots,
                gr.skip(), gr.skip(), gr.skip(), gr.skip())
    if problems:
        yield note("invalid", "Nothing was sent — fix the seeds first:",
                   "<br>".join(html.escape(p) for p in problems))
        return
    if not confirmed:
        yield note("refused", "Not run — nothing was charged.",
                   html.escape(f"Tick “{side_by_side.confirm_label(len(seeds))}” first."))
        return
    values = model_values(images, prompt, width, height, safety, seeds[0], output_format)
    inputs, estimate = hist.snapshot(values), cost.estimate(values)
    estimated = estimate.usd if estimate else None
    client = visitor_client(api_key, api_secret)
    recorded: set[int] = set()
    charged: list[float] = []
    try:
        runs = side_by_side.compare(
            backend, active_runs, outputs, session, uploads.prepare_inputs(values), seeds,
            slots=slot_tasks, client=client,
            admit_batch=lambda n: guard.admit_batch(session, client_id(request), n,
                                                    own_key=client is not None))
        first = True
        for latest in runs:
            slot_images = [None if first else gr.skip()] * SLOTS
            new_entries = False
            for index, update in enumerate(latest):
                if update and update.image and update.details and index not in recorded:
                    recorded.add(index)
                    charged.append(update.details.get("cost_usd") or 0.0)
                    entries = hist.add(entries, hist.entry(
                        {**inputs, spec.SEED.name: seeds[index]}, update.details, update.image,
                        estimated))
                    slot_images[index] = update.image
                    new_entries = True
            done = all(u is not None and u.finished for u in latest)
            if done:
                overall = status_html("done" if recorded else "stopped",
                                      f"{len(recorded)} of {len(seeds)} runs produced an image.")
            else:
                overall = status_html("running", f"Running {len(seeds)} seeds side by side…")
            slot_status = [side_by_side_slot_html(seeds[i], latest[i]) if i < len(latest)
                           else "" for i in range(SLOTS)]
            compare_text = gr.skip()
            if done and charged:
                compare_text = cost.compare_html(
                    estimated * len(seeds) if estimated is not None else None,
                    round(sum(charged), 6), f"Side by side ({len(charged)} charged runs)")
            yield (overall, *hidden, *slot_images, *slot_status,
                   entries if new_entries else gr.skip(),
                   hist.render(entries) if new_entries else gr.skip(),
                   False if first else gr.skip(), compare_text)
            hidden, first = [gr.skip()] * SLOTS, False
    finally:
        if client is not None:
            client.close()


def side_by_side_slot_html(seed, update):
    head = f'<div class="sbs-seed" data-seed="{seed}">Seed {seed}</div>'
    if update is None:
        return head + status_html("running", "Waiting to start…", fraction=0.0)
    return head + update.status


def make_slot_stop(index):
    def stop_slot(request: gr.Request):
        side_by_side.stop_slot(active_runs, slot_tasks, request.session_hash, index)
    stop_slot.__name__ = f"stop_slot_{index + 1}"
    return stop_slot


# Gradio's own cache of served files is pruned hourly, so a long-lived Space stays bounded.
with gr.Blocks(title=f"{spec.MODEL_TITLE} on Wiro", delete_cache=(3600, 3600)) as demo:
    gr.Markdown(f"# {spec.MODEL_TITLE} on Wiro\nBlack Forest Labs' image model: generate from "
                "a prompt, or edit and combine up to 8 reference images.")
    if backend.is_simulator:
        gr.HTML(f'<div class="mode-banner" id="mode-banner">{html.escape(SIMULATOR_NOTICE)}</div>')
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
                with gr.Column(scale=2, min_width=220):  # Issue 7: the cost, before and after
                    cost_box = gr.HTML(cost.estimate_html(cost.estimate(spec.defaults())),
                                       elem_id="cost-estimate")
                    cost_compare = gr.HTML("", elem_id="cost-compare")
            status = gr.HTML(IDLE, elem_id="run-status-box")
            with gr.Accordion(f"{spec.INPUT_IMAGE.label}: reference images, sent in this order "
                              "(prompts call them image 1, image 2, …)", open=True):
                refs_html = gr.HTML(references.render(spec.default_reference_images()),
                                    elem_id="refs")
                refs_note = gr.Markdown("", elem_id="refs-note")
                upload = gr.File(label="Add images", file_count="multiple", file_types=["image"],
                                 elem_id="ref-upload")
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
            # Issue 7: the Run these inputs make, as code (updated on every input change).
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
    gr.Markdown("### Inspirations\nClick one to fill the inputs, then press Generate.")
    with gr.Row():
        for number, inspiration in enumerate(spec.INSPIRATIONS, start=1):
            gr.Button(inspiration.title, size="sm", elem_id=f"example-{number}").click(
                lambda i=inspiration: (i.prompt, *refs_view(list(i.input_images))),
                outputs=[prompt, refs, refs_html, selected, refs_note],
                api_visibility="private")

    # --- Issue 7 layout: side by side, then this session's history ------------------------
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

    model_inputs = [refs, prompt, width, height, safety, seed, randomize, output_format,
                    visitor_key, visitor_secret]
    # Issue 7: the page's run also records the finished run in the history.
    run_event = run_button.click(run_from_page_recorded, [history, *model_inputs],
                                 [status, result, download, details, seed,
                                  history, history_html, cost_compare],
                                 api_visibility="private", concurrency_id="runs",
                                 concurrency_limit=APP_SETTINGS.max_concurrent_runs)
    stop_button.click(stop_from_page, None, status, cancels=[run_event],
                      api_visibility="private", concurrency_limit=None)
    demo.unload(end_session)

    ref_outputs = [refs, refs_html, selected, refs_note]
    upload.upload(lambda e, f: (*refs_view(*references.add_files(e, f)), None),
                  [refs, upload], [*ref_outputs, upload], api_visibility="private")
    add_url.click(lambda e, u: (*refs_view(*references.add_url(e, u)), ""),
                  [refs, ref_url], [*ref_outputs, ref_url], api_visibility="private")
    up.click(lambda e, n: refs_view(references.move(e, n, -1)), [refs, selected], ref_outputs,
             api_visibility="private")
    down.click(lambda e, n: refs_view(references.move(e, n, +1)), [refs, selected], ref_outputs,
               api_visibility="private")
    remove.click(lambda e, n: refs_view(references.remove(e, n)), [refs, selected], ref_outputs,
                 api_visibility="private")
    clear.click(lambda: refs_view([]), None, ref_outputs, api_visibility="private")

    # --- Issue 7 wiring -----------------------------------------------------------------
    value_inputs = [refs, prompt, width, height, safety, seed, output_format]
    gr.on([c.change for c in (*value_inputs, sbs_seeds)], inputs_changed,
          [*value_inputs, sbs_seeds], [cost_box, code_curl, code_python, sbs_cost],
          api_visibility="private", trigger_mode="always_last", show_progress="hidden",
          concurrency_limit=None)
    sbs_seeds.change(seeds_changed, [sbs_seeds, sbs_runs_shown], [sbs_confirm, sbs_runs_shown],
                     api_visibility="private", show_progress="hidden", concurrency_limit=None)
    history_html.click(history_action, [history, refs],
                       [prompt, *ref_outputs, width, height, safety, seed, output_format,
                        randomize, history_note], api_visibility="private",
                       concurrency_limit=None)
    sbs_run.click(compare_from_page,
                  [history, refs, prompt, width, height, safety, output_format, sbs_seeds,
                   sbs_confirm, visitor_key, visitor_secret],
                  [sbs_status, *sbs_columns, *sbs_images, *sbs_statuses, history, history_html,
                   sbs_confirm, sbs_compare],
                  api_visibility="private", concurrency_id="runs",
                  concurrency_limit=APP_SETTINGS.max_concurrent_runs)
    for slot, button in enumerate(sbs_stops):
        button.click(make_slot_stop(slot), None, None, api_visibility="private",
                     concurrency_limit=None)

    with gr.Column(visible=False):  # the named API endpoint: the seed's inputs, in its order
        api_images = gr.File(label=spec.INPUT_IMAGE.label, file_count="multiple")
        api_prompt = gr.Textbox(label=spec.PROMPT.label, value=spec.PROMPT.default)
        api_numbers = [number_input(f) for f in spec.NUMBER_INPUTS]
        api_format = gr.Dropdown(label=spec.OUTPUT_FORMAT.label, value=spec.OUTPUT_FORMAT.default,
                                 choices=list(spec.OUTPUT_FORMAT.option_values),
                                 allow_custom_value=True)
        api_file = gr.File(label="Image")
        api_details = gr.JSON(label="Run details")
        gr.Button(visible=False).click(
            run_from_api, [api_images, api_prompt, *api_numbers, api_format],
            [api_file, api_details], api_name="generate", concurrency_id="runs",
            concurrency_limit=APP_SETTINGS.max_concurrent_runs)
    # Issue 7: the MCP tool `generate`, each input described from wiro.spec; its list of
    # reference images needs a fix to Gradio's MCP server (studio/mcp_compat.py).
    apidoc.describe_generate(run_from_api)
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
        mcp_server=os.environ.get("GRADIO_MCP_SERVER", "True").lower() != "false")


def _exit_on_sigterm(*_):
    # Stop paid tasks first (Gradio's own shutdown can take seconds), then leave as Ctrl-C.
    active_runs.stop_all()
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    demo.launch(**launch_options())
