"""The model's inputs come from wiro/spec.py alone: a made-up select, number and text input
added to a copy of `spec.INPUTS` (nothing else changed) gets a control on the page with its
label and help, a parameter of the `generate` API, a field in the Run the simulator
receives, and a place in the code snippets and the run's record."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(240)

SCRIPT = r'''
import json, os, socket, sys
sys.path.insert(0, os.environ["ROOT"])
from wiro import spec
from wiro.spec import ModelInput, Option

MADE_UP = (
    ModelInput("style", "Style", "How the picture looks.", "select", "natural",
               options=(Option("natural", "Natural"), Option("vivid", "Vivid"))),
    ModelInput("guidance", "Guidance", "How closely to follow the prompt.", "number", 5,
               minimum=1, maximum=10, step=1),
    ModelInput("negativePrompt", "Negative prompt", "What to leave out.", "text", ""),
)
spec.INPUTS = spec.INPUTS + MADE_UP  # the one change

import requests
import app
from studio import snippets
from gradio_client import Client

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **app.launch_options())
url = f"http://127.0.0.1:{port}"
config = requests.get(url + "/config", timeout=30).json()
controls = {c["props"].get("label"): {k: c["props"].get(k) for k in
            ("info", "minimum", "maximum", "choices", "value", "visible")}
            for c in config["components"] if str(c["props"].get("elem_id")).startswith("input-")}
client = Client(url, verbose=False)
api = client.view_api(return_format="dict", print_info=False)
parameters = [p["parameter_name"] for p in api["named_endpoints"]["/generate"]["parameters"]]
values = {f.name: f.default for f in spec.INPUTS}
values.update(inputImage=[], width=256, height=256, style="vivid", guidance=7,
              negativePrompt="blurry edges")
image, details = client.predict(*[values[f.name] for f in spec.INPUTS], api_name="/generate")
state = app.backend.simulator.state
sent = state.tasks()[-1]["parameters"]
refused = None
try:
    client.predict(*[{**values, "guidance": 11}[f.name] for f in spec.INPUTS],
                   api_name="/generate")
except Exception as exc:
    refused = str(exc)
print("RESULT " + json.dumps({
    "controls": controls, "parameters": parameters, "sent": sent,
    "curl": snippets.curl(values), "python": snippets.python(values),
    "refused": refused, "runs": state.run_calls}))
os._exit(0)
'''


@pytest.fixture(scope="module")
def made_up() -> dict:
    env = {**os.environ, "ROOT": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False",
           "WIRO_API_KEY": "", "WIRO_API_SECRET": "", "WIRO_SIMULATOR_PACE": "0",
           "APP_DATA_DIR": tempfile.mkdtemp(prefix="flux2pro-spec-")}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tempfile.mkdtemp(), env=env,
                          capture_output=True, text=True, timeout=200)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(line[len("RESULT "):])


def test_each_made_up_input_has_a_control_with_its_label_help_and_range(made_up):
    controls = made_up["controls"]
    assert set(controls) == {"Style", "Guidance", "Negative prompt"}
    assert controls["Style"]["info"] == "How the picture looks."
    assert [c[1] for c in controls["Style"]["choices"]] == ["natural", "vivid"]
    assert (controls["Guidance"]["minimum"], controls["Guidance"]["maximum"]) == (1, 10)
    assert controls["Negative prompt"]["info"] == "What to leave out."


def test_each_is_a_parameter_of_the_generate_api(made_up):
    assert made_up["parameters"][-3:] == ["style", "guidance", "negativePrompt"]


def test_each_reaches_wiro_in_the_run(made_up):
    sent = made_up["sent"]
    assert sent["style"] == "vivid" and str(sent["guidance"]) == "7"
    assert sent["negativePrompt"] == "blurry edges"


def test_each_is_validated_by_its_field_before_any_run(made_up):
    assert "Guidance" in made_up["refused"] and "between 1 and 10" in made_up["refused"]
    assert made_up["runs"] == 1


def test_each_is_in_the_code_snippets(made_up):
    for snippet in (made_up["curl"], made_up["python"]):
        assert "vivid" in snippet and "blurry edges" in snippet and "guidance" in snippet
