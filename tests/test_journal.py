"""The crash journal (issue 10, case 8): a task the app started is remembered until its run
ends, and a start after a crash stops what the old process left running."""
from __future__ import annotations

import contextlib
import sqlite3
import time

import pytest
from gradio_client import Client

from app_process import start_app
from conftest import TEST_KEY, TEST_SECRET
from run_helpers import admit
from studio.backend import Backend, recover_orphans
from studio.datadir import Database
from studio.journal import Journal
from studio.outputs import OutputStore
from studio.active_runs import ActiveRuns
from studio.run import Runner
from wiro import WiroClient, spec
from wiro.settings import Settings
from wiro.simulator import SimulatorServer, SimulatorState

pytestmark = pytest.mark.timeout(120)
PROMPT = {**spec.defaults(), spec.INPUT_IMAGE.name: [], "width": 256, "height": 256}


def run_once(backend, tmp_path):
    """One admitted run of PROMPT, as a generator of its updates."""
    [job] = admit(PROMPT)
    return Runner(backend, ActiveRuns(), OutputStore(tmp_path / "o")).run("s", job)


@pytest.fixture
def journal(tmp_path):
    db = Database(tmp_path / "data")
    yield Journal(db)
    db.close()


@pytest.fixture
def client(sim):
    with WiroClient(TEST_KEY, TEST_SECRET, base_url=sim.base_url) as c:
        yield c


def status_of(state: SimulatorState, taskid: str) -> str:
    return next(t["status"] for t in state.tasks() if t["id"] == taskid)


def test_the_journal_keeps_no_key(journal, client, sim_state):
    handle = client.run(PROMPT)
    journal.started(handle.id, handle.token, "owner", client.base_url)
    (entry,) = journal.running()
    assert (entry.taskid, entry.token, entry.key_kind) == (handle.id, handle.token, "owner")
    dump = "\n".join(journal.db._conn.iterdump())
    assert TEST_KEY not in dump and TEST_SECRET not in dump
    journal.ended(handle.id, "done", 0.03)
    assert journal.running() == [] and journal.entry(handle.id).cost_usd == 0.03


def test_recovery_kills_what_is_still_running_and_records_what_finished(
        journal, client, sim_state):
    sim_state.hold_running = True
    running = client.run(PROMPT)
    sim_state.hold_running = False
    finished = client.run(PROMPT)
    assert client.wait(finished.id).succeeded
    for handle in (running, finished):
        journal.started(handle.id, handle.token, "owner", client.base_url)

    lines = journal.recover(client, client.base_url)

    assert status_of(sim_state, running.id) == "task_cancel"
    assert journal.entry(running.id).state == "stopped"
    assert journal.entry(finished.id).state == "finished"
    assert journal.entry(finished.id).cost_usd > 0  # charged while the app was down
    assert any("killed" in line for line in lines) and journal.running() == []


def test_a_visitors_task_is_only_reported(journal, client, sim_state):
    sim_state.hold_running = True
    handle = client.run(PROMPT)
    journal.started(handle.id, handle.token, "visitor", client.base_url)
    (line,) = journal.recover(client, client.base_url)
    assert "visitor" in line and status_of(sim_state, handle.id) != "task_cancel"
    assert journal.entry(handle.id).state == "reported"
    client.kill(handle.id)


def test_an_unconfirmed_stop_is_tried_again_next_start(journal, sim, sim_state):
    sim_state.hold_running = True
    with WiroClient(TEST_KEY, TEST_SECRET, base_url=sim.base_url, stop_window=0.2) as client:
        handle = client.run(PROMPT)
        journal.started(handle.id, handle.token, "owner", client.base_url)
        sim_state.inject_fault("kill", "http500", 1000)
        sim_state.inject_fault("cancel", "http500", 1000)
        (line,) = journal.recover(client, client.base_url)
        assert "may still be charged" in line and journal.entry(handle.id).state == "running"
        sim_state.clear_faults()
        journal.recover(client, client.base_url)
    assert status_of(sim_state, handle.id) == "task_cancel"


