"""Issue 6, part 1, through the API: the bad-input battery sent to `/generate` with
gradio_client. Each case is refused with a message naming the field, and no Run is sent.

Cases whose value JSON cannot carry (NaN, infinity) or that gradio_client cannot send as a
file (javascript:, data: and file: "uploads") are covered through the page's run function in
test_bad_inputs.py; the rest of the battery is here.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from bad_inputs import CASES, inputs_for
from wiro import spec

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(120)

import gradio_client  # noqa: E402
handle_file = gradio_client.handle_file


def _sendable(value) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _api_args(case, folder: Path):
    values = inputs_for(case, folder)
    entries = values[spec.INPUT_IMAGE.name]
    files = []
    for entry in entries:
        if isinstance(entry, str) and "://" not in entry and ":" not in entry[:12] \
                and Path(entry).is_file():
            files.append(handle_file(entry))
        else:
            return None  # a URL, a missing path or a folder: not an API upload
    values[spec.INPUT_IMAGE.name] = files
    scalars = [values[f.name] for f in spec.INPUTS[1:]]
    if not all(_sendable(v) for v in scalars):
        return None
    return [files, *scalars]


def _expressible(case) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        return _api_args(case, Path(folder)) is not None


# Nine images have their own test below (nine real uploads).
API_CASES = [c for c in CASES if c[0] != "nine-images" and _expressible(c)]


@pytest.fixture
def client(app_client):
    return app_client


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c[0])
def test_bad_input_through_the_api_is_refused_by_label(case, client, app_sim, tmp_path):
    args = _api_args(case, tmp_path)
    runs_before = app_sim.run_calls
    with pytest.raises(Exception) as refused:
        client.predict(*args, api_name="/generate")
    message = str(refused.value)
    for words in case[2]:
        assert words in message, f"{words!r} missing from: {message}"
    assert app_sim.run_calls == runs_before


def test_nine_uploaded_images_are_refused_through_the_api(client, app_sim, tmp_path):
    from PIL import Image
    files = []
    for n in range(spec.MAX_REFERENCE_IMAGES + 1):
        path = tmp_path / f"ref{n}.png"
        Image.new("RGB", (32, 32), (n * 20, 0, 0)).save(path)
        files.append(handle_file(str(path)))
    runs_before = app_sim.run_calls
    values = {**spec.defaults(), spec.INPUT_IMAGE.name: files}
    with pytest.raises(Exception) as refused:
        client.predict(*[values[f.name] for f in spec.INPUTS], api_name="/generate")
    assert spec.INPUT_IMAGE.label in str(refused.value) and "at most 8" in str(refused.value)
    assert app_sim.run_calls == runs_before


def test_most_of_the_battery_reaches_the_api():
    assert len(API_CASES) + 1 >= 30, [c[0] for c in API_CASES]
