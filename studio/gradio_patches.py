"""Every change this app makes to Gradio's own behaviour, in one place.

`install(page)` runs once, before `launch` (Gradio builds its FastAPI app and its MCP server
at launch, from the classes patched here). Each patch was written against Gradio
`GRADIO_VERSION`; tests/test_gradio_patches.py has one test per patch that fails if an
upgrade makes it a no-op, and one that fails on any other Gradio release, so the patches are
read again before an upgrade lands.

1. Uvicorn must not take a visitor's X-Forwarded-For for the peer (FORWARDED_ALLOW_IPS).
2. The app Gradio builds gets our ASGI middleware in front (`MIDDLEWARE`).
3. Gradio's MCP server: a list of files works as a tool argument, an endpoint with two
   outputs answers with an image and a text, and each caller is vouched for on the loopback
   call Gradio makes back into the app (studio/visitors.py counts them).
4. Components: a number or text box hands over what was sent (`as_sent`), and an API
   parameter carries the spec's description (`describe_parameter`).
5. A light page: responses are gzipped (the page's HTML carries Gradio's whole config), and
   the config in the page leaves out each component's API schema, which only API clients
   read (from /config and /info, both left whole).
"""
from __future__ import annotations

import os
from typing import Any

GRADIO_VERSION = "6.31.0"

# The page whose guard and visitors the middleware and the MCP server consult.
_page: list[Any] = []
_installed: set[str] = set()


def current_page() -> Any:
    return _page[0]


def install(page: Any) -> None:
    """Install every patch for `page` (idempotent; the latest page wins)."""
    _page[:] = [page]
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


# --- 2. middleware -------------------------------------------------------------------------

def _middleware() -> list[type]:
    """Outermost first."""
    from starlette.middleware.gzip import GZipMiddleware

    from .admission import UploadGate

    # Gzip skips event streams (the queue's updates) and files already compressed (images).
    return [GZipMiddleware, UploadGate]


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


def lean_config(config: dict[str, Any]) -> dict[str, Any]:
    """The page's copy of the config without the components' API schemas (about 40 % of
    it); the page itself never reads them."""
    components = [{k: v for k, v in c.items() if k not in API_SCHEMA_KEYS}
                  for c in config.get("components") or ()]
    return {**config, "components": components}


def _lean_page_config() -> None:
    from gradio import routes

    templates = routes.templates
    original = templates.TemplateResponse

    def template_response(*args: Any, **kwargs: Any) -> Any:
        context = kwargs.get("context")
        if isinstance(context, dict) and isinstance(context.get("config"), dict):
            kwargs["context"] = {**context, "config": lean_config(context["config"])}
        return original(*args, **kwargs)

    template_response.patched_by_studio = True  # type: ignore[attr-defined]
    templates.TemplateResponse = template_response  # type: ignore[method-assign]
