"""Each change studio/gradio_patches.py makes to Gradio, checked to still do something on the
installed release (an upgrade that makes one a no-op fails here, by name)."""
from __future__ import annotations

import os

import gradio as gr
import gradio.mcp as gradio_mcp
import pytest
from gradio.routes import App

from studio import gradio_patches
from studio.bounds import OriginGate, QuietRoutes, UploadGate


class Page:  # what the patches consult; only its visitors are used here
    from studio.config import Config
    from studio.visitors import Visitors

    config = Config()
    visitors = Visitors(config)


@pytest.fixture(autouse=True)
def installed():
    """Installed for a stand-in page; the app's own page (if one runs) is put back after."""
    before = list(gradio_patches._page)
    gradio_patches.install(Page())
    yield
    gradio_patches._page[:] = before


def test_written_for_this_gradio_release():
    # Read every patch again (and this module's list) before moving to another release.
    assert gr.__version__ == gradio_patches.GRADIO_VERSION


def test_uvicorn_trusts_no_forwarded_header_by_default(monkeypatch):
    import uvicorn

    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    gradio_patches.install(gradio_patches.current_page())
    assert os.environ["FORWARDED_ALLOW_IPS"] == ""
    # Uvicorn still reads the variable (else loopback peers' X-Forwarded-For is believed).
    assert uvicorn.Config(app=None).forwarded_allow_ips == ""


def test_the_app_gradio_builds_has_our_middleware():
    with gr.Blocks() as demo:
        gr.Markdown("hi")
    app = App.create_app(demo)
    from starlette.middleware.gzip import GZipMiddleware

    assert [m.cls for m in app.user_middleware][:4] == [GZipMiddleware, OriginGate,
                                                        QuietRoutes, UploadGate]


def test_the_mcp_server_is_ours_and_every_method_it_overrides_still_exists():
    ours = gradio_mcp.GradioMCPServer
    assert getattr(ours, "patched_by_studio", False)
    base = ours.__mro__[1]
    for name in ("simplify_filedata_schema", "convert_strings_to_filedata",
                 "_execute_tool_without_progress", "_prepare_tool_call_args"):
        assert name in vars(ours) and hasattr(base, name), name


def test_a_number_or_text_box_hands_over_what_was_sent():
    stock = gr.Number(precision=0)
    assert stock.preprocess(1024.5) != 1024.5  # Gradio rounds: the patch is still needed
    assert gradio_patches.as_sent(gr.Number(precision=0)).preprocess(1024.5) == 1024.5
    assert gradio_patches.as_sent(gr.Number(precision=0)).preprocess("abc") == "abc"
    assert gr.Textbox().preprocess(123) == "123"  # Gradio makes text of anything
    assert gradio_patches.as_sent(gr.Textbox()).preprocess(123) == 123


def test_an_api_parameter_carries_its_description():
    with gr.Blocks() as demo:
        box = gradio_patches.describe_parameter(gr.Number(label="Seed"), "CANARY help")
        out = gr.Textbox()
        gr.Button().click(lambda seed: str(seed), box, out, api_name="echo")
    info = demo.get_api_info()
    [parameter] = info["named_endpoints"]["/echo"]["parameters"]
    assert "CANARY help" in str(parameter)


def test_compat_helpers():
    schema = {"type": "object", "properties": {"files": {
        "$defs": {"FileData": {"type": "string"}}, "type": "array",
        "items": {"$ref": "#/$defs/FileData", "type": "string"}}}}
    assert gradio_patches._drop_refs(schema) == {"type": "object", "properties": {"files": {
        "type": "array", "items": {"type": "string"}}}}
    assert gradio_patches._expand_items({"files": ["a", "b"]}, ["files", "items"]) == [
        ["files", 0], ["files", 1]]
    assert gradio_patches._expand_items({"files": []}, ["files", "items"]) == []
    assert gradio_patches._expand_items({"one": "a"}, ["one"]) == [["one"]]


def test_a_password_box_never_enters_the_sessions_config():
    from gradio.state_holder import SessionState

    with gr.Blocks() as demo:
        key = gr.Textbox(type="password")
        prompt = gr.Textbox()
    state = SessionState(demo)
    state[key._id] = key
    state[prompt._id] = prompt
    state._update_value_in_config(key._id, "CANARY-KEY")
    state._update_value_in_config(prompt._id, "a lighthouse")
    # What Gradio's deep links write to disk and serve back:
    components = str(list(state.components))
    assert "CANARY-KEY" not in components and "a lighthouse" in components


def run_async(coroutine):
    """In a thread of its own: Playwright (other modules) may keep a loop running in this one."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_malformed_input_is_refused_without_a_traceback(capsys, caplog):
    from gradio.state_holder import SessionState

    with gr.Blocks() as demo:
        files = gr.File(file_count="multiple")
        choice = gr.Dropdown(choices=["jpeg", "png"], value="png")
        out = gr.Textbox()
        gr.Button().click(lambda f, c: c, [files, choice], out)
    block_fn = demo.fns[0]
    bad = [([{"path": 123, "meta": {"_type": "gradio.FileData"}}], "png"),
           ("not a list", "png"), ([], "tiff")]
    for inputs in bad:
        with pytest.raises(gr.Error) as refused:
            run_async(demo.preprocess_data(block_fn, list(inputs), SessionState(demo)))
        assert refused.value.print_exception is False
        assert "not in a form this app takes" in refused.value.message
    assert "Traceback" not in capsys.readouterr().err
    assert len([r for r in caplog.records if "malformed input" in r.getMessage()]) == 3


def test_the_page_is_gzipped_and_its_config_leaves_out_api_schemas():
    import requests

    with gr.Blocks() as demo:
        box = gr.Textbox(label="Prompt", value="x" * 2000)
        gr.Button("Run").click(lambda text: text, box, box, api_name="echo")
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        page = requests.get(demo.local_url, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert page.status_code == 200
        assert page.headers.get("content-encoding") == "gzip"
        assert '"api_info_as_input"' not in page.text and "x" * 2000 in page.text
        assert int(page.headers.get("content-length", 0)) < len(page.content)  # still gzipped
        # API clients still get every schema (gradio_client reads them from /config).
        config = requests.get(demo.local_url + "config", timeout=10).json()
        assert any("api_info" in c for c in config["components"])
    finally:
        demo.close()
