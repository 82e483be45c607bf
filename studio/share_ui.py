"""The page's part of kept results: Share, Delete and "Download this session" beside the
result (`build()` where they sit, `wire(...)` once the page exists), the /share/<token>
routes (`app_kwargs()`, in launch_options), and "Open in the app" (`/?restore=<token>`), which
fills in a shared result's inputs and never starts a run. The results themselves are kept by
`DemoPage.keep` (studio/page.py) through `studio.results`.
"""
from __future__ import annotations

import base64
import functools
import html
import io
import time
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urljoin, urlsplit

import gradio as gr
from gradio.utils import get_upload_folder
from PIL import Image
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from wiro import spec

from . import bounds, result_views
from .outputs import OutputStore
from .results import Result, new_browser_id, store, valid_browser, valid_token

PRIVATE = dict(api_visibility="private", concurrency_limit=None)
ZIP_PREFIX = "flux2pro-session-"
BROWSER_KEY = "flux2pro-visitor"
# The token is in the address: it must not travel to hosts of URL reference images.
PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
                   "Cache-Control": "private, max-age=300"}
# The shared page is text and images: no script runs on it, whatever a prompt contains.
PAGE_POLICY = ("default-src 'none'; img-src 'self' https: http:; style-src 'unsafe-inline'; "
               "base-uri 'none'; form-action 'none'")


# The id of the kept result the visitor picked, read from the page at the moment of a click.
PICKED_JS = "document.querySelector('#share-pick .kept-item[aria-pressed=true]')?.dataset.id || ''"
# One picked at a time, by click or by keyboard (each card is a button).
PICK_JS = """
element.addEventListener('click', (event) => {
  const card = event.target.closest('.kept-item');
  if (!card || !element.contains(card)) return;
  element.querySelectorAll('.kept-item').forEach((item) =>
    item.setAttribute('aria-pressed', String(item === card)));
});
"""
THUMB_EDGE, THUMBS_CACHED = 72, 200


def thumbnail_data(result: Result) -> str:
    """A small JPEG of the result as a data: URL (the picker needs no route of its own, so
    who may see a result stays decided where the list is made)."""
    path = store().image(result)
    return _data_url(path) if path else ""


@functools.lru_cache(maxsize=THUMBS_CACHED)  # a kept image never changes under its path
def _data_url(path: Path) -> str:
    try:
        with Image.open(path) as im:
            im.draft("RGB", (THUMB_EDGE * 2, THUMB_EDGE * 2))
            im = im.convert("RGB")
            im.thumbnail((THUMB_EDGE, THUMB_EDGE))
            buffer = io.BytesIO()
            im.save(buffer, "JPEG", quality=70)
    except (OSError, ValueError):
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _card(result: Result, picked: bool) -> str:
    prompt = result.prompt if len(result.prompt) <= 70 else result.prompt[:67] + "…"
    when = time.gmtime(result.created)
    src = thumbnail_data(result)
    image = (f'<img src="{src}" alt="" width="{THUMB_EDGE}" height="{THUMB_EDGE}">' if src
             else '<span class="kept-noimage">no preview</span>')
    return (f'<button type="button" class="kept-item" data-id="{html.escape(result.id)}" '
            f'aria-pressed="{str(picked).lower()}">{image}<span class="kept-text">'
            f'<time datetime="{time.strftime("%Y-%m-%dT%H:%M:%SZ", when)}">'
            f'{time.strftime("%d %b, %H:%M UTC", when)}</time>'
            f'<span class="kept-seed">seed {html.escape(str(result.record.seed))}'
            f'</span><span class="kept-prompt">{html.escape(prompt)}</span></span></button>')


def _choices(browser: str, session: str, selected: str | None = None) -> str:
    """The kept results this browser may see, newest first, as cards to pick from: a
    thumbnail, when it was made and its seed (task numbers repeat after a simulator
    restart). The newest of this tab's own is picked to begin with."""
    kept = store().visible_to(browser, session)
    if not kept:
        return ('<p class="kept-empty">No kept results yet: finished runs appear here.</p>')
    ids = [r.id for r in kept]
    mine = [r.id for r in kept if r.session == session]
    value = selected if selected in ids else (mine[0] if mine else None)
    cards = "".join(_card(r, r.id == value) for r in kept)
    return (f'<div class="kept-grid" role="group" aria-label="Kept results, newest first" '
            f'data-count="{len(kept)}">{cards}</div>')


