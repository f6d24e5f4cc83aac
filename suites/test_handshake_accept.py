"""Handshakes the device must complete: valid chains with each suite and protocol it supports,
and the certificate variations its profile accepts (a characterization whose field the profile
does not know runs in test_handshake_reject.py). Each runs a small exchange afterwards."""

import pytest

from w24_harness.vocab import Family


def _predicted_accept(s, p) -> bool:
    expect = s.expected(p)
    return s.family == Family.HANDSHAKE and expect is not None and expect.accept


pytestmark = pytest.mark.scenarios.with_args(_predicted_accept)


def test_handshake_accepted(scenario, scenario_runner, check_scenario):
    check_scenario(scenario, scenario_runner.run(scenario))
