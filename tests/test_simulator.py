"""The local Wiro simulator: driven directly and over loopback HTTP with requests."""
from __future__ import annotations

import io
import json
import time

import pytest
import requests
from PIL import Image

from conftest import TEST_KEY, TEST_SECRET, FakeClock, signed_headers
from wiro import pricing, spec
from wiro.models import Task
from wiro.simulator import SimulatorServer, SimulatorState, UploadedFile
from wiro.simulator import messages as msg
from wiro.simulator.state import FAILURE_TEXT, PRE_EXECUTION_FAILURE
from wiro.simulator.__main__ import main as simulator_main
from wiro.simulator.__main__ import parse_args
from wiro.statuses import LIFECYCLE, TaskStatus

RUN_PATH = f"/Run/{spec.MODEL_SLUG}"

# Field names of the task objects in the seed's Detail and Kill/Cancel responses.
SEED_TASK_FIELDS = {
    "id", "uuid", "name", "socketaccesstoken", "parameters", "debugoutput", "debugerror",
    "starttime", "endtime", "elapsedseconds", "status", "cps", "totalcost", "guestid",
    "projectid", "modelid", "description", "basemodelid", "runtype", "modelfolderid",
    "modelfileid", "callbackurl", "marketplaceid", "createtime", "canceltime", "assigntime",
    "accepttime", "preprocessstarttime", "preprocessendtime", "postprocessstarttime",
    "postprocessendtime", "pexit", "categories", "outputs", "size",
}
SEED_OUTPUT_FIELDS = {
    "id", "name", "contenttype", "parentid", "uuid", "size", "addedtime", "modifiedtime",
    "accesskey", "foldercount", "filecount", "ispublic", "expiretime", "url",
}
# The seed shows these as null / a number / structures; every other value is a string.
NON_STRING_FIELDS = {"guestid", "marketplaceid", "parameters", "outputs"}
TIMESTAMP_FIELDS = ("createtime", "accepttime", "assigntime", "preprocessstarttime",
                    "preprocessendtime", "starttime", "endtime", "postprocessstarttime",
                    "postprocessendtime")

# The Run body exactly as the seed's curl sends it (JSON under a multipart content type).
SEED_RUN_BODY = """{
  "inputImage": [
    "bfl-flux-2-pro-input-5-1.jpg",
    "bfl-flux-2-pro-input-5-2.jpg"
  ],
  "prompt": "Place the car in the image 2 to the road on the image 1.",
  "width": 1024,
  "height": 1024,
  "safetyTolerance": 2,
  "seed": 123,
  "outputFormat": "png",
  "callbackUrl": "You can provide a callback URL; Wiro will send a POST request to it when the task is completed."
}"""  # noqa: E501 - the seed's own line