def upload_note() -> str:
    """Beside the upload button: who sees a visitor's uploads and prompts once they run."""
    if store().settings.public_gallery:
        return ("**Public gallery:** every finished run here (its prompt, reference images and "
                "result) is listed to every visitor of this demo.")
    return ("Your uploads, prompts and results are kept on this server for your browser only; "
            "nobody else sees them unless you share a link.")


def share_link(page_url: str, token: str) -> str:
    """The link as the visitor's browser addresses the app (behind a Space's proxy too)."""
    if urlsplit(page_url or "").scheme not in {"http", "https"}:
        return f"/share/{token}"
    return urljoin(page_url, f"share/{token}")


class KeepShare:
    """Share, Delete and "Download this session", built where it is made (under the
    result); `wire` connects them once the rest of the page exists."""

    def __init__(self) -> None:
        sharing = store().settings.sharing
        # Kept files are served in place (restored references, never copied per visit).
        gr.set_static_paths([store().root])
        # Closed by default: the result column stays short enough to stay in view (sticky),
        # and the cards are only drawn once it is opened.
        title = "Share, keep, download" if sharing else "Keep, download"
        with gr.Accordion(title, open=False, elem_id="keep-share") as self.panel:
            gr.Markdown("**Kept results**, newest first: finished runs are kept on the server "
                        "and survive a restart. Click one to pick it.", elem_classes="kept-title")
            self.picker = gr.HTML("", js_on_load=PICK_JS, elem_id="share-pick")
            self.pick = gr.Textbox(visible=False)
            with gr.Row(elem_classes="kept-actions"):
                self.share = gr.Button("Share", elem_id="share", size="sm", visible=sharing)
                self.download = gr.Button("Download this session", elem_id="download-session",
                                          size="sm")
            self.link = gr.Textbox(label="Share link", elem_id="share-link", interactive=False,
                                   buttons=["copy"], visible=sharing)
            self.note = gr.Markdown("", elem_id="share-note")
            self.zip_file = gr.File(label="This session's results", visible=False,
                                    interactive=False, elem_id="session-zip")
            # Apart from the everyday actions, and it asks first.
            self.delete = gr.Button("Delete the picked result…", elem_id="unshare", size="sm",
                                    elem_classes="kept-delete")
            with gr.Column(visible=False, elem_id="delete-confirm") as self.confirm:
                self.confirm_text = gr.Markdown("")
                with gr.Row():
                    self.confirm_yes = gr.Button("Yes, delete it", variant="stop", size="sm",
                                                 elem_id="delete-yes")
                    self.confirm_no = gr.Button("Cancel", size="sm", elem_id="delete-no")
        # The key BrowserState encrypts with is kept in the data directory: a random one per
        # start would make every visitor a stranger to their own results after a restart.
        self.browser = gr.BrowserState(None, storage_key=BROWSER_KEY,
                                       secret=store().secret("browser-state"))
        self.page_url = gr.Textbox(visible=False)
        self.shown = gr.State(False)  # the panel is open: cards drawn, redrawn after runs
        self.pending = gr.State(None)  # the id Delete asked about

    def wire(self, demo: gr.Blocks, run_events: Sequence[Any], form: Any, refs: Any,
             restored: Any = None) -> None:
        """`form` (studio/ui/form.Form) and `refs` (ReferencePanel) get a shared result's
        inputs back when the page opens with ?restore=<token>; `restored(values, text)`
        gives what else shows a restore (sizes, the status) as {component: value}."""
        restore_outputs = {*form.fill(spec.defaults()), *refs.outputs, form.randomize}
        extra = set(restored(spec.defaults(), "") if restored else ())

        def on_load(browser, request: gr.Request):
            session = request.session_hash
            browser = browser if valid_browser(browser) else new_browser_id()
            store().claim(session, browser)
            token = request.query_params.get("restore")
            result = store().by_token(token) if token is not None else None
            shown = {self.browser: browser}
            if token is None:
                return shown
            # The note says what the link did.
            shown.update({self.panel: gr.Accordion(open=True), self.shown: True,
                          self.picker: _choices(browser, session)})
            if result is None:
                return {**shown, self.note: "That shared link leads nowhere: it may have been "
                                            "deleted."}
            values, references = restore_values(result)
            missing = len(result.references) - len(references)
            text = (f"Restored every input of shared task {result.task_id}. Nothing has run: "
                    "tweak the inputs and press Generate when you want a new image."
                    + (f" {missing} of its reference images were not kept." if missing else ""))
            return {**shown, **form.fill(values), **refs.show(references, restore_note(
                        result.references)), form.randomize: False, self.note: text,
                    **(restored(values, text) if restored else {})}

        # No spinner over the inputs while the page opens: nothing to wait for there.
        demo.load(on_load, [self.browser],
                  [self.browser, self.picker, self.shown, *restore_outputs, *extra, self.note,
                   self.panel], show_progress="hidden", **PRIVATE)
        self.panel.expand(opened, [self.browser], [self.picker, self.shown], **PRIVATE)
        self.panel.collapse(lambda: False, None, [self.shown], **PRIVATE)
        for event in run_events:  # a finished run is the newest kept result
            event.then(refresh, [self.browser, self.shown], [self.picker], **PRIVATE)
        self.share.click(share, [self.pick, self.browser, self.page_url],
                         [self.link, self.note],
                         js=f"(pick, browser, url) => [{PICKED_JS}, browser, "
                            "window.location.href]", **PRIVATE)
        confirm_parts = [self.confirm, self.confirm_text, self.pending, self.note]
        self.delete.click(ask_delete, [self.pick, self.browser],
                          confirm_parts, js=f"(pick, browser) => [{PICKED_JS}, browser]",
                          **PRIVATE)
        self.confirm_yes.click(delete, [self.pending, self.browser],
                               [self.picker, self.link, self.note, self.confirm], **PRIVATE)
        self.confirm_no.click(lambda: (gr.Column(visible=False), "Nothing was deleted."), None,
                              [self.confirm, self.note], **PRIVATE)

        # Zips are built a few at a time (APP_ZIPS_AT_ONCE); the rest wait in Gradio's queue.
        self.download.click(download, None, [self.zip_file, self.note],
                            **{**PRIVATE, "concurrency_id": "zips",
                               "concurrency_limit": store().settings.zips_at_once})


