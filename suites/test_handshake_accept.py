"""Handshakes the device must complete: valid chains with each suite and protocol it supports,
and the certificate variations its profile accepts. Each runs a small exchange afterwards."""

import pytest

from w24_harness.vocab import Family

pytestmark = pytest.mark.scenarios(lambda s, p: s.suite == Family.HANDSHAKE and s.expected(p).accept)


def test_handshake_accepted(scenario, scenario_runner, check_scenario):
    check_scenario(scenario, scenario_runner.run(scenario))
