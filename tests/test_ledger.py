"""Issue 12, point 4: the daily spend cap counts every charged run, reserves each run's
estimate at admission so runs started together cannot overshoot it, and survives a restart."""
from __future__ import annotations

import threading

import pytest
from PIL import Image

from studio.backend import Backend
from studio.datadir import Database
from studio.config import Config
from studio.guards import Guard, RunRefused, default_estimate_usd
from studio.guards import Ledger, OverCap
from wiro import spec
from wiro.settings import Settings

from conftest import FakeClock, TEST_KEY, TEST_SECRET
from run_helpers import run_values

PROMPT_ONLY = {**spec.defaults(), spec.INPUT_IMAGE.name: []}


@pytest.fixture
def backend(sim):
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02, request_timeout=0.5), simulator=sim)
    yield backend
    backend.close()


def run(guard, backend, tmp_path, n=0, values=PROMPT_ONLY):
    return run_values(backend, tmp_path, dict(values), guard=guard, session=f"tab-{n}")


def charged(backend, sim_state) -> float:
    """What Wiro (the simulator) says it charged, task by task, through Task/Detail."""
    return sum(backend.client().detail(t["id"]).total_cost for t in sim_state.tasks())


# --- the ledger on its own ------------------------------------------------------------------

def test_a_reservation_is_replaced_by_the_charge_or_dropped_if_never_sent():
    ledger = Ledger()
    kept, dropped, lost = ledger.reserve([0.03, 0.03, 0.03])
    ledger.sent(kept, "task-1")
    ledger.charged(kept, 0.021)
    ledger.settle(kept)
    ledger.settle(dropped)  # never sent: costs nothing
    ledger.sent(lost, "task-2")  # sent, then nothing more heard: the estimate stays
    ledger.settle(lost)
    assert ledger.spent() == pytest.approx(0.051)
    assert [(r["state"], r["usd"]) for r in ledger.rows()] == [("charged", 0.021),
                                                              ("sent", 0.03)]


def test_reserving_past_the_cap_is_refused_all_or_none():
    ledger = Ledger()
    ledger.reserve([0.03])
    with pytest.raises(OverCap):
        ledger.reserve([0.01, 0.01, 0.01], cap=0.05)
    assert ledger.spent() == pytest.approx(0.03)
    ledger.reserve([0.01, 0.01], cap=0.05)
    assert ledger.spent() == pytest.approx(0.05)


def test_four_runs_admitted_at_once_never_reserve_past_the_cap():
    guard = Guard(Config(runs_per_session=0, max_concurrent_runs=0,
                                runs_per_client_per_hour=0, daily_spend_cap_usd=0.05))
    admitted, refused, barrier = [], [], threading.Barrier(4)

    def attempt(n):
        barrier.wait()
        try:
            admitted.append(guard.admit(f"s{n}", f"c{n}", estimate_usd=0.03))
        except RunRefused as exc:
            refused.append(str(exc))
    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 1 and len(refused) == 3
    assert "past today's spending cap ($0.05)" in refused[0]


# --- through real runs on the simulator -----------------------------------------------------

def test_four_simultaneous_runs_spend_no_more_than_the_cap(backend, sim_state, tmp_path):
    cap = 0.05
    guard = Guard(Config(runs_per_session=0, max_concurrent_runs=0,
                                runs_per_client_per_hour=0, daily_spend_cap_usd=cap))
    results, barrier = [], threading.Barrier(4)

    def one(n):
        barrier.wait()
        results.append(run(guard, backend, tmp_path, n)[-1])
    threads = [threading.Thread(target=one, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [r for r in results if r.record]
    assert len(done) == 1 and sum(r.status.kind == "refused" for r in results) == 3
    assert 0 < charged(backend, sim_state) <= cap
    assert guard.ledger.spent() == pytest.approx(charged(backend, sim_state))


def test_a_run_whose_download_failed_is_still_counted(backend, sim_state, tmp_path):
    sim_state.output_ttl_seconds = 0  # the result link has expired by the time we fetch it
    guard = Guard(Config())
    last = run(guard, backend, tmp_path)[-1]
    assert last.record is None and last.status.kind == "error"
    assert charged(backend, sim_state) > 0
    assert guard.ledger.spent() == pytest.approx(charged(backend, sim_state))


def test_a_run_lost_after_it_was_sent_keeps_its_estimate(backend, sim_state, tmp_path):
    sim_state.inject_fault("detail", "error_code:401", 100)  # the task can no longer be followed
    guard = Guard(Config())
    last = run(guard, backend, tmp_path)[-1]
    assert last.status.kind == "error" and sim_state.tasks_created == 1
    assert guard.ledger.spent() == pytest.approx(default_estimate_usd())
    sim_state.clear_faults()


def test_a_run_wiro_never_started_costs_nothing(backend, sim_state, tmp_path):
    sim_state.balance = 0.0  # Run answers "insufficient balance"
    guard = Guard(Config(daily_spend_cap_usd=1.0))
    last = run(guard, backend, tmp_path)[-1]
    assert last.status.kind == "error" and sim_state.tasks_created == 0
    assert guard.ledger.spent() == 0 and guard.ledger.rows() == []


def test_a_run_refused_by_the_full_check_after_admission_costs_nothing(backend, sim_state,
                                                                       tmp_path):
    # Headers say PNG, the pixels are cut short: only decoding (after admission) finds out.
    broken = tmp_path / "cut.png"
    Image.new("RGB", (800, 600), (200, 10, 10)).save(broken)
    broken.write_bytes(broken.read_bytes()[:400])
    guard = Guard(Config(daily_spend_cap_usd=1.0))
    last = run(guard, backend, tmp_path, values={**PROMPT_ONLY,
                                                 spec.INPUT_IMAGE.name: [str(broken)]})[-1]
    assert last.status.kind == "invalid" and "damaged" in last.status.text()
    assert sim_state.run_calls == 0 and guard.ledger.spent() == 0


def test_todays_spending_survives_a_restart(backend, sim_state, tmp_path):
    settings = Config(daily_spend_cap_usd=0.05)
    first = Guard.persistent(settings, Database(tmp_path / "data"))
    run(first, backend, tmp_path)
    first.ledger.reserve([0.01])  # a run that was in flight when the process died
    before = first.ledger.spent()
    assert before == pytest.approx(charged(backend, sim_state) + 0.01)
    first.ledger.db.close()

    after_restart = Guard.persistent(settings, Database(tmp_path / "data"))
    assert after_restart.ledger.spent() == pytest.approx(before)
    last = run(after_restart, backend, tmp_path)[-1]
    assert last.status.kind == "refused" and "spending cap ($0.05)" in last.status.text()


def test_the_day_turns_at_midnight_utc():
    clock = FakeClock(start=1_767_225_600.0 - 10)
    guard = Guard(Config(daily_spend_cap_usd=0.05), clock=clock)
    [ticket] = guard.admit("s", "c", estimate_usd=0.05)
    ticket.sending()
    ticket.release(0.05)
    with pytest.raises(RunRefused):
        guard.admit("s", "c", estimate_usd=0.01)
    clock.advance(20)
    assert guard.ledger.spent() == 0
    [ticket] = guard.admit("s", "c", estimate_usd=0.05)
    ticket.release()
