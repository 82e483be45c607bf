"""Handlers for the page's extras: the cost estimate and request as code that follow the
inputs, the session's history (restore, use as reference) and side-by-side seeds.

The logic lives in history.py, snippets.py, cost.py and side_by_side.py; these methods only
map it onto the page's components.
"""
from __future__ import annotations

import gradio as gr

from wiro import spec

from . import admission, cost, results, side_by_side, snippets
from . import history as hist
from .page import DemoPage, model_values, refs_view
from .status import RunStatus, to_html

SLOTS = side_by_side.MAX_SEEDS


def slot_html(seed: int, update) -> str:
    head = f'<div class="sbs-seed" data-seed="{seed}">Seed {seed}</div>'
    if update is None:
        return head + to_html(RunStatus("running", "Waiting to start…", fraction=0.0))
    return head + to_html(update.status)


def runs_for(seeds_text: str) -> int:
    seeds, problems = side_by_side.parse_seeds(seeds_text)
    return side_by_side.MIN_SEEDS if problems else len(seeds)


class PageExtras:
    def __init__(self, page: DemoPage):
        self.page = page
        self.slot_tasks = side_by_side.SlotTasks()

    def inputs_changed(self, images, prompt, width, height, safety, seed, output_format,
                       seeds_text):
        """The estimate beside Generate, the request as code, and the side-by-side estimate."""
        values = model_values(images, prompt, width, height, safety, seed, output_format)
        estimate = cost.estimate(values)
        return (cost.estimate_html(estimate), snippets.curl(values), snippets.python(values),
                cost.estimate_html(estimate, runs_for(seeds_text)))

    @staticmethod
    def seeds_changed(seeds_text, shown_runs):
        """A new number of runs needs a new confirmation; the same number keeps it."""
        runs = runs_for(seeds_text)
        if runs == shown_runs:
            return gr.skip(), gr.skip()
        return gr.update(label=side_by_side.confirm_label(runs), value=False), runs

    def run_and_record(self, entries, images, prompt, width, height, safety, seed, randomize,
                       output_format, api_key, api_secret, request: gr.Request):
        """Generate, plus the finished run in the history and the estimate beside what Wiro
        charged."""
        values = model_values(images, prompt, width, height, safety, seed, output_format)
        inputs, estimate = hist.snapshot(values), cost.estimate(values)
        estimated = estimate.usd if estimate else None
        for out in self.page.run_from_page(images, prompt, width, height, safety, seed,
                                           randomize, output_format, api_key, api_secret,
                                           request):
            run_details = out[3]  # the run's details once it made an image, else gr.skip()
            if isinstance(run_details, dict) and "task_id" in run_details:
                entries = hist.add(entries, hist.entry(inputs, run_details, out[1], estimated))
                results.keep(request.session_hash, inputs, run_details, out[1], estimated)
                yield (*out, entries, hist.render(entries),
                       cost.compare_html(estimated, run_details.get("cost_usd")))
            else:
                yield (*out, gr.skip(), gr.skip(), gr.skip())

    @staticmethod
    def history_action(entries, refs_now, evt: gr.EventData):
        """A click on a history card's button: restore that run's inputs, or use its image."""
        data = getattr(evt, "_data", None) or {}
        item = hist.find(entries, data.get("task"))
        if item is None:
            return (*(gr.skip(),) * 11, "That run is no longer in the history.")
        if data.get("action") == "use":
            new_refs, note = hist.use_as_reference(refs_now, item)
            return (gr.skip(), *refs_view(new_refs, note), *(gr.skip(),) * 6,
                    note or f"Task {item['task_id']}'s image is now reference image "
                            f"{len(new_refs)}.")
        restored = hist.restore(item)
        return (restored[spec.PROMPT.name], *refs_view(restored[spec.INPUT_IMAGE.name]),
                restored[spec.WIDTH.name], restored[spec.HEIGHT.name],
                restored[spec.SAFETY_TOLERANCE.name], restored[spec.SEED.name],
                restored[spec.OUTPUT_FORMAT.name], False,
                f"Restored every input of task {item['task_id']}: tweak them and press "
                "Generate.")

    def compare(self, entries, images, prompt, width, height, safety, output_format,
                seeds_text, confirmed, api_key, api_secret, request: gr.Request):
        """Side by side: one run per seed, streamed into the row of slots."""
        page, session = self.page, request.session_hash
        seeds, problems = side_by_side.parse_seeds(seeds_text)
        hidden = [gr.update(visible=i < len(seeds)) for i in range(SLOTS)]

        def note(kind, title, detail="", problems=()):
            return (to_html(RunStatus(kind, title, detail, problems)),
                    *[gr.skip()] * (3 * SLOTS + 4))
        if problems:
            yield note("invalid", "Nothing was sent — fix the seeds first:", problems=problems)
            return
        if not confirmed:
            yield note("refused", "Not run — nothing was charged.",
                       f"Tick “{side_by_side.confirm_label(len(seeds))}” first.")
            return
        values = model_values(images, prompt, width, height, safety, seeds[0], output_format)
        inputs, estimate = hist.snapshot(values), cost.estimate(values)
        estimated = estimate.usd if estimate else None
        client = page.visitor_client(api_key, api_secret)
        recorded: set[int] = set()
        charged: list[float] = []
        # issue 12: the batch is admitted before any upload is decoded
        admitted = admission.admit(page.guard, page.visitors.identify(request, session),
                                   values, len(seeds), own_key=client is not None,
                                   allow_private_urls=page.backend.allow_private_urls)
        try:
            if admitted.refusal:
                refusal = admitted.refusal.status
                yield note(refusal.kind, refusal.title, refusal.detail, refusal.problems)
                return
            runs = side_by_side.compare(
                page.backend, page.active_runs, page.outputs, session,
                admitted.values, seeds, slots=self.slot_tasks, client=client,
                admit_batch=lambda n: admitted.tickets)
            first = True
            for latest in runs:
                slot_images = [None if first else gr.skip()] * SLOTS
                new_entries = False
                for index, update in enumerate(latest):
                    if update and update.image and update.details and index not in recorded:
                        recorded.add(index)
                        charged.append(update.details.get("cost_usd") or 0.0)
                        entries = hist.add(entries, hist.entry(
                            {**inputs, spec.SEED.name: seeds[index]}, update.details,
                            update.image, estimated))
                        results.keep(session, {**inputs, spec.SEED.name: seeds[index]},
                                     update.details, update.image, estimated)
                        slot_images[index] = update.image
                        new_entries = True
                done = all(u is not None and u.finished for u in latest)
                if done:
                    overall = to_html(RunStatus("done" if recorded else "stopped",
                                                f"{len(recorded)} of {len(seeds)} runs "
                                                "produced an image."))
                else:
                    overall = to_html(RunStatus("running",
                                                f"Running {len(seeds)} seeds side by side…"))
                slot_status = [slot_html(seeds[i], latest[i]) if i < len(latest) else ""
                               for i in range(SLOTS)]
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
            admitted.release()  # issue 12
            if client is not None:
                client.close()

    def slot_stop(self, index: int):
        """The handler for one slot's Stop button."""
        def stop_slot(request: gr.Request) -> None:
            side_by_side.stop_slot(self.page.active_runs, self.slot_tasks,
                                   request.session_hash, index)
        stop_slot.__name__ = f"stop_slot_{index + 1}"
        return stop_slot
