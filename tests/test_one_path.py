"""Every run takes one path: validated exactly once, whoever asks (the page's Generate, side
by side, the `generate` API, MCP), and a Run whose answer was lost still counts on the ledger."""
from __future__ import annotations

from pathlib import Path

import pytest

from studio import admission
from studio.config import Config
from studio.guards import Guard
from wiro import spec, validation

from run_helpers import run_page

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def validations(monkeypatch):
    """How many times inputs were validated (every path in goes through _check_images)."""
    calls = []
    original = validation._check_images

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)
    monkeypatch.setattr(validation, "_check_images", counting)
    return calls


def api_arguments(**changes) -> list:
    values = {i.name: i.default for i in spec.INPUTS}
    values.update({spec.INPUT_IMAGE.name: [], spec.WIDTH.name: 256, spec.HEIGHT.name: 256,
                   **changes})
    return [values[i.name] for i in spec.INPUTS]


def test_the_api_validates_once(app_client, app_sim, validations):
    runs = app_sim.run_calls
    app_client.predict(*api_arguments(), api_name="/generate")
    assert len(validations) == 1 and app_sim.run_calls == runs + 1


def test_mcp_validates_once(live_app, app_sim, validations):
    from test_mcp import call

    runs = app_sim.run_calls
    result = call(live_app, lambda session: session.call_tool("generate", {
        spec.PROMPT.name: "a kite", spec.WIDTH.name: 256, spec.HEIGHT.name: 256}))
    assert not result.isError
    assert len(validations) == 1 and app_sim.run_calls == runs + 1


def test_the_page_validates_once(page, app_sim, validations):
    from tests.page_helpers import set_number, wait_for_status

    page.click("#ref-clear")
    set_number(page, "width", 256)
    set_number(page, "height", 256)
    runs = app_sim.run_calls
    validations.clear()  # what the form did while it was filled in is not a run
    page.click("#generate")
    wait_for_status(page, "done")
    assert len(validations) == 1 and app_sim.run_calls == runs + 1


def test_side_by_side_validates_once_for_the_batch(page, app_sim, validations):
    from test_side_by_side import RUN_TIMEOUT_MS, open_side_by_side

    page.click("#ref-clear")
    open_side_by_side(page, "1, 2, 3")
    # A new count resets the confirmation: tick it once the page counts 3 runs.
    page.wait_for_selector("#sbs-confirm:has-text('starts 3 ')")
    page.locator("#sbs-confirm input[type=checkbox]").check()
    runs = app_sim.run_calls
    validations.clear()
    page.click("#sbs-run")
    page.wait_for_selector("#sbs-status .run-status[data-kind=done]", timeout=2 * RUN_TIMEOUT_MS)
    assert len(validations) == 1 and app_sim.run_calls == runs + 3


def test_a_run_whose_answer_was_lost_stays_on_the_ledger(sim, sim_state, tmp_path):
    """Under a $0.05 cap, a Run whose answer never came back (and whose task Task/List cannot
    show) may have been charged: its estimate stays counted, and the next run that would pass
    the cap is refused."""
    from studio.backend import Backend
    from wiro.settings import Settings

    from conftest import TEST_KEY, TEST_SECRET

    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02, request_timeout=0.5), simulator=sim)
    guard = Guard(Config(runs_per_session=0, runs_per_client_per_hour=0,
                         daily_spend_cap_usd=0.05))
    sim_state.inject_fault("run", "reset")
    lost = run_page(backend, tmp_path, guard=guard)[-1]
    assert "may have started" in lost.status.text() and sim_state.run_calls == 1
    [row] = guard.ledger.rows()
    assert row["state"] == "sent" and row["usd"] == pytest.approx(0.03)
    refused = run_page(backend, tmp_path, guard=guard)[-1]
    assert refused.status.kind == "refused" and "spending cap" in refused.status.text()
    assert sim_state.run_calls == 1
    backend.close()


def test_a_run_wiro_refused_costs_nothing(sim, sim_state, tmp_path):
    from studio.backend import Backend
    from wiro.settings import Settings

    from conftest import TEST_KEY, TEST_SECRET

    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02), simulator=sim)
    guard = Guard(Config(runs_per_session=0, runs_per_client_per_hour=0))
    sim_state.inject_fault("run", "error_code:97")
    assert run_page(backend, tmp_path, guard=guard)[-1].status.kind == "error"
    assert guard.ledger.rows() == []
    backend.close()


def test_refusal_words_are_written_in_admission_alone():
    root = Path(__file__).resolve().parent.parent
    for path in [root / "app.py", *(root / "studio").rglob("*.py")]:
        if path.name == "admission.py":
            continue
        text = path.read_text()
        for words in (admission.REFUSED_TITLE, admission.INVALID_TITLE):
            assert words not in text, f"{path.name} words a refusal itself"
