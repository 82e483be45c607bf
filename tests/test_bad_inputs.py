"""Issue 6, part 1: bad input is stopped by label before any paid call, through the page's
run function; nothing the user entered is touched. (The API path: test_app_api_guards.py.)"""
from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from studio.backend import Backend
from wiro import spec
from wiro.settings import Settings

from bad_inputs import CASES, LIVE_ONLY_CASES, inputs_for
from conftest import TEST_KEY, TEST_SECRET
from run_helpers import run_values


@pytest.fixture
def live_backend(sim):
    """A backend in live mode (private URLs refused) that happens to talk to the simulator."""
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02))
    yield backend
    backend.close()


def run_page(backend, values, tmp_path):
    return run_values(backend, tmp_path, values)


def _text(update) -> str:
    return update.status.text()


@pytest.mark.parametrize("case", CASES + LIVE_ONLY_CASES, ids=lambda c: c[0])
def test_bad_input_is_refused_by_label_before_any_run(case, live_backend, sim_state, tmp_path):
    values = inputs_for(case, tmp_path)
    entered = copy.deepcopy(values)
    updates = run_page(live_backend, values, tmp_path)
    assert len(updates) == 1 and updates[0].finished
    message = _text(updates[0])
    assert "Nothing was sent" in message
    for words in case[2]:
        assert words in message, f"{words!r} missing from: {message}"
    assert updates[0].record is None
    assert sim_state.run_calls == 0
    # What the user typed is left as it was (NaN compares unequal to itself).
    assert repr(values) == repr(entered)


@pytest.mark.parametrize("case", LIVE_ONLY_CASES, ids=lambda c: c[0])
def test_local_urls_are_allowed_on_the_simulator(case, sim, sim_state, tmp_path):
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02), simulator=sim)
    updates = run_page(backend, inputs_for(case, tmp_path), tmp_path)
    assert updates[-1].record is not None
    assert sim_state.run_calls == 1


def test_battery_is_at_least_forty_cases():
    assert len(CASES) + len(LIVE_ONLY_CASES) >= 40


numbers = st.one_of(st.integers(min_value=-10**12, max_value=10**12),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=8), st.none(), st.booleans())


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=numbers, height=numbers, safety=numbers, seed=numbers)
def test_fuzzed_numbers_either_run_in_range_or_are_refused_by_label(live_backend, sim_state,
                                                                     tmp_path, width, height,
                                                                     safety, seed):
    values = {**spec.defaults(), "inputImage": [], "width": width, "height": height,
              "safetyTolerance": safety, "seed": seed}
    before = sim_state.run_calls
    updates = run_page(live_backend, values, tmp_path)
    last = updates[-1]
    if last.record is None:
        message = _text(last)
        assert "Nothing was sent" in message
        assert sim_state.run_calls == before
        assert any(f.label in message for f in spec.NUMBER_INPUTS)
    else:
        sent = sim_state.tasks()[-1]["parameters"]
        for field in spec.NUMBER_INPUTS:
            value = int(sent[field.name])
            assert field.minimum <= value <= field.maximum
        assert sim_state.run_calls == before + 1


# --- issue 12, point 6: what a visitor reads when Wiro's output is not an image --------------

def test_an_output_that_is_not_an_image_is_explained_in_plain_words(live_backend, sim_state,
                                                                    tmp_path, monkeypatch):
    from wiro import WiroClient

    monkeypatch.setattr(WiroClient, "download",
                        lambda self, output: b"<html>Service unavailable</html>")
    values = {**spec.defaults(), "inputImage": [], "width": 256, "height": 256}
    last = run_page(live_backend, values, tmp_path)[-1]
    text = _text(last)
    assert last.record is None and last.status.kind == "error"
    assert "not an image" in text and "charged" in text
    assert "BytesIO" not in text and "cannot identify" not in text and "0x" not in text


# --- issue 12, point 5: private hosts in other spellings never reach a paid Run --------------

@pytest.mark.parametrize("url", [
    "http://2130706433/a.png", "http://0x7f000001/a.png", "http://0177.0.0.1/a.png",
    "http://127.1/a.png", "http://localhost./a.png", "http://metadata.google.internal/x",
    "http://10.0.0.1.nip.io/a.png", "http://169.254.169.254./latest/meta-data",
])
def test_private_hosts_in_other_spellings_send_no_run(live_backend, sim_state, tmp_path, url):
    values = {**spec.defaults(), "inputImage": [url]}
    last = run_page(live_backend, values, tmp_path)[-1]
    assert last.status.kind == "invalid" and "local or private" in _text(last)
    assert sim_state.run_calls == 0
