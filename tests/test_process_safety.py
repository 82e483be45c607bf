"""Issue 6, parts 3 and 4, on a real `python app.py` process in live mode pointed at a
simulator: SIGTERM stops what the app started, and a canary key and secret never appear in
anything the app serves, logs, answers or writes."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from gradio_client import Client

from app_process import start_app
from wiro import spec
from wiro.simulator import SimulatorServer, SimulatorState

pytest_plugins = ["tests.app_harness"]

CANARY_KEY = "canaryKEY7f3a91d0c4e2"
CANARY_SECRET = "canarySECRETb58e02a6d913"
CANARIES = (CANARY_KEY, CANARY_SECRET)


def wait_for(condition, timeout=15.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def api_values(**overrides):
    values = {**spec.defaults(), spec.INPUT_IMAGE.name: [], **overrides}
    return [values[f.name] for f in spec.INPUTS]


@pytest.fixture
def canary_sim():
    state = SimulatorState(CANARY_KEY, CANARY_SECRET, pace=0.5)
    with SimulatorServer(state) as server:
        yield server


def live_env(sim, **extra):
    return {"WIRO_API_KEY": CANARY_KEY, "WIRO_API_SECRET": CANARY_SECRET,
            "WIRO_API_BASE_URL": sim.base_url, "WIRO_POLL_INTERVAL": "0.1", **extra}


def test_sigterm_during_a_run_kills_the_task_before_exiting(canary_sim, tmp_path):
    state = canary_sim.state
    state.hold_running = True
    app = start_app(tmp_path, live_env(canary_sim))
    try:
        client = Client(app.url, verbose=False)
        job = client.submit(*api_values(), api_name="/generate")
        assert wait_for(lambda: state.running_tasks() != []), app.log()
        taskid = state.running_tasks()[0]["id"]
        assert wait_for(lambda: state.tasks()[0]["status"] == "task_output"), state.tasks()
    finally:
        code = app.terminate()
    assert code is not None
    assert state.running_tasks() == [], app.log()
    assert state.tasks()[0]["id"] == taskid
    assert state.tasks()[0]["status"] == "task_cancel"
    del job


def _scan_files(folder: Path) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {c}" for c in CANARIES if c.encode() in data]
    return hits


def test_the_canary_key_never_leaves_the_server(canary_sim, tmp_path):
    state = canary_sim.state
    app = start_app(tmp_path, live_env(canary_sim, WIRO_REQUEST_TIMEOUT="2"))
    seen: list[str] = []
    try:
        for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json",
                     "gradio_api/mcp/schema", "manifest.json"):
            response = requests.get(app.url + path, timeout=10)
            seen.append(f"GET /{path} {response.status_code}\n{response.text}")
        client = Client(app.url, verbose=False)
        image, details = client.predict(*api_values(), api_name="/generate")
        seen.append(json.dumps(details))
        assert Path(image).read_bytes()[:4] == b"\x89PNG"
        # Every error path: bad input, each Run error code, a failed task, ambiguous Run.
        errors = []
        for setup in (lambda: None,
                      *[lambda c=c: state.inject_fault("run", f"error_code:{c}")
                        for c in (0, 1, 96, 97, 98, 99)],
                      lambda: setattr(state, "fail_next_tasks", 1),
                      lambda: state.inject_fault("run", "lost_response"),
                      lambda: state.inject_fault("detail", "reset", 2)):
            setup()
            width = 1000 if not errors else 1024
            try:
                client.predict(*api_values(width=width), api_name="/generate")
            except Exception as exc:  # noqa: BLE001 - every error's text is what we check
                errors.append(repr(exc) + str(exc))
        assert len(errors) >= 8, errors
        seen += errors
    finally:
        app.terminate()
    seen.append(app.log())
    leaks = [c for text in seen for c in CANARIES if c in text]
    assert leaks == []
    assert _scan_files(tmp_path) == []
    assert state.running_tasks() == []


def test_a_visitors_own_key_is_used_and_never_echoed(tmp_path):
    visitor = SimulatorState(CANARY_KEY, CANARY_SECRET, pace=0)
    with SimulatorServer(visitor) as sim:
        app = start_app(tmp_path, {"APP_BRING_YOUR_OWN_KEY": "1", "WIRO_API_BASE_URL":
                                   sim.base_url, "WIRO_POLL_INTERVAL": "0.05"})
        try:
            page = requests.get(app.url, timeout=10).text
            assert "Simulator mode" not in requests.get(app.url + "config", timeout=10).text
            anonymous = Client(app.url, verbose=False)
            with pytest.raises(Exception) as refused:
                anonymous.predict(*api_values(), api_name="/generate")
            assert "API key" in str(refused.value)
            assert visitor.run_calls == 0
            client = Client(app.url, verbose=False, headers={
                "x-wiro-api-key": CANARY_KEY, "x-wiro-api-secret": CANARY_SECRET})
            image, details = client.predict(*api_values(), api_name="/generate")
            assert visitor.tasks_created == 1
            text = page + json.dumps(details) + str(refused.value)
        finally:
            app.terminate()
        text += app.log()
    assert [c for c in CANARIES if c in text] == []
    assert _scan_files(tmp_path) == []


def test_a_key_typed_into_the_page_is_used_and_never_shown(tmp_path, browser):
    """Bring-your-own-key in a real browser: the visitor's canary key and secret run the task
    and appear nowhere in the page, its config, the API info or the app's log and files —
    nor in a deep link of the visitor's session (issue 17, point 6: Gradio wrote every typed
    value into its session config, and /gradio_api/deep_link saved and served it)."""
    visitor = SimulatorState(CANARY_KEY, CANARY_SECRET, pace=0)
    with SimulatorServer(visitor) as sim:
        app = start_app(tmp_path, {"APP_BRING_YOUR_OWN_KEY": "1", "WIRO_API_BASE_URL":
                                   sim.base_url, "WIRO_POLL_INTERVAL": "0.05"})
        context = browser.new_context()
        sessions: set[str] = set()
        try:
            page = context.new_page()
            page.on("request", lambda r: sessions.add(json.loads(r.post_data)["session_hash"])
                    if r.url.split("?")[0].endswith("/queue/join") else None)
            page.goto(app.url, wait_until="load")
            page.wait_for_selector("#byok-key input")
            page.click("#ref-clear")
            page.wait_for_selector(".refs-empty")
            page.fill("#byok-key input", CANARY_KEY)
            page.fill("#byok-secret input", CANARY_SECRET)
            page.click("#generate")
            page.wait_for_selector("#run-status-box .run-done", timeout=30_000)
            shown = page.content()
            assert page.input_value("#byok-key input") == CANARY_KEY  # kept, not echoed
            served = [requests.get(app.url + p, timeout=10).text
                      for p in ("", "config", "gradio_api/info")]
            assert sessions
            for session in sessions:  # what anyone who learns the session id could ask for
                link = requests.get(app.url + "gradio_api/deep_link", timeout=10,
                                    params={"session_hash": session})
                served.append(link.text)
                served.append(requests.get(app.url + "config", timeout=10,
                                           params={"deep_link": link.text.strip('"')}).text)
        finally:
            context.close()
            app.terminate()
        assert visitor.tasks_created == 1
    # The password field holds what was typed; the page shows it nowhere else.
    assert shown.count(CANARY_KEY) == 0 and shown.count(CANARY_SECRET) == 0
    texts = served + [app.log()]
    assert [c for t in texts for c in CANARIES if c in t] == []
    assert _scan_files(tmp_path) == []
