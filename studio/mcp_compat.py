"""Make a list-of-files input work as an MCP tool argument (Gradio 6.31 with mcp 1.30).

`generate` takes its reference images as `gr.File(file_count="multiple")`, which MCP
clients see as an array of URL strings. Two things in Gradio's MCP server stop that from
working, both only for a *list* of files, and a third hides the image it returns:

- the tool's input schema keeps a `"$ref": "#/$defs/FileData"` for the array's items while
  the `$defs` sit one level down, so the mcp package's argument check fails
  ("PointerToNowhere") before the tool is even called;
- the URL strings are turned into Gradio files by their position in the schema, which for an
  array is recorded as `[..., "items"]` and so never matches an actual item (`[..., 0]`);
- without a progress token, an endpoint with two outputs (the image and its details) comes
  back as one text holding both, instead of an image and a text.

`install()` swaps in a subclass that fixes these and changes nothing else; Gradio creates its
MCP server from `gradio.mcp.GradioMCPServer` at launch, so call it before `launch`.
"""
from __future__ import annotations

from typing import Any

_installed = False


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


def install() -> None:
    global _installed
    if _installed:
        return
    import gradio.mcp as gradio_mcp

    base = gradio_mcp.GradioMCPServer

    class GradioMCPServer(base):  # type: ignore[misc, valid-type]
        def simplify_filedata_schema(self, schema: dict[str, Any]):
            simplified, positions = super().simplify_filedata_schema(schema)
            # Positions inside $defs describe definitions, not arguments.
            positions = [p for p in positions if "$defs" not in p]
            return _drop_refs(simplified), positions

        def convert_strings_to_filedata(self, value: Any, filedata_positions: list) -> Any:
            concrete = [p for position in filedata_positions
                        for p in _expand_items(value, list(position))]
            return super().convert_strings_to_filedata(value, concrete)

        async def _execute_tool_without_progress(self, job: Any) -> list[Any]:
            # gradio_client gives a tuple for an endpoint with several outputs; wrapped in a
            # list it would reach the MCP client as one text (the image as a file path).
            [result] = await super()._execute_tool_without_progress(job)
            return list(result) if isinstance(result, tuple) else [result]

    gradio_mcp.GradioMCPServer = GradioMCPServer
    _installed = True