def test_a_run_writes_its_task_and_closes_it(journal, sim, sim_state, tmp_path):
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02), simulator=sim, journal=journal)
    last = list(run_once(backend, tmp_path))[-1]
    entry = journal.entry(last.taskid)
    assert entry.state == "done" and entry.cost_usd == last.record.cost_usd
    assert entry.key_kind == "owner"

    sim_state.hold_running = True
    run = run_once(backend, tmp_path)
    for update in run:
        if update.taskid:
            assert journal.entry(update.taskid).state == "running"
            break
    run.close()  # a closed tab
    assert journal.entry(update.taskid).state == "stopped"
    assert recover_orphans(backend) == []
    backend.close()


def journalled(data_dir) -> list[str]:
    """Task ids the app's journal shows running, read as another process would."""
    path = data_dir / "app.sqlite3"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
        try:
            return [r[0] for r in db.execute(
                "SELECT taskid FROM task_journal WHERE state = 'running'")]
        except sqlite3.OperationalError:  # the table is not there yet
            return []


def test_no_orphans_after_kill_9_and_a_restart(tmp_path):
    """A real `python app.py` against a simulator it does not own: Run, SIGKILL, start again.
    The task must be stopped before the page serves again."""
    state = SimulatorState(TEST_KEY, TEST_SECRET, pace=0.2)
    state.hold_running = True
    with SimulatorServer(state) as sim:
        env = {"WIRO_API_KEY": TEST_KEY, "WIRO_API_SECRET": TEST_SECRET,
               "WIRO_API_BASE_URL": sim.base_url, "WIRO_SOCKET_URL": sim.socket_url,
               "APP_DATA_DIR": str(tmp_path / "data")}
        first_dir, second_dir = tmp_path / "first", tmp_path / "second"
        first_dir.mkdir(), second_dir.mkdir()
        app = start_app(first_dir, env)
        try:
            values = [PROMPT[f.name] for f in spec.INPUTS]
            Client(app.url, verbose=False).submit(*values, api_name="/generate")
            # Killed once the journal has the task: before that, Run is still on its way.
            deadline = time.monotonic() + 30
            while not journalled(tmp_path / "data") and time.monotonic() < deadline:
                time.sleep(0.05)
            (task,) = state.running_tasks()
            assert journalled(tmp_path / "data") == [task["id"]]
        finally:
            app.process.kill()  # SIGKILL: no atexit, no finally, nothing stops the task
            app.process.wait()
        assert state.running_tasks() != []  # the crash left it running, and paying
        again = start_app(second_dir, env)
        try:
            # start_app returns once the page serves: recovery has run by then.
            assert state.running_tasks() == [], again.log()
            assert status_of(state, task["id"]) == "task_cancel"
            assert f"Task {task['id']}" in again.log()  # said, in the log
        finally:
            again.terminate()


def test_a_run_on_its_way_is_reported_after_a_crash(journal, client):
    placeholder = journal.sending("owner", client.base_url)  # ... and then the process died
    (line,) = journal.recover(client, client.base_url)
    assert "on its way" in line and "dashboard" in line
    assert journal.entry(placeholder).state == "reported"


def test_a_refused_run_leaves_nothing_in_the_journal(journal, sim, sim_state, tmp_path):
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02), simulator=sim, journal=journal)
    sim_state.inject_fault("run", "error_code:97")
    last = list(run_once(backend, tmp_path))[-1]
    assert last.finished and journal.db.query("SELECT * FROM task_journal") == []
    backend.close()


def test_a_crashed_runs_charge_replaces_its_estimate_in_todays_spending(
        journal, client, sim_state):
    from studio.guards import Ledger
    ledger = Ledger(journal.db)
    (run_id,) = ledger.reserve([0.5])  # a generous estimate, reserved when admitted
    finished = client.run(PROMPT)
    ledger.sent(run_id, finished.id)
    journal.started(finished.id, finished.token, "owner", client.base_url)
    charged = client.wait(finished.id).total_cost
    assert ledger.spent() == pytest.approx(0.5)  # the app died before it heard the cost

    journal.recover(client, client.base_url)

    assert ledger.spent() == pytest.approx(charged) and charged < 0.5
