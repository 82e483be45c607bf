"""The page's part of kept results: Share, Delete and "Download this session" beside the
result, the /share/<token> routes, and "Open in the app" (`/?restore=<token>`), which fills
in a shared result's inputs and never starts a run.

app.py uses it in three places:

    keep = share_ui.build()                       # layout, under the result
    keep.wire(demo, [run_event, sbs_event], form, refs, page.outputs)   # wiring
    app_kwargs=share_ui.app_kwargs()              # in launch_options(): the share routes

The results themselves are kept by `studio.results.keep`, called where finished runs are
recorded (studio/ui/generate.py, studio/ui/compare.py).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import urljoin, urlsplit

import gradio as gr
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from wiro import spec

from . import result_views
from .outputs import OutputStore
from .results import Result, new_browser_id, store, valid_browser, valid_token

PRIVATE = dict(api_visibility="private", concurrency_limit=None)
BROWSER_KEY = "flux2pro-visitor"
# The token is in the address: it must not travel to hosts of URL reference images.
PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
                   "Cache-Control": "private, max-age=300"}
# The shared page is text and images: no script runs on it, whatever a prompt contains.
PAGE_POLICY = ("default-src 'none'; img-src 'self' https: http:; style-src 'unsafe-inline'; "
               "base-uri 'none'; form-action 'none'")


def _choice(result: Result) -> tuple[str, str]:
    prompt = result.prompt if len(result.prompt) <= 50 else result.prompt[:47] + "…"
    return (f"task {result.task_id} · seed {result.inputs.get(spec.SEED.name)} · {prompt}",
            result.id)


def _choices(browser: str, session: str, selected: str | None = None) -> dict:
    kept = store().visible_to(browser, session)
    ids = [r.id for r in kept]
    mine = [r.id for r in kept if r.session == session]
    value = selected if selected in ids else (mine[0] if mine else None)
    return gr.update(choices=[_choice(r) for r in kept], value=value)


def share_link(page_url: str, token: str) -> str:
    """The link as the visitor's browser addresses the app (behind a Space's proxy too)."""
    if urlsplit(page_url or "").scheme not in {"http", "https"}:
        return f"/share/{token}"
    return urljoin(page_url, f"share/{token}")


@dataclass
class KeepShare:
    pick: Any
    share: Any
    delete: Any
    link: Any
    note: Any
    download: Any
    zip_file: Any
    browser: Any
    page_url: Any
    panel: Any

    def wire(self, demo: gr.Blocks, run_events: Sequence[Any], form: Any, refs: Any,
             outputs: OutputStore) -> None:
        """`form` (studio/ui/form.Form) and `refs` (ReferencePanel) get a shared result's
        inputs back when the page opens with ?restore=<token>."""
        restore_outputs = {*form.fill(spec.defaults()), *refs.outputs, form.randomize}

        def on_load(browser, request: gr.Request):
            session = request.session_hash
            browser = browser if valid_browser(browser) else new_browser_id()
            store().claim(session, browser)
            token = request.query_params.get("restore")
            result = store().by_token(token) if token is not None else None
            shown = {self.browser: browser, self.pick: _choices(browser, session)}
            if token is None:
                return shown
            shown[self.panel] = gr.Accordion(open=True)  # the note says what the link did
            if result is None:
                return {**shown, self.note: "That shared link leads nowhere: it may have been "
                                            "deleted."}
            values, references = restore_values(result, outputs, session)
            return {**shown, **form.fill(values), **refs.show(references),
                    form.randomize: False,
                    self.note: f"Restored every input of shared task {result.task_id}. Nothing "
                               "has run: tweak the inputs and press Generate when you want a "
                               "new image."}

        demo.load(on_load, [self.browser], [self.browser, self.pick, *restore_outputs,
                                            self.note, self.panel], **PRIVATE)
        for event in run_events:  # a finished run is the newest kept result
            event.then(refresh, [self.browser], [self.pick], **PRIVATE)
        self.share.click(share, [self.pick, self.browser, self.page_url],
                         [self.link, self.note],
                         js="(pick, browser, url) => [pick, browser, window.location.href]",
                         **PRIVATE)
        self.delete.click(delete, [self.pick, self.browser], [self.pick, self.link, self.note],
                          **PRIVATE)
        def download_session(request: gr.Request):
            return download(outputs, request)

        self.download.click(download_session, None, [self.zip_file, self.note], **PRIVATE)


def refresh(browser, request: gr.Request):
    return _choices(browser, request.session_hash)


def share(pick, browser, page_url, request: gr.Request):
    result = store().get(pick) if pick else None
    if result is None or not store().may_see(result, browser, request.session_hash):
        return gr.skip(), "Pick a kept result first (finished runs appear in the list)."
    token = store().share(result)
    return (share_link(page_url, token),
            f"Anyone with this link sees task {result.task_id}'s image, prompt and settings "
            "(read only; opening it never starts a run). Delete the result to end the link.")


def delete(pick, browser, request: gr.Request):
    session = request.session_hash
    result = store().get(pick) if pick else None
    if result is None:
        return _choices(browser, session), "", "That result is already gone."
    if not store().may_delete(result, browser, session):
        return gr.skip(), gr.skip(), "Only the browser that made a result can delete it."
    store().delete(result)
    return (_choices(browser, session), "",
            f"Deleted task {result.task_id}'s kept result; its share link now says not found.")


def download(outputs: OutputStore, request: gr.Request):
    session = request.session_hash
    kept = store().of_session(session)
    if not kept:
        return gr.update(value=None, visible=False), "No finished runs in this tab yet."
    data = result_views.session_zip(store(), kept)
    path = outputs.save(session, f"flux2pro-session-{len(kept)}-results.zip", data)
    return (gr.update(value=str(path), visible=True),
            f"{result_views.results_count(len(kept))}: the images as Wiro returned them, "
            "runs.json, and index.html (a contact sheet that opens offline).")


def restore_values(result: Result, outputs: OutputStore,
                   session: str) -> tuple[dict, list[str]]:
    """The page's inputs (by spec name) and reference entries from a kept result. Uploaded
    references come back as copies in the tab's own output folder, which the page may show
    and the next run may send."""
    refs = []
    for number, ref in enumerate(result.references, start=1):
        if ref.get("kind") == "url":
            refs.append(ref["url"])
            continue
        kept = store().file(result, ref["file"]) if ref.get("file") else None
        if kept is not None:
            copy = outputs.save(session, f"restored-{result.id}-{number}{kept.suffix}", b"")
            shutil.copyfile(kept, copy)
            refs.append(str(copy))
    inputs = result.inputs
    return {f.name: inputs.get(f.name, f.default) for f in spec.INPUTS}, refs


def build() -> KeepShare:
    """The controls, placed where it is called (under the result)."""
    sharing = store().settings.sharing
    # Closed by default: the result column stays short enough to stay in view (sticky).
    title = "Share, keep, download" if sharing else "Keep, download"
    with gr.Accordion(title, open=False, elem_id="keep-share") as panel:
        pick = gr.Dropdown(label="Kept results (newest first)", choices=[], value=None,
                           interactive=True, elem_id="share-pick",
                           info="Finished runs are kept on the server and survive a restart.")
        with gr.Row():
            share_button = gr.Button("Share", elem_id="share", size="sm", visible=sharing)
            delete_button = gr.Button("Delete", elem_id="unshare", size="sm",
                                      variant="stop")
            download = gr.Button("Download this session", elem_id="download-session",
                                 size="sm")
        link = gr.Textbox(label="Share link", elem_id="share-link", interactive=False,
                          buttons=["copy"], visible=sharing)
        note = gr.Markdown("", elem_id="share-note")
        zip_file = gr.File(label="This session's results", visible=False, interactive=False,
                           elem_id="session-zip")
    # The key BrowserState encrypts with is kept in the data directory: a random one per
    # start would make every visitor a stranger to their own results after a restart.
    browser = gr.BrowserState(None, storage_key=BROWSER_KEY,
                              secret=store().secret("browser-state"))
    page_url = gr.Textbox(visible=False)
    return KeepShare(pick, share_button, delete_button, link, note, download, zip_file,
                     browser, page_url, panel)


# --- the share routes (on Gradio's own FastAPI app) ----------------------------------------

def _shared(request: Request) -> tuple[Result | None, str]:
    token = request.path_params.get("token", "")
    return (store().by_token(token) if valid_token(token) else None), token


async def share_view(request: Request) -> Response:
    result, token = _shared(request)
    if result is None:
        return HTMLResponse(result_views.NOT_FOUND, status_code=404)
    return HTMLResponse(result_views.share_page(result, token), headers={
        **PRIVATE_HEADERS, "Content-Security-Policy": PAGE_POLICY})


async def share_image(request: Request) -> Response:
    result, _ = _shared(request)
    path = store().file(result, result.image) if result else None
    if path is None:
        return HTMLResponse(result_views.NOT_FOUND, status_code=404)
    return FileResponse(path, headers=PRIVATE_HEADERS,
                        filename=f"flux2pro-task{result.task_id}{path.suffix}",
                        content_disposition_type="inline")


async def share_reference(request: Request) -> Response:
    result, _ = _shared(request)
    path = store().thumbnail(result, request.path_params.get("number", 0)) if result else None
    if path is None:
        return HTMLResponse(result_views.NOT_FOUND, status_code=404)
    return FileResponse(path, headers=PRIVATE_HEADERS)


def app_kwargs() -> dict:
    """For demo.launch(app_kwargs=...): the routes go first on Gradio's FastAPI app."""
    return {"routes": [
        Route("/share/{token}", share_view, methods=["GET"]),
        Route("/share/{token}/image", share_image, methods=["GET"]),
        Route("/share/{token}/ref/{number:int}", share_reference, methods=["GET"]),
    ]}
