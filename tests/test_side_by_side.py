"""Issue 7, part 5: the same inputs with 2-4 seeds, each its own task with its own Stop."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from studio import active_runs, admission, side_by_side
from studio.active_runs import ActiveRuns
from studio.backend import Backend
from studio.config import Config
from studio.guards import Guard, RunRefused
from studio.outputs import OutputStore
from studio.run import Runner, RunUpdate
from studio.status import RunStatus
from wiro import spec
from wiro.settings import Settings

from conftest import TEST_KEY, TEST_SECRET
from run_helpers import admit

pytest_plugins = ["tests.app_harness"]

RUN_TIMEOUT_MS = 30_000
UI_MS = 20_000  # a busy 2-core box: events can queue for seconds


def wait_for(check, timeout=15.0, message="condition"):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {message}")
        time.sleep(0.05)
    return value


# --- seeds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, seeds", [("1, 2", [1, 2]), ("7 8 9", [7, 8, 9]),
                                         ("0;1,2 , 3", [0, 1, 2, 3])])
def test_seeds_parse(text, seeds):
    assert side_by_side.parse_seeds(text) == (seeds, [])


@pytest.mark.parametrize("text, problem", [
    ("5", "Give 2 to 4 seeds"), ("1,2,3,4,5", "Give 2 to 4 seeds"), ("", "Give 2 to 4"),
    ("1, x", "'x' is not a seed"), ("1, -2", "-2 is not a seed"), ("1.5, 2", "1.5 is not"),
    ("3, 3", "listed twice"), (f"1, {2**32}", "is not a seed"), ("1, nan", "nan is not"),
    ("inf, 2", "inf is not"), ("1e400, 2", "1e400 is not")])
def test_bad_seeds_are_explained(text, problem):
    _, problems = side_by_side.parse_seeds(text)
    assert problems and problem in " ".join(problems)


def test_default_seeds_follow_the_pages_seed():
    assert side_by_side.default_seeds(123) == "123, 124"
    assert side_by_side.default_seeds(None, 3) == f"{spec.SEED.default}, " \
        f"{spec.SEED.default + 1}, {spec.SEED.default + 2}"
    assert side_by_side.confirm_label(3) == "I understand this starts 3 paid runs"
    assert side_by_side.confirm_label(3, simulated=True) == (
        "I understand this starts 3 simulated runs (no charge)")


# --- running together ----------------------------------------------------------------------

def fake_run(steps, closed, name, delay=0.01):
    try:
        for n in range(steps):
            time.sleep(delay)
            yield RunUpdate(RunStatus("running", f"{name}:{n}"), finished=n == steps - 1)
    finally:
        closed.append((name, threading.current_thread().name))


def runner_of(runs: dict) -> Runner:
    """A Runner whose runs are the given generators (by job name), pushed as they come."""
    runner = Runner(SimpleNamespace(push_updates=True), ActiveRuns(), None)
    runner.run = lambda session, job, client=None: runs[job]
    return runner


def test_together_yields_every_runs_latest_until_all_finish():
    closed: list = []
    runner = runner_of({"a": fake_run(3, closed, "a"), "b": fake_run(8, closed, "b")})
    snapshots = list(runner.together("tab", ["a", "b"], tick=0.01))
    assert [u.status.title for u in snapshots[-1]] == ["a:2", "b:7"]
    assert all(u.finished for u in snapshots[-1])
    assert sorted(n for n, _ in closed) == ["a", "b"]
    assert all(thread.startswith("run-tab-") for _, thread in closed)


def test_closing_the_row_closes_every_run_in_its_own_thread():
    closed: list = []
    runner = runner_of({"a": fake_run(10_000, closed, "a"), "b": fake_run(10_000, closed, "b")})
    merged = runner.together("tab", ["a", "b"], tick=0.01)
    next(merged)
    next(merged)
    merged.close()  # what Gradio does when the event is cancelled
    assert sorted(n for n, _ in closed) == ["a", "b"]


def test_an_error_in_one_run_is_shown_in_its_slot():
    def broken():
        yield RunUpdate(RunStatus("running", "starting"))
        raise RuntimeError("boom")
    runner = runner_of({"x": broken(), "ok": fake_run(2, [], "ok")})
    last = list(runner.together("tab", ["x", "ok"], tick=0.01))[-1]
    assert "boom" in last[0].status.text() and last[0].finished and last[1].status.title == "ok:1"


# --- the guard: one admission for the session, every seed a run for the caps -----------------

def release(tickets, usd=None):
    for ticket in tickets:
        if usd is not None:
            ticket.sending()
        ticket.release(usd)


def test_a_batch_is_one_admission_for_the_session_cap():
    guard = Guard(Config(runs_per_session=1, max_concurrent_runs=4))
    tickets = guard.admit("tab", "c", 3)
    assert len(tickets) == 3
    with pytest.raises(RunRefused, match="already has 3 run"):
        guard.admit("tab", "c")
    with pytest.raises(RunRefused):
        guard.admit("tab", "c", 2)
    release(tickets, 0.03)
    assert guard.ledger.spent() == pytest.approx(0.09)
    release(guard.admit("tab", "c"))


def test_every_seed_counts_against_the_overall_and_hourly_caps():
    guard = Guard(Config(runs_per_session=1, max_concurrent_runs=4,
                         runs_per_client_per_hour=5))
    other = guard.admit("other-tab", "d", 2)
    with pytest.raises(RunRefused, match="too busy for 3 runs"):
        guard.admit("tab", "c", 3)  # 2 + 3 > 4: refused as a whole
    assert len(guard.admit("tab", "c", 2)) == 2
    release(other)
    guard2 = Guard(Config(runs_per_session=0, runs_per_client_per_hour=5))
    release(guard2.admit("s", "c", 4))
    with pytest.raises(RunRefused, match="1 of this demo's 5 runs for the hour are left"):
        guard2.admit("s", "c", 2)
    release(guard2.admit("s", "c"))  # the one left


def test_stop_slot_stops_one_task_of_a_session(monkeypatch):
    stopped = []
    registry = ActiveRuns()
    registry.add("s", object(), "1", slot=0)
    registry.add("s", object(), "2", slot=1)
    monkeypatch.setattr(active_runs, "stop_task",
                        lambda client, taskid, *_: stopped.append(taskid) or f"stopped {taskid}")
    assert registry.stop_slot("s", 0) == "stopped 1"
    assert registry.stop_task("s", "1") is None  # not running any more
    assert registry.count("s") == 1
    assert registry.stop_slot("s", 1) == "stopped 2"
    assert registry.count() == 0
    assert stopped == ["1", "2"]


# --- against the simulator -----------------------------------------------------------------

@pytest.fixture
def backend(sim):
    return Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                            poll_interval=0.02), simulator=sim)


def values(**changes):
    return {**spec.defaults(), spec.INPUT_IMAGE.name: [], spec.WIDTH.name: 256,
            spec.HEIGHT.name: 256, **changes}


def row(backend, registry, tmp_path, guard, seeds, **changes):
    """A side-by-side batch as the page runs it: admitted whole, then run together."""
    jobs = admit(values(**changes), guard, "tab", seeds)
    if isinstance(jobs, admission.Refusal):
        return iter([[RunUpdate(jobs.status, finished=True)] * len(seeds)])
    return Runner(backend, registry, OutputStore(tmp_path)).together("tab", jobs)


def test_each_seed_is_its_own_task_and_each_stop_is_its_own(backend, sim_state, tmp_path):
    sim_state.configure(hold_running=True)
    registry = ActiveRuns()
    guard = Guard(Config())
    seeds = [11, 22, 33]
    snapshots: list = []
    runner = threading.Thread(target=lambda: snapshots.extend(
        row(backend, registry, tmp_path, guard, seeds)))
    runner.start()
    wait_for(lambda: len(sim_state.running_tasks()) == 3 and registry.count("tab") == 3,
             message="three tasks running")
    tasks = {t["seed"]: t["id"] for t in sim_state.tasks()}
    assert sorted(tasks) == seeds

    line = registry.stop_slot("tab", 1)  # seed 22 only
    assert tasks[22] in line
    wait_for(lambda: registry.count("tab") == 2, message="slot 2 to end")
    assert {t["id"] for t in sim_state.running_tasks()} == {tasks[11], tasks[33]}
    for taskid in (tasks[11], tasks[33]):
        sim_state.release(taskid)
    runner.join(30)
    last = snapshots[-1]
    assert [u.record is not None for u in last] == [True, False, True]
    assert last[1].status.kind == "stopped"
    assert [u.record.seed for u in (last[0], last[2])] == [11, 33]
    assert registry.count() == 0 and registry.stop_slot("tab", 0) is None
    # The killed task counts with what Wiro charged for its seconds (the seed's Kill answer).
    killed = backend.client().detail(tasks[22]).total_cost
    assert guard.ledger.spent() == pytest.approx(killed + sum(u.record.cost_usd
                                                              for u in (last[0], last[2])))
    release(guard.admit("tab", "c"))  # every ticket was released


def test_stop_all_and_closing_the_row_stop_every_task(backend, sim_state, tmp_path):
    sim_state.configure(hold_running=True)
    registry = ActiveRuns()
    guard = Guard(Config())
    batch = row(backend, registry, tmp_path, guard, [1, 2])
    next(batch)
    wait_for(lambda: len(sim_state.running_tasks()) == 2 and registry.count("tab") == 2,
             message="two tasks running")
    assert len(registry.stop("tab")) == 2  # the page's Stop / a closed tab
    wait_for(lambda: not sim_state.running_tasks(), message="every task to stop")
    batch.close()

    # Closing the row (Gradio cancelling the event) also stops what is still running.
    batch = row(backend, registry, tmp_path, guard, [3, 4])
    next(batch)
    wait_for(lambda: len(sim_state.running_tasks()) == 2, message="two more tasks")
    batch.close()
    assert not sim_state.running_tasks()
    assert registry.count() == 0
    release(guard.admit("tab", "c"))


def test_invalid_inputs_or_a_refusal_start_nothing(backend, sim_state, tmp_path):
    registry = ActiveRuns()
    guard = Guard(Config(max_concurrent_runs=2))
    bad = list(row(backend, registry, tmp_path, guard, [1, 2], width=100))
    assert bad[-1][0].status.kind == "invalid"
    refused = list(row(backend, registry, tmp_path, guard, [1, 2, 3]))
    assert refused[-1][2].status.kind == "refused"
    assert sim_state.run_calls == 0


# --- in the browser ------------------------------------------------------------------------

@pytest.fixture
def fresh_guard(live_app, monkeypatch):
    """The app's caps as configured, with this test's counts only (the hourly cap counts every
    run of the whole test session, all from 127.0.0.1)."""
    monkeypatch.setattr(live_app.app.page, "guard", Guard(live_app.app.CONFIG))


def open_side_by_side(page, seeds):
    from playwright.sync_api import expect  # noqa: PLC0415
    box = page.locator("#sbs-seeds textarea, #sbs-seeds input").first
    if not box.is_visible():
        page.get_by_text("Side by side: the same inputs with 2–4 seeds", exact=True).click()
        # The panel's fields are drawn as it opens: type once they hold their value (on a
        # busy machine, text typed into a field still being drawn was replaced by it).
        expect(box).not_to_have_value("", timeout=UI_MS)
        page.wait_for_timeout(300)
    box.fill(seeds)
    box.press("Tab")
    expect(box).to_have_value(seeds)


def test_compare_three_seeds_in_a_row(page, app_sim, live_app, fresh_guard):
    from playwright.sync_api import expect  # noqa: PLC0415
    before = {t["id"] for t in app_sim.tasks()}
    page.click("#ref-clear")
    page.locator("#prompt textarea").fill("A lighthouse in a storm")
    open_side_by_side(page, "11, 22, 33")
    confirm = page.locator("#sbs-confirm")
    # The simulator charges nothing, and the page never says otherwise.
    expect(confirm).to_contain_text("I understand this starts 3 simulated runs (no charge)",
                                    timeout=UI_MS)
    expect(page.locator("#sbs-cost")).to_contain_text(
        "Price on Wiro: $0.090 (3 runs × $0.030) (simulated — no charge)", timeout=UI_MS)

    runs_before = app_sim.run_calls
    page.click("#sbs-run")  # not confirmed: nothing starts, and that is said once
    expect(page.locator("#sbs-status .run-status")).to_have_attribute(
        "data-kind", "refused", timeout=UI_MS)
    assert app_sim.run_calls == runs_before
    expect(page.locator("#sbs-slot-1")).to_be_hidden()
    assert page.locator("text=Not run — nothing was charged.").count() == 1

    confirm.locator("input[type=checkbox]").check()
    page.click("#sbs-run")
    for slot in (1, 2, 3):
        page.wait_for_selector(f"#sbs-status-{slot} .run-status[data-kind=done]",
                               timeout=RUN_TIMEOUT_MS)
        expect(page.locator(f"#sbs-image-{slot} img")).to_be_visible(timeout=UI_MS)
        expect(page.locator(f"#sbs-stop-{slot}")).to_be_hidden(timeout=UI_MS)  # slot ended
    # One row of results, each captioned by its seed.
    tops = {round(page.locator(f"#sbs-slot-{slot}").bounding_box()["y"]) for slot in (1, 2, 3)}
    assert len(tops) == 1
    for slot, seed in zip((1, 2, 3), (11, 22, 33)):
        expect(page.locator(f"#sbs-image-{slot}")).to_contain_text(f"Seed {seed}")
    expect(page.locator("#sbs-slot-4")).to_be_hidden(timeout=UI_MS)
    expect(page.locator("#sbs-status .run-status")).to_contain_text(
        "3 of 3 runs produced", timeout=UI_MS)
    expect(page.locator("#sbs-cost-compare")).to_contain_text(
        "Side by side (3 runs): $0.090 simulated — no charge", timeout=UI_MS)
    # Each batch asks again.
    expect(confirm.locator("input[type=checkbox]")).not_to_be_checked(timeout=UI_MS)
    tasks = [t for t in app_sim.tasks() if t["id"] not in before]
    assert sorted(t["seed"] for t in tasks) == [11, 22, 33]
    assert {t["prompt"] for t in tasks} == {"A lighthouse in a storm"}
    for slot, seed in zip((1, 2, 3), (11, 22, 33)):
        expect(page.locator(f"#sbs-status-{slot} .sbs-seed")).to_have_text(
            f"Seed {seed}", timeout=UI_MS)
        expect(page.locator(f"#sbs-status-{slot}")).to_contain_text(f"seed {seed}", timeout=UI_MS)
    expect(page.locator("#history .hist-card")).to_have_count(3, timeout=UI_MS)
    live_app.artifacts.mkdir(exist_ok=True)
    page.locator("#sbs-row").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    page.screenshot(path=str(live_app.artifacts / "side-by-side.png"), full_page=True)


def test_each_slot_has_its_own_stop(page, app_sim, live_app, fresh_guard):
    from playwright.sync_api import expect  # noqa: PLC0415
    before = {t["id"] for t in app_sim.tasks()}
    runs_before = app_sim.run_calls
    app_sim.configure(hold_running=True)
    page.click("#ref-clear")
    open_side_by_side(page, "5, 6")
    expect(page.locator("#sbs-confirm")).to_contain_text("starts 2 simulated runs", timeout=UI_MS)
    page.locator("#sbs-confirm input[type=checkbox]").check()
    page.click("#sbs-run")
    live_app.wait_until(lambda: len(app_sim.running_tasks()) == 2, timeout=20,
                        message="two running tasks")
    page.wait_for_selector("#sbs-status-1 .run-status[data-kind=running][data-status]",
                           timeout=RUN_TIMEOUT_MS)
    tasks = {t["seed"]: t["id"] for t in app_sim.tasks() if t["id"] not in before}
    assert sorted(tasks) == [5, 6]

    # While the batch runs, the page's own Generate is refused (one admission per session).
    page.click("#generate")
    page.wait_for_selector("#run-status-box .run-status[data-kind=refused]",
                           timeout=RUN_TIMEOUT_MS)
    assert app_sim.run_calls == runs_before + 2

    expect(page.locator("#sbs-stop-1")).to_be_visible(timeout=UI_MS)  # running: it can stop
    page.click("#sbs-stop-1")
    page.wait_for_selector("#sbs-status-1 .run-status[data-kind=stopped]", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#sbs-stop-1")).to_be_hidden(timeout=UI_MS)
    expect(page.locator("#sbs-stop-2")).to_be_visible(timeout=UI_MS)
    assert live_app.task(tasks[5])["status"] == "task_cancel"
    assert [t["id"] for t in app_sim.running_tasks()] == [tasks[6]]
    expect(page.locator("#sbs-status-2 .run-status")).to_have_attribute(
        "data-kind", "running", timeout=UI_MS)
    app_sim.release(tasks[6])
    page.wait_for_selector("#sbs-status-2 .run-status[data-kind=done]", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#sbs-status .run-status")).to_contain_text(
        "1 of 2 runs produced", timeout=UI_MS)
    expect(page.locator("#history .hist-card")).to_have_count(1, timeout=UI_MS)


def test_new_seeds_of_the_same_count_keep_the_confirmation(live_app):
    """The handler's answer goes through Gradio's own output handling (an empty answer used
    to fail there, with a traceback in the log on every such edit)."""
    import asyncio  # noqa: PLC0415
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415
    app = live_app.app
    compare = app.compare
    block_fn = next(fn for fn in app.demo.fns.values() if fn.name == "seeds_changed")
    same = compare.seeds_changed({compare.seeds: "9, 10", compare.runs_shown: 2})
    with ThreadPoolExecutor(1) as pool:  # Playwright's loop may be running in this thread
        shown = pool.submit(asyncio.run, app.demo.postprocess_data(block_fn, same, None)).result()
    assert len(shown) == 2  # both outputs answered: the ticked box and its count stand
    more = compare.seeds_changed({compare.seeds: "9, 10, 11", compare.runs_shown: 2})
    assert more[compare.runs_shown] == 3 and "3 simulated runs" in more[compare.confirm].label
