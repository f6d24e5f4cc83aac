"""Throughput through an SSL session, both ways, for every protocol version and cipher suite the
profile has: the bytes must arrive intact (SHA-256), and on a line of known rate the transfer
must reach a floor fraction of the framing-adjusted bound (w24_harness.runner.linerate).

Sizes: 256 KB on an unthrottled simulator (the line rate is unknown: integrity is checked and the
rate recorded, nothing more); on a line of known rate, about 1.5 s worth of bytes at baud/10.
Each case records bytes/s, the ratio to the line rate and to the framing-adjusted bound, and the
handshake time in results.json and report.html.
"""

from __future__ import annotations

import pytest

from w24_harness.fixtures.plugin import OPTIONS_KEY
from w24_harness.runner.throughput import ThroughputCase, cases_for


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = cases_for(metafunc.config.stash[OPTIONS_KEY].profile)
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])


def test_throughput(case: ThroughputCase, scenario_runner, check_scenario):
    check_scenario(case, scenario_runner.run(case))
