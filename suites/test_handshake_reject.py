"""Handshakes and sessions the device must refuse, each with the module's documented code:
untrusted or missing CA, protocols and suites it lacks, bad keys, misbehaving servers, and the
one-SSL-socket and 2048-byte SSND limits; and the characterizations whose field the profile
does not know (any outcome in the allowed set is observed, never a failure)."""

import pytest

from w24_harness.vocab import Family


def _not_predicted_accept(s, p) -> bool:
    expect = s.expected(p)
    return s.family == Family.HANDSHAKE and (expect is None or not expect.accept)


pytestmark = pytest.mark.scenarios.with_args(_not_predicted_accept)


def test_handshake_rejected(scenario, scenario_runner, check_scenario):
    check_scenario(scenario, scenario_runner.run(scenario))
