"""Issue 7, part 2: the request as code really makes the Run, and never holds a secret."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
from PIL import Image

from studio import snippets
from wiro import spec

from conftest import TEST_KEY, TEST_SECRET

URL_1 = "https://cdn.example.com/road.jpg"
URL_2 = "https://cdn.example.com/it's a car;really.png"



def file_names(values) -> dict[str, str]:
    """{local path: the file name the snippets use for it}."""
    images, _ = snippets.request_parts(values)
    return {images[i][1]: name for i, name in snippets._file_names(images).items()}

def values(**changes):
    base = {**spec.defaults(), spec.PROMPT.name: "A red car on a road, 'quoted' & \"double\"",
            spec.WIDTH.name: 512, spec.HEIGHT.name: 256, spec.SEED.name: 7,
            spec.OUTPUT_FORMAT.name: "jpeg", spec.SAFETY_TOLERANCE.name: 3}
    base.update(changes)
    return base


def env_for(sim):
    return {**os.environ, "WIRO_API_KEY": TEST_KEY, "WIRO_API_SECRET": TEST_SECRET,
            "WIRO_API_BASE_URL": sim.base_url}


def image_file(folder, name, size=(64, 48), color=(200, 30, 30)):
    path = folder / name
    Image.new("RGB", size, color).save(path)
    return path


# --- what the snippets say -----------------------------------------------------------------

@pytest.mark.parametrize("make", [snippets.curl, snippets.python])
def test_placeholders_not_secrets_and_spec_names(make):
    code = make(values(**{spec.INPUT_IMAGE.name: [URL_1]}))
    assert "WIRO_API_KEY" in code and "WIRO_API_SECRET" in code
    assert TEST_KEY not in code and TEST_SECRET not in code
    for field in spec.INPUTS:
        assert field.name in code
    assert spec.MODEL_SLUG in code and "api.wiro.ai/v1" in code


def test_json_body_when_no_files():
    images, params = snippets.request_parts(values(**{spec.INPUT_IMAGE.name: [URL_1, URL_2]}))
    assert images == [("url", URL_1), ("url", URL_2)]
    assert list(params) == [f.name for f in spec.INPUTS if f is not spec.INPUT_IMAGE]
    code = snippets.curl(values(**{spec.INPUT_IMAGE.name: [URL_1]}))
    assert "Content-Type: application/json" in code and " -F " not in code
    assert "json=body" in snippets.python(values())


def test_multipart_when_files_in_order(tmp_path):
    road = str(image_file(tmp_path, "road.jpg"))
    entries = [URL_1, road, URL_2]
    code = snippets.curl(values(**{spec.INPUT_IMAGE.name: entries}))
    lines = [line for line in code.splitlines() if "inputImage=" in line]
    assert len(lines) == 3
    assert URL_1 in lines[0] and "@" in lines[1] and "road.jpg" in lines[1] and \
        "really.png" in lines[2]
    assert str(tmp_path) not in code  # file names, not the server's paths
    assert "files=fields" in snippets.python(values(**{spec.INPUT_IMAGE.name: entries}))


def test_repeated_file_names_are_told_apart(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = str(image_file(tmp_path / "a", "image.png"))
    two = str(image_file(tmp_path / "b", "image.png"))
    names = file_names(values(**{spec.INPUT_IMAGE.name: [one, two]}))
    assert names == {one: "image.png", two: "image-2.png"}


def test_numbers_are_sent_as_integers():
    _, params = snippets.request_parts(values(**{spec.WIDTH.name: 512.0, spec.SEED.name: "9"}))
    assert params[spec.WIDTH.name] == 512 and params[spec.SEED.name] == 9


# --- the snippets run against the simulator --------------------------------------------------

def run_curl(code, sim, cwd):
    done = subprocess.run(["bash", "-c", code], env=env_for(sim), cwd=cwd, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def run_python(code, sim, cwd):
    done = subprocess.run([sys.executable, "-c", code], env=env_for(sim), cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def created(sim_state, answer_taskid):
    [task] = sim_state.tasks()
    assert task["id"] == str(answer_taskid)
    return task


def expect_inputs(task, prompt):
    assert task["prompt"] == prompt.strip()
    assert (task["width"], task["height"], task["seed"]) == (512, 256, 7)
    assert task["output_format"] == "jpeg"


def test_curl_json_creates_the_task(sim, sim_state, tmp_path):
    v = values(**{spec.INPUT_IMAGE.name: [URL_1, URL_2]})
    answer = run_curl(snippets.curl(v), sim, tmp_path)
    assert answer["result"] is True
    task = created(sim_state, answer["taskid"])
    expect_inputs(task, v[spec.PROMPT.name])
    assert [i["url"] for i in task["inputs"]] == [URL_1, URL_2]


def test_curl_multipart_creates_the_task_with_files_and_urls_in_order(sim, sim_state,
                                                                      tmp_path):
    src = tmp_path / "uploads"
    src.mkdir()
    red = str(image_file(src, "red car.png", (80, 60), (220, 0, 0)))
    blue = str(image_file(src, "blue;road.png", (40, 30), (0, 0, 220)))
    v = values(**{spec.INPUT_IMAGE.name: [red, URL_1, blue]})
    work = tmp_path / "work"  # the user's folder, with their copies of the files
    work.mkdir()
    for path, name in file_names(v).items():
        shutil.copy(path, work / name)
    answer = run_curl(snippets.curl(v), sim, work)
    task = created(sim_state, answer["taskid"])
    expect_inputs(task, v[spec.PROMPT.name])
    sent = task["inputs"]
    assert [i["kind"] for i in sent] == ["file", "url", "file"]
    assert [(i["width"], i["height"]) for i in (sent[0], sent[2])] == [(80, 60), (40, 30)]
    assert sent[0]["source"] == "red car.png" and sent[2]["source"] == "blue;road.png"


def test_python_json_runs_follows_and_downloads_the_image(sim, sim_state, tmp_path):
    """The Python snippet is a whole script: Run, Task/Detail until done, then the file."""
    v = values(**{spec.INPUT_IMAGE.name: []})
    out = run_python(snippets.python(v), sim, tmp_path)
    taskid = out.split("task id:")[1].split()[0]
    task = created(sim_state, taskid)
    expect_inputs(task, v[spec.PROMPT.name])
    assert task["inputs"] == []
    assert "status: task_postprocess_end" in out
    saved = out.split("saved ")[1].split()[0]
    with Image.open(tmp_path / saved) as image:  # the task's own image, in the current folder
        assert image.format == "JPEG" and image.size == (512, 256)
    outputs = next(m for st, m, _ in sim_state.events(taskid) if st == "task_postprocess_end")
    served = sim_state.output_bytes(urlsplit(outputs[0]["url"]).path)
    assert (tmp_path / saved).read_bytes() == served[0]


def test_python_multipart_creates_the_task(sim, sim_state, tmp_path):
    src = tmp_path / "uploads"
    src.mkdir()
    road = str(image_file(src, "road.png", (96, 64)))
    v = values(**{spec.INPUT_IMAGE.name: [URL_1, road]})
    work = tmp_path / "work"
    work.mkdir()
    for path, name in file_names(v).items():
        shutil.copy(path, work / name)
    out = run_python(snippets.python(v), sim, work)
    task = created(sim_state, out.split("task id:")[1].split()[0])
    expect_inputs(task, v[spec.PROMPT.name])
    assert [(i["kind"], i["width"]) for i in task["inputs"]] == [("url", None), ("file", 96)]
    assert "saved " in out


def test_signature_is_checked(sim, sim_state, tmp_path):
    """A wrong secret is refused: the snippet really signs."""
    env = {**env_for(sim), "WIRO_API_SECRET": "wrong"}
    done = subprocess.run([sys.executable, "-c", snippets.python(values())], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Wiro refused the run" in done.stderr
    assert "'result': False" in done.stderr
    assert sim_state.tasks() == []