def opened(browser, request: gr.Request):
    return _choices(browser, request.session_hash), True


def refresh(browser, shown, request: gr.Request):
    return _choices(browser, request.session_hash) if shown else gr.skip()


def share(pick, browser, page_url, request: gr.Request):
    result = store().get(pick) if pick else None
    if result is None or not store().may_see(result, browser, request.session_hash):
        return gr.skip(), "Pick a kept result first (click one in the list)."
    token = store().share(result)
    return (share_link(page_url, token),
            f"Anyone with this link sees task {result.task_id}'s image, prompt and settings "
            "(read only; opening it never starts a run). Delete the result to end the link.")


def describe(result: Result) -> str:
    when = time.strftime("%d %b, %H:%M UTC", time.gmtime(result.created))
    return f"{when} · seed {result.record.seed} · task {result.task_id}"


def ask_delete(pick, browser, request: gr.Request):
    """Delete asks first, naming the result."""
    hidden = gr.Column(visible=False)
    result = store().get(pick) if pick else None
    if result is None:
        return hidden, "", None, "Pick a kept result first (click one in the list)."
    if not store().may_delete(result, browser, request.session_hash):
        return hidden, "", None, "Only the browser that made a result can delete it."
    return (gr.Column(visible=True),
            f"**Delete {describe(result)}?** Its image and files go for good, and its share "
            "link stops working.", result.id, "")


