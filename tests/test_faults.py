"""Faults injected by the simulator, seen through the page's run function (issues 6 and 10).

For each: the right outcome in plain words, Detail retried, Run never re-sent on its own,
and no task left running on the simulator. Windows and deadlines are set tiny through the
settings (a 30 s stall window is 0.5 s here), never slept out.
"""
from __future__ import annotations

import time

import pytest

from studio.active_runs import ActiveRuns
from studio.backend import Backend
from studio.guards import Guard
from studio.outputs import OutputStore
from studio.run import Runner
from wiro import spec
from wiro.settings import Settings

from conftest import TEST_KEY, TEST_SECRET, signed_headers
from run_helpers import UNCAPPED, admit, run_page, text_to_image


pytestmark = pytest.mark.timeout(60)

# The settings' windows, shrunk: nothing here waits for a real 30 s or 600 s.
QUICK = dict(poll_interval=0.02, request_timeout=0.5, detail_timeout=0.5, stall_window=0.5,
             settle_window=0.3, task_timeout=15.0, download_window=0.5)


def make_backend(sim, **changes) -> Backend:
    settings = Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                        **{**QUICK, **changes})
    return Backend(settings, simulator=sim)


@pytest.fixture
def backend(sim):
    backend = make_backend(sim)
    yield backend
    backend.close()


def ledger_rows(guard: Guard) -> list[dict]:
    return guard.ledger.rows()


def final_status(sim_state) -> str:
    (task,) = sim_state.tasks()
    return task["status"]


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
    assert last.record is not None, text(last)
    assert last.record.width == spec.WIDTH.default
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
    assert last.record is None and last.finished
    message = text(last)
    assert words in message, message
    assert f"code {code}" in message
    assert sim_state.run_calls == 1  # not retried
    assert sim_state.running_tasks() == []


@pytest.mark.parametrize("kind", ["reset", "http500"])
def test_an_ambiguous_run_failure_is_never_resent_and_the_user_is_told(backend, sim_state,
                                                                       tmp_path, kind):
    sim_state.inject_fault("run", kind)
    last = run_page(backend, tmp_path)[-1]
    message = text(last)
    assert "may have started" in message, message
    assert "not re-sent" in message
    assert "Task/List" in message and "no task" in message  # looked, found none
    assert sim_state.run_calls == 1 and sim_state.tasks_created == 0


@pytest.mark.parametrize("kind", ["lost_response", "lost_after_create"])
def test_a_run_whose_answer_was_lost_is_found_and_followed_to_its_image(
        sim, sim_state, tmp_path, kind):
    sim_state.fault_timeout_seconds = 0.3
    sim_state.inject_fault("run", kind)
    backend = make_backend(sim, request_timeout=1.0)
    guard = Guard(UNCAPPED)
    last = run_page(backend, tmp_path, guard=guard)[-1]
    (task,) = sim_state.tasks()
    assert last.record is not None and last.record.task_id == task["id"], text(last)
    assert "Task/List showed task " + task["id"] in text(last)
    assert sim_state.run_calls == 1  # found, never sent again
    [row] = ledger_rows(guard)
    assert row["state"] == "charged" and row["task_id"] == task["id"]


def test_a_lost_runs_task_is_stopped_when_the_caller_has_gone(sim, sim_state, tmp_path):
    sim_state.hold_running = True
    sim_state.fault_timeout_seconds = 0.3
    sim_state.inject_fault("run", "lost_after_create")
    backend = make_backend(sim, request_timeout=1.0)
    [job] = admit(text_to_image())
    run = Runner(backend, ActiveRuns(), OutputStore(tmp_path)).run("s1", job)
    for update in run:
        if update.taskid:  # adopted: it is being followed
            break
    run.close()  # the tab closed
    assert final_status(sim_state) == "task_cancel" and sim_state.run_calls == 1


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


