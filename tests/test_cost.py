"""Issue 7, part 3: the cost estimate shown before Generate (wiro.pricing's rule)."""
from __future__ import annotations

import pytest
from PIL import Image

from studio import cost
from wiro import pricing, spec

URL = "https://cdn.example.com/a.jpg"


def values(**changes):
    return {**spec.defaults(), spec.INPUT_IMAGE.name: [], **changes}


def test_text_to_image_at_the_default_size():
    est = cost.estimate(values())
    assert est.usd == pricing.estimate_cost(1024, 1024) == pytest.approx(0.03)
    assert (est.counted, est.urls) == (0, 0)
    assert cost.estimate_text(est) == "Estimated cost: $0.030 · 1 MP out (1024×1024)"


def test_bigger_outputs_cost_more():
    est = cost.estimate(values(width=2048, height=2048))
    assert est.usd == pytest.approx(pricing.FIRST_OUTPUT_MP_USD + 3 * pricing.EXTRA_OUTPUT_MP_USD)


def test_uploads_count_at_the_size_they_are_sent_urls_at_an_assumed_size(tmp_path):
    big = tmp_path / "big.jpg"
    Image.new("RGB", (6000, 4000)).save(big)  # sent at 4 MP (millions): 4 billable MP
    est = cost.estimate(values(inputImage=[str(big), URL]))
    assert est.counted == 2 and est.urls == 1
    assert est.input_mp == 4 + 1  # the URL at the assumed 1024×1024
    assert est.usd == pytest.approx(0.03 + 5 * pricing.INPUT_MP_USD)
    text = cost.estimate_text(est)
    assert "5 MP in (1 upload, 1 URL image)" in text
    assert "URL images assumed 1024×1024" in text


def test_zero_matches_the_first_upload(tmp_path):
    first = tmp_path / "first.png"
    Image.new("RGB", (1500, 1000)).save(first)
    est = cost.estimate(values(inputImage=[str(first)], width=0, height=0))
    assert est.output_size == (1488, 992) and est.output_known
    assert est.usd == pytest.approx(pricing.estimate_cost(1488, 992, 2))


def test_zero_with_a_url_first_is_an_assumption():
    est = cost.estimate(values(inputImage=[URL], width=0, height=512))
    assert est.output_size == (1024, 512) and not est.output_known
    assert "assumed" in cost.estimate_text(est)


def test_several_runs_multiply():
    est = cost.estimate(values())
    assert est.total(3) == pytest.approx(0.09)
    assert cost.estimate_text(est, 3).startswith("Estimated cost: $0.090 (3 runs × $0.030)")


def test_half_typed_numbers_give_no_estimate_and_name_the_field_to_fix():
    assert cost.estimate(values(width=None)) is None
    assert "enter a width" in cost.estimate_text(None)
    assert cost.size_problem(values(width=1000)) == "fix the width first"
    assert cost.size_problem(values(width=1000, height=7)) == "fix the width and height first"
    assert "fix the height first" in cost.estimate_html(None, missing=cost.size_problem(
        values(height=1000.5)))


def test_estimate_against_the_charge():
    assert cost.compare_text(0.045, 0.045) == "estimated $0.045, charged $0.045"
    assert cost.compare_text(None, 0.03) == "charged $0.030"
    assert cost.compare_text(0.03, None) == ""
    assert "estimated $0.030, charged $0.060" in cost.compare_html(0.03, 0.06)


def test_the_simulators_charge_matches_the_estimate_for_uploads(sim, sim_state, tmp_path):
    """The simulator bills with the same rule: for uploads the estimate is exact."""
    from studio.backend import Backend
    from wiro.settings import Settings

    from conftest import TEST_KEY, TEST_SECRET
    from run_helpers import run_values

    photo = tmp_path / "p.jpg"
    Image.new("RGB", (3000, 2000), (10, 80, 160)).save(photo)
    v = values(inputImage=[str(photo)], width=1024, height=768)
    est = cost.estimate(v)
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02), simulator=sim)
    last = run_values(backend, tmp_path, v)[-1]
    assert last.record.cost_usd == pytest.approx(est.usd)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), "abc", 1024.5, -16, 10**30,
                                 1000])
def test_no_estimate_and_no_crash_for_a_size_validation_will_refuse(bad):
    """The estimate follows every keystroke, so it meets half-typed and absurd values."""
    values = {**spec.defaults(), spec.INPUT_IMAGE.name: [], spec.WIDTH.name: bad}
    assert cost.estimate(values) is None
    assert "$" not in cost.estimate_html(None)


@pytest.mark.parametrize("number", range(1, len(spec.INSPIRATIONS) + 1))
def test_estimate_equals_the_simulators_charge_for_every_inspiration(number, sim, sim_state,
                                                                     tmp_path):
    """The default page's inspirations (URL references included) cost what was estimated."""
    from studio.backend import Backend
    from wiro.settings import Settings

    from conftest import TEST_KEY, TEST_SECRET
    from run_helpers import run_values

    inspiration = spec.INSPIRATIONS[number - 1]
    v = {**spec.defaults(), **inspiration.values()}
    est = cost.estimate(v)
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02), simulator=sim)
    last = run_values(backend, tmp_path, v)[-1]
    assert last.record is not None, last.status.text()
    assert last.record.cost_usd == pytest.approx(est.usd), inspiration.title
    if inspiration.input_images:
        assert "assumed" in cost.estimate_text(est)


def test_a_simulated_price_never_reads_as_money_spent():
    est = cost.estimate(spec.defaults() | {spec.INPUT_IMAGE.name: []})
    assert cost.estimate_text(est, simulated=True) == (
        "Price on Wiro: $0.030 (simulated — no charge) · 1 MP out (1024×1024)")
    assert cost.compare_text(0.03, 0.03, simulated=True) == "$0.030 simulated — no charge"
    assert "charged $" not in cost.compare_html(0.03, 0.03, simulated=True)
    assert cost.spent_text(0.075, simulated=True) == "$0.075 simulated — no charge"
    assert cost.spent_text(0.075) == "$0.075" and cost.spent_text(None) == "—"
