"""Handshakes and sessions the device must refuse, each with the module's documented code:
untrusted or missing CA, protocols and suites it lacks, bad keys, misbehaving servers, and the
one-SSL-socket and 2048-byte SSND limits."""

import pytest

from w24_harness.vocab import Family

pytestmark = pytest.mark.scenarios(
    lambda s, p: s.suite == Family.HANDSHAKE and not s.expected(p).accept
)


def test_handshake_rejected(scenario, scenario_runner, check_scenario):
    check_scenario(scenario, scenario_runner.run(scenario))
