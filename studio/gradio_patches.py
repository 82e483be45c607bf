"""Every change this app makes to Gradio's own behaviour, in one place.

`install(page)` runs once, before `launch` (Gradio builds its FastAPI app and its MCP server
at launch, from the classes patched here). Each patch was written against Gradio
`GRADIO_VERSION`; tests/test_gradio_patches.py has one test per patch that fails if an
upgrade makes it a no-op, and one that fails on any other Gradio release, so the patches are
read again before an upgrade lands.

1. Uvicorn must not take a visitor's X-Forwarded-For for the peer (FORWARDED_ALLOW_IPS).
2. The app Gradio builds gets our ASGI middleware in front (`_middleware()`, studio/bounds.py).
3. Gradio's MCP server: a list of files works as a tool argument, an endpoint with two
   outputs answers with an image and a text, and each caller is vouched for on the loopback
   call Gradio makes back into the app (studio/visitors.py counts them).
4. Components: a number or text box hands over what was sent (`as_sent`), and an API
   parameter carries the spec's description (`describe_parameter`).
5. A password box's value never enters the session's copy of the page config (which
   Gradio's deep links write to disk and serve back).
6. A visitor's malformed input (a file entry that is not one, a path that was not uploaded,
   a value outside a dropdown's choices) is refused with one line in the log, not a
   traceback: Gradio prints one for every error in its own preprocessing.
7. A file input given as a URL (API and MCP callers) is fetched by Gradio into its cache:
   the fetch stops at APP_MAX_UPLOAD_MB instead of reading any size into memory.
8. A light page: responses are gzipped (the page's HTML carries Gradio's whole config), and
   the config in the page leaves out each component's API schema, which only API clients
   read (from /config and /info, both left whole), and the hidden API-only components
   (`API_ONLY`) with their events. The page's HTML carries the app's header (`install`'s
   `header`), so it is drawn at once rather than after Gradio's code has built the page;
   Gradio's code starts after that first frame.
"""
from __future__ import annotations

import json
import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import gradio as gr

GRADIO_VERSION = "6.31.0"

# The page whose guard and visitors the middleware and the MCP server consult.
_page: list[Any] = []
_header: list[str] = []  # HTML put in the page before Gradio's app (see 8.)
_installed: set[str] = set()


def current_page() -> Any:
    return _page[0]


def install(page: Any, header: str = "") -> None:
    """Install every patch for `page` (idempotent; the latest page wins). `header`: HTML
    drawn at the top of the page as soon as it arrives."""
    _page[:] = [page]
    _header[:] = [header] if header else []
    # Empty = uvicorn trusts no peer's X-Forwarded-For; studio/visitors.py reads it itself,
    # counting hops. An operator who set it keeps their value.
    os.environ.setdefault("FORWARDED_ALLOW_IPS", "")
    if "create_app" not in _installed:
        _add_middleware()
        _installed.add("create_app")
    if "mcp" not in _installed:
        _replace_mcp_server()
        _installed.add("mcp")
    if "lean_page" not in _installed:
        _lean_page_config()
        _installed.add("lean_page")
    if "session_config" not in _installed:
        _keep_passwords_out_of_session_config()
        _installed.add("session_config")
    if "preprocess" not in _installed:
        _refuse_malformed_input_quietly()
        _installed.add("preprocess")
    if "url_fetch" not in _installed:
        _bound_url_fetches()
        _installed.add("url_fetch")
    _configure_bounds(page)


def _configure_bounds(page: Any) -> None:
    """The bounds the middleware applies, from the page's settings; its temporary files are
    Gradio's upload folder, the page's result files and the shrunk references."""
    from gradio.utils import get_upload_folder

    from wiro import uploads

    from . import bounds
    from .config import Config

    outputs = getattr(page, "outputs", None)

    def folders() -> list[Path]:
        found = [Path(get_upload_folder()), uploads.default_cache_dir()]
        return found + ([Path(outputs.root)] if outputs is not None else [])

    bounds.configure(getattr(page, "config", None) or Config(), folders)


# --- 2. middleware -------------------------------------------------------------------------

def _middleware() -> list[type]:
    """Outermost first."""
    from starlette.middleware.gzip import GZipMiddleware

    from .bounds import OriginGate, QuietRoutes, UploadGate

    # Gzip skips event streams (the queue's updates) and files already compressed (images).
    return [GZipMiddleware, OriginGate, QuietRoutes, UploadGate]