def test_expired_result_link_is_explained_and_its_cost_still_counts(backend, sim_state,
                                                                    tmp_path):
    sim_state.output_ttl_seconds = -1
    guard = Guard(UNCAPPED)
    last = run_page(backend, tmp_path, guard=guard)[-1]
    message = text(last)
    (task,) = sim_state.tasks()
    assert "expire" in message and "could not be downloaded" in message
    assert f"Task {task['id']}" in message and "simulated — no charge" in message
    assert "/cdn/" in message  # the link, to try by hand
    assert "Try again" not in message  # no invitation to pay for a second run
    # The ledger keeps Wiro's charge although the image never arrived.
    [row] = ledger_rows(guard)
    assert row["state"] == "charged" and row["task_id"] == task["id"]
    assert f"${row['usd']:.4f} simulated — no charge" in message and row["usd"] > 0
    assert sim_state.run_calls == 1


# --- issue 10: statuses that never move on ------------------------------------------------


def test_a_finished_task_held_at_task_end_is_delivered(backend, sim_state, tmp_path):
    sim_state.detail_status = "task_end"  # the docs disagree on which status is last
    last = run_page(backend, tmp_path)[-1]
    assert last.record is not None, text(last)
    assert last.status.kind == "done" and last.status.wiro_status == "task_end"
    assert final_status(sim_state) == "task_postprocess_end"  # no Kill for a finished task


def test_an_unknown_status_that_never_moves_on_fails_names_it_and_kills_the_task(
        backend, sim, sim_state, tmp_path):
    sim_state.hold_running = True
    sim_state.detail_status = "task_failed"  # a word this client does not know
    guard = Guard(UNCAPPED)
    last = run_page(backend, tmp_path, guard=guard)[-1]
    message = text(last)
    (task,) = sim_state.tasks()
    assert last.finished and last.status.kind == "error" and last.record is None
    assert "task_failed" in message and f"Task {task['id']}" in message
    assert "killed" in message
    assert final_status(sim_state) == "task_cancel"
    assert sim_state.run_calls == 1
    [row] = ledger_rows(guard)  # sent: its estimate stays counted, or Wiro's charge
    assert row["task_id"] == task["id"] and row["state"] in ("sent", "charged")
    # Killed while generating: Wiro reports a partial charge (the seed's Kill answer).
    charged = float(sim_state.detail(signed_headers(), [("taskid", task["id"])])[1][
        "tasklist"][0]["totalcost"])
    assert charged > 0


def test_task_error_on_detail_ends_the_run_at_once_with_wiros_words(backend, sim_state,
                                                                   tmp_path):
    """Wiro-MCP: Detail's task_error is a failure before the model ran, final. No Kill."""
    sim_state.fail_before_start = 1
    guard = Guard(UNCAPPED)
    last = run_page(backend, tmp_path, guard=guard)[-1]
    message = text(last)
    (task,) = sim_state.tasks()
    assert last.finished and last.status.kind == "error" and last.record is None
    assert f"Task {task['id']} failed before the model ran" in message, message
    assert "pre-execution failure" in message  # Wiro's debugerror
    assert "killed" not in message and "may still be charged" not in message
    assert final_status(sim_state) == "task_error" and sim_state.running_tasks() == []
    [row] = ledger_rows(guard)
    assert row["task_id"] == task["id"] and row["usd"] == 0.0  # Wiro charged nothing


def test_every_run_has_a_deadline_and_the_task_is_killed_at_it(sim, sim_state, tmp_path):
    sim_state.hold_running = True  # a task that would run for ever
    backend = make_backend(sim, task_timeout=1.0)
    last = run_page(backend, tmp_path)[-1]
    message = text(last)
    (task,) = sim_state.tasks()
    assert "did not finish within 1 s" in message and f"Task {task['id']}" in message
    assert "killed" in message and final_status(sim_state) == "task_cancel"


# --- issue 10: Detail hiccups are ridden out; clean-up never needs Detail ----------------------


