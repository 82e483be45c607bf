"""Issue 6, part 5: the caps that guard a public Space, refused before any paid call."""
from __future__ import annotations

import threading

import pytest

from studio.backend import Backend
from studio.config import Config
from studio.guards import Guard, RunRefused
from wiro import spec
from wiro.settings import Settings

from conftest import FakeClock, TEST_KEY, TEST_SECRET
from run_helpers import run_values


def release(tickets):
    for ticket in tickets:
        ticket.release()


def charge(tickets, usd):
    """A run that was sent and charged `usd`, then ended."""
    for ticket in tickets:
        ticket.sending()
        ticket.release(usd)


def test_one_run_at_a_time_per_session_by_default():
    guard = Guard(Config())
    [ticket] = guard.admit("tab-a", "1.2.3.4")
    with pytest.raises(RunRefused, match="Wait for it to finish, or stop it with its own Stop"):
        guard.admit("tab-a", "1.2.3.4")
    release(guard.admit("tab-b", "1.2.3.4"))  # another tab is another session
    ticket.release()
    release(guard.admit("tab-a", "1.2.3.4"))


def test_overall_cap_counts_every_session():
    guard = Guard(Config(runs_per_session=0, max_concurrent_runs=2))
    guard.admit("a", "x")
    guard.admit("b", "y")
    with pytest.raises(RunRefused, match="busy"):
        guard.admit("c", "z")


def test_hourly_cap_per_client_resets_after_an_hour():
    clock = FakeClock()
    guard = Guard(Config(runs_per_client_per_hour=2), clock=clock)
    for _ in range(2):
        release(guard.admit("s", "9.9.9.9"))
    with pytest.raises(RunRefused, match="runs for the hour"):
        guard.admit("s", "9.9.9.9")
    release(guard.admit("s", "8.8.8.8"))  # someone else
    clock.advance(3600)
    release(guard.admit("s", "9.9.9.9"))


def test_daily_spend_cap_sums_costs_and_resets_at_midnight_utc():
    clock = FakeClock(start=1_767_225_600.0 - 10)  # ten seconds before a UTC midnight
    guard = Guard(Config(daily_spend_cap_usd=0.07), clock=clock)
    charge(guard.admit("s", "c", estimate_usd=0.03), 0.03)
    charge(guard.admit("s", "c", estimate_usd=0.03), 0.03)
    assert guard.ledger.spent() == pytest.approx(0.06)
    # Issue 12, point 4: $0.01 of room left, so a $0.03 run is refused before it starts.
    with pytest.raises(RunRefused, match=r"past today's spending cap \(\$0.07\)"):
        guard.admit("s", "c", estimate_usd=0.03)
    charge(guard.admit("s", "c", estimate_usd=0.01), 0.01)
    with pytest.raises(RunRefused, match=r"reached today's spending cap \(\$0.07\)"):
        guard.admit("s", "c", estimate_usd=0.001)
    clock.advance(20)
    release(guard.admit("s", "c", estimate_usd=0.03))


def test_own_key_runs_skip_the_owners_budget_but_not_the_session_cap():
    guard = Guard(Config(runs_per_client_per_hour=1, daily_spend_cap_usd=0.01))
    charge(guard.admit("s", "c", estimate_usd=0.01), 1.0)
    [ticket] = guard.admit("s", "c", own_key=True)
    with pytest.raises(RunRefused):
        guard.admit("s", "c", own_key=True)
    ticket.sending()
    ticket.release(5.0)  # the visitor's own key: nothing on the owner's ledger
    assert guard.ledger.spent() == pytest.approx(1.0)


def test_concurrent_admissions_never_exceed_the_cap():
    guard = Guard(Config(runs_per_session=0, max_concurrent_runs=3,
                                runs_per_client_per_hour=0))
    admitted, barrier = [], threading.Barrier(20)

    def attempt(n):
        barrier.wait()
        try:
            admitted.append(guard.admit(f"s{n}", "c"))
        except RunRefused:
            pass
    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 3


def test_a_refused_run_costs_nothing_and_releases_nothing(sim, sim_state, tmp_path):
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02), simulator=sim)
    guard = Guard(Config(runs_per_client_per_hour=1))
    values = {**spec.defaults(), spec.INPUT_IMAGE.name: []}

    first = run_values(backend, tmp_path, values, guard=guard)[-1]
    assert first.record is not None
    refused = run_values(backend, tmp_path, values, guard=guard)[-1]
    text = refused.status.text()
    assert "nothing was charged" in text and "runs for the hour" in text
    assert sim_state.run_calls == 1
    assert first.record.cost_usd > 0
    assert guard.ledger.spent() == pytest.approx(first.record.cost_usd)