def _add_middleware() -> None:
    from gradio.routes import App

    original = App.create_app

    def create_app(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        for middleware in reversed(_middleware()):  # add_middleware puts each outermost
            app.add_middleware(middleware)
        return app

    create_app.patched_by_studio = True  # type: ignore[attr-defined]
    App.create_app = staticmethod(create_app)


# --- 3. the MCP server ---------------------------------------------------------------------

def _drop_refs(node: Any) -> Any:
    """The simplified schema without `$defs`, and without `$ref`s where the node already says
    what it is (Gradio has replaced the file object with a URL string there)."""
    if isinstance(node, dict):
        return {k: _drop_refs(v) for k, v in node.items()
                if k != "$defs" and not (k == "$ref" and "type" in node)}
    if isinstance(node, list):
        return [_drop_refs(v) for v in node]
    return node


def _expand_items(value: Any, position: list) -> list[list]:
    """Concrete positions for a schema position whose path runs through an array's items."""
    if "items" not in position:
        return [position]
    index = position.index("items")
    container: Any = value
    for key in position[:index]:
        if isinstance(container, dict):
            container = container.get(key)
        elif isinstance(container, list) and isinstance(key, int) and key < len(container):
            container = container[key]
        else:
            return []
    if not isinstance(container, list):
        return []
    expanded = []
    for i in range(len(container)):
        expanded += _expand_items(value, [*position[:index], i, *position[index + 1:]])
    return expanded


def _replace_mcp_server() -> None:
    import gradio.mcp as gradio_mcp

    from .visitors import MCP_HEADER, mcp_caller_header, mcp_session

    base = gradio_mcp.GradioMCPServer

    class GradioMCPServer(base):  # type: ignore[misc, valid-type]
        patched_by_studio = True

        # The tool's schema keeps a "$ref" to "$defs" that sit one level down for a list of
        # files, so the mcp package's argument check fails before the tool is called.
        def simplify_filedata_schema(self, schema: dict[str, Any]):
            simplified, positions = super().simplify_filedata_schema(schema)
            positions = [p for p in positions if "$defs" not in p]
            return _drop_refs(simplified), positions

        # URL strings become Gradio files by their schema position, recorded for an array as
        # [..., "items"], which never matches an actual item ([..., 0]).
        def convert_strings_to_filedata(self, value: Any, filedata_positions: list) -> Any:
            concrete = [p for position in filedata_positions
                        for p in _expand_items(value, list(position))]
            return super().convert_strings_to_filedata(value, concrete)

        # Without a progress token an endpoint with two outputs came back as one text.
        async def _execute_tool_without_progress(self, job: Any) -> list[Any]:
            [result] = await super()._execute_tool_without_progress(job)
            return list(result) if isinstance(result, tuple) else [result]

        # The loopback call into the app carries a header, signed by this process, naming
        # the MCP caller's real address and session: the caps count each caller as itself.
        def _prepare_tool_call_args(self, name: str, arguments: dict[str, Any]):
            endpoint, args, headers, block_fn = super()._prepare_tool_call_args(name,
                                                                                arguments)
            request = self.mcp_server.request_context.request
            client = getattr(request, "client", None)
            address = current_page().visitors.address(getattr(client, "host", None),
                                                      request.headers)
            headers = {k: v for k, v in headers.items() if k.lower() != MCP_HEADER}
            headers[MCP_HEADER] = mcp_caller_header(address,
                                                    mcp_session(request.headers, address))
            return endpoint, args, headers, block_fn

    gradio_mcp.GradioMCPServer = GradioMCPServer


# --- 5. password boxes stay out of the session's config ------------------------------------

def is_password_box(block: Any) -> bool:
    return isinstance(block, gr.Textbox) and getattr(block, "type", None) == "password"


def _keep_passwords_out_of_session_config() -> None:
    from gradio.state_holder import SessionState

    original = SessionState._update_value_in_config

    # Every input value an event receives is written into the session's copy of the config,
    # which /gradio_api/deep_link saves to a file and /config?deep_link= serves back.
    def _update_value_in_config(self: Any, key: int, value: Any) -> None:
        if is_password_box(self.blocks_config.blocks.get(key)):
            value = ""
        original(self, key, value)

    _update_value_in_config.patched_by_studio = True  # type: ignore[attr-defined]
    SessionState._update_value_in_config = _update_value_in_config


# --- 6. malformed input: refused in one line --------------------------------------------------

_request: ContextVar[Any] = ContextVar("studio_gradio_request", default=None)


def _refuse_malformed_input_quietly() -> None:
    from gradio.blocks import Blocks

    process_api, preprocess_data = Blocks.process_api, Blocks.preprocess_data

    async def process_api_with_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        _request.set(kwargs.get("request"))  # for the refusal's log line
        return await process_api(self, *args, **kwargs)

    # Everything raised here comes from Gradio reading the visitor's values (file entries,
    # paths, choices), before any of the app's functions runs.
    async def quiet_preprocess_data(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await preprocess_data(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 — every one is the visitor's input
            raise malformed_input(exc, _request.get()) from None

    process_api_with_request.patched_by_studio = True  # type: ignore[attr-defined]
    quiet_preprocess_data.patched_by_studio = True  # type: ignore[attr-defined]
    Blocks.process_api = process_api_with_request
    Blocks.preprocess_data = quiet_preprocess_data


def malformed_input(exc: Exception, request: Any) -> gr.Error:
    """The error the visitor sees (Gradio's own words, first line), logged once for them."""
    from . import bounds

    if isinstance(exc, gr.Error):
        reason = str(exc.message)
    elif hasattr(exc, "errors"):  # pydantic: where and what, without echoing the value
        first = exc.errors()[0]
        reason = f"{first.get('msg', 'not valid')} (at {'/'.join(map(str, first['loc']))})"
    else:
        reason = str(exc).split("\n", 1)[0]
    reason = reason[:300]
    address = "unknown"
    if request is not None and _page:
        address = current_page().visitors.identify(request, "").address
    bounds.current().log.warning(bounds.log, address, "Request refused (malformed input) "
                                 "for %s: %s", address, reason)
    return gr.Error(f"That request's inputs are not in a form this app takes: {reason}",
                    print_exception=False)


# --- 7. URL inputs fetched no further than an upload may be ------------------------------------

def _bound_url_fetches() -> None:
    import gradio.processing_utils as processing_utils

    processing_utils.async_ssrf_protected_get = bounded_ssrf_protected_get


async def bounded_ssrf_protected_get(url: str) -> Any:
    """Gradio's SSRF-protected GET (each hop's host checked by safehttpx, Gradio's own list
    of trusted hosts, at most MAX_REDIRECTS), with the body read as a stream and refused once
    over APP_MAX_UPLOAD_MB: Gradio's reads any size into memory before writing it to disk."""
    from urllib.parse import urljoin

    import gradio.processing_utils as processing_utils
    import httpx
    import safehttpx

    from . import bounds

    limit = int(bounds.current().config.max_upload_mb * bounds.MB) or None
    for _ in range(processing_utils.MAX_REDIRECTS + 1):
        host = httpx.URL(url).host
        if not host:
            raise ValueError(f"URL {url} does not have a valid hostname")
        transport = None if safehttpx.matches_domain_whitelist(
            host, processing_utils.PUBLIC_HOSTNAME_WHITELIST) else \
            safehttpx.AsyncSecureTransport(await safehttpx.async_validate_url(host))
        async with httpx.AsyncClient(transport=transport) as client, \
                client.stream("GET", url) as response:
            if response.has_redirect_location:
                url = urljoin(str(response.url), response.headers["Location"])
                continue
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if limit and len(body) > limit:
                    raise ValueError(f"the file at {url[:100]} is over the maximum allowed "
                                     f"size of {limit:,} bytes")
            # The body is decoded already: the headers must not say it is compressed.
            headers = {k: v for k, v in response.headers.items() if k.lower() not in
                       ("content-encoding", "content-length", "transfer-encoding")}
            return httpx.Response(response.status_code, headers=headers, content=bytes(body),
                                  request=response.request)
    raise ValueError(f"Exceeded maximum of {processing_utils.MAX_REDIRECTS} redirects.")


# --- 4. components -------------------------------------------------------------------------

def as_sent(box: Any) -> Any:
    """A number or text box that hands over exactly what it was sent: Gradio's own
    preprocessing would round 1024.5 to 1024 without a word, fail on "abc", or turn a prompt
    of 123 or ["a"] into text that is then billed; wiro.validation names the field and says
    what to change instead. (An instance override, not a subclass: Gradio writes a .pyi stub
    beside every subclass.)"""
    box.preprocess = lambda payload: payload  # type: ignore[method-assign]
    return box


def describe_parameter(component: Any, text: str) -> Any:
    """The API page and the MCP tool describe this parameter with `text`."""
    info = component.api_info()
    described = {**info, "description": text, "additional_description": text}
    component.api_info = lambda: described
    component.api_info_as_input = lambda: described
    return component


# --- 5. a light page -----------------------------------------------------------------------

API_SCHEMA_KEYS = ("api_info", "api_info_as_input", "api_info_as_output", "example_inputs")
# A hidden container with this elem_id holds components only API callers use (the `generate`
# endpoint's inputs and outputs): the page's config leaves it out, with the events it
# triggers. The page never shows them, and every component in the config costs the page
# work as it starts (its module loaded, its state built), drawn or not.
API_ONLY = "api-only"


def _subtree_ids(node: dict[str, Any]) -> set[int]:
    ids = {node["id"]}
    for child in node.get("children") or ():
        ids |= _subtree_ids(child)
    return ids


def _api_only_ids(config: dict[str, Any]) -> set[int]:
    roots = {c["id"] for c in config.get("components") or ()
             if (c.get("props") or {}).get("elem_id") == API_ONLY
             and (c.get("props") or {}).get("visible") is False}
    found: set[int] = set()

    def walk(node: dict[str, Any]) -> None:
        if node.get("id") in roots:
            found.update(_subtree_ids(node))
            return
        for child in node.get("children") or ():
            walk(child)

    walk(config.get("layout") or {})
    return found


def _prune(node: dict[str, Any], dropped: set[int]) -> dict[str, Any]:
    if "children" not in node:
        return node
    return {**node, "children": [_prune(c, dropped) for c in node["children"] or ()
                                 if c.get("id") not in dropped]}


def lean_config(config: dict[str, Any]) -> dict[str, Any]:
    """The page's copy of the config without the components' API schemas (about 40 % of
    it), which the page itself never reads, nor the API-only components and their events
    (`API_ONLY`)."""
    dropped = _api_only_ids(config)
    components = [{k: v for k, v in c.items() if k not in API_SCHEMA_KEYS}
                  for c in config.get("components") or () if c.get("id") not in dropped]
    lean = {**config, "components": components}
    if not dropped:
        return lean
    dependencies = [d for d in config.get("dependencies") or ()
                    if not any(t[0] in dropped for t in d.get("targets") or () if t)
                    and not set(d.get("inputs") or ()) & dropped
                    and not set(d.get("outputs") or ()) & dropped]
    kept = {d["id"] for d in dependencies}
    lean.update(layout=_prune(config["layout"], dropped), dependencies=dependencies)
    if isinstance(config.get("page"), dict):  # each page's own layout and ids
        lean["page"] = {name: {**page, "layout": _prune(page["layout"], dropped),
                               "components": [i for i in page.get("components") or ()
                                              if i not in dropped],
                               "dependencies": [i for i in page.get("dependencies") or ()
                                                if i in kept]}
                        for name, page in config["page"].items()}
    return lean


# Gradio's own code, loaded by the page's head.
GRADIO_SCRIPT = re.compile(rb'<script type="module" crossorigin src="([^"<>]+)"></script>')


def _after_first_paint(found: re.Match) -> bytes:
    """Gradio's code, started once the header has been drawn: on a fast connection the
    script arrives before the first frame, and building the page (seconds of work on a phone)
    would hold the header back until it is done. A tab opened in the background (no frames)
    starts it anyway."""
    src = json.dumps(found.group(1).decode())
    return (b"<script>(() => { let started = false; const start = () => { if (started) return; "
            b"started = true; const s = document.createElement('script'); s.type = 'module'; "
            b"s.crossOrigin = ''; s.src = " + src.encode() + b"; document.head.appendChild(s); "
            b"}; requestAnimationFrame(() => setTimeout(start)); setTimeout(start, 200); "
            b"})();</script>")


def _lean_page_config() -> None:
    from gradio import routes

    templates = routes.templates
    original = templates.TemplateResponse

    def template_response(*args: Any, **kwargs: Any) -> Any:
        context = kwargs.get("context")
        if not (isinstance(context, dict) and isinstance(context.get("config"), dict)):
            return original(*args, **kwargs)
        config = context["config"]
        kwargs["context"] = {**context, "config": lean_config(config)}
        response = original(*args, **kwargs)
        body = response.body
        if _header:
            body = body.replace(b"<gradio-app", _header[0].encode() + b"<gradio-app", 1)
            body = GRADIO_SCRIPT.sub(_after_first_paint, body, count=1)
        response.body = body
        response.headers["content-length"] = str(len(body))
        return response

    template_response.patched_by_studio = True  # type: ignore[attr-defined]
    templates.TemplateResponse = template_response  # type: ignore[method-assign]
