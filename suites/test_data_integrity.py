"""Bytes through an SSL session, both ways, 1 byte to 64 KB, compared by SHA-256."""

import pytest

from w24_harness.vocab import Family

pytestmark = pytest.mark.scenarios(lambda s, p: s.family == Family.DATA)


def test_data_integrity(scenario, scenario_runner, check_scenario):
    check_scenario(scenario, scenario_runner.run(scenario))