@pytest.mark.parametrize("kind,times", [("empty_tasklist", 8), ("html", 8), ("http429", 3),
                                        ("http408", 8), ("malformed_json", 8), ("http500", 8)])
def test_detail_hiccups_longer_than_before_are_ridden_out(sim, sim_state, tmp_path,
                                                          kind, times):
    # 8 bad answers: the page used to give up after 7 (in 1.5 s), without a Kill.
    sim_state.retry_after_seconds = 0.2
    sim_state.inject_fault("detail", kind, times)
    last = run_page(make_backend(sim, task_timeout=20.0), tmp_path)[-1]
    assert last.record is not None, text(last)
    assert sim_state.take_fault("detail") is None  # every bad answer was met and got past
    assert sim_state.run_calls == 1


def test_a_slow_detail_answer_is_cut_short_by_detail_timeout(sim, sim_state, tmp_path):
    sim_state.fault_timeout_seconds = 3.0  # Run's own timeout would wait for it
    sim_state.inject_fault("detail", "timeout", 1)
    backend = make_backend(sim, request_timeout=10.0, detail_timeout=0.3)
    last = run_page(backend, tmp_path)[-1]
    assert last.record is not None, text(last)
    assert last.record.total_seconds < 3.0  # did not sit out the slow answer


def test_a_task_is_killed_even_when_detail_never_answers(sim, sim_state, tmp_path):
    sim_state.hold_running = True
    sim_state.inject_fault("detail", "empty_tasklist", 10_000)
    backend = make_backend(sim, task_timeout=1.0)
    last = run_page(backend, tmp_path)[-1]
    message = text(last)
    assert "did not finish within" in message and "killed" in message, message
    assert final_status(sim_state) == "task_cancel"


def test_a_stop_that_cannot_be_confirmed_says_the_task_may_still_be_charged(
        sim, sim_state, tmp_path):
    sim_state.hold_running = True
    sim_state.inject_fault("kill", "http500", 10_000)
    sim_state.inject_fault("cancel", "http500", 10_000)
    backend = make_backend(sim, task_timeout=1.0)
    backend.client().stop_window = 0.3
    last = run_page(backend, tmp_path)[-1]
    message = text(last)
    (task,) = sim_state.tasks()
    assert "may still be charged" in message and f"Task {task['id']}" in message, message
    sim_state.clear_faults()
    sim_state.hold_running = False


# --- issue 10: downloads, Kill/Cancel answers, rate limits, ambiguous starts --------------------


def test_an_output_that_is_404_for_a_while_still_arrives(sim, sim_state, tmp_path):
    sim_state.inject_fault("download", "http404", 4)
    backend = make_backend(sim, download_window=10.0)
    last = run_page(backend, tmp_path)[-1]
    assert last.record is not None, text(last)
    assert sim_state.run_calls == 1


def test_stop_works_when_kill_answers_without_a_task(backend, sim_state, tmp_path):
    sim_state.hold_running = True
    sim_state.stop_without_tasklist = True
    registry = ActiveRuns()
    updates = []
    [job] = admit(text_to_image(), session="s9")
    for update in Runner(backend, registry, OutputStore(tmp_path)).run("s9", job):
        updates.append(update)
        if update.status.wiro_status == "task_output" and registry.count("s9"):
            assert "killed while generating" in registry.stop("s9")[0]
    assert updates[-1].status.kind == "stopped", text(updates[-1])
    assert "killed while generating" in text(updates[-1])
    assert final_status(sim_state) == "task_cancel"


@pytest.mark.parametrize("fault", ["http429", "error_code:429"])
def test_a_rate_limited_run_says_nothing_was_started(backend, sim_state, tmp_path, fault):
    sim_state.retry_after_seconds = 7
    sim_state.inject_fault("run", fault)
    last = run_page(backend, tmp_path)[-1]
    message = text(last)
    assert "Wiro is rate limiting this key; try again in" in message, message
    assert "nothing was started" in message and "may have started" not in message
    if fault == "http429":
        assert "try again in 7 s" in message
    assert sim_state.run_calls == 1 and sim_state.tasks_created == 0


