"""Whose certificate the device trusts: impostor CAs, broken and forged signatures, what real
servers send, v1 and self-signed CAs, and the checks no manual mentions (characterized)."""

import pytest

from w24_harness.vocab import Family

pytestmark = pytest.mark.scenarios(lambda s, p: s.family == Family.IDENTITY)


def test_certificate_identity(scenario, scenario_runner, check_scenario):
    check_scenario(scenario, scenario_runner.run(scenario))
