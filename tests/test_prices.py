"""Wiro's own prices (Tool/Detail): read at start, kept in the data directory, read again after
a day, used by the estimate, and Wiro's inputs held against wiro/spec.py."""
from __future__ import annotations

import json
import logging

import pytest

from studio import cost
from wiro import WiroClient, spec
from wiro.models import ModelDetail
from wiro.simulator.tool import tool_json

from conftest import TEST_KEY, TEST_SECRET

DAY = cost.REFRESH_SECONDS


@pytest.fixture
def client(sim):
    with WiroClient(TEST_KEY, TEST_SECRET, base_url=sim.base_url) as client:
        yield client


class Counting:
    """A client that counts Tool/Detail calls and answers with `tool` (or fails)."""

    def __init__(self, tool=None, fail=False):
        self.tool, self.fail, self.calls = tool, fail, 0

    def tool_detail(self, within=None):
        from wiro.errors import WiroConnectionError

        self.calls += 1
        if self.fail:
            raise WiroConnectionError("no answer")
        return ModelDetail.from_json(self.tool)


def test_read_at_start_kept_and_not_asked_again_within_a_day(client, tmp_path):
    detail = cost.read_detail(client, tmp_path, now=1000.0)
    assert detail.slug == spec.MODEL_SLUG and detail.dynamic_price
    kept = json.loads((tmp_path / cost.FILE_NAME).read_text())
    assert kept["read_at"] == 1000.0
    counting = Counting(tool_json([]))
    again = cost.read_detail(counting, tmp_path, now=1000.0 + DAY - 1)
    assert counting.calls == 0 and again.dynamic_price == detail.dynamic_price
    cost.read_detail(counting, tmp_path, now=1000.0 + DAY + 1)  # a day on: asked again
    assert counting.calls == 1


def test_when_wiro_does_not_answer_the_kept_copy_serves(client, tmp_path, caplog):
    cost.read_detail(client, tmp_path, now=0.0)
    with caplog.at_level(logging.WARNING):
        detail = cost.read_detail(Counting(fail=True), tmp_path, now=2 * DAY)
    assert detail is not None and detail.dynamic_price
    assert "using the copy from" in caplog.text
    assert cost.read_detail(Counting(fail=True), tmp_path / "empty", now=0.0) is None


def test_drift_from_the_spec_is_logged_in_one_line(tmp_path, caplog):
    tool = tool_json([])
    items = tool["parameters"][0]["items"]
    next(i for i in items if i["id"] == spec.SAFETY_TOLERANCE.name)["max"] = 5
    with caplog.at_level(logging.WARNING):
        cost.read_detail(Counting(tool), tmp_path, now=0.0)
    [line] = [r.message for r in caplog.records if "differs from wiro/spec.py" in r.message]
    assert spec.SAFETY_TOLERANCE.name in line and "\n" not in line


def test_the_simulators_list_gives_no_drift(client, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        cost.read_detail(client, tmp_path, now=0.0)
    assert "differs" not in caplog.text


def test_the_estimate_follows_wiros_price_list(monkeypatch):
    values = {**spec.defaults(), spec.INPUT_IMAGE.name: []}
    monkeypatch.setattr(cost.PRICES, "entries", None)
    assert cost.estimate(values).usd == pytest.approx(0.03)  # Black Forest Labs' rate
    monkeypatch.setattr(cost.PRICES, "entries", [
        {"inputs": {}, "price": 0.05, "priceMethod": "cp-pixel", "priceExtra": 0.02,
         "priceInput": 0.01}])
    assert cost.estimate(values).usd == pytest.approx(0.05)
    big = {**values, spec.WIDTH.name: 2048, spec.HEIGHT.name: 1024}
    assert cost.estimate(big).usd == pytest.approx(0.07)