def test_a_run_answer_without_a_task_id_is_an_ambiguous_start(backend, sim_state, tmp_path):
    sim_state.inject_fault("run", "no_task")
    last = run_page(backend, tmp_path)[-1]
    message = text(last)
    assert last.finished and "named no task" in message and "dashboard" in message, message
    assert "ValueError" not in message
    assert sim_state.run_calls == 1


def test_shutting_down_waits_for_a_run_on_its_way_and_stops_its_task(sim, sim_state, tmp_path):
    """SIGTERM (stop_all) while Run is still on its way: its task must not be left running."""
    import threading

    sim_state.hold_running = True
    sim_state.fault_timeout_seconds = 0.5  # Run answers late (the task is made meanwhile)
    sim_state.inject_fault("run", "timeout")
    backend = make_backend(sim, request_timeout=5.0)
    registry = ActiveRuns()
    runner = threading.Thread(target=run_page, args=(backend, tmp_path, registry), daemon=True)
    runner.start()
    while not registry._starting:
        time.sleep(0.01)
    lines = registry.stop_all()
    runner.join(10)
    (task,) = sim_state.tasks()
    assert any(task["id"] in line and "killed" in line for line in lines), lines
    assert final_status(sim_state) == "task_cancel"


# --- issue 19: what a stopped run cost, and a restart after a lost answer -----------------------


def test_a_killed_run_says_what_wiro_charged_and_the_ledger_counts_it(sim, sim_state,
                                                                      tmp_path):
    sim_state.hold_running = True
    backend = Backend(make_backend(sim).settings)  # live mode (talking to the simulator)
    guard, registry, lines = Guard(UNCAPPED), ActiveRuns(), []
    [job] = admit(text_to_image(), guard)
    updates = []
    for update in Runner(backend, registry, OutputStore(tmp_path)).run("s1", job):
        updates.append(update)
        if update.status.wiro_status == "task_output" and registry.count("s1") and not lines:
            lines = registry.stop("s1")  # the Stop button
    (task,) = sim_state.tasks()
    [row] = ledger_rows(guard)
    assert final_status(sim_state) == "task_cancel" and 0 < row["usd"] < 0.03
    assert f"Wiro charged ${row['usd']:.4f}" in lines[0]
    assert updates[-1].status.kind == "stopped" and lines[0] in text(updates[-1])
    assert row["state"] == "charged" and row["task_id"] == task["id"]
    backend.close()


def test_in_simulator_mode_a_stop_never_speaks_of_money(backend, sim_state, tmp_path):
    sim_state.hold_running = True
    registry, lines = ActiveRuns(simulated=True), []
    [job] = admit(text_to_image())
    for update in Runner(backend, registry, OutputStore(tmp_path)).run("s1", job):
        if update.status.wiro_status == "task_output" and registry.count("s1") and not lines:
            lines = registry.stop("s1")
    assert "Simulated — no charge." in lines[0] and "$" not in lines[0]


def test_a_restart_after_a_lost_answer_finds_the_task_and_stops_it(sim, sim_state, tmp_path):
    from studio.datadir import Database
    from studio.journal import Journal

    sim_state.hold_running = True
    journal = Journal(Database(tmp_path / "data"))
    client = make_backend(sim).client()
    placeholder = journal.sending("owner", client.base_url)  # then the process died
    handle = client.run(text_to_image())  # the task Wiro made, never named to the app
    [line] = journal.recover(client, client.base_url)
    assert f"Task/List found task {handle.id}" in line and "killed" in line
    assert final_status(sim_state) == "task_cancel"
    assert journal.entry(placeholder).state == "stopped"
