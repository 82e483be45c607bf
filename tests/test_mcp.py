"""Issue 7, part 6: `generate` as an MCP tool, described from the spec, called over MCP.

The app runs in this process (tests/app_harness.py) on the simulator; app.py turns Gradio's
MCP server on by default, so the harness's plain launch serves /gradio_api/mcp/ too.
"""
from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import functools
import http.server
import io
import threading

import pytest
from PIL import Image

from studio import apidoc
from wiro import spec

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(180)

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402


def mcp_url(live_app) -> str:
    return f"{live_app.url}/gradio_api/mcp/"


async def _session_call(url: str, action):
    async with streamablehttp_client(url, timeout=60, sse_read_timeout=120) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await action(session)


def call(live_app, action):
    # In a thread of its own: Playwright's sync API (other modules) keeps a loop running in
    # this one, and asyncio.run refuses to start inside it.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _session_call(mcp_url(live_app), action)).result()


@pytest.fixture
def image_host(tmp_path):
    """A loopback web server for reference images, allowed past Gradio's SSRF guard (which,
    rightly, refuses private addresses: a public deployment gets public URLs)."""
    import gradio.processing_utils as processing_utils

    Image.new("RGB", (640, 480), (20, 120, 200)).save(tmp_path / "sky.png")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    processing_utils.PUBLIC_HOSTNAME_WHITELIST.append("127.0.0.1")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        processing_utils.PUBLIC_HOSTNAME_WHITELIST.remove("127.0.0.1")
        server.shutdown()


def test_docstring_is_written_from_the_spec():
    doc = apidoc.docstring()
    for field in spec.INPUTS:
        assert f"\n    {field.name}: " in doc
        if field.help:
            assert " ".join(field.help.split()) in doc
    assert "http(s) image URLs" in doc and "Returns:" in doc


def test_list_tools_describes_generate(live_app, app_sim):
    tools = call(live_app, lambda s: s.list_tools()).tools
    assert [t.name for t in tools] == ["generate"]  # only the named endpoint, nothing private
    tool = tools[0]
    assert spec.MODEL_TITLE in tool.description and "reference images" in tool.description
    props = tool.inputSchema["properties"]
    assert list(props) == [f.name for f in spec.INPUTS]
    for field in spec.INPUTS:
        assert props[field.name]["description"] == apidoc.parameter_help(field)
        if field.help:
            assert " ".join(field.help.split()) in props[field.name]["description"]
    assert "URL" in props[spec.INPUT_IMAGE.name]["description"]
    assert props[spec.INPUT_IMAGE.name]["type"] == "array"
    assert props[spec.WIDTH.name]["description"].endswith(
        "or 0 to match the first input image; default 1024.")
    assert '"jpeg" or "png"' in props[spec.OUTPUT_FORMAT.name]["description"]


def test_call_generate_with_a_url_reference_returns_the_image(live_app, app_sim, image_host):
    before = {t["id"] for t in app_sim.tasks()}
    arguments = {spec.INPUT_IMAGE.name: [f"{image_host}/sky.png"],
                 spec.PROMPT.name: "Put a hot-air balloon in image 1's sky.",
                 spec.WIDTH.name: 320, spec.HEIGHT.name: 256, spec.SAFETY_TOLERANCE.name: 2,
                 spec.SEED.name: 4242, spec.OUTPUT_FORMAT.name: "png"}
    result = call(live_app, lambda s: s.call_tool("generate", arguments))
    assert not result.isError, result.content
    images = [c for c in result.content if c.type == "image"]
    assert len(images) == 1 and images[0].mimeType == "image/png"
    with Image.open(io.BytesIO(base64.b64decode(images[0].data))) as im:
        assert im.size == (320, 256)
    texts = " ".join(c.text for c in result.content if c.type == "text")
    assert "4242" in texts and "task_id" in texts  # the run's details come back too

    [task] = [t for t in app_sim.tasks() if t["id"] not in before]
    assert task["prompt"] == arguments[spec.PROMPT.name]
    assert (task["seed"], task["width"], task["height"]) == (4242, 320, 256)
    [sent] = task["inputs"]
    assert sent["kind"] == "file" and (sent["width"], sent["height"]) == (640, 480)


def test_bad_inputs_come_back_as_a_tool_error(live_app, app_sim):
    runs = app_sim.run_calls
    result = call(live_app, lambda s: s.call_tool("generate", {
        spec.INPUT_IMAGE.name: [], spec.PROMPT.name: "x", spec.WIDTH.name: 100,
        spec.HEIGHT.name: 256, spec.SAFETY_TOLERANCE.name: 2, spec.SEED.name: 1,
        spec.OUTPUT_FORMAT.name: "png"}))
    assert result.isError
    assert "multiple of 16" in " ".join(getattr(c, "text", "") for c in result.content)
    assert app_sim.run_calls == runs


def test_text_to_image_with_progress_notifications(live_app, app_sim):
    """A client that asks for progress gets the image the same way."""
    progress: list = []

    async def progress_callback(value, total, message):
        progress.append(message)

    arguments = {spec.INPUT_IMAGE.name: [], spec.PROMPT.name: "A paper boat on a pond",
                 spec.WIDTH.name: 256, spec.HEIGHT.name: 256, spec.SAFETY_TOLERANCE.name: 2,
                 spec.SEED.name: 9, spec.OUTPUT_FORMAT.name: "jpeg"}
    result = call(live_app, lambda s: s.call_tool("generate", arguments,
                                                  progress_callback=progress_callback))
    assert not result.isError, result.content
    [image] = [c for c in result.content if c.type == "image"]
    assert image.mimeType == "image/jpeg"
    with Image.open(io.BytesIO(base64.b64decode(image.data))) as im:
        assert im.size == (256, 256) and im.format == "JPEG"
    assert progress  # queue and processing updates reached the client
