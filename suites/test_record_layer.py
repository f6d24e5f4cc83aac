"""The record layer: CBC padding and MAC (each checked, one code for both), empty and 1/n-1
split records, the 2 KB record limit to the byte, TCP segmentation, record types, header
versions and malformed ciphertext lengths."""

import pytest

from w24_harness.vocab import Family

pytestmark = pytest.mark.scenarios(lambda s, p: s.family == Family.RECORD)


def test_record_layer(scenario, scenario_runner, check_scenario):
    check_scenario(scenario, scenario_runner.run(scenario))
