"""Shared fixtures: a fast simulator (pace 0) in memory and over loopback HTTP."""
from __future__ import annotations

import os
import sys
from typing import Callable, Iterator

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wiro.signing import NonceSource, auth_headers  # noqa: E402
from wiro.simulator import SimulatorServer, SimulatorState  # noqa: E402

TEST_KEY = "test-key"
TEST_SECRET = "test-secret"

_nonces = NonceSource()


def signed_headers(key: str = TEST_KEY, secret: str | None = TEST_SECRET) -> dict[str, str]:
    """Fresh auth headers for one request (a new nonce every call, as Wiro requires)."""
    return auth_headers(key, secret, _nonces())


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = 1_750_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def headers() -> Callable[[], dict[str, str]]:
    return signed_headers


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim_state() -> SimulatorState:
    return SimulatorState(TEST_KEY, TEST_SECRET, pace=0)


@pytest.fixture
def sim(sim_state: SimulatorState) -> Iterator[SimulatorServer]:
    with SimulatorServer(sim_state) as server:
        yield server
