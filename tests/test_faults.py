"""Issue 6, part 2: faults injected by the simulator, seen through the page's run function.

For each: the right outcome in plain words, Detail retried, Run never re-sent on its own,
and no task left running on the simulator.
"""
from __future__ import annotations

import html
import re

import pytest

from studio.backend import Backend
from studio.outputs import OutputStore
from studio.run import ActiveRuns, generate
from wiro import spec
from wiro.settings import Settings

from conftest import TEST_KEY, TEST_SECRET


@pytest.fixture
def backend(sim):
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02, request_timeout=0.5), simulator=sim)
    yield backend
    backend.close()


def run_page(backend, tmp_path, **overrides):
    values = {**spec.defaults(), spec.INPUT_IMAGE.name: [], **overrides}
    return list(generate(backend, ActiveRuns(), OutputStore(tmp_path / "out"), "s1", values))


def text(update) -> str:
    return update.status.text()


@pytest.mark.parametrize("endpoint,kind,times", [
    ("detail", "http500", 2),
    ("detail", "reset", 2),
    ("detail", "timeout", 1),
    ("detail", "malformed_json", 2),
    ("download", "http500", 1),
    ("download", "reset", 1),
])
def test_transient_faults_are_survived_and_the_image_arrives(backend, sim_state, tmp_path,
                                                             endpoint, kind, times):
    sim_state.fault_timeout_seconds = 1.5
    sim_state.inject_fault(endpoint, kind, times)
    last = run_page(backend, tmp_path)[-1]
    assert last.image is not None, text(last)
    assert last.details["width"] == spec.WIDTH.default
    assert sim_state.run_calls == 1
    assert sim_state.running_tasks() == []


@pytest.mark.parametrize("code,words", [
    (0, "rejected the request"),
    (1, "could not find"),
    (96, "Wait for a running task to finish"),
    (97, "Add funds"),
    (98, "registered Wiro account"),
    (99, "token"),
])
def test_each_run_error_code_reaches_the_user_in_plain_words(backend, sim_state, tmp_path,
                                                              code, words):
    sim_state.inject_fault("run", f"error_code:{code}")
    last = run_page(backend, tmp_path)[-1]
    assert last.image is None and last.finished
    message = text(last)
    assert words in message, message
    assert f"code {code}" in message
    assert sim_state.run_calls == 1  # not retried
    assert sim_state.running_tasks() == []


@pytest.mark.parametrize("kind", ["lost_response", "reset", "http500"])
def test_an_ambiguous_run_failure_is_never_resent_and_the_user_is_told(backend, sim_state,
                                                                       tmp_path, kind):
    sim_state.inject_fault("run", kind)
    last = run_page(backend, tmp_path)[-1]
    message = text(last)
    assert "may have started" in message, message
    assert "not re-sent" in message
    assert sim_state.run_calls == 1


def test_a_failed_task_says_so_and_is_not_charged(backend, sim_state, tmp_path):
    sim_state.fail_next_tasks = 1
    last = run_page(backend, tmp_path)[-1]
    message = text(last)
    assert "did not produce an image" in message and "did not charge" in message
    assert sim_state.running_tasks() == []


def test_wrong_secret_is_explained_without_showing_it(sim, sim_state, tmp_path):
    backend = Backend(Settings(api_key=TEST_KEY, api_secret="wrong-secret-canary",
                               base_url=sim.base_url, poll_interval=0.02))
    last = run_page(backend, tmp_path)[-1]
    message = text(last)
    assert "WIRO_API_SECRET" in message
    assert "wrong-secret-canary" not in last.status.text() and TEST_KEY not in last.status.text()
    assert sim_state.tasks_created == 0


def test_expired_result_link_is_explained(backend, sim_state, tmp_path):
    sim_state.output_ttl_seconds = 0
    last = run_page(backend, tmp_path)[-1]
    assert "expire" in text(last)
