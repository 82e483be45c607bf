"""Storage failing right after a paid Run never costs the run, the task, a run slot or the page.

Each case starts a run through the app's `generate` endpoint with the task held on the
simulator, breaks storage once the task exists (the database write-locked by another
process for longer than every timeout, the disk full, the database file removed), then lets
the task finish. The caller gets the image (or, when nothing can be saved, Wiro's link to it,
with the task ended), a page request sent during the fault answers while the fault is still
on, and the next visitor's run is admitted afterwards.
"""
from __future__ import annotations

import errno
import sqlite3
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from studio import datadir, results
from studio.outputs import OutputStore
from wiro import spec

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(120)

HOLD_SECONDS = 6.0  # the fault lasts longer than every storage timeout (0.5 s)


def arguments(**changes) -> list:
    values = {i.name: i.default for i in spec.INPUTS}
    values.update({spec.INPUT_IMAGE.name: [], spec.WIDTH.name: 256, spec.HEIGHT.name: 256,
                   **changes})
    return [values[i.name] for i in spec.INPUTS]


def database_path(live_app) -> Path:
    return Path(live_app.app.page.guard.ledger.db.path)


def start_held_run(live_app, app_sim, app_client):
    """A run through the API whose task the simulator holds; (job, task id)."""
    app_sim.configure(hold_running=True)
    before = {t["id"] for t in app_sim.tasks()}
    job = app_client.submit(*arguments(), api_name="/generate")
    task = live_app.wait_until(  # held where a release lets it go on
        lambda: next((t for t in app_sim.running_tasks()
                      if t["id"] not in before and t["status"] == "task_output"), None),
        timeout=30, message="the run's task")
    return job, task["id"]


def page_answers_during(fault_ends_at: float, live_app) -> None:
    """The page and a share link answer while the fault is still on."""
    for path in ("/", "/share/AAAAAAAAAAAAAAAAAAAAAA"):
        response = requests.get(live_app.url + path, timeout=HOLD_SECONDS)
        assert response.status_code in (200, 404), path
        assert time.monotonic() < fault_ends_at, f"{path} waited for the fault to end"


def next_visitor_runs(app_client, app_sim) -> None:
    app_sim.configure(hold_running=False)
    image, details = app_client.predict(*arguments(seed=77), api_name="/generate")
    with Image.open(image) as im:
        assert im.size == (256, 256)
    assert details["seed"] == 77


def test_a_write_locked_database_right_after_run(live_app, app_sim, app_client):
    job, taskid = start_held_run(live_app, app_sim, app_client)
    locker = sqlite3.connect(database_path(live_app), timeout=5, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    ends_at = time.monotonic() + HOLD_SECONDS
    try:
        app_sim.release(taskid)
        page_answers_during(ends_at, live_app)
        image, details = job.result(timeout=60)  # each write waited 0.5 s, then gave up
        assert details["task_id"] == taskid and Path(image).is_file()
    finally:
        time.sleep(max(0.0, ends_at - time.monotonic()))
        locker.execute("ROLLBACK")
        locker.close()
    assert live_app.task(taskid)["status"] == "task_postprocess_end"
    next_visitor_runs(app_client, app_sim)


def full(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def full_database(*_args, **_kwargs):
    raise sqlite3.OperationalError("database or disk is full")


def test_a_full_data_directory_right_after_run(live_app, app_sim, app_client, monkeypatch):
    job, taskid = start_held_run(live_app, app_sim, app_client)
    monkeypatch.setattr(datadir.Database, "execute", full_database)
    monkeypatch.setattr(datadir.Database, "transaction", full_database)
    monkeypatch.setattr(results.ResultStore, "keep", full)
    app_sim.release(taskid)
    page_answers_during(time.monotonic() + HOLD_SECONDS, live_app)
    image, details = job.result(timeout=60)
    assert details["task_id"] == taskid and Path(image).is_file()
    monkeypatch.undo()
    next_visitor_runs(app_client, app_sim)


def test_a_full_disk_right_after_run_still_gives_wiros_link(live_app, app_sim, app_client,
                                                            monkeypatch):
    job, taskid = start_held_run(live_app, app_sim, app_client)
    monkeypatch.setattr(datadir.Database, "execute", full_database)
    monkeypatch.setattr(OutputStore, "save", full)
    app_sim.release(taskid)
    page_answers_during(time.monotonic() + HOLD_SECONDS, live_app)
    with pytest.raises(Exception) as answer:
        job.result(timeout=60)
    said = str(answer.value)
    assert "could not save it" in said and f"Task {taskid}" in said and "/cdn/" in said
    assert live_app.task(taskid)["status"] == "task_postprocess_end"
    monkeypatch.undo()
    next_visitor_runs(app_client, app_sim)


def test_a_closed_caller_during_a_full_disk_still_stops_the_task(live_app, app_sim,
                                                                  app_client, monkeypatch):
    job, taskid = start_held_run(live_app, app_sim, app_client)
    monkeypatch.setattr(datadir.Database, "execute", full_database)
    monkeypatch.setattr(datadir.Database, "transaction", full_database)
    job.cancel()  # the caller goes away while nothing can be written
    page_answers_during(time.monotonic() + HOLD_SECONDS, live_app)
    live_app.wait_until(lambda: live_app.task(taskid)["status"] == "task_cancel", timeout=30,
                        message="the task to be stopped")
    monkeypatch.undo()
    next_visitor_runs(app_client, app_sim)


def test_the_database_removed_mid_run(live_app, app_sim, app_client):
    job, taskid = start_held_run(live_app, app_sim, app_client)
    path = database_path(live_app)
    for leftover in (path, path.with_name(path.name + "-wal"),
                     path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    app_sim.release(taskid)
    page_answers_during(time.monotonic() + HOLD_SECONDS, live_app)
    image, details = job.result(timeout=60)
    assert details["task_id"] == taskid and Path(image).is_file()
    next_visitor_runs(app_client, app_sim)
    # Storage works again: a new connection finds its tables (made again if need be).
    results.store().db.query("SELECT COUNT(*) FROM results")


def test_with_a_spending_cap_a_locked_ledger_refuses_plainly(live_app, app_sim, app_client,
                                                             monkeypatch):
    from studio.config import Config
    from studio.guards import Guard

    guard = Guard.persistent(Config(daily_spend_cap_usd=5.0, runs_per_client_per_hour=0,
                                    data_dir=database_path(live_app).parent))
    monkeypatch.setattr(live_app.app.page, "guard", guard)
    runs = app_sim.run_calls
    locker = sqlite3.connect(database_path(live_app), timeout=5, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Exception) as refused:
            app_client.predict(*arguments(), api_name="/generate")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert "storage is busy" in str(refused.value) and app_sim.run_calls == runs
    next_visitor_runs(app_client, app_sim)
    assert [row["state"] for row in guard.ledger.rows()][-1] == "charged"


def test_slots_come_back_after_every_fault(live_app):
    # Whatever the tests above did, no run slot is still held.
    live_app.wait_until(lambda: not live_app.app.page.guard._running, timeout=10,
                        message="every run slot to be given back")
