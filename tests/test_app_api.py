"""The named `/generate` endpoint through gradio_client, against the app on the simulator.

The endpoint takes the seed's inputs in the seed's order (inputImage, prompt, width, height,
safetyTolerance, seed, outputFormat) and returns the image file and the run's details.
"""
from __future__ import annotations

import pytest
from PIL import Image

from wiro import spec

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(120)

import gradio_client  # noqa: E402


@pytest.fixture
def client(app_client):
    return app_client


def seed_defaults(**changes) -> list:
    """The endpoint's arguments at the seed's defaults, in order; no reference images."""
    values = {i.name: i.default for i in spec.INPUTS}
    values[spec.INPUT_IMAGE.name] = []
    values.update(changes)
    return [values[i.name] for i in spec.INPUTS]


def make_png(path, size, colour) -> str:
    Image.new("RGB", size, colour).save(path, "PNG")
    return str(path)


def test_generate_with_the_seed_defaults_returns_a_1024_png(client, app_sim, live_app):
    runs_before = app_sim.run_calls
    image_path, details = client.predict(*seed_defaults(), api_name="/generate")

    with Image.open(image_path) as image:
        assert image.format == "PNG" and image.size == (1024, 1024)
    task = live_app.task(details["task_id"])
    assert task["status"] == "task_postprocess_end"
    assert details["seed"] == spec.SEED.default == task["seed"]
    assert details["cost_usd"] > 0
    assert (details["width"], details["height"], details["format"]) == (1024, 1024, "png")
    assert task["prompt"] == spec.PROMPT.default and task["inputs"] == []
    assert app_sim.run_calls == runs_before + 1


def test_bad_input_is_refused_by_field_before_any_run(client, app_sim):
    runs_before = app_sim.run_calls
    with pytest.raises(Exception) as refused:
        client.predict(*seed_defaults(width=1000), api_name="/generate")
    text = str(refused.value)
    assert "Width" in text and "multiple of 16" in text
    assert app_sim.run_calls == runs_before

    with pytest.raises(Exception) as refused:
        client.predict(*seed_defaults(prompt="   ", outputFormat="gif"), api_name="/generate")
    text = str(refused.value)
    assert "Prompt" in text and "Output Format" in text  # every problem, each by its label
    assert app_sim.run_calls == runs_before


def test_two_uploaded_images_reach_wiro_in_order(client, app_sim, live_app, tmp_path):
    first = make_png(tmp_path / "road.png", (320, 240), (90, 90, 90))
    second = make_png(tmp_path / "car.png", (200, 160), (200, 30, 30))
    handle = gradio_client.handle_file
    image_path, details = client.predict(
        *seed_defaults(inputImage=[handle(first), handle(second)], width=512, height=512),
        api_name="/generate")

    task = live_app.task(details["task_id"])
    assert [(i["kind"], i["source"]) for i in task["inputs"]] == [
        ("file", "road.png"), ("file", "car.png")]
    assert [(i["width"], i["height"]) for i in task["inputs"]] == [(320, 240), (200, 160)]
    with Image.open(image_path) as image:
        assert image.size == (512, 512)


def test_width_zero_matches_the_first_uploaded_image(client, app_sim, live_app, tmp_path):
    first = make_png(tmp_path / "wide.png", (640, 352), (10, 120, 60))
    image_path, details = client.predict(
        *seed_defaults(inputImage=[gradio_client.handle_file(first)], width=0, height=0),
        api_name="/generate")
    with Image.open(image_path) as image:
        assert image.size == (640, 352)
    assert live_app.task(details["task_id"])["inputs"][0]["source"] == "wide.png"


# --- the API page: what it shows is what works ----------------------------------------------

@pytest.fixture(scope="module")
def generate_info(live_app):
    import requests
    info = requests.get(f"{live_app.url}/gradio_api/info", timeout=10).json()
    return info["named_endpoints"]["/generate"]


def test_api_page_types_defaults_and_descriptions_come_from_the_spec(generate_info):
    from studio import apidoc

    params = {p["parameter_name"]: p for p in generate_info["parameters"]}
    assert list(params) == [f.name for f in spec.INPUTS]
    image = params[spec.INPUT_IMAGE.name]
    assert image["parameter_has_default"] and image["parameter_default"] is None
    for field in spec.NUMBER_INPUTS:
        assert params[field.name]["type"]["type"] == "integer", field.name
        assert params[field.name]["python_type"]["type"] == "int", field.name
    for field in spec.INPUTS:
        assert params[field.name]["python_type"]["description"] == apidoc.parameter_help(field)
    # The example call uses an image (Wiro's own sample), not Gradio's sample PDF.
    example = image["example_input"]
    assert example and all(str(e.get("url") or e.get("path")).endswith(".jpg")
                           for e in example)


def test_a_prompt_only_call_needs_no_input_image(client, app_sim, live_app):
    image_path, details = client.predict(prompt="A paper boat on a pond", width=256,
                                         height=256, api_name="/generate")
    with Image.open(image_path) as image:
        assert image.size == (256, 256)
    task = live_app.task(details["task_id"])
    assert task["inputs"] == [] and task["prompt"] == "A paper boat on a pond"


@pytest.mark.parametrize("prompt", [123, ["a"], {"text": "a cat"}])
def test_a_prompt_that_is_not_text_is_refused_by_name_and_never_run(client, app_sim, prompt):
    runs = app_sim.run_calls
    with pytest.raises(Exception) as refused:
        client.predict(*seed_defaults(prompt=prompt), api_name="/generate")
    assert "Prompt must be text" in str(refused.value)
    assert app_sim.run_calls == runs