def delete(pick, browser, request: gr.Request):
    session = request.session_hash
    hidden = gr.Column(visible=False)
    result = store().get(pick) if pick else None
    if result is None:
        return _choices(browser, session), "", "That result was deleted already.", hidden
    if not store().may_delete(result, browser, session):
        return gr.skip(), gr.skip(), "Only the browser that made a result can delete it.", hidden
    store().delete(result)
    return (_choices(browser, session), "",
            f"Deleted {describe(result)}; its share link now says not found.", hidden)


def session_zips() -> OutputStore:
    """Where tabs' zips are built: inside Gradio's cache, which Gradio serves as it is. A
    file returned from anywhere else is hashed and copied into the cache on the event loop,
    which every visitor shares (over 100 ms for a 37 MB zip), and would be on disk twice.
    The cache is bounded with the other temporary files (APP_TEMP_MB) and pruned hourly."""
    return OutputStore(Path(get_upload_folder()) / "session-zips")


def download(request: gr.Request):
    session = request.session_hash
    kept = store().of_session(session)
    if not kept:
        return gr.update(value=None, visible=False), "No finished runs in this tab yet."
    if not bounds.current().temp.make_room(sum(r.bytes for r in kept)):
        return gr.skip(), bounds.TEMP_FULL
    zips = session_zips()
    path = zips.path(session, f"{ZIP_PREFIX}{len(kept)}-results.zip")
    count = result_views.session_zip(store(), kept, path)
    zips.clear(session, ZIP_PREFIX, keep=path.name)  # one zip per tab: the newest
    return (gr.update(value=str(path), visible=True),
            f"{result_views.results_count(count)}: the images as Wiro returned them, "
            "runs.json, and index.html (a contact sheet that opens offline).")


def restore_values(result: Result) -> tuple[dict, list[str]]:
    """The page's inputs (by spec name) and reference entries from a kept result. Uploaded
    references are the kept files themselves, served where they are (the results folder is a
    static path): a restore copies nothing, however often a link is opened."""
    refs = [ref.url if ref.kind == "url" else ref.path for ref in result.references
            if ref.kind == "url" or store().file(result, ref.path)]
    values = result.record.inputs
    return {f.name: values.get(f.name, f.default) for f in spec.INPUTS}, refs


def restore_note(references) -> str:
    """What came back of the reference images, said under them."""
    uploads = [r.name for r in references if r.kind != "url"]
    if not references:
        return ""
    names = ", ".join(n for n in uploads if n)
    return (f"{len(references)} reference image{'s' if len(references) > 1 else ''} restored"
            + (f", uploads under their own names ({names})." if names else "."))


build = KeepShare  # app.py: keep = share_ui.build()


# --- the share routes (on Gradio's own FastAPI app) ----------------------------------------

def _shared(request: Request) -> tuple[Result | None, str]:
    token = request.path_params.get("token", "")
    return (store().by_token(token) if valid_token(token) else None), token


# Plain (not async) handlers: Starlette runs them in a thread, so the database is never read
# on the event loop every visitor shares.
def share_view(request: Request) -> Response:
    result, token = _shared(request)
    if result is None:
        return HTMLResponse(result_views.NOT_FOUND, status_code=404)
    thumbnails = {n for n in range(1, len(result.references) + 1)
                  if store().thumbnail(result, n)}
    return HTMLResponse(result_views.share_page(result, token, thumbnails), headers={
        **PRIVATE_HEADERS, "Content-Security-Policy": PAGE_POLICY})


def share_image(request: Request) -> Response:
    result, _ = _shared(request)
    path = store().image(result) if result else None
    if path is None:
        return HTMLResponse(result_views.NOT_FOUND, status_code=404)
    return FileResponse(path, headers=PRIVATE_HEADERS,
                        filename=f"flux2pro-task{result.task_id}{path.suffix}",
                        content_disposition_type="inline")


def share_reference(request: Request) -> Response:
    # Serves a thumbnail made when the run was kept; nothing is decoded here (event loop).
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
