"""The stateful fuzz of the simulator with live peers (tests/sim_machine.py), a fixed-seed run
small enough for CI. bench/sim_fuzz.py runs the same machine for >= 100,000 steps."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from sim_machine import STEPS, SimMachine, stop_peers

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module", autouse=True)
def _peers():
    yield
    stop_peers()


def test_stateful_fuzz_with_live_peers() -> None:
    before = STEPS["count"]
    run = settings(
        max_examples=30,
        stateful_step_count=50,
        derandomize=True,  # a fixed seed: CI sees the same sequences every time
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )(SimMachine).TestCase
    run("runTest").runTest()
    assert STEPS["count"] - before >= 400  # it really ran commands
