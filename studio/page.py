"""What every run shares (backend, guard, active runs, result files), one run for the page
or the API, Stop, a closed tab, and the `generate` API endpoint.

The page's components and their handlers live in studio/ui/; they call `DemoPage.run_once`.
Gradio is imported here for gr.Request and gr.Error; `wiro/` stays free of it.
"""
from __future__ import annotations

import time
from typing import Any, Iterator

import gradio as gr

from wiro import WiroClient, spec

from . import admission, results
from .backend import start_backend
from .config import Config
from .guards import Guard
from .visitors import Visitors
from .outputs import OutputStore
from .run import ActiveRuns, RunUpdate

# API callers see no progress; an occasional yield still lets Gradio stop the run (and its
# remote task) when the caller goes away.
API_HEARTBEAT_SECONDS = 1.0


def model_values(images, prompt, width, height, safety, seed, output_format) -> dict:
    """The seven model inputs by name, from the API's arguments in the spec's order."""
    names = [f.name for f in spec.INPUTS]
    return dict(zip(names, (images, prompt, width, height, safety, seed, output_format)))


class DemoPage:
    def __init__(self, config: Config):
        self.config = config
        self.byok = config.bring_your_own_key
        self.backend = start_backend(config)
        self.active_runs = ActiveRuns()
        self.outputs = OutputStore()
        self.guard = Guard.persistent(config)  # ledger in APP_DATA_DIR
        self.visitors = Visitors(config)  # who the caps count
        results.open_store(config)

    # --- shared by every kind of run -----------------------------------------------------

    def visitor_client(self, api_key: str | None, api_secret: str | None) -> WiroClient | None:
        """Bring-your-own-key mode: a client for this run only; the key is never stored."""
        if not self.byok:
            return None
        if not (api_key or "").strip():
            raise gr.Error("Paste your Wiro API key (and secret, for signature projects) "
                           "first. They are used for your runs only and never stored.",
                           print_exception=False)
        return self.backend.visitor_client(api_key.strip(), (api_secret or "").strip() or None)

    def run_once(self, session: str, values: dict[str, Any], request: gr.Request,
                 randomize: bool = False, api_key: str | None = None,
                 api_secret: str | None = None) -> Iterator[RunUpdate]:
        client = self.visitor_client(api_key, api_secret)
        try:  # admitted before any upload is decoded (studio/admission.py)
            yield from admission.run(
                self.guard, self.backend, self.active_runs, self.outputs, session,
                self.visitors.identify(request, session), values, randomize_seed=randomize,
                client=client)
        finally:
            if client is not None:
                client.close()

    # --- the page ------------------------------------------------------------------------

    def stop_session(self, session: str) -> list[str] | None:
        """Stop the session's tasks; what happened to each, None if nothing was running."""
        lines = self.active_runs.stop(session)
        # The run's generator may still send an update; answer after it, so Stop's is last.
        self.active_runs.wait_until_ended(session)
        return lines or None

    def end_session(self, request: gr.Request) -> None:
        """The tab closed or reloaded: stop its tasks and forget its files."""
        self.active_runs.stop(request.session_hash)
        self.outputs.drop(request.session_hash)

    # --- the API -------------------------------------------------------------------------

    def run_from_api(self, inputImage=None, prompt=spec.PROMPT.default,
                     width=spec.WIDTH.default, height=spec.HEIGHT.default,
                     safetyTolerance=spec.SAFETY_TOLERANCE.default, seed=spec.SEED.default,
                     outputFormat=spec.OUTPUT_FORMAT.default, request: gr.Request = None):
        values = model_values(inputImage, prompt, width, height, safetyTolerance, seed,
                              outputFormat)
        # an MCP call has its own session (studio/visitors.py)
        session = self.visitors.identify(request, f"api-{request.session_hash}").session
        api_key = request.headers.get("x-wiro-api-key") if self.byok else None
        api_secret = request.headers.get("x-wiro-api-secret") if self.byok else None
        last, heartbeat = None, 0.0
        for last in self.run_once(session, values, request, api_key=api_key,
                                  api_secret=api_secret):
            if not last.finished and time.monotonic() - heartbeat >= API_HEARTBEAT_SECONDS:
                heartbeat = time.monotonic()
                yield gr.skip(), gr.skip()
        if last is None or last.image is None:
            raise gr.Error(last.status.text() if last else "The run did not start.",
                           print_exception=False)  # admission logged one line
        yield last.image, last.details
        # Gradio has copied the file into its cache by now; ours would only pile up.
        self.outputs.drop(session)