def png_bytes(width: int, height: int, colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def fields_of(**values: object) -> list[tuple[str, str]]:
    return [(name, str(value)) for name, value in values.items()]


def run_ok(state: SimulatorState, *extra: tuple[str, object], prompt: str = "a red fox",
           **values: object) -> str:
    fields = fields_of(prompt=prompt, **values) + [(n, v) for n, v in extra]
    status, body = state.run(signed_headers(), fields)
    assert (status, body["result"]) == (200, True), body
    return body["taskid"]


def detail(state: SimulatorState, taskid: str) -> dict:
    status, body = state.detail(signed_headers(), [("taskid", taskid)])
    assert status == 200 and body["result"] is True, body
    return body["tasklist"][0]


def error_of(answer: tuple[int, dict]) -> tuple[int, int, str]:
    status, body = answer
    assert body["result"] is False
    return status, body["errors"][0]["code"], body["errors"][0]["message"]


def post(server: SimulatorServer, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("headers", signed_headers())
    kwargs.setdefault("timeout", 10)
    return requests.post(server.base_url + path, **kwargs)


@pytest.fixture
def clocked(fake_clock: FakeClock) -> SimulatorState:
    """Pace 1.0 on a fake clock: the real ~5.6 s walk, under the test's control."""
    return SimulatorState(TEST_KEY, TEST_SECRET, pace=1.0, clock=fake_clock)


# --- Run / Detail shapes ------------------------------------------------------------------

def test_run_answers_like_the_seed_with_increasing_numeric_ids(sim_state):
    status, first = sim_state.run(signed_headers(), fields_of(prompt="one"))
    _, second = sim_state.run(signed_headers(), fields_of(prompt="two"))
    assert status == 200
    assert list(first) == ["errors", "taskid", "socketaccesstoken", "result"]
    assert first["errors"] == [] and first["result"] is True
    assert first["taskid"].isdigit() and int(second["taskid"]) > int(first["taskid"])
    assert first["socketaccesstoken"] != second["socketaccesstoken"]


def test_detail_has_every_seed_field_as_strings(sim_state):
    task = detail(sim_state, run_ok(sim_state))
    assert SEED_TASK_FIELDS <= set(task)
    for name in SEED_TASK_FIELDS - NON_STRING_FIELDS:
        assert isinstance(task[name], str), name
    assert task["guestid"] is None and task["marketplaceid"] is None
    (output,) = task["outputs"]
    assert SEED_OUTPUT_FIELDS <= set(output)
    assert output["uuid"] == task["uuid"]
    # No server here, so URLs are bare paths; the state serves them all the same.
    assert task["size"] == output["size"] == str(len(sim_state.output_bytes(output["url"])[0]))
    assert json.loads(task["categories"])  # a JSON list inside a string, like the seed's


def test_detail_envelope_and_identifiers(sim_state):
    status, run = sim_state.run(signed_headers(), fields_of(prompt="x"))
    for key, value in (("taskid", run["taskid"]), ("tasktoken", run["socketaccesstoken"])):
        status, body = sim_state.detail(signed_headers(), [(key, value)])
        assert list(body) == ["total", "errors", "tasklist", "result"]
        assert (body["total"], body["errors"], body["result"]) == ("1", [], True)
        assert body["tasklist"][0]["id"] == run["taskid"]


def test_detail_errors(sim_state):
    assert error_of(sim_state.detail(signed_headers(), [])) == \
        (200, 0, msg.TASK_KEYS_REQUIRED.format(keys="taskid or tasktoken"))
    assert error_of(sim_state.detail(signed_headers(), [("taskid", "999")])) == \
        (200, 1, msg.NO_TASK)
    assert error_of(sim_state.detail(signed_headers(), None)) == (200, 0, msg.BODY_INVALID)


def test_successful_task_parses_as_a_success(sim_state):
    task = Task.from_json(detail(sim_state, run_ok(sim_state)))
    assert task.succeeded and task.pexit == "0" and task.outputs[0].content_type == "image/png"


# --- the status walk -------------------------------------------------------------------

def test_status_walk_follows_the_lifecycle(clocked, fake_clock):
    taskid = run_ok(clocked)
    seen, start = [], fake_clock.now
    while True:
        status = detail(clocked, taskid)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if TaskStatus(status).is_terminal:
            break
        fake_clock.advance(0.05)
    assert seen == [s.value for s in LIFECYCLE]
    assert 4.0 <= fake_clock.now - start <= 8.0  # seconds, like the seed's timestamps

    task = detail(clocked, taskid)
    stamps = [int(task[name]) for name in TIMESTAMP_FIELDS]
    assert all(stamps) and stamps[-1] > stamps[0]
    assert float(task["elapsedseconds"]) > 0 and task["canceltime"] == "0"


def test_progress_percentages_rise_to_100(clocked, fake_clock):
    taskid = run_ok(clocked)
    fake_clock.advance(60)
    events = clocked.events(taskid)
    assert [e[0] for e in events if e[0] != "task_output"] == \
        [s.value for s in LIFECYCLE if s is not TaskStatus.OUTPUT]
    percentages = [int(m["percentage"]) for s, m, _ in events if s == "task_output"]
    assert len(percentages) > 2 and percentages[0] == 0 and percentages[-1] == 100
    assert percentages == sorted(set(percentages))
    times = [t for _, _, t in events]
    assert times == sorted(times)
    assert events[-1][1] == detail(clocked, taskid)["outputs"]  # final message: the outputs


def test_pace_zero_finishes_at_once(sim_state):
    task = detail(sim_state, run_ok(sim_state))
    assert task["status"] == "task_postprocess_end" and task["pexit"] == "0"
    assert sim_state.running_tasks() == []


def test_pace_scales_the_schedule(fake_clock):
    slow = SimulatorState(TEST_KEY, TEST_SECRET, pace=1.0, clock=fake_clock)
    fast = SimulatorState(TEST_KEY, TEST_SECRET, pace=0.25, clock=fake_clock)
    slow_id, fast_id = run_ok(slow), run_ok(fast)
    fake_clock.advance(2.5)
    assert detail(fast, fast_id)["status"] == "task_postprocess_end"
    assert not TaskStatus(detail(slow, slow_id)["status"]).is_terminal
    assert len(slow.running_tasks()) == 1


# --- auth --------------------------------------------------------------------------------

def test_auth_errors(sim_state):
    good = signed_headers()
    assert error_of(sim_state.detail({}, [("taskid", "1")])) == (401, 0, msg.KEY_NOT_FOUND)
    assert error_of(sim_state.detail({**good, "x-api-key": "nope"}, [("taskid", "1")])) == \
        (401, 0, msg.KEY_NOT_FOUND)
    assert error_of(sim_state.detail({"x-api-key": TEST_KEY}, [("taskid", "1")])) == \
        (401, 0, msg.SIGNATURE_REQUIRED)
    forged = signed_headers(secret="wrong-secret")
    assert error_of(sim_state.detail(forged, [("taskid", "1")])) == \
        (401, 0, msg.SIGNATURE_INVALID)


def test_replayed_nonce_is_rejected(sim_state):
    headers = signed_headers()
    assert error_of(sim_state.detail(headers, [("taskid", "1")])) == (200, 1, msg.NO_TASK)
    assert error_of(sim_state.detail(headers, [("taskid", "1")])) == \
        (401, 0, msg.SIGNATURE_INVALID)


def test_key_only_project_needs_no_signature():
    state = SimulatorState(TEST_KEY, None, pace=0)
    assert state.run({"x-api-key": TEST_KEY}, fields_of(prompt="x"))[1]["result"] is True
    assert error_of(state.run({"x-api-key": "other"}, fields_of(prompt="x")))[0] == 401


def test_auth_over_http(sim):
    response = post(sim, RUN_PATH, headers={"x-api-key": TEST_KEY}, json={"prompt": "x"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == msg.SIGNATURE_REQUIRED
    assert response.json()["result"] is False


# --- Run validation -------------------------------------------------------------------------

def _range(inp: spec.ModelInput) -> str:
    return msg.PARAM_OUT_OF_RANGE.format(name=inp.name, min=inp.minimum, max=inp.maximum)


@pytest.mark.parametrize("values, message", [
    ({"prompt": None}, msg.PARAM_REQUIRED.format(name="prompt")),
    ({"prompt": "   "}, msg.PARAM_REQUIRED.format(name="prompt")),
    ({"width": "wide"}, msg.PARAM_NOT_NUMBER.format(name="width")),
    ({"width": spec.WIDTH.maximum + spec.SIZE_MULTIPLE}, _range(spec.WIDTH)),
    ({"height": spec.HEIGHT.minimum - 1}, _range(spec.HEIGHT)),
    ({"safetyTolerance": spec.SAFETY_TOLERANCE.maximum + 1}, _range(spec.SAFETY_TOLERANCE)),
    ({"safetyTolerance": "true"}, msg.PARAM_NOT_NUMBER.format(name="safetyTolerance")),
    ({"seed": "1.5"}, msg.PARAM_NOT_INTEGER.format(name="seed")),
    ({"seed": "-1"}, _range(spec.SEED)),
    ({"outputFormat": "gif"}, msg.PARAM_NOT_OPTION.format(
        name="outputFormat", options=", ".join(spec.OUTPUT_FORMAT.option_values))),
    ({"inputImage": ",".join(["a.jpg"] * (spec.INPUT_IMAGE.max_items + 1))},
     msg.TOO_MANY_FILES.format(name="inputImage", max=spec.INPUT_IMAGE.max_items)),
    ({"width": 100}, msg.PARAM_NOT_MULTIPLE.format(name="width", step=16)),  # the seed's rule
    ({"height": 1000.5}, msg.PARAM_NOT_MULTIPLE.format(name="height", step=16)),
])
def test_run_validation_messages(sim_state, values, message):
    values = {"prompt": "a fox", **values}
    fields = [(k, str(v)) for k, v in values.items() if v is not None]
    assert error_of(sim_state.run(signed_headers(), fields)) == (200, 0, message)
    assert sim_state.tasks_created == 0 and sim_state.run_calls == 1


def test_sizes_in_multiples_of_16_and_zero_are_accepted(sim_state):
    run_ok(sim_state, width=1008, height=64)
    run_ok(sim_state, width=0, height=2048)  # 0: match the input image


def test_zero_size_matches_the_first_uploaded_image(sim_state):
    upload = UploadedFile("photo.png", "image/png", png_bytes(640, 480))
    taskid = run_ok(sim_state, ("inputImage", upload), width=0, height=0)
    (snapshot,) = sim_state.tasks()
    assert (snapshot["width"], snapshot["height"]) == (640, 480)
    assert detail(sim_state, taskid)["pexit"] == "0"


def test_zero_size_with_a_url_uses_the_default(sim_state):
    run_ok(sim_state, ("inputImage", "https://example.com/a.jpg"), width=0, height=512)
    (snapshot,) = sim_state.tasks()
    assert (snapshot["width"], snapshot["height"]) == (spec.WIDTH.default, 512)


def test_unknown_model_slug(sim_state):
    answer = sim_state.run(signed_headers(), fields_of(prompt="x"), slug="someone/else")
    assert error_of(answer) == (200, 1, msg.MODEL_NOT_FOUND)


# --- cancel and kill --------------------------------------------------------------------

def test_cancel_only_while_queued(sim_state):
    sim_state.hold_in_queue = True
    taskid = run_ok(sim_state)
    assert detail(sim_state, taskid)["status"] == "task_queue"
    token = detail(sim_state, taskid)["socketaccesstoken"]
    status, body = sim_state.cancel(signed_headers(), [("taskid", taskid)])
    assert status == 200 and list(body) == ["errors", "tasklist", "result"]
    task = body["tasklist"][0]
    assert (task["status"], task["totalcost"], task["outputs"]) == ("task_cancel", "0", [])
    assert task["canceltime"] != "0" and SEED_TASK_FIELDS <= set(task)
    assert sim_state.running_tasks() == []
    assert token  # (Cancel by token is refused: see test_each_call_takes_only_wiros_keys)
    # Once cancelled, and once finished, there is nothing to cancel.
    assert error_of(sim_state.cancel(signed_headers(), [("taskid", taskid)])) == \
        (200, 1, msg.NOT_CANCELLABLE)
    sim_state.hold_in_queue = False
    done = run_ok(sim_state)
    assert error_of(sim_state.cancel(signed_headers(), [("taskid", done)])) == \
        (200, 1, msg.NOT_CANCELLABLE)


def test_released_task_leaves_the_queue_and_finishes(sim_state):
    sim_state.hold_in_queue = True
    taskid = run_ok(sim_state)
    assert sim_state.release(taskid) is True
    assert detail(sim_state, taskid)["status"] == "task_postprocess_end"
    assert sim_state.release(taskid) is False


def test_kill_while_running_charges_the_seconds_it_ran(clocked, fake_clock):
    """As the seed's Kill answer: task_cancel, cps 0.000585 and totalcost = cps x elapsed."""
    clocked.hold_running = True
    taskid = run_ok(clocked)
    fake_clock.advance(3.0)  # task_start at 2.0 s: one second of generating
    assert detail(clocked, taskid)["status"] == "task_output"
    assert detail(clocked, taskid)["pexit"] == ""  # no exit code while it runs
    assert error_of(clocked.cancel(signed_headers(), [("taskid", taskid)]))[1] == 1
    status, body = clocked.kill(signed_headers(), [("taskid", taskid)])
    task = body["tasklist"][0]
    assert (status, task["status"], task["cps"]) == (200, "task_cancel", "0.000585000000")
    assert float(task["elapsedseconds"]) == pytest.approx(1.0)
    assert float(task["totalcost"]) == pytest.approx(0.000585)
    assert detail(clocked, taskid)["totalcost"] == task["totalcost"]
    assert error_of(clocked.kill(signed_headers(), [("taskid", taskid)])) == \
        (200, 1, msg.KILL_FAILED.format(reason=msg.KILL_ENDED))
    assert [e[0] for e in clocked.events(taskid)][-1] == "task_cancel"


def test_a_killed_task_is_never_charged_more_than_a_whole_run(clocked, fake_clock):
    clocked.hold_running = True
    taskid = run_ok(clocked, width=64, height=64)
    fake_clock.advance(3600.0)
    task = clocked.kill(signed_headers(), [("taskid", taskid)])[1]["tasklist"][0]
    assert float(task["totalcost"]) == pytest.approx(pricing.estimate_cost(64, 64))


def test_kill_refuses_a_queued_task_which_cancel_takes(sim_state):
    """Kill is for a task a worker has (tasks.md); Cancel for one still queued."""
    sim_state.hold_in_queue = True
    taskid = run_ok(sim_state)
    assert error_of(sim_state.kill(signed_headers(), [("taskid", taskid)])) == \
        (200, 1, msg.KILL_FAILED.format(reason=msg.KILL_QUEUED))
    assert detail(sim_state, taskid)["status"] == "task_queue"
    cancelled = sim_state.cancel(signed_headers(), [("taskid", taskid)])[1]["tasklist"][0]
    assert (cancelled["status"], cancelled["totalcost"]) == ("task_cancel", "0")


def test_held_running_task_finishes_when_released(sim_state):
    sim_state.hold_running = True
    taskid = run_ok(sim_state)
    assert sim_state.release(taskid)
    assert detail(sim_state, taskid)["pexit"] == "0"


# --- knobs -----------------------------------------------------------------------------

def test_concurrency_limit(sim_state):
    sim_state.configure(concurrency_limit=1, hold_in_queue=True)
    first = run_ok(sim_state)
    status, code, message = error_of(sim_state.run(signed_headers(), fields_of(prompt="x")))
    assert (status, code) == (200, 96)
    assert "run up to 1 tasks at the same time" in message
    sim_state.cancel(signed_headers(), [("taskid", first)])
    run_ok(sim_state)
    assert sim_state.run_calls == 3 and sim_state.tasks_created == 2


def test_concurrency_follows_the_balance_rule(sim_state):
    sim_state.configure(balance=20.0, hold_in_queue=True)
    run_ok(sim_state)
    run_ok(sim_state)  # 10 % of $20: two at once
    _, code, message = error_of(sim_state.run(signed_headers(), fields_of(prompt="x")))
    assert code == 96 and "$20.00" in message and "up to 2 tasks" in message


def test_balance_and_sign_in_knobs(sim_state):
    sim_state.balance = 0.49
    assert error_of(sim_state.run(signed_headers(), fields_of(prompt="x"))) == \
        (200, 97, msg.INSUFFICIENT_BALANCE)
    sim_state.balance = None
    sim_state.require_sign_in = True
    assert error_of(sim_state.run(signed_headers(), fields_of(prompt="x"))) == \
        (200, 98, msg.SIGN_IN_REQUIRED)
    assert sim_state.tasks_created == 0


def test_failing_tasks(sim_state):
    sim_state.configure(fail_prompts="EXPLODE", fail_next_tasks=1)
    first = detail(sim_state, run_ok(sim_state, prompt="fine"))
    second = detail(sim_state, run_ok(sim_state, prompt="fine"))
    third = detail(sim_state, run_ok(sim_state, prompt="please explode now"))
    for failed in (first, third):
        assert failed["status"] == "task_postprocess_end"
        assert (failed["pexit"], failed["outputs"], failed["totalcost"]) == ("1", [], "0")
        assert failed["debugerror"]
        assert Task.from_json(failed).failed
    assert second["pexit"] == "0" and second["outputs"]


def test_a_failing_models_stderr_is_on_the_socket_never_in_details_status(clocked, fake_clock):
    """Detail's task_error means a failure before the model ran (Wiro-MCP), so the stderr
    lines of a model that is running (and will fail) are socket events only."""
    clocked.fail_next_tasks = 1
    taskid = run_ok(clocked)
    seen = set()
    for _ in range(60):
        fake_clock.advance(0.1)
        seen.add(detail(clocked, taskid)["status"])
    assert {"task_error", "task_error_full"}.isdisjoint(seen)
    assert "task_output" in seen and "task_postprocess_end" in seen
    kinds = [e[0] for e in clocked.events(taskid)]
    assert "task_error" in kinds and "task_error_full" in kinds
    assert detail(clocked, taskid)["debugerror"] == FAILURE_TEXT


def test_unreadable_upload_fails_the_task(sim_state):
    broken = UploadedFile("broken.png", "image/png", b"not a picture")
    task = detail(sim_state, run_ok(sim_state, ("inputImage", broken)))
    assert task["pexit"] == "1" and "broken.png" in task["debugerror"]


def test_configure_rejects_unknown_knobs(sim_state):
    with pytest.raises(ValueError):
        sim_state.configure(turbo=True)


# --- images and cost ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, width, height", [("png", 320, 192), ("jpeg", 256, 512)])
def test_output_image_size_format_and_determinism(sim_state, fmt, width, height):
    values = dict(width=width, height=height, outputFormat=fmt, seed=7)
    urls = [detail(sim_state, run_ok(sim_state, **values))["outputs"][0] for _ in range(2)]
    other = detail(sim_state, run_ok(sim_state, **{**values, "seed": 8}))["outputs"][0]
    data = [sim_state.output_bytes(o["url"])[0] for o in urls]
    assert data[0] == data[1] != sim_state.output_bytes(other["url"])[0]
    image = Image.open(io.BytesIO(data[0]))
    assert image.size == (width, height) and image.format == fmt.upper()
    assert urls[0]["name"] == f"0.{fmt}" and urls[0]["contenttype"] == f"image/{fmt}"
    assert urls[0]["url"].endswith(f"/0.{fmt}") and urls[0]["size"] == str(len(data[0]))


def test_totalcost_follows_the_pricing_rule(sim_state):
    upload = UploadedFile("in.png", "image/png", png_bytes(64, 64))
    task = detail(sim_state, run_ok(sim_state, ("inputImage", upload), width=2048, height=1024))
    expected = pricing.estimate_cost(2048, 1024, pricing.input_megapixels([(64, 64)]))
    assert float(task["totalcost"]) == pytest.approx(expected)


def test_pricing_rule():
    first = pricing.estimate_cost(1024, 1024, 0)
    assert first == pricing.FIRST_OUTPUT_MP_USD
    assert pricing.estimate_cost(2048, 2048, 0) == pytest.approx(
        pricing.FIRST_OUTPUT_MP_USD + 3 * pricing.EXTRA_OUTPUT_MP_USD)
    assert pricing.estimate_cost(1024, 1024, 0.2) == pytest.approx(
        first + pricing.INPUT_MP_USD)
    assert pricing.input_megapixels([(64, 64), (1100, 1100)]) == 3  # each rounded up


def test_output_url_expires(fake_clock):
    state = SimulatorState(TEST_KEY, TEST_SECRET, pace=0, clock=fake_clock)
    state.output_ttl_seconds = 60
    with SimulatorServer(state) as server:
        url = detail(state, run_ok(state))["outputs"][0]["url"]
        assert url.startswith(server.root_url + "/cdn/")
        assert requests.get(url, timeout=5).status_code == 200
        fake_clock.advance(61)
        assert requests.get(url, timeout=5).status_code == 404


# --- over HTTP ------------------------------------------------------------------------------

def test_seed_curl_as_written_is_accepted(sim):
    headers = {**signed_headers(), "Content-Type": "multipart/form-data"}
    response = post(sim, RUN_PATH, headers=headers, data=SEED_RUN_BODY.encode())
    assert response.status_code == 200 and response.json()["result"] is True
    task = post(sim, "/Task/Detail", json={"taskid": response.json()["taskid"]}).json()
    task = task["tasklist"][0]
    seed = json.loads(SEED_RUN_BODY)
    assert task["parameters"]["inputImage"] == ",".join(
        spec.sample_input_url(name) for name in seed["inputImage"])
    assert task["parameters"]["prompt"] == seed["prompt"]
    assert task["callbackurl"] == seed["callbackUrl"]
    assert requests.get(task["outputs"][0]["url"], timeout=5).status_code == 200


def test_multipart_files_and_urls_arrive_in_order(sim, sim_state):
    file_a, file_c = png_bytes(96, 64, "red"), png_bytes(48, 80, "blue")
    url_b = "https://example.com/b.jpg"
    parts = [
        ("inputImage", ("a.png", file_a, "image/png")),
        ("inputImage", (None, url_b)),
        ("inputImage", ("c.png", file_c, "image/png")),
        ("prompt", (None, "combine them")),
        ("width", (None, "0")),
        ("height", (None, "0")),
    ]
    response = post(sim, RUN_PATH, files=parts)
    assert response.json()["result"] is True, response.json()
    (snapshot,) = requests.get(sim.root_url + "/_sim/tasks", timeout=5).json()["tasks"]
    inputs = snapshot["inputs"]
    assert [(i["kind"], i["source"]) for i in inputs] == \
        [("file", "a.png"), ("url", url_b), ("file", "c.png")]
    assert (snapshot["width"], snapshot["height"]) == (96, 64)  # the first image's size
    assert requests.get(inputs[0]["url"], timeout=5).content == file_a
    assert requests.get(inputs[2]["url"], timeout=5).content == file_c
    assert snapshot["parameters"]["inputImage"].split(",") == [i["url"] for i in inputs]


def test_urlencoded_and_json_bodies(sim):
    response = post(sim, RUN_PATH, data={"prompt": "form body", "seed": "5"})
    assert response.json()["result"] is True
    response = post(sim, "/Task/Detail", data={"taskid": response.json()["taskid"]})
    assert response.json()["tasklist"][0]["parameters"]["seed"] == "5"


def test_unreadable_body_and_unknown_endpoint(sim):
    response = post(sim, "/Task/Detail", data=b"{not json",
                    headers={**signed_headers(), "Content-Type": "application/json"})
    assert response.json()["errors"][0] == {"code": 0, "message": msg.BODY_INVALID}
    response = post(sim, "/Task/Nothing", json={})
    assert response.status_code == 404
    assert response.json()["errors"][0] == {"code": 0, "message": msg.URL_NOT_FOUND}


def test_every_task_endpoint_over_http(sim, sim_state):
    sim_state.hold_in_queue = True
    first = post(sim, RUN_PATH, json={"prompt": "x"}).json()["taskid"]
    sim_state.hold_in_queue, sim_state.hold_running = False, True
    second = post(sim, RUN_PATH, json={"prompt": "y"}).json()["taskid"]
    assert post(sim, "/Task/Detail", json={"taskid": first}).json()["tasklist"][0][
        "status"] == "task_queue"
    cancelled = post(sim, "/Task/Cancel", json={"taskid": first}).json()
    assert cancelled["tasklist"][0]["status"] == "task_cancel"
    killed = post(sim, "/Task/Kill", json={"taskid": second}).json()
    assert killed["tasklist"][0]["status"] == "task_cancel"
    stats = requests.get(sim.root_url + "/_sim/stats", timeout=5).json()
    assert stats == {"run_calls": 2, "tasks_created": 2, "running": 0}


def test_control_endpoints(sim, sim_state):
    root = sim.root_url
    config = requests.post(root + "/_sim/config", json={"hold_in_queue": True}, timeout=5)
    assert config.json()["hold_in_queue"] is True and sim_state.hold_in_queue
    assert requests.post(root + "/_sim/config", json={"bogus": 1}, timeout=5).status_code == 400
    taskid = post(sim, RUN_PATH, json={"prompt": "x"}).json()["taskid"]
    assert requests.get(root + "/_sim/stats", timeout=5).json()["running"] == 1
    assert requests.post(f"{root}/_sim/release/{taskid}", timeout=5).json() == {"released": True}
    assert requests.post(f"{root}/_sim/release/404", timeout=5).status_code == 404
    events = requests.get(f"{root}/_sim/events/{taskid}", timeout=5).json()["events"]
    assert events[-1]["type"] == "task_postprocess_end"
    fault = {"endpoint": "detail", "kind": "http500", "times": 2}
    assert requests.post(root + "/_sim/fault", json=fault, timeout=5).json() == {"ok": True}
    assert post(sim, "/Task/Detail", json={"taskid": taskid}).status_code == 500
    assert post(sim, "/Task/Detail", json={"taskid": taskid}).status_code == 500
    assert post(sim, "/Task/Detail", json={"taskid": taskid}).status_code == 200
    bad = {"endpoint": "detail", "kind": "meteor"}
    assert requests.post(root + "/_sim/fault", json=bad, timeout=5).status_code == 400


# --- faults --------------------------------------------------------------------------------

def test_fault_http500_then_recovers(sim, sim_state):
    sim_state.inject_fault("run", "http500")
    assert post(sim, RUN_PATH, json={"prompt": "x"}).status_code == 500
    assert post(sim, RUN_PATH, json={"prompt": "x"}).json()["result"] is True
    assert (sim_state.run_calls, sim_state.tasks_created) == (2, 1)


def test_fault_reset_is_a_connection_error(sim, sim_state):
    sim_state.inject_fault("detail", "reset")
    with pytest.raises(requests.ConnectionError):
        post(sim, "/Task/Detail", json={"taskid": "1"})


def test_fault_lost_response_creates_the_task(sim, sim_state):
    sim_state.inject_fault("run", "lost_response")
    with pytest.raises(requests.ConnectionError):
        post(sim, RUN_PATH, json={"prompt": "x"})
    assert (sim_state.run_calls, sim_state.tasks_created) == (1, 1)


def test_fault_timeout(sim, sim_state):
    sim_state.fault_timeout_seconds = 0.5
    sim_state.inject_fault("detail", "timeout")
    with pytest.raises(requests.ReadTimeout):
        post(sim, "/Task/Detail", json={"taskid": "1"}, timeout=(2, 0.1))


def test_fault_malformed_json(sim, sim_state):
    sim_state.inject_fault("kill", "malformed_json")
    response = post(sim, "/Task/Kill", json={"taskid": "1"})
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_fault_error_code(sim, sim_state):
    sim_state.inject_fault("run", "error_code:97")
    body = post(sim, RUN_PATH, json={"prompt": "x"}).json()
    assert body == msg.error_body(97, msg.INSUFFICIENT_BALANCE)
    assert sim_state.tasks_created == 0


def test_fault_on_download(sim, sim_state):
    url = detail(sim_state, run_ok(sim_state))["outputs"][0]["url"]
    sim_state.inject_fault("download", "reset")
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)
    assert requests.get(url, timeout=5).status_code == 200


def test_fault_http408(sim, sim_state):
    sim_state.inject_fault("list", "http408")
    assert post(sim, "/Task/List", json={}).status_code == 408
    assert post(sim, "/Task/List", json={}).json()["result"] is True


def test_fault_lost_after_create_makes_the_task_and_never_answers(sim, sim_state):
    sim_state.fault_timeout_seconds = 0.3
    sim_state.inject_fault("run", "lost_after_create")
    with pytest.raises((requests.ReadTimeout, requests.ConnectionError)):  # no answer, ever
        post(sim, RUN_PATH, json={"prompt": "x"}, timeout=(2, 0.1))
    deadline = time.monotonic() + 10  # the client may give up before the server has run it
    while not sim_state.tasks() and time.monotonic() < deadline:
        time.sleep(0.02)
    (task,) = sim_state.tasks()
    assert (sim_state.run_calls, sim_state.tasks_created) == (1, 1)
    assert task["status"] == "task_postprocess_end"  # it ran all the same


def test_fault_arguments_are_checked(sim_state):
    with pytest.raises(ValueError):
        sim_state.inject_fault("socket", "reset")
    with pytest.raises(ValueError):
        sim_state.inject_fault("run", "error_code:abc")


# --- command line ----------------------------------------------------------------------------

def test_command_line_defaults(monkeypatch):
    monkeypatch.setenv("WIRO_API_KEY", "env-key")
    monkeypatch.delenv("WIRO_API_SECRET", raising=False)
    args = parse_args([])
    assert (args.host, args.port, args.pace, args.api_key, args.api_secret) == \
        ("127.0.0.1", 8787, 1.0, "env-key", None)


def test_command_line_never_prints_a_generated_secret(monkeypatch, capsys):
    monkeypatch.delenv("WIRO_API_KEY", raising=False)
    monkeypatch.delenv("WIRO_API_SECRET", raising=False)
    served = {}
    monkeypatch.setattr("wiro.simulator.__main__.uvicorn.run",
                        lambda app, **kwargs: served.update(app=app, **kwargs))
    simulator_main(["--port", "9999"])
    out = capsys.readouterr().out
    state = served["app"].sim_state
    assert "random" in out and served["port"] == 9999
    assert state.api_secret and state.api_secret not in out and state.api_key not in out


# --- what Wiro refuses, the simulator refuses --------------------------------------------

@pytest.mark.parametrize("call,accepted,refused", [
    ("detail", ("taskid", "tasktoken"), ("socketaccesstoken", "id", "task_id")),
    ("kill", ("taskid", "socketaccesstoken"), ("tasktoken", "id")),
    ("cancel", ("taskid",), ("socketaccesstoken", "tasktoken", "id")),
])
def test_each_call_takes_only_wiros_keys(sim_state, call, accepted, refused):
    """Detail: taskid or tasktoken; Kill: taskid or socketaccesstoken; Cancel: taskid only."""
    for key in refused:
        sim_state.hold_in_queue = True
        taskid = run_ok(sim_state)
        value = taskid if key in ("id", "task_id") else detail(sim_state, taskid)[
            "socketaccesstoken"]
        code, text = error_of(getattr(sim_state, call)(signed_headers(), [(key, value)]))[1:]
        assert code == 0 and "required" in text, (call, key)
        assert detail(sim_state, taskid)["status"] == "task_queue"  # untouched
    sim_state.hold_in_queue, sim_state.hold_running = call == "cancel", call == "kill"
    for key in accepted:
        taskid = run_ok(sim_state)
        value = taskid if key == "taskid" else detail(sim_state, taskid)["socketaccesstoken"]
        status, body = getattr(sim_state, call)(signed_headers(), [(key, value)])
        assert body["result"] is True, (call, key, body)


# --- File/Upload, and the faults issue 10 needs -----------------------------------------------

def _png_bytes(size=(40, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_upload_is_signed_served_and_accepted_by_run(sim, sim_state):
    data = _png_bytes()
    unsigned = requests.post(sim.base_url + "/File/Upload", files={"file": ("r.png", data)},
                             headers={"x-api-key": TEST_KEY}, timeout=10)
    assert unsigned.status_code == 401 and sim_state.uploads == 0
    answer = post(sim, "/File/Upload", files={"file": ("r.png", data, "image/png")}).json()
    assert answer["result"] is True
    (item,) = answer["list"]
    assert {"id", "name", "contenttype", "size", "url"} <= set(item)
    assert (item["name"], item["contenttype"], item["size"]) == ("r.png", "image/png",
                                                                 str(len(data)))
    assert requests.get(item["url"], timeout=10).content == data
    run = post(sim, RUN_PATH, json={"prompt": "x", "inputImage": [item["url"]],
                                    "width": 0, "height": 0}).json()
    (task,) = sim_state.tasks()
    assert task["id"] == run["taskid"]
    assert task["inputs"][0]["kind"] == "file" and task["inputs"][0]["width"] == 40
    assert (task["width"], task["height"]) == (64, 64)  # matched the upload, snapped to 16s


def test_upload_needs_a_part_named_file(sim):
    answer = post(sim, "/File/Upload", files={"image": ("r.png", _png_bytes())}).json()
    assert answer["result"] is False and "file" in answer["errors"][0]["message"]


@pytest.mark.parametrize("kind,status,check", [
    ("empty_tasklist", 200, lambda r: r.json()["tasklist"] == [] and r.json()["result"]),
    ("html", 200, lambda r: r.headers["content-type"].startswith("text/html")),
    ("http429", 429, lambda r: r.headers["retry-after"] == "2"),
])
def test_detail_fault_kinds(sim, sim_state, kind, status, check):
    taskid = run_ok(sim_state)
    sim_state.retry_after_seconds = 2
    sim_state.inject_fault("detail", kind, 2)
    for _ in range(2):
        response = post(sim, "/Task/Detail", json={"taskid": taskid})
        assert response.status_code == status and check(response)
    assert post(sim, "/Task/Detail", json={"taskid": taskid}).json()["result"] is True


def test_output_404_for_n_tries(sim, sim_state):
    taskid = run_ok(sim_state)
    url = detail(sim_state, taskid)["outputs"][0]["url"]
    sim_state.inject_fault("download", "http404", 2)
    assert [requests.get(url, timeout=5).status_code for _ in range(3)] == [404, 404, 200]


def test_run_answer_naming_no_task(sim, sim_state):
    sim_state.inject_fault("run", "no_task")
    assert post(sim, RUN_PATH, json={"prompt": "x"}).json() == {"errors": [], "result": True}
    assert sim_state.tasks_created == 0


@pytest.mark.parametrize("held", ["task_error", "task_end", "task_failed"])
def test_detail_status_is_held(sim_state, held):
    taskid = run_ok(sim_state)
    task = detail(sim_state, taskid)
    sim_state.detail_status = held
    shown = detail(sim_state, taskid)
    assert shown["status"] == held and shown["outputs"] == task["outputs"]
    assert sim_state.tasks()[0]["status"] == "task_postprocess_end"  # the truth is kept


def test_kill_and_cancel_without_a_tasklist(sim_state):
    sim_state.stop_without_tasklist = True
    sim_state.hold_in_queue = True
    queued, running = run_ok(sim_state), None
    assert sim_state.cancel(signed_headers(), [("taskid", queued)])[1] == \
        {"errors": [], "result": True}
    sim_state.hold_in_queue, sim_state.hold_running = False, True
    running = run_ok(sim_state)
    assert sim_state.kill(signed_headers(), [("taskid", running)])[1] == \
        {"errors": [], "result": True}
    assert detail(sim_state, queued)["status"] == detail(sim_state, running)["status"] == \
        "task_cancel"


# --- Task/List, Tool/Detail and the rest of what live Wiro does ------------------------------

WIRO_MCP_LIST = {"type": "model", "sort": "id", "order": "DESC", "start": "0", "limit": "20"}


def test_task_list_as_wiro_mcp_sends_it(sim, sim_state):
    sim_state.configure(other_models=["wiro/another-model"])
    ours = [run_ok(sim_state, prompt=f"run {n}") for n in range(3)]
    other = post(sim, "/Run/wiro/another-model", json={"prompt": "x"}).json()["taskid"]
    answer = post(sim, "/Task/List", json=WIRO_MCP_LIST).json()
    assert list(answer) == ["total", "errors", "tasklist", "result"]  # Detail's shape
    assert (answer["total"], answer["errors"], answer["result"]) == ("4", [], True)
    assert [t["id"] for t in answer["tasklist"]] == [other, *reversed(ours)]
    first = answer["tasklist"][1]
    assert SEED_TASK_FIELDS <= set(first) and first["createtime"].isdigit()
    assert (first["modelslugowner"], first["modelslugproject"]) == (spec.MODEL_OWNER,
                                                                     spec.MODEL_PROJECT)
    assert answer["tasklist"][0]["modelslugproject"] == "another-model"
    page = post(sim, "/Task/List", json=dict(WIRO_MCP_LIST, start="1", limit="2",
                                            modelName=spec.MODEL_SLUG)).json()
    assert page["total"] == "3" and [t["id"] for t in page["tasklist"]] == ours[1::-1]
    assert sim_state.list_calls == 2
    unsigned = requests.post(sim.base_url + "/Task/List", json=WIRO_MCP_LIST,
                             headers={"x-api-key": TEST_KEY}, timeout=10)
    assert unsigned.status_code == 401
    assert error_of(sim_state.list_tasks(signed_headers(), [("limit", "many")]))[1] == 0


def test_tool_detail_in_the_docs_shape_with_the_price_it_bills(sim, sim_state):
    answer = post(sim, "/Tool/Detail", json={"slugowner": spec.MODEL_OWNER,
                                             "slugproject": spec.MODEL_PROJECT}).json()
    (tool,) = answer["tool"]
    assert answer["result"] is True and {
        "id", "title", "slugowner", "slugproject", "cleanslugowner", "cleanslugproject",
        "description", "parameters", "inspire", "dynamicprice", "categories"} <= set(tool)
    items = tool["parameters"][0]["items"]
    assert [i["id"] for i in items] == [i.name for i in spec.INPUTS]
    width = items[2]
    assert (width["type"], width["default"], width["min"], width["max"], width["step"]) == \
        ("number", "1024", 64, 2048, 16)
    prices = json.loads(tool["dynamicprice"])  # a JSON string, as the docs show it
    assert prices[0]["priceMethod"] == "cp-pixel" and prices[0]["price"] == 0.03
    assert tool["inspire"][4]["inputImage"] == ",".join(spec.INSPIRATIONS[4].input_images)
    sim_state.dynamic_price = [{"inputs": {}, "price": 0.5, "priceMethod": "cpr"}]
    assert float(detail(sim_state, run_ok(sim_state))["totalcost"]) == 0.5  # billed by it
    wrong = post(sim, "/Tool/Detail", json={"slugowner": "x", "slugproject": "y"}).json()
    assert wrong["errors"][0] == {"code": 1, "message": msg.MODEL_NOT_FOUND}
    missing = post(sim, "/Tool/Detail", json={"slugowner": "x"}).json()
    assert missing["errors"][0]["message"] == msg.PARAM_REQUIRED.format(name="slugproject")


def test_the_url_field_n8n_sends_is_taken_as_references(sim, sim_state):
    """n8n-nodes-wiroai's Flux 2 Pro node: inputImageUrl, and 0 for the sizes."""
    url = "https://example.com/road.jpg"
    n8n = {"inputImageUrl": url, "prompt": "a car on a road", "width": 0, "height": 0,
           "safetyTolerance": 0, "seed": 0, "outputFormat": "jpeg"}
    assert post(sim, RUN_PATH, json=n8n).json()["result"] is True
    assert post(sim, RUN_PATH, json=dict(n8n, inputImageUrl="")).json()["result"] is True
    with_url, without = sim_state.tasks()
    assert [(i["kind"], i["url"]) for i in with_url["inputs"]] == [("url", url)]
    assert with_url["parameters"]["inputImage"] == url and without["inputs"] == []


def test_a_key_without_permission_gets_403_everywhere(sim, sim_state):
    taskid = run_ok(sim_state)
    sim_state.forbidden = True
    for path, body in ((RUN_PATH, {"prompt": "x"}), ("/Task/Detail", {"taskid": taskid}),
                       ("/Task/List", WIRO_MCP_LIST), ("/Tool/Detail", {}),
                       ("/Task/Kill", {"taskid": taskid})):
        response = post(sim, path, json=body)
        assert response.status_code == 403, path
        assert response.json()["errors"][0]["message"] == msg.PERMISSION_DENIED
    assert sim_state.tasks_created == 1


def test_a_failure_before_the_model_runs_ends_at_task_error(clocked, fake_clock):
    clocked.fail_before_start = 1
    taskid = run_ok(clocked)
    fake_clock.advance(0.5)
    assert detail(clocked, taskid)["status"] == "task_accept"
    fake_clock.advance(1.0)
    task = detail(clocked, taskid)
    assert (task["status"], task["pexit"], task["totalcost"], task["outputs"]) == \
        ("task_error", "", "0", [])
    assert task["debugerror"] == PRE_EXECUTION_FAILURE
    assert clocked.running_tasks() == [] and clocked.stream(taskid)[2]  # it has ended
    assert [e[0] for e in clocked.events(taskid)][-1] == "task_error"
    assert error_of(clocked.kill(signed_headers(), [("taskid", taskid)]))[1] == 1
    fake_clock.advance(60)
    assert detail(clocked, taskid)["status"] == "task_error"  # and stays there
    assert detail(clocked, run_ok(clocked))["status"] == "task_queue"  # only that one


def test_the_socket_closes_after_a_failure_before_the_model_runs(sim, sim_state):
    from websockets.exceptions import ConnectionClosedOK
    from websockets.sync.client import connect
    sim_state.fail_before_start = 1
    sim_state.pace = 0.1
    run = post(sim, RUN_PATH, json={"prompt": "x"}).json()
    with connect(sim.socket_url, open_timeout=5) as ws:
        ws.send(json.dumps({"type": "task_info", "tasktoken": run["socketaccesstoken"]}))
        kinds = []
        with pytest.raises(ConnectionClosedOK):  # the server closes it; a timeout would fail
            while True:
                kinds.append(json.loads(ws.recv(timeout=5))["type"])
    assert kinds[-1] == "task_error" and kinds[0] == "task_queue"
