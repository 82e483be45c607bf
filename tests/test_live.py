"""Following tasks live: the websocket, the polling fallback, and the page on top of them."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Iterator

import pytest

from conftest import TEST_KEY, TEST_SECRET
from run_helpers import admit
from studio.backend import Backend, start_backend
from studio.config import Config
from studio.outputs import OutputStore
from studio.active_runs import ActiveRuns
from studio.run import GENERATING_BAND, Runner, RunUpdate, progress_fraction, status_title
from wiro import Settings, TaskStatus, WiroClient
from wiro.live import (
    POLL, QUEUE_BACKOFF, SOCKET, FollowThread, SocketRefused, TaskEvent, event_from_task,
    follow, parse_message, poll_delay,
)
from wiro.settings import DEFAULT_SOCKET_URL
from wiro.simulator import SimulatorServer, SimulatorState
from wiro.statuses import LIFECYCLE, lifecycle_fraction

pytestmark = pytest.mark.timeout(60)

QUICK = 0.5  # the silence deadline in tests, instead of 10 s
INTERVAL = 0.05  # WIRO_POLL_INTERVAL in tests, instead of 2 s
PROMPT = {"prompt": "a red fox in the snow", "width": 256, "height": 256}
RANK = {status: n for n, status in enumerate(LIFECYCLE)}


@pytest.fixture
def client(sim: SimulatorServer) -> Iterator[WiroClient]:
    with WiroClient(TEST_KEY, TEST_SECRET, base_url=sim.base_url,
                    socket_url=sim.socket_url, poll_interval=INTERVAL) as c:
        yield c


def paced(state: SimulatorState, pace: float = 0.2, **knobs: object) -> None:
    """pace 0.2: a task takes about 1.1 s."""
    state.configure(pace=pace, **knobs)


def follower_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("wiro-follow-")]


def assert_in_order_without_repeats(events: list[TaskEvent]) -> None:
    ranks = [RANK[e.status] for e in events]
    assert ranks == sorted(ranks), [e.status.value for e in events]
    others = [e.status for e in events if e.status is not TaskStatus.OUTPUT]
    assert len(others) == len(set(others)), "a status was reported twice"
    percentages = [e.percentage for e in events if e.status is TaskStatus.OUTPUT]
    assert all(p is not None for p in percentages)
    assert percentages == sorted(set(percentages)), "progress went back or repeated"


def assert_succeeded(events: list[TaskEvent]) -> None:
    final = events[-1]
    assert final.status is TaskStatus.POSTPROCESS_END and final.task is not None
    assert final.task.succeeded and final.task.total_cost > 0
    assert all(e.task is None or not e.is_terminal for e in events[:-1])


# --- pure pieces -------------------------------------------------------------------------

def test_polling_keeps_the_interval_once_a_worker_has_the_task():
    """A finished task waits at most one interval for its result."""
    for status in LIFECYCLE[1:]:
        assert {poll_delay(status, n, 2.0) for n in range(10)} == {2.0}


def test_polling_backs_off_only_while_queued():
    delays = [poll_delay(TaskStatus.QUEUE, n, 2.0) for n in range(10)]
    assert delays[:3] == [2.0, 5.0, 10.0]  # Wiro-MCP's 2 -> 5 -> 10 s
    assert delays == sorted(delays) and max(delays) == 2.0 * QUEUE_BACKOFF[-1]


def test_parse_message_reads_the_documented_shapes():
    progress = parse_message('{"type": "task_output", "id": "1", "tasktoken": "t", "result": true,'
                             ' "message": {"type": "progressGenerate", "percentage": "60",'
                             ' "stepCurrent": "6", "stepTotal": "10"}}')
    assert (progress.status, progress.percentage, progress.source) == \
        (TaskStatus.OUTPUT, 60.0, SOCKET)
    assert parse_message({"type": "task_output", "message": "Step 1/10"}).percentage is None
    lifecycle = parse_message({"type": "task_assign", "message": None, "result": True})
    assert lifecycle.status is TaskStatus.ASSIGN and lifecycle.task is None
    done = parse_message({"type": "task_postprocess_end", "message": [{"name": "0.png"}]})
    assert done.is_terminal and done.message == [{"name": "0.png"}]
    for other in (b"\x00\x01", "not json", "[1, 2]", {"type": "task_stream_ready"}, {}):
        assert parse_message(other) is None
    assert parse_message({"type": "task_start", "tasktoken": "other"}, token="mine") is None
    assert parse_message({"type": "task_start", "tasktoken": "mine"}, token="mine") is not None
    with pytest.raises(SocketRefused):
        parse_message({"type": "task_info", "result": False, "message": "Task not found."})


def test_progress_fraction_follows_the_models_percentage():
    low, high = GENERATING_BAND
    at = [progress_fraction(TaskEvent(TaskStatus.OUTPUT, p)) for p in (0, 20, 60, 100)]
    assert at[0] == pytest.approx(low) and at[-1] == pytest.approx(high)
    assert at == sorted(at) and len(set(at)) == 4
    walk = [progress_fraction(TaskEvent(s)) for s in LIFECYCLE if s is not TaskStatus.OUTPUT]
    assert walk == sorted(walk) and walk[-1] == 1.0 and progress_fraction(None) == 0.0
    assert lifecycle_fraction(TaskStatus.START) <= low < high <= \
        lifecycle_fraction(TaskStatus.OUTPUT_FULL)
    assert status_title("7", TaskEvent(TaskStatus.OUTPUT, 40.0)) == "Task 7: generating 40%"


# --- the websocket path -----------------------------------------------------------------

def test_events_arrive_in_order_and_complete(sim_state, client):
    paced(sim_state, 0.15)
    handle = client.run(PROMPT)
    seen: list[TaskEvent] = []
    events = list(handle.iter_events(on_event=seen.append))
    assert seen == events
    assert [e.status for e in events if e.status is not TaskStatus.OUTPUT] == \
        [s for s in LIFECYCLE if s is not TaskStatus.OUTPUT]
    assert_in_order_without_repeats(events)
    assert [e.percentage for e in events if e.status is TaskStatus.OUTPUT] == \
        [0, 20, 40, 60, 80, 100]
    assert {e.source for e in events} == {SOCKET}
    assert_succeeded(events)
    assert events[-1].message == [o.raw for o in events[-1].task.outputs]  # the socket's list
    # Run plus one Detail for the outputs: nothing else went over HTTP.
    assert sim_state.run_calls == 1 and sim_state.detail_calls[handle.id] == 1


def test_a_task_finished_before_the_socket_opens_is_replayed(sim_state, client):
    handle = client.run(PROMPT)  # pace 0: already done
    events = list(follow(client, handle))
    statuses = [e.status for e in events if e.status is not TaskStatus.OUTPUT]
    assert statuses[:3] == list(LIFECYCLE[:3])
    assert_succeeded(events)
    assert sim_state.detail_calls[handle.id] == 1


def test_failed_task_ends_with_its_task(sim_state, client):
    paced(sim_state, 0.1, fail_next_tasks=1)
    events = list(follow(client, client.run(PROMPT)))
    assert TaskStatus.ERROR in {e.status for e in events}
    assert events[-1].status is TaskStatus.POSTPROCESS_END and events[-1].task.failed


# --- the fallback -----------------------------------------------------------------------

def test_refused_socket_falls_back_to_polling(sim_state, client):
    paced(sim_state, 0.2, socket_mode="refuse")
    handle = client.run(PROMPT)
    events = list(follow(client, handle, socket_deadline=QUICK))
    assert {e.source for e in events} == {POLL}
    assert_in_order_without_repeats(events)
    assert_succeeded(events)
    assert sim_state.run_calls == 1  # never a second Run


def test_socket_dropped_mid_task_is_finished_by_polling(sim_state, client):
    paced(sim_state, 0.2, socket_mode="drop_mid_task")
    handle = client.run(PROMPT)
    events = list(follow(client, handle, socket_deadline=QUICK))
    sources = [e.source for e in events]
    assert sources[0] == SOCKET and sources[-1] == POLL
    assert sources == sorted(sources, key=[SOCKET, POLL].index)  # socket, then polling only
    socket_part = [e.status for e in events if e.source == SOCKET]
    assert socket_part == list(LIFECYCLE[:LIFECYCLE.index(TaskStatus.START) + 1])
    assert_in_order_without_repeats(events)
    assert_succeeded(events)
    assert sim_state.run_calls == 1


def test_silent_socket_hits_the_deadline_then_polls(sim_state, client):
    paced(sim_state, 0.25, socket_mode="silent")
    handle = client.run(PROMPT)
    started = time.monotonic()
    first_at: list[float] = []
    events = list(follow(client, handle, socket_deadline=QUICK,
                         on_event=lambda e: first_at.append(time.monotonic() - started)))
    assert first_at[0] >= QUICK * 0.9  # nothing came before the deadline
    assert {e.source for e in events} == {POLL}
    assert_in_order_without_repeats(events)
    assert_succeeded(events)


def test_a_quiet_socket_is_kept_while_the_task_is_quiet_too(sim_state, client):
    paced(sim_state, 0.1, hold_in_queue=True)
    handle = client.run(PROMPT)
    events: list[TaskEvent] = []
    thread = threading.Thread(target=lambda: events.extend(
        follow(client, handle, socket_deadline=0.2)))
    thread.start()
    time.sleep(0.9)  # several silent spells, each checked with one Detail
    sim_state.release(handle.id)
    checks = sim_state.detail_calls[handle.id]
    assert 2 <= checks <= 6
    thread.join(10)
    assert {e.source for e in events} == {SOCKET}  # the socket was never given up
    assert_succeeded(events)
    assert sim_state.detail_calls[handle.id] == checks + 1  # then one Detail for the result


def test_detail_errors_while_polling_are_retried(sim_state, client):
    paced(sim_state, 0.1, socket_mode="refuse")
    sim_state.inject_fault("detail", "http500", times=2)
    events = list(follow(client, client.run(PROMPT)))
    assert_succeeded(events)


# --- stopping ---------------------------------------------------------------------------

def test_kill_during_a_websocket_run_ends_with_a_cancelled_task(sim_state, client):
    paced(sim_state, 0.05, hold_running=True)
    handle = client.run(PROMPT)
    events = []
    for event in follow(client, handle):
        events.append(event)
        if event.status is TaskStatus.OUTPUT and event.percentage == 100:
            handle.kill()
    final = events[-1]
    assert final.status is TaskStatus.CANCEL and final.task.cancelled
    assert final.source == SOCKET
    assert sim_state.events(handle.id)[-1][0] == "task_cancel"


def test_stopping_the_follow_thread_leaves_no_thread(sim_state, client):
    paced(sim_state, 0.05, hold_running=True)
    handle = client.run(PROMPT)
    follower = FollowThread(client, handle).start()
    seen: list[TaskEvent] = []
    deadline = time.monotonic() + 10
    while not any(e.status is TaskStatus.START for e in seen) and time.monotonic() < deadline:
        seen += follower.take(timeout=0.25)
    follower.stop()
    assert not follower_threads()
    assert not sim_state.events(handle.id)[-1][0].endswith(("cancel", "postprocess_end"))


# --- the page -----------------------------------------------------------------------------

def page_backend(sim: SimulatorServer) -> Backend:
    # A long poll interval: only the socket can make the page this quick.
    return Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                            socket_url=sim.socket_url, poll_interval=30.0))


def page_run(backend, registry, tmp_path, session, seed):
    """The page's run of PROMPT with `seed`, admitted, as a generator of its updates."""
    [job] = admit(dict(PROMPT, seed=seed), session=session)
    return Runner(backend, registry, OutputStore(tmp_path)).run(session, job)


def test_page_generate_completes_via_the_socket(sim, sim_state, tmp_path):
    paced(sim_state, 0.15)
    backend = page_backend(sim)
    registry = ActiveRuns()
    started = time.monotonic()
    updates: list[RunUpdate] = list(page_run(backend, registry, tmp_path, "s1", 5))
    assert time.monotonic() - started < 5
    final = updates[-1]
    assert final.finished and final.record and final.record.width == 256
    taskid = final.record.task_id
    assert sim_state.detail_calls[taskid] == 1
    fractions = [u.status.fraction for u in updates if u.status.fraction is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("generating" in u.status.title and "%" in u.status.title for u in updates)
    assert registry.count() == 0 and not follower_threads()
    backend.client().close()


def test_closing_the_page_run_kills_the_task_and_its_thread(sim, sim_state, tmp_path):
    paced(sim_state, 0.05, hold_running=True)
    backend = page_backend(sim)
    registry = ActiveRuns()
    run = page_run(backend, registry, tmp_path, "s2", 6)
    for update in run:
        if update.status.wiro_status == "task_output":
            break
    assert registry.count("s2") == 1 and follower_threads()
    run.close()  # what Gradio does on Stop or a closed tab
    taskid = sim_state.tasks()[-1]["id"]
    assert sim_state.events(taskid)[-1][0] == "task_cancel"
    assert registry.count() == 0 and not follower_threads()
    backend.client().close()


def test_stop_button_ends_a_socket_run_as_stopped(sim, sim_state, tmp_path):
    paced(sim_state, 0.05, hold_running=True)
    backend = page_backend(sim)
    registry = ActiveRuns()
    updates = []
    for update in page_run(backend, registry, tmp_path, "s3", 7):
        updates.append(update)
        if update.status.wiro_status == "task_output" and registry.count("s3"):
            registry.stop("s3")  # the Stop button, from another handler
    assert updates[-1].finished and updates[-1].status.kind == "stopped"
    assert not follower_threads()
    backend.client().close()


def test_keyless_backend_uses_the_simulators_socket(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env
    backend = start_backend(replace(Config.load({}, None), data_dir=tmp_path / "data"))
    try:
        assert backend.is_simulator
        assert backend.settings.socket_url == backend.simulator.socket_url
        assert backend.client().socket_url == backend.simulator.socket_url
    finally:
        backend.close()


def test_only_wiros_own_api_is_followed_on_wiros_own_socket():
    def socket_of(**settings: str) -> str | None:
        with WiroClient.from_settings(Settings(api_key="k", **settings)) as c:
            return c.socket_url
    assert socket_of() == DEFAULT_SOCKET_URL
    local = "http://127.0.0.1:9/v1"
    assert socket_of(base_url=local) is None  # its tokens mean nothing to Wiro's socket
    assert socket_of(base_url=local, socket_url="ws://127.0.0.1:9/v1") == "ws://127.0.0.1:9/v1"


def test_event_from_a_polled_task_reads_the_log_percentage(sim_state, client):
    paced(sim_state, 1.0, hold_running=True)
    handle = client.run(PROMPT)
    sim_state.clock = lambda: time.time() + 10.0  # at the held last task_output
    event = event_from_task(client.detail(handle.id))
    assert event.status is TaskStatus.OUTPUT and event.percentage == 100.0
    assert event.source == POLL and event.task is not None


# --- issue 10 -------------------------------------------------------------------------------

def test_a_progress_message_sent_as_a_json_string_has_its_percentage():
    event = parse_message({"type": "task_output", "message": '{"type": "progressGenerate", '
                                                             '"percentage": "40"}'})
    assert event.percentage == 40.0
    assert parse_message({"type": "task_output", "message": "{not json"}).percentage is None


def test_task_error_on_the_socket_is_an_interim_line(sim_state, client):
    """On the socket task_error is the model's stderr; the run goes on to its end."""
    paced(sim_state, 0.1, fail_next_tasks=1)
    events = list(follow(client, client.run(PROMPT), stall_window=0.05))
    statuses = [e.status for e in events]
    assert TaskStatus.ERROR in statuses and statuses[-1] is TaskStatus.POSTPROCESS_END


def test_over_the_socket_a_detail_held_at_task_end_is_still_delivered(sim_state, client):
    sim_state.detail_status = "task_end"
    events = list(follow(client, client.run(PROMPT), settle_window=0.2))
    final = events[-1]
    assert final.is_terminal and final.task.deliverable and final.task.status_text == "task_end"


def test_the_deadline_holds_while_the_socket_is_silent(sim_state, client):
    from wiro.errors import TaskDeadlineError
    paced(sim_state, 0.05, hold_running=True, socket_mode="silent")
    handle = client.run(PROMPT)
    with pytest.raises(TaskDeadlineError) as info:
        list(follow(client, handle, timeout=0.5))  # the silence deadline is 10 s
    assert info.value.stopped.action == "killed"
    assert sim_state.events(handle.id)[-1][0] == "task_cancel"


def test_push_mode_and_tick_mode_deliver_the_same_run(sim, sim_state, tmp_path):
    paced(sim_state, 0.1)
    finals = []
    for push in (True, False):
        backend = page_backend(sim)
        backend.push_updates = push
        updates = list(page_run(backend, ActiveRuns(), tmp_path, f"p{push}", 3))
        finals.append(updates[-1])
        backend.client().close()
    assert all(u.record and u.status.kind == "done" for u in finals)


# --- the SDKs' polling pace, and Detail's task_error ------------------------------------------

def test_a_queued_task_is_asked_about_less_and_less(sim_state, client):
    """Without a socket: every interval once a worker has the task, backing off in the queue.
    Upper bounds only: a slow machine asks less often, never more."""
    paced(sim_state, 0.05, hold_in_queue=True)
    handle = client.run(PROMPT)
    follower = FollowThread(client, handle, use_socket=False).start()
    time.sleep(20 * INTERVAL)
    queued_calls = sim_state.detail_calls[handle.id]
    # At 0, 1, 3.5, 8.5, 13.5 and 18.5 intervals: six; twenty-one without the back-off.
    assert 1 <= queued_calls <= 6
    sim_state.release(handle.id)
    while not follower.done:
        follower.take(timeout=1)
    follower.stop()
    assert sim_state.tasks()[0]["status"] == "task_postprocess_end"


def test_a_running_task_is_asked_about_once_an_interval(sim_state, sim):
    paced(sim_state, 0.05, hold_running=True)
    with WiroClient(TEST_KEY, TEST_SECRET, base_url=sim.base_url, poll_interval=0.2) as c:
        handle = c.run(PROMPT)
        follower = FollowThread(c, handle, use_socket=False).start()
        time.sleep(1.0)
        calls = sim_state.detail_calls[handle.id]
        sim_state.release(handle.id)
        while not follower.done:
            follower.take(timeout=1)
        follower.stop()
    assert 1 <= calls <= 1 + 1.0 / 0.2 + 1  # never more often than the interval


def test_task_error_on_detail_is_final_and_the_task_is_not_stopped(sim_state, client,
                                                                    monkeypatch):
    """The socket's task_error is an interim line; Detail's is the end (Wiro-MCP)."""
    paced(sim_state, 0.1, fail_before_start=1)
    stops: list[str] = []
    monkeypatch.setattr(client, "stop", lambda taskid, **_: stops.append(taskid))
    handle = client.run(PROMPT)
    events = list(follow(client, handle, socket_deadline=QUICK))
    socket_error = [e for e in events if e.status is TaskStatus.ERROR and e.source == SOCKET]
    final = events[-1]
    assert socket_error and not socket_error[0].is_terminal
    assert final.is_terminal and final.task.status_text == "task_error" and final.task.failed
    assert "pre-execution failure" in final.task.debug_error
    assert stops == [] and sim_state.running_tasks() == []
